// An ESTIMATE of Espruino's variable ("JsVar block") count, for process.memory() and E.getSizeOf().
// Espruino stores everything in fixed-size blocks: an object is one block plus a name block per property,
// values that are not small ints another block, strings ~12 chars per block, functions their (minified)
// code as a string. V8 cannot tell us Espruino's numbers, and closure variables are invisible from
// outside, so this undercounts closures and is only good for trends. Measure budgets on the Espruino
// Linux build (DESIGN.md §8), never on this.

const CHARS_PER_BLOCK = 12;

const stringBlocks = (s: string) => (s.length <= 4 ? 1 : 1 + Math.ceil((s.length - 4) / CHARS_PER_BLOCK));

/**
 * The blocks of a function's own code (0 for a native one). A function's source never changes, so it is
 * measured once per function: process.memory() walks every function the firmware holds, and a board reads
 * it with each reading.
 */
const codeCache = new WeakMap<object, number>();
function codeBlocks(f: object): number {
  let n = codeCache.get(f);
  if (n === undefined) {
    let src = '';
    try {
      src = Function.prototype.toString.call(f);
    } catch {
      src = '';
    }
    n = /\[native code\]/.test(src) ? 0 : stringBlocks(src.replace(/\s+/g, ' ')) + 1;
    codeCache.set(f, n);
  }
  return n;
}

/** Approximate blocks held by a value, following references (each object counted once). */
export function estimateVars(v: unknown, skip?: (o: object) => boolean, seen = new Set<object>()): number {
  if (v === undefined || v === null || typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 1;
  if (typeof v === 'string') return stringBlocks(v);
  if (typeof v !== 'object' && typeof v !== 'function') return 1;
  const o = v as object;
  if (seen.has(o) || (skip && skip(o))) return 0;
  seen.add(o);
  let n = 1;
  if (typeof o === 'function') n += codeBlocks(o);
  else if (ArrayBuffer.isView(o)) {
    return n + 1 + Math.ceil(o.byteLength / CHARS_PER_BLOCK);
  } else if (Object.prototype.toString.call(o) === '[object ArrayBuffer]') {
    return n + Math.ceil((o as ArrayBuffer).byteLength / CHARS_PER_BLOCK);
  }
  for (const k of Object.keys(o)) {
    const d = Object.getOwnPropertyDescriptor(o, k);
    n += 1;
    if (d && 'value' in d) {
      const x = d.value;
      // Small ints and booleans live inside the name block.
      if (!(typeof x === 'number' && Number.isInteger(x) && Math.abs(x) < 2 ** 31) && typeof x !== 'boolean') n += estimateVars(x, skip, seen);
    }
  }
  return n;
}
