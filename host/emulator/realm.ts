// Values crossing into the sandbox must be the sandbox's own (its ArrayBuffer, Error, Array…), or
// `x instanceof ArrayBuffer` and `e instanceof Error` would be false in firmware code. A Realm holds the
// sandbox's constructors and the conversions host code uses to talk to it.
import vm from 'node:vm';

export type ErrorType = 'Error' | 'TypeError' | 'RangeError' | 'ReferenceError' | 'SyntaxError';

export interface Realm {
  context: vm.Context;
  /** The sandbox's global object. */
  global: Record<string, any>;
  ArrayBuffer: ArrayBufferConstructor;
  Uint8Array: Uint8ArrayConstructor;
  ObjectProto: object;
  /** A new error of the sandbox's own class. */
  error(type: ErrorType, message: string): Error;
  /** A sandbox array holding these items. */
  array(items: unknown[]): unknown[];
  /** A sandbox object with these own properties. */
  object(props: Record<string, unknown>): Record<string, unknown>;
  /** A sandbox ArrayBuffer holding a copy of these bytes. */
  arrayBuffer(bytes: Uint8Array): ArrayBuffer;
  /** A sandbox Uint8Array holding a copy of these bytes. */
  uint8Array(bytes: Uint8Array): Uint8Array;
  /** A sandbox function that calls this host function (so natives look and print like natives). */
  native<F extends (...a: any[]) => any>(f: F): F;
}

export function makeRealm(context: vm.Context): Realm {
  const g = vm.runInContext('this', context) as Record<string, any>;
  const wrapper = vm.runInContext(
    // A sandbox-realm function per native: its constructor is the sandbox's Function, never the host's.
    '(function (f) { return function () { return f.apply(this, arguments); }; })',
    context,
  ) as (f: Function) => Function;
  const S = {
    Object: g.Object as ObjectConstructor,
    Array: g.Array as ArrayConstructor,
    ArrayBuffer: g.ArrayBuffer as ArrayBufferConstructor,
    Uint8Array: g.Uint8Array as Uint8ArrayConstructor,
  };
  const errors: Record<ErrorType, ErrorConstructor> = {
    Error: g.Error, TypeError: g.TypeError, RangeError: g.RangeError, ReferenceError: g.ReferenceError, SyntaxError: g.SyntaxError,
  };
  return {
    context,
    global: g,
    ArrayBuffer: S.ArrayBuffer,
    Uint8Array: S.Uint8Array,
    ObjectProto: S.Object.prototype,
    error: (type, message) => new errors[type](message),
    array: (items) => {
      const a = new S.Array();
      for (const x of items) a.push(x);
      return a;
    },
    object: (props) => {
      const o = new S.Object() as Record<string, unknown>;
      for (const k of Object.keys(props)) o[k] = props[k];
      return o;
    },
    arrayBuffer: (bytes) => {
      const b = new S.ArrayBuffer(bytes.length);
      new S.Uint8Array(b).set(bytes);
      return b;
    },
    uint8Array: (bytes) => {
      const u = new S.Uint8Array(bytes.length);
      u.set(bytes);
      return u;
    },
    native: (f) => wrapper(f) as any,
  };
}

/**
 * Bytes of a value the way Espruino's natives read data arguments (jsvIterateCallback): a string gives
 * one byte per char (char code & 255), a number one byte, arrays their items, ArrayBuffers and typed
 * arrays their raw bytes, `{data, count}` its data repeated. undefined for anything else.
 */
export function bytesOf(v: unknown): Uint8Array | undefined {
  // One string or buffer (every call a seal makes): its bytes straight into the result, no list between.
  // A list of one item is that item (walk below gives the same bytes): the natives' argument lists, as
  // E.toUint8Array(json) and E.toString(frame) with each reading, take the direct paths.
  if (Array.isArray(v) && v.length === 1) v = v[0];
  if (typeof v === 'string') {
    const u = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) u[i] = v.charCodeAt(i); // a Uint8Array keeps the low byte, as & 255
    return u;
  }
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  if (v !== null && typeof v === 'object' && Object.prototype.toString.call(v) === '[object ArrayBuffer]') return new Uint8Array(v as ArrayBuffer).slice();
  const out: number[] = [];
  const walk = (x: unknown): boolean => {
    if (typeof x === 'string') {
      for (let i = 0; i < x.length; i++) out.push(x.charCodeAt(i) & 255);
      return true;
    }
    if (typeof x === 'number') return out.push(x & 255), true;
    if (typeof x === 'boolean') return out.push(x ? 1 : 0), true;
    if (x === null || typeof x !== 'object') return false;
    const tag = Object.prototype.toString.call(x);
    if (tag === '[object ArrayBuffer]') {
      const u = new Uint8Array(x as ArrayBuffer);
      for (let i = 0; i < u.length; i++) out.push(u[i]);
      return true;
    }
    if (ArrayBuffer.isView(x)) {
      const u = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
      for (let i = 0; i < u.length; i++) out.push(u[i]);
      return true;
    }
    if (Array.isArray(x)) {
      for (const item of x) if (!walk(item)) return false;
      return true;
    }
    const o = x as { data?: unknown; count?: unknown };
    if ('data' in o) {
      const n = typeof o.count === 'number' ? o.count : 1;
      for (let i = 0; i < n; i++) if (!walk(o.data)) return false;
      return true;
    }
    return false;
  };
  return walk(v) ? new Uint8Array(out) : undefined;
}

/** A byte array as Espruino's binary string (one char per byte, 0..255). */
export function binaryString(b: Uint8Array): string {
  // latin1 is exactly that: byte n is char code n.
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}
