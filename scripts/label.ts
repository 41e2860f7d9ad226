/**
 * `npm run label -- [--pairs P.jsonl] [--file labels.jsonl] [--port 8765] [--labeler NAME]`
 *
 * Serves the labeling page on 127.0.0.1 until Ctrl+C. Defaults: the pairs notebook 04 saved
 * (runs/<mode>/label-pairs.jsonl), or demo pairs from the play if it has not run yet; answers go
 * to runs/<mode>/labels.jsonl, which notebook 04 trains a reward model on.
 */
import * as fs from 'fs';
import { loadCorpus } from '../lib/text/corpus';
import { demoPairs, readPairs, startLabelServer } from '../lib/feedback/labelServer';
import { defaultLabelPaths } from '../lib/course/stages';

function args(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    if (!/^--(pairs|file|port|labeler)$/.test(k) || argv[i + 1] === undefined) {
      throw new Error(`label: unknown or incomplete option ${JSON.stringify(k)}; use --pairs F --file F --port N --labeler NAME`);
    }
    out[k.slice(2)] = argv[i + 1];
  }
  return out;
}

async function main(): Promise<void> {
  const a = args(process.argv.slice(2));
  const defaults = defaultLabelPaths();
  const pairsFile = a.pairs ?? defaults.pairs;
  const pairs = a.pairs || fs.existsSync(pairsFile) ? readPairs(pairsFile) : demoPairs(loadCorpus());
  const port = a.port === undefined ? 8765 : Number(a.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`label: --port must be 0..65535, got ${a.port}`);
  const server = await startLabelServer({ file: a.file ?? defaults.labels, pairs, port, labeler: a.labeler });
  const source = a.pairs || fs.existsSync(pairsFile) ? pairsFile : 'demo pairs from the play (run notebook 04 for model samples)';
  console.log(`Labeling ${pairs.length} pairs from ${source}\nAnswers go to ${a.file ?? defaults.labels}\nOpen ${server.url}  (Ctrl+C to stop)`);
  process.on('SIGINT', () => {
    console.log(`\n${server.labeled()} answers saved.`);
    server.close().then(() => process.exit(0));
  });
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
