/**
 * Kernel > Interrupt for the library's long loops (training steps, sampling chunks).
 *
 * What tslab 1.0.22 does on its own (node_modules/tslab/dist): Jupyter's Interrupt sends SIGINT to
 * the kernel. A cell without top-level `await` runs inside `vm.runInThisContext({ breakOnSigint })`,
 * so SIGINT stops it wherever it is. A cell with `await` is an async function: SIGINT reaches
 * tslab's `process.on('SIGINT')` handler (only when the event loop is free), which rejects a
 * promise the cell is raced against. The cell reports "Interrupted asynchronously" and the kernel
 * turns idle, but the cell's code keeps running in the background: a training loop goes on
 * training, and re-running the cell starts a second one on the same model. tslab keeps no
 * per-cell state that a new cell resets, apart from where output goes (each execute request
 * installs its own output writer, `lastWriteDisplayData`).
 *
 * What this module adds: inside a tslab kernel, the first library loop puts one SIGINT handler
 * in front of tslab's. While a library loop runs, Interrupt asks it to stop at its next step
 * boundary: the loop throws `Interrupted` with one line saying where it stopped and how to go on,
 * so the cell ends with that line and nothing keeps running. With no library loop running, or at
 * a second Interrupt while one is still finishing its step, tslab handles the interrupt as before
 * (and a library loop that the cell starts later stops at once). A stop request belongs to the
 * cell that was running when it came: the next cell starts clean.
 *
 * Loops call `stopRequested()` at step boundaries, after `await yieldToKernel()` (which lets the
 * handler run, and displays redraw, without changing any result).
 */
import { tslabKernel } from './tslab';

/** Thrown by a library loop stopped by Kernel > Interrupt; its message is the one line to show. */
export class Interrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Interrupted';
    this.stack = `${this.name}: ${message}`; // no frames: where it stopped is in the message
  }

  /** What tslab's console.error(e) prints for it: the one line, without Node's brackets. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.stack!;
  }
}

/** The running cell (tslab's per-request output writer), or one token for the whole process outside Jupyter. */
const OUTSIDE_JUPYTER = {};
function currentCell(): unknown {
  return tslabKernel()?.lastWriteDisplayData ?? OUTSIDE_JUPYTER;
}

let stopCell: unknown = null;
let running = 0;
/** The SIGINT listeners taken over from tslab: they run only when this module passes an interrupt on. */
const passOnTo: ((...args: unknown[]) => void)[] = [];

/** True once Interrupt (or `interrupt()`) asked the running cell to stop. */
export function stopRequested(): boolean {
  return stopCell !== null && stopCell === currentCell();
}

/**
 * Ask the running cell's library loops to stop at their next step boundary (what Kernel >
 * Interrupt does). Returns true if a loop is running to act on it.
 */
export function interrupt(): boolean {
  stopCell = currentCell();
  return running > 0;
}

/** Forget a stop request (tests; in Jupyter the next cell starts clean by itself). */
export function clearInterrupt(): void {
  stopCell = null;
}

/** Let pending events run (Interrupt, display updates) before the next step; changes no result. */
export function yieldToKernel(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function onSigint(): void {
  const again = stopRequested();
  if (interrupt() && !again) return; // a library loop stops at its next step boundary
  for (const h of passOnTo) h.call(process, 'SIGINT');
}

/**
 * Inside a tslab kernel, make onSigint the only SIGINT listener and pass interrupts on to the
 * others (tslab's) itself. A cell's synchronous part runs with no SIGINT listeners at all
 * (vm's breakOnSigint takes them off and puts them back afterwards), so nothing is changed then:
 * this runs again once the event loop is free, and at every loop start.
 */
function takeOverSigint(): void {
  const listeners = process.listeners('SIGINT');
  if (!tslabKernel() || listeners.length === 0) return;
  for (const h of listeners) {
    if (h !== onSigint) passOnTo.push(h as (...args: unknown[]) => void);
    process.removeListener('SIGINT', h);
  }
  process.on('SIGINT', onSigint);
}

/** Run `loop` as a library loop: while it runs, Kernel > Interrupt asks it to stop (see above). */
export async function interruptible<T>(loop: () => Promise<T>): Promise<T> {
  takeOverSigint();
  setImmediate(takeOverSigint);
  running++;
  try {
    return await loop();
  } finally {
    running--;
  }
}
