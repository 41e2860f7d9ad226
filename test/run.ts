// Runs a command without blocking the test worker. A vitest worker answers its runner over RPC with a
// 60 s timeout; a spawnSync that held the worker longer than that (a real Jupyter run, a grading run
// on a loaded 2-core machine) made CI report "Timeout calling onTaskUpdate" as an unhandled error.
import { spawn } from 'child_process';

export interface RunResult { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    const timer = opts.timeout ? setTimeout(() => child.kill('SIGKILL'), opts.timeout) : undefined;
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status, signal) => { clearTimeout(timer); resolve({ status, signal, stdout, stderr }); });
  });
}

/** Like execFileSync: the command's stdout, or an error carrying its exit status and output. */
export async function runOk(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<string> {
  const r = await run(file, args, opts);
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
