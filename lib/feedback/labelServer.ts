/**
 * A local labeling page: you are the human in RLHF. The server shows one conversation and two
 * candidate replies side by side, you pick a point on the 8-point scale (A>>>B ... B>>>A), add an
 * optional comment, and each answer is appended atomically to a comparison JSONL file
 * (preferences.ts) that notebook 04 trains a reward model on.
 *
 * Listens on 127.0.0.1 only (nothing leaves your machine). Port 0 picks a free one.
 * Routes: GET / (the page, label-page.html), GET /api/next (the next unlabeled pair or done),
 * POST /api/label {index, strength, comment} (append; 400 with {error} on bad input, 500 if the
 * file cannot be written). Pairs this labeler already labeled in the file are skipped, so a
 * restarted session resumes where it stopped. A malformed existing file stops the server from
 * starting, with the error naming file and line.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { AddressInfo } from 'net';
import { appendComparison, makeComparison, Pair, readComparisons, Strength, STRENGTHS } from './preferences';
import { writeAtomic } from '../core/files';
import { Rng } from '../core/rng';
import { buildChatData } from './task';

/** Two completions of one prompt waiting for a judgement (preferences.ts's Pair). */
export type LabelPair = Pair;

export interface LabelServerOptions {
  /** Comparison JSONL file answers are appended to (created if missing). */
  file: string;
  /** The pairs to show, in order. */
  pairs: LabelPair[];
  /** TCP port on 127.0.0.1 (default 8765; 0 = any free port). */
  port?: number;
  /** Written to each record's `labeler` field (default "student"). */
  labeler?: string;
}

export interface LabelServer {
  url: string;
  port: number;
  /** Answers appended since the server started. */
  labeled(): number;
  close(): Promise<void>;
}

/** Save pairs as JSONL (one LabelPair per line), atomically. */
export function writePairs(file: string, pairs: LabelPair[]): void {
  writeAtomic(file, pairs.map((p) => JSON.stringify(p) + '\n').join(''));
}

/** Read pairs written by writePairs; errors name file and line. */
export function readPairs(file: string): LabelPair[] {
  if (!fs.existsSync(file)) throw new Error(`readPairs: file not found: ${file}`);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line, i) => {
    let p: LabelPair;
    try {
      p = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof p?.prompt !== 'string' || typeof p.completionA !== 'string' || typeof p.completionB !== 'string') {
      throw new Error(`${file}:${i + 1}: a pair needs string fields prompt, completionA, completionB`);
    }
    return p;
  });
}

/**
 * Pairs that need no model (for trying the page before notebook 04 ran): for a held-out prompt,
 * the play's real reply against the reply to another prompt, sides shuffled with `seed`.
 */
export function demoPairs(corpus: string, n = 20, seed = 0): LabelPair[] {
  const ex = buildChatData(corpus).heldOut;
  const rng = new Rng(seed);
  const order = rng.shuffle(ex.map((_, i) => i)).slice(0, Math.min(n, ex.length - 1));
  return order.map((i) => {
    let j = rng.int(ex.length - 1);
    if (j >= i) j++;
    const real = ex[i].completion + '<end>';
    const other = ex[j].completion + '<end>';
    const realIsA = rng.next() < 0.5;
    return {
      prompt: ex[i].prompt,
      completionA: realIsA ? real : other,
      completionB: realIsA ? other : real,
      metadata: { source: 'demo', realReply: realIsA ? 'A' : 'B', line: ex[i].line },
    };
  });
}

const PAGE = path.join(__dirname, 'label-page.html');
const MAX_BODY = 1 << 20;

function key(prompt: string, a: string, b: string): string {
  return JSON.stringify([prompt, a, b]);
}

function send(res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'no-store' });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) reject(new Error(`request body larger than ${MAX_BODY} bytes`));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** Start the server; resolves once it listens. Throws if the file is malformed or the port is taken. */
export async function startLabelServer(opts: LabelServerOptions): Promise<LabelServer> {
  const labeler = opts.labeler ?? 'student';
  if (opts.pairs.length === 0) throw new Error('startLabelServer: no pairs to label');
  opts.pairs.forEach((p, i) => {
    if (!p.prompt || typeof p.completionA !== 'string' || typeof p.completionB !== 'string') {
      throw new Error(`startLabelServer: pair ${i} needs a prompt, completionA and completionB, got ${JSON.stringify(p).slice(0, 80)}`);
    }
  });
  // Refuse to start on a malformed file: the error names file and line.
  const done = new Set(readComparisons(opts.file).filter((r) => r.labeler === labeler).map((r) => key(r.prompt, r.completionA, r.completionB)));
  const page = fs.readFileSync(PAGE, 'utf8');
  let count = 0;
  const skipped = new Set<number>();

  const nextIndex = (): number =>
    opts.pairs.findIndex((p, i) => !skipped.has(i) && !done.has(key(p.prompt, p.completionA, p.completionB)));

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/') return send(res, 200, page, 'text/html');
    if (req.method === 'GET' && url.pathname === '/api/next') {
      const i = nextIndex();
      const base = { total: opts.pairs.length, labeled: done.size, file: opts.file, labeler };
      if (i < 0) return send(res, 200, { ...base, done: true });
      const { prompt, completionA, completionB } = opts.pairs[i];
      return send(res, 200, { ...base, done: false, index: i, prompt, completionA, completionB });
    }
    if (req.method === 'POST' && (url.pathname === '/api/label' || url.pathname === '/api/skip')) {
      let msg: { index?: unknown; strength?: unknown; comment?: unknown };
      try {
        msg = JSON.parse(await readBody(req));
      } catch (e) {
        return send(res, 400, { error: `request is not JSON: ${(e as Error).message}` });
      }
      const i = msg.index;
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= opts.pairs.length) {
        return send(res, 400, { error: `index must be an integer in 0..${opts.pairs.length - 1}, got ${JSON.stringify(i)}` });
      }
      if (url.pathname === '/api/skip') {
        skipped.add(i);
        return send(res, 200, { ok: true });
      }
      if (!(STRENGTHS as readonly unknown[]).includes(msg.strength)) {
        return send(res, 400, { error: `strength must be one of ${STRENGTHS.join(' ')}, got ${JSON.stringify(msg.strength)}` });
      }
      if (msg.comment !== undefined && typeof msg.comment !== 'string') return send(res, 400, { error: 'comment must be a string' });
      const p = opts.pairs[i];
      try {
        const record = makeComparison(p.prompt, p.completionA, p.completionB, msg.strength as Strength, labeler, {
          comment: (msg.comment as string | undefined) ?? '',
          metadata: { ...(p.metadata ?? {}), source: 'label-page', pairIndex: i },
        });
        const total = appendComparison(opts.file, record);
        done.add(key(p.prompt, p.completionA, p.completionB));
        count++;
        return send(res, 200, { ok: true, recordsInFile: total });
      } catch (e) {
        return send(res, 500, { error: (e as Error).message });
      }
    }
    return send(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => send(res, 500, { error: (e as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`startLabelServer: cannot listen on 127.0.0.1:${opts.port ?? 8765}: ${e.code ?? e.message}`)));
    server.listen(opts.port ?? 8765, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    labeled: () => count,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
