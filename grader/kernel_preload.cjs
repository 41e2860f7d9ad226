'use strict';
/**
 * Loaded into the grading kernel with `node --require` before tslab starts, so it runs before any
 * student code. It gives test cells `rlhfGraderProbe`, which sends the student's values (never
 * expected values: those stay in the grader) to the grader as one display_data message per test
 * cell, and it keeps printing cheap: output is sent in batches and capped per cell, because a
 * cell that prints a thousand lines one by one sends a thousand messages (tslab's own loss of them,
 * one send in flight per zeromq socket, is mended by patches/tslab+1.0.22.patch).
 *
 * Everything here uses functions captured now, before a submission can replace globals or
 * prototypes; a submission can still call `rlhfGraderProbe` itself, but all it can send is values of
 * its own choosing, which is no more than its own functions can return.
 */
const MIME = 'application/vnd.rlhf-grader+json';
const MAX_CELL_OUTPUT = 20000; // characters forwarded per cell and stream
const MAX_ITEMS = 100000; // numbers read from one checked value
const MAX_TEXT = 300; // characters kept of a label or an error message

const call = Function.prototype.call;
const uncurry = (fn) => call.bind(fn);
const stringify = JSON.stringify;
const slice = uncurry(String.prototype.slice);
const getOwn = Object.getOwnPropertyDescriptor;
const ownNames = Object.getOwnPropertyNames;
const defineProperty = Object.defineProperty;
const freeze = Object.freeze;
const same = Object.is;
const setTimeoutOrig = setTimeout;
const queueMicrotaskOrig = queueMicrotask;
const now = Date.now;
const bufferFrom = Buffer.from;
const toUtf8 = uncurry(Buffer.prototype.toString);
const startsWith = uncurry(String.prototype.startsWith);
const path = require('path');
const Module = require('module');
const vm = require('vm');

const text = (s) => (s.length > MAX_TEXT ? slice(s, 0, MAX_TEXT) + ' [...]' : s);

// ---- output: batched, capped per cell --------------------------------------------------------
const streams = [];
function batch(stream) {
  let inner = stream.write;
  let pending = '';
  let shown = 0;
  let dropped = 0;
  let timer = null;
  let last = 0;
  const flush = () => {
    timer = null;
    last = now();
    if (pending !== '') {
      const out = pending;
      pending = '';
      call.call(inner, stream, out);
    }
  };
  const close = () => {
    flush();
    if (dropped > 0) call.call(inner, stream, `\n[... ${dropped} more characters not shown (the grader keeps ${MAX_CELL_OUTPUT} per cell)]\n`);
    dropped = 0;
  };
  const write = function (chunk, encoding, cb) {
    const s = typeof chunk === 'string' ? chunk : toUtf8(bufferFrom(chunk), 'utf8');
    const room = MAX_CELL_OUTPUT - shown;
    if (room <= 0) dropped += s.length;
    else {
      const part = s.length <= room ? s : slice(s, 0, room);
      pending += part;
      shown += part.length;
      dropped += s.length - part.length;
    }
    // A microtask flushes before tslab replies to the cell; a loop that yields between prints
    // gets at most one message per 10 ms (a tail printed after the cell ended may be lost).
    if (pending.length >= 16384) flush();
    else if (timer === null) {
      timer = true;
      if (now() - last >= 10) queueMicrotaskOrig(flush);
      else setTimeoutOrig(flush, 10);
    }
    const done = typeof encoding === 'function' ? encoding : cb;
    if (typeof done === 'function') done();
    return true;
  };
  // tslab assigns process.stdout.write at the start of every cell: keep its writer as `inner`.
  defineProperty(stream, 'write', {
    configurable: false,
    get: () => write,
    set: (fn) => {
      close();
      inner = fn;
      shown = 0;
    },
  });
  streams.push(close);
}
batch(process.stdout);
batch(process.stderr);
const flushOutput = () => {
  for (let i = 0; i < streams.length; i++) streams[i]();
};

// ---- tampering noticed at run time ------------------------------------------------------------
let noticed = '';
const notice = (what) => {
  if (noticed.length < 2000) noticed += (noticed ? '\n' : '') + what;
};
// tslab compiles every cell with vm.runInThisContext: replacing it would show later cells.
for (const [owner, name, label] of [
  [vm, 'runInThisContext', 'vm.runInThisContext'],
  [vm.Script.prototype, 'runInThisContext', 'vm.Script.prototype.runInThisContext'],
  [Module.prototype, '_compile', 'Module.prototype._compile'],
]) {
  const original = owner[name];
  defineProperty(owner, name, {
    configurable: false,
    get: () => original,
    set: () => notice(`tried to replace ${label} (ignored)`),
  });
}
// Modules a cell (not tslab) loads that can reach the kernel's compiler or the system.
const SENSITIVE = ['vm', 'module', 'typescript', 'tslab', 'inspector', 'v8', 'worker_threads', 'child_process', 'cluster', 'repl'];
const originalLoad = Module._load;
const cwd = process.cwd() + path.sep;
Module._load = function (request, parent, isMain) {
  if (typeof request === 'string' && parent && typeof parent.filename === 'string' && startsWith(parent.filename, cwd)) {
    const bare = startsWith(request, 'node:') ? slice(request, 5) : request;
    for (let i = 0; i < SENSITIVE.length; i++) {
      if (bare === SENSITIVE[i] || startsWith(bare, SENSITIVE[i] + '/')) notice(`loaded "${text(request)}"`);
    }
  }
  return call.call(originalLoad, this, request, parent, isMain);
};

// Built-ins whose replacement could watch the kernel compile later cells or bend values.
const watched = [
  ['Array.prototype', Array.prototype], ['String.prototype', String.prototype], ['Object', Object],
  ['Object.prototype', Object.prototype], ['Function.prototype', Function.prototype], ['JSON', JSON],
  ['Math', Math], ['Number', Number], ['Reflect', Reflect], ['Error', Error], ['Promise.prototype', Promise.prototype],
  ['Module', Module], ['Module.prototype', Module.prototype], ['vm', vm],
];
const snapshot = [];
for (const [label, obj] of watched) {
  const names = ownNames(obj);
  for (let i = 0; i < names.length; i++) {
    const d = getOwn(obj, names[i]);
    snapshot.push([label, obj, names[i], d.value, d.get, d.set]);
  }
}
const prepareStackTrace = getOwn(Error, 'prepareStackTrace');
function changedBuiltins() {
  let out = '';
  for (let i = 0; i < snapshot.length; i++) {
    const [label, obj, name, value, get, set] = snapshot[i];
    const d = getOwn(obj, name);
    if (d === undefined || !same(d.value, value) || d.get !== get || d.set !== set) {
      if (out.length < 1000) out += (out ? ', ' : '') + `${label}.${name}`;
    }
  }
  const p = getOwn(Error, 'prepareStackTrace');
  if ((p && p.value) !== (prepareStackTrace && prepareStackTrace.value)) out += (out ? ', ' : '') + 'Error.prepareStackTrace';
  return out;
}
// ---- values to the grader ---------------------------------------------------------------------
/** A checked value as JSON text: numbers, strings, booleans, (nested) arrays and array-likes. */
function encode(x, depth, budget) {
  switch (typeof x) {
    case 'number':
      return x === x && x !== Infinity && x !== -Infinity ? stringify(x) : `{"number":"${x}"}`;
    case 'string':
      return stringify(x.length > 100000 ? slice(x, 0, 100000) : x);
    case 'boolean':
      return x ? 'true' : 'false';
    case 'object': {
      if (x === null) return 'null';
      let n;
      try {
        n = x.length;
      } catch {
        return '{"type":"unreadable object"}';
      }
      if (typeof n !== 'number' || !(n >= 0) || n !== (n | 0) || depth > 8) return '{"type":"object"}';
      if ((budget.left -= n) < 0) return '{"type":"too large"}';
      let out = '[';
      for (let i = 0; i < n; i++) {
        let item;
        try {
          item = x[i];
        } catch {
          return '{"type":"unreadable object"}';
        }
        out += (i ? ',' : '') + encode(item, depth + 1, budget);
      }
      return out + ']';
    }
    default:
      return `{"type":"${typeof x}"}`;
  }
}

function messageOf(e) {
  try {
    const m = typeof e === 'object' && e !== null ? e.message : e;
    return typeof m === 'string' ? text(m) : typeof m === 'number' ? `${m}` : '';
  } catch {
    return '';
  }
}

let jupyter = null;
function send(json) {
  flushOutput();
  if (jupyter === null) jupyter = require(require.resolve('tslab/dist/jupyter.js', { paths: [process.cwd()] }));
  jupyter.lastWriteDisplayData({ data: { [MIME]: json }, metadata: {}, transient: {} }, false);
}

let current = null; // the test cell being run: its nonce and the checks recorded so far
const label = (what) => (typeof what === 'string' ? stringify(text(what)) : 'null');

const grader = freeze({
  begin(nonce) {
    current = { nonce: `${nonce}`, checks: '', n: 0 };
  },
  /** close / allClose / equal: records the student's value; the grader compares it. */
  check(k, actual, what) {
    if (current === null) return;
    let v;
    try {
      v = encode(actual, 0, { left: MAX_ITEMS });
    } catch {
      v = '{"type":"unreadable value"}';
    }
    current.checks += `${current.n++ ? ',' : ''}{"k":${k | 0},"value":${v},"what":${label(what)}}`;
  },
  /** throws: calls fn and records whether it threw, and the error's message. */
  throws(k, fn, what) {
    if (current === null) return;
    let threw = false;
    let message = '';
    try {
      fn();
    } catch (e) {
      threw = true;
      message = messageOf(e);
    }
    current.checks += `${current.n++ ? ',' : ''}{"k":${k | 0},"threw":${threw},"message":${stringify(message)},"what":${label(what)}}`;
  },
  end(nonce) {
    if (current === null || current.nonce !== `${nonce}`) return;
    const c = current;
    current = null;
    send(`{"nonce":${stringify(c.nonce)},"done":true,"checks":[${c.checks}],"noticed":${stringify(noticed)},"changed":${stringify(changedBuiltins())}}`);
  },
  fail(nonce, e) {
    if (current === null || current.nonce !== `${nonce}`) return;
    const c = current;
    current = null;
    send(`{"nonce":${stringify(c.nonce)},"done":false,"error":${stringify(messageOf(e) || 'the test cell threw a value that is not an Error')},"checks":[${c.checks}],"noticed":${stringify(noticed)},"changed":${stringify(changedBuiltins())}}`);
  },
});
defineProperty(globalThis, 'rlhfGraderProbe', { value: grader, writable: false, configurable: false, enumerable: false });
