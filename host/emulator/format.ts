// How Espruino turns a value into console text: the REPL's `=…` result and print()/console.log of
// non-strings. Follows the layout rules of jsfGetJSONWithCallback (src/jswrap_json.c, Espruino 2v29):
// "{ a: 1, … }" with a new line around every item that is not a number/undefined/null, more than 4 items
// per line wrap, arrays over 15 items and strings over 60 chars are elided in the REPL (JSON_LIMIT).

export interface FormatMode {
  /** REPL results elide long arrays, strings and function bodies (JSON_LIMIT). */
  limit: boolean;
  /** REPL results drop quotes around identifier keys (JSON_DROP_QUOTES). */
  dropQuotes: boolean;
  /** Name of a constructor found among the board's globals, for "Name: {…}" (JSON_SHOW_OBJECT_NAMES). */
  nameOf?: (ctor: unknown) => string | undefined;
}

export const REPL_MODE: Omit<FormatMode, 'nameOf'> = { limit: true, dropQuotes: true };
export const PRINT_MODE: Omit<FormatMode, 'nameOf'> = { limit: false, dropQuotes: false };

const LIMIT_AMOUNT = 15;
const LIMITED_AMOUNT = 5;
const LIMIT_STRING = 60;
const LIMITED_STRING = 27;
const ITEMS_ON_LINE = 4;
const LIMIT_TEXT = ' ... ';

/** One character as Espruino escapes it inside a quoted string (escapeCharacter, src/jsutils.c). */
function escapeChar(c: number, next: number): string {
  switch (c) {
    case 10: return '\\n';
    case 9: return '\\t';
    case 8: return '\\b';
    case 11: return '\\v';
    case 12: return '\\f';
    case 13: return '\\r';
    case 92: return '\\\\';
    case 34: return '\\"';
  }
  if (c < 8 && (next < 48 || next > 55)) return '\\' + c;
  const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
  if (c > 255) return '\\u' + hex(c, 4);
  if (c < 32 || c >= 127) return '\\x' + hex(c, 2);
  return String.fromCharCode(c);
}

/** A string quoted the way Espruino's %q prints it. */
export function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) out += escapeChar(s.charCodeAt(i), i + 1 < s.length ? s.charCodeAt(i + 1) : -1);
  return out + '"';
}

const isIdentifier = (k: string) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k) && k.length < 63;
const isIntegerKey = (k: string) => /^-?\d+$/.test(k);

/** Espruino's jsonNeedsNewLine: everything but undefined, null and numbers goes on its own line. */
const needsNewLine = (v: unknown) => !(v === undefined || v === null || typeof v === 'number' || typeof v === 'boolean');

/** The source of a function split into its parameter list and body, as Espruino prints `function (a,b) {…}`. */
function functionParts(f: Function): { params: string; body: string; native: boolean } {
  const src = Function.prototype.toString.call(f);
  if (/\{\s*\[native code\]\s*\}$/.test(src)) return { params: '', body: '{ [native code] }', native: true };
  const m = /^[^(]*\(([^)]*)\)\s*(?:=>)?\s*([\s\S]*)$/.exec(src) ?? /^\s*([A-Za-z_$][\w$]*)\s*=>\s*([\s\S]*)$/.exec(src);
  if (!m) return { params: '', body: '{}', native: false };
  const params = m[1].split(',').map((p) => p.trim()).filter(Boolean).join(',');
  const body = m[2].startsWith('{') ? m[2] : `{return ${m[2]}}`;
  return { params, body, native: false };
}

export function formatValue(v: unknown, mode: FormatMode): string {
  const seen = new Set<object>();
  const out: string[] = [];
  const nl = (indent: number) => out.push('\n' + '  '.repeat(indent));

  function items(entries: [string, unknown][], indent: number, first: boolean): boolean {
    let needNewLine = false;
    let sinceNewLine = 0;
    for (const [key, item] of entries) {
      sinceNewLine++;
      if (!first) out.push(', ');
      const newNeeds = needsNewLine(item);
      if (sinceNewLine > ITEMS_ON_LINE) needNewLine = true;
      if (needNewLine || newNeeds) {
        nl(indent + 1);
        needNewLine = false;
        sinceNewLine = 0;
      }
      const bare = mode.dropQuotes && (isIntegerKey(key) || isIdentifier(key));
      out.push((bare ? key : quote(key)) + ': ');
      first = false;
      value(item, indent + 1);
      needNewLine = newNeeds;
    }
    return needNewLine;
  }

  function value(x: unknown, indent: number): void {
    if (x === undefined) return void out.push('undefined');
    if (x === null) return void out.push('null');
    if (typeof x === 'string') {
      if (mode.limit && x.length > LIMIT_STRING) out.push(quote(x.slice(0, LIMITED_STRING)) + LIMIT_TEXT + quote(x.slice(-LIMITED_STRING)));
      else out.push(quote(x));
      return;
    }
    if (typeof x === 'number' || typeof x === 'boolean') return void out.push(String(x));
    if (typeof x === 'function') {
      const p = functionParts(x);
      out.push(`function (${p.params}) ` + (p.native ? p.body : mode.limit ? `{${LIMIT_TEXT}}` : p.body));
      return;
    }
    if (typeof x !== 'object') return void out.push(String(x));
    if (seen.has(x)) return void out.push(LIMIT_TEXT);
    seen.add(x);
    try {
      if (Array.isArray(x)) return array(x, indent);
      const tag = Object.prototype.toString.call(x).slice(8, -1);
      if (tag === 'ArrayBuffer' || (ArrayBuffer.isView(x) && tag !== 'DataView')) return arrayBuffer(x as ArrayBuffer | ArrayBufferView, tag);
      object(x as Record<string, unknown>, indent);
    } finally {
      seen.delete(x);
    }
  }

  function array(a: unknown[], indent: number): void {
    const limited = mode.limit && a.length > LIMIT_AMOUNT;
    let needNewLine = false;
    out.push('[ ');
    for (let i = 0; i < a.length; i++) {
      if (limited && i >= LIMITED_AMOUNT && i < a.length - LIMITED_AMOUNT) continue;
      if (i > 0) out.push(', ');
      if (limited && i === a.length - LIMITED_AMOUNT) out.push(LIMIT_TEXT);
      const item = a[i];
      const newNeeds = needsNewLine(item);
      if (needNewLine || newNeeds) {
        nl(indent + 1);
        needNewLine = false;
      }
      value(item, indent + 1);
      needNewLine = newNeeds;
    }
    if (needNewLine) nl(indent);
    out.push(' ]');
  }

  function arrayBuffer(b: ArrayBuffer | ArrayBufferView, tag: string): void {
    const isBuffer = tag === 'ArrayBuffer';
    const view: ArrayLike<number> = isBuffer ? new Uint8Array(b as ArrayBuffer) : (b as unknown as ArrayLike<number>);
    let allZero = true;
    for (let i = 0; i < view.length; i++) if (view[i] !== 0) allZero = false;
    if (allZero) return void out.push(`new ${tag}(${view.length})`);
    out.push(`new ${isBuffer ? 'Uint8Array' : tag}([`);
    const limited = mode.limit && view.length > LIMIT_AMOUNT;
    for (let i = 0; i < view.length; i++) {
      if (limited && i >= LIMITED_AMOUNT && i < view.length - LIMITED_AMOUNT) continue;
      if (i > 0) out.push(', ');
      if (limited && i === view.length - LIMITED_AMOUNT) out.push(LIMIT_TEXT);
      out.push(String(view[i]));
    }
    out.push('])' + (isBuffer ? '.buffer' : ''));
  }

  function object(o: Record<string, unknown>, indent: number): void {
    const proto = Object.getPrototypeOf(o);
    const objectProto = proto && Object.getPrototypeOf(proto) === null && 'hasOwnProperty' in proto;
    if (proto && !objectProto && mode.nameOf) {
      const ctor = Object.prototype.hasOwnProperty.call(proto, 'constructor') ? proto.constructor : undefined;
      const name = ctor ? mode.nameOf(ctor) : undefined;
      if (name) {
        out.push(name + ': ');
        const toStr = o.toString;
        if (typeof toStr === 'function' && toStr !== (objectProtoOf(o) as { toString?: unknown })?.toString) {
          out.push(String(toStr.call(o)));
          return;
        }
      }
    }
    out.push('{ ');
    const entries: [string, unknown][] = [];
    for (const k of Object.keys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k);
      if (!d || d.get || d.set) continue;
      entries.push([k, d.value]);
    }
    if (items(entries, indent, true)) nl(indent);
    out.push(' }');
  }

  value(v, 0);
  return out.join('');
}

/** The realm's Object.prototype of an object (the end of its prototype chain). */
function objectProtoOf(o: object): object | null {
  let p = Object.getPrototypeOf(o);
  while (p && Object.getPrototypeOf(p)) p = Object.getPrototypeOf(p);
  return p;
}

/** What Espruino prints after "Uncaught " for a thrown value (jsvAsString of it). */
export function thrownText(e: unknown): string {
  if (e !== null && typeof e === 'object') {
    try {
      return String(e);
    } catch {
      return '[object]';
    }
  }
  return typeof e === 'string' ? e : formatValue(e, { ...PRINT_MODE });
}

/** The line the REPL prints for an error that escaped the board's code (the watchdog's stop included). */
export function uncaughtLine(e: unknown): string {
  if ((e as { code?: string })?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return 'Execution Interrupted\n';
  // V8 and Espruino word the commonest error differently; the emulator speaks Espruino here.
  const text = thrownText(e).replace(/^ReferenceError: ([\w$]+) is not defined$/, 'ReferenceError: "$1" is not defined');
  return `Uncaught ${text}\n`;
}
