/**
 * The tslab (Jupyter) kernel this process runs in, if any: the one place that looks for it, below
 * interrupt.ts (which tells cells apart by tslab's output writer) and view/display.ts (which
 * draws through tslab's display API). Never loads tslab itself: outside a kernel both are null.
 */

function tslabJupyterKey(): string | undefined {
  const key = Object.keys(require.cache).find((k) => /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(k));
  return key && require.cache[key]?.exports?.lastWriteDisplayData != null ? key : undefined;
}

/**
 * tslab's kernel module (dist/jupyter.js) when running inside a tslab kernel, else null (never
 * loads tslab itself). Its `lastWriteDisplayData` is the output writer of the running cell: tslab
 * replaces it at every execute request.
 */
export function tslabKernel(): { lastWriteDisplayData: (data: unknown, update: boolean) => void } | null {
  const key = tslabJupyterKey();
  return key ? require.cache[key]!.exports : null;
}

/** tslab's public module (dist/public.js: `display`, `newDisplay()`) inside a tslab kernel, else null. */
export function tslabPublic<T>(): T | null {
  const key = tslabJupyterKey();
  if (!key) return null;
  const pub = key.replace(/jupyter\.js$/, 'public.js');
  return require.cache[pub]?.exports ?? require(pub);
}
