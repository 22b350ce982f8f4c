// Storage.writeJSON/readJSON's dialect (src/jswrap_storage.c, 2v20+): identifier keys unquoted, strings
// escaped compactly (\xXX), functions and undefined dropped, ArrayBuffers as arrays, NaN as null; read
// back by a "liberal" parser that also takes unquoted keys and \x escapes. A file written by the board
// is therefore NOT always valid JSON for JSON.parse on the host.
import { quote } from './format.js';

const isId = (k: string) => /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(k);

export function stringifyForStorage(v: unknown): string | undefined {
  const seen = new Set<object>();
  const enc = (x: unknown, inArray: boolean): string | undefined => {
    if (x !== null && typeof x === 'object' && typeof (x as { toJSON?: unknown }).toJSON === 'function') x = (x as { toJSON: () => unknown }).toJSON();
    if (x === undefined || typeof x === 'function') return inArray ? 'null' : undefined;
    if (x === null) return 'null';
    if (typeof x === 'number') return Number.isFinite(x) ? String(x) : 'null';
    if (typeof x === 'boolean') return String(x);
    if (typeof x === 'string') return quote(x);
    if (typeof x !== 'object') return undefined;
    if (seen.has(x)) return 'null';
    seen.add(x);
    try {
      const tag = Object.prototype.toString.call(x);
      if (tag === '[object ArrayBuffer]') return '[' + Array.prototype.join.call(new Uint8Array(x as ArrayBuffer), ',') + ']';
      if (ArrayBuffer.isView(x)) return '[' + Array.prototype.join.call(x, ',') + ']';
      if (Array.isArray(x)) return '[' + x.map((i) => enc(i, true)).join(',') + ']';
      const parts: string[] = [];
      for (const k of Object.keys(x)) {
        const s = enc((x as Record<string, unknown>)[k], false);
        if (s !== undefined) parts.push((isId(k) ? k : quote(k)) + ':' + s);
      }
      return '{' + parts.join(',') + '}';
    } finally {
      seen.delete(x);
    }
  };
  return enc(v, false);
}

/** Parses standard JSON plus Espruino's liberal forms; throws SyntaxError-like messages on junk. */
export function parseLiberal(text: string, make: { object: () => Record<string, unknown>; array: () => unknown[] }): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`Got ${i < text.length ? JSON.stringify(text[i]) : 'EOF'} expected ${what}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const str = (): string => {
    const q = text[i++];
    let s = '';
    while (i < text.length && text[i] !== q) {
      let c = text[i++];
      if (c === '\\') {
        c = text[i++];
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };
        if (c === 'x') { s += String.fromCharCode(parseInt(text.substr(i, 2), 16)); i += 2; }
        else if (c === 'u') { s += String.fromCharCode(parseInt(text.substr(i, 4), 16)); i += 4; }
        else if (c >= '1' && c <= '7') s += String.fromCharCode(c.charCodeAt(0) - 48);
        else s += simple[c] ?? c;
      } else s += c;
    }
    if (text[i] !== q) fail('closing quote');
    i++;
    return s;
  };
  const val = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const o = make.object();
      ws();
      if (text[i] === '}') return i++, o;
      for (;;) {
        ws();
        let k: string;
        if (text[i] === '"' || text[i] === "'") k = str();
        else {
          const m = /^[A-Za-z0-9_$]+/.exec(text.slice(i));
          if (!m) fail('a key');
          k = m![0];
          i += k.length;
        }
        ws();
        if (text[i++] !== ':') fail("':'");
        o[k] = val();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') return i++, o;
        fail("',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const a = make.array();
      ws();
      if (text[i] === ']') return i++, a;
      for (;;) {
        a.push(val());
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') return i++, a;
        fail("',' or ']'");
      }
    }
    if (c === '"' || c === "'") return str();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null|NaN|-?Infinity|undefined)/.exec(text.slice(i));
    if (!m) fail('a value');
    i += m![0].length;
    const w = m![0];
    return w === 'true' ? true : w === 'false' ? false : w === 'null' ? null : w === 'undefined' ? undefined : Number(w);
  };
  const v = val();
  ws();
  if (i < text.length) fail('EOF');
  return v;
}
