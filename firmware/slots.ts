/**
 * Records that survive a power cut at any instant, including one in the middle of a Storage write.
 * Espruino's Storage.write ERASES an existing file of the same name before it writes the new one
 * (jsfWriteFile in src/jsflash.c), so a single file can vanish or come back torn. Each record therefore
 * lives in two files, <base>0 and <base>1, written alternately (sequence s even → 0, odd → 1) and each
 * checksummed: a torn or erased write only ever hits the older copy, and the newer one stays valid.
 * Pure functions over an injected text store, so Node tests can tear writes at will.
 */

/** Storage as the firmware uses it: whole text files (main.ts adapts require("Storage")). */
export interface Store {
  read(name: string): string | undefined;
  /** Writes a whole file; false or a throw means it may not have reached flash. */
  write(name: string, text: string): boolean;
  erase(name: string): void;
}

/** A record: whole numbers ≥ 0 only, among them its sequence s. */
export interface Rec {
  s: number;
  [k: string]: number;
}

/** FNV-1a 32 of a string's char codes (the prime multiply as shifts: Espruino has no Math.imul). */
export const fnv = (t: string) => {
  let h = -2128831035;
  for (let i = 0; i < t.length; i++) {
    h ^= t.charCodeAt(i);
    h = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) | 0;
  }
  return h >>> 0;
};

/** The text of a record: its JSON with ,"x":<FNV of that JSON> spliced in before the closing brace. */
export const recText = (r: Rec) => {
  const b = JSON.stringify(r);
  return b.slice(0, -1) + ',"x":' + fnv(b) + '}';
};

/** The record in a text, or null when absent, torn or corrupt. */
export const recParse = (t: string | undefined): Rec | null => {
  const i = t ? t.lastIndexOf(',"x":') : -1;
  let r: any = null;
  if (i > 0 && t!.slice(i + 5) === fnv(t!.slice(0, i) + '}') + '}') {
    try {
      r = JSON.parse(t!.slice(0, i) + '}');
    } catch (e) {}
  }
  return r && r.s >= 0 ? r : null;
};

/**
 * The newest valid copy of a record: the valid slot with the highest rank (ties: higher s). A copy in the
 * wrong file for its sequence is not trusted.
 */
export const slotLoad = (st: Store, base: string, rank: (r: Rec) => number) => {
  let best: Rec | null = null;
  for (let i = 0; i < 2; i++) {
    const r = recParse(st.read(base + i));
    if (r && (r.s & 1) === i && (!best || rank(r) > rank(best) || (rank(r) === rank(best) && r.s > best.s))) best = r;
  }
  return best;
};

/** Writes a whole file; false if it may not have reached flash (Espruino's Storage.write throws when full). */
export const put = (st: Store, name: string, text: string) => {
  try {
    return st.write(name, text) !== false;
  } catch (e) {
    return false;
  }
};

/** Writes r as the successor of sequence prev (into the other file than prev's); false if it failed. */
export const slotSave = (st: Store, base: string, r: Rec, prev: number) => put(st, base + ((r.s = prev + 1) & 1), recText(r));

/** Starts a record over: erases the odd file first, so a cut in between leaves no stale newer copy. */
export const slotReset = (st: Store, base: string, r: Rec) => {
  st.erase(base + 1);
  return slotSave(st, base, r, -1);
};
