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

// Built-ins whose replacement could watch the kernel compile later cells or bend values: their
// own properties, symbol-keyed ones (iterators) included, and the global object's own properties.
const protoOf = Object.getPrototypeOf;
const ownKeys = Reflect.ownKeys;
const watched = [
  ['globalThis', globalThis], ['Object', Object], ['Object.prototype', Object.prototype], ['Function', Function],
  ['Function.prototype', Function.prototype], ['Array', Array], ['Array.prototype', Array.prototype],
  ['String', String], ['String.prototype', String.prototype], ['Number', Number], ['Number.prototype', Number.prototype],
  ['Boolean.prototype', Boolean.prototype], ['BigInt.prototype', BigInt.prototype], ['Symbol', Symbol],
  ['Symbol.prototype', Symbol.prototype], ['RegExp.prototype', RegExp.prototype], ['Date.prototype', Date.prototype],
  ['Map.prototype', Map.prototype], ['Set.prototype', Set.prototype], ['WeakMap.prototype', WeakMap.prototype],
  ['Iterator.prototype', protoOf(protoOf([][Symbol.iterator]()))], ['ArrayIterator', protoOf([][Symbol.iterator]())],
  ['StringIterator', protoOf(''[Symbol.iterator]())], ['MapIterator', protoOf(new Map()[Symbol.iterator]())],
  ['SetIterator', protoOf(new Set()[Symbol.iterator]())], ['TypedArray', protoOf(Float32Array)],
  ['TypedArray.prototype', protoOf(Float32Array.prototype)], ['Float32Array.prototype', Float32Array.prototype],
  ['Float64Array.prototype', Float64Array.prototype], ['Int32Array.prototype', Int32Array.prototype],
  ['JSON', JSON], ['Math', Math], ['Reflect', Reflect], ['Error', Error], ['Error.prototype', Error.prototype],
  ['Promise', Promise], ['Promise.prototype', Promise.prototype], ['Buffer', Buffer], ['Buffer.prototype', Buffer.prototype],
  ['Module', Module], ['Module.prototype', Module.prototype], ['vm', vm],
];
// Globals the kernel itself sets or replaces after this file runs (tslab, Node's lazy getters).
const KERNEL_GLOBALS = new Set(['exports', 'require', 'module', '__filename', '__dirname', 'rlhfGraderProbe']);
const keyName = (key) => (typeof key === 'symbol' ? `[${key.description}]` : key);
const snapshot = [];
for (const [label, obj] of watched) {
  const keys = ownKeys(obj);
  for (let i = 0; i < keys.length; i++) {
    if (obj === globalThis && KERNEL_GLOBALS.has(keys[i])) continue;
    const d = getOwn(obj, keys[i]);
    if (obj === globalThis && d.get) continue; // Node's lazy globals turn into values when first read
    snapshot.push([label, obj, keys[i], d.value, d.get, d.set]);
  }
}
const prepareStackTrace = getOwn(Error, 'prepareStackTrace');
function changedBuiltins() {
  let out = '';
  for (let i = 0; i < snapshot.length; i++) {
    const [label, obj, key, value, get, set] = snapshot[i];
    const d = getOwn(obj, key);
    if (d === undefined || !same(d.value, value) || d.get !== get || d.set !== set) {
      if (out.length < 1000) out += (out ? ', ' : '') + `${label}.${keyName(key)}`;
    }
  }
  const p = getOwn(Error, 'prepareStackTrace');
  if ((p && p.value) !== (prepareStackTrace && prepareStackTrace.value)) out += (out ? ', ' : '') + 'Error.prepareStackTrace';
  return out;
}

// ---- the way out: tslab's display function, captured ----------------------------------------
// The kernel's messages carry the records and the flags. tslab hands each cell's display function
// to handleExecuteImpl and keeps it in a writable module export: the function is captured here
// as tslab passes it, the export answers with it, and the methods on its path cannot be replaced.
// (Code in the same process can still reach deeper, e.g. the socket library: README "Flags".)
let display = null;
const lock = (obj, name) => {
  const d = getOwn(obj, name);
  if (d && d.configurable) defineProperty(obj, name, { value: d.value, writable: false, configurable: false, enumerable: d.enumerable });
};
const isKernel = process.argv[2] === 'kernel' && /tslab/.test(process.argv[1] || '');
if (isKernel) {
  const jupyter = require(require.resolve('tslab/dist/jupyter.js', { paths: [process.cwd()] }));
  const impl = jupyter.JupyterHandlerImpl.prototype;
  const server = jupyter.ZmqServer.prototype;
  const execute = impl.handleExecuteImpl;
  const serverExecute = server.handleExecute;
  let locked = false;
  defineProperty(impl, 'handleExecuteImpl', {
    value: function (req, writeStream, writeDisplayData) {
      display = writeDisplayData;
      return call.call(execute, this, req, writeStream, writeDisplayData);
    },
    writable: false,
    configurable: false,
  });
  defineProperty(server, 'handleExecute', {
    value: function (sock, msg) {
      if (!locked) {
        // The message class and the output socket are reachable only from here, before any cell.
        locked = true;
        const proto = protoOf(msg);
        lock(proto, 'createReply');
        lock(proto, 'signAndSend');
        for (let p = this.iopub; p !== null && p !== Object.prototype; p = protoOf(p)) lock(p, 'send');
        lock(this, 'iopub');
      }
      return call.call(serverExecute, this, sock, msg);
    },
    writable: false,
    configurable: false,
  });
  for (const name of ownNames(impl)) lock(impl, name);
  for (const name of ownNames(server)) lock(server, name);
  defineProperty(jupyter, 'lastWriteDisplayData', {
    get: () => display,
    set: (fn) => {
      if (fn !== display) notice("tried to replace tslab's display function (ignored)");
    },
    configurable: false,
  });
  lock(JSON, 'stringify');
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

function send(json) {
  flushOutput();
  if (display !== null) call.call(display, null, { data: { [MIME]: json }, metadata: {}, transient: {} }, false);
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
    // Exactly assignments/check.ts: the error's message (the thrown value itself if it is not an
    // object) must not be null, so `throw null` and an Error whose message is null do not count,
    // and a message getter that throws fails the test cell with its error.
    let message = null;
    try {
      fn();
    } catch (e) {
      message = typeof e === 'object' && e !== null ? e.message : e;
    }
    const shown = typeof message === 'string' ? text(message) : '';
    current.checks += `${current.n++ ? ',' : ''}{"k":${k | 0},"threw":${message !== null},"message":${stringify(shown)},"what":${label(what)}}`;
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
