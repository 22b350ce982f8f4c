// `sealmq build` as a library: bundles firmware/main.ts (and firmware/selftest.ts) with esbuild into ONE
// Espruino script each (format iife, target es2015, minified, the board profile injected via `define`),
// checks every bundle with check.ts, and writes dist/firmware.js and dist/selftest.js only if all pass
// and fit their budgets. Nothing is lowered for Espruino on the sly: a construct Espruino lacks is
// refused with its source position, so the code that runs on the board is the code that was written
// (with one rename: the most used globals reach it through one-letter aliases, firmware/globals.ts).
import { build, type Message, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { SealmqError } from '../errors.js';
import { repoRoot } from '../protocol/vectors.js';
import { type BoardProfile, boardDefines, loadBoard } from './boards.js';
import { checkEspruino, type Violation } from './check.js';
import { decodeMappings, originalPosition, type SourceMapV3 } from './sourcemap.js';
import { selftestVectors } from './vectors.js';

/** Espruino's built-in modules: left as require("…") calls for the board to resolve. */
export const ESPRUINO_MODULES = ['Storage', 'crypto', 'net', 'Wifi', 'http', 'tls', 'dgram', 'Flash', 'fs', 'heatshrink', 'neopixel', 'ESP32', 'Telnet'];

/**
 * Property names that never leave the bundle (not JSON on the wire or in Storage, not an Espruino API,
 * not a board-profile key), so esbuild may shorten them. Adding a name here that does leave the bundle
 * breaks the board: the emulator tests catch it.
 */
export const INTERNAL_PROPS = ['hmacSha256', 'cbcEncrypt', 'cbcDecrypt', 'sha256', 'sha1', 'ciphertext', 'plaintext', 'direction', 'header', 'reason', 'window', 'suite', 'store', 'now', 'log', 'counter', 'state', 'top', 'payload', 'topic'];

/** DESIGN.md §8: the firmware bundle, minified. */
export const FIRMWARE_BUDGET = 16 * 1024;
/** The self-test carries its vectors; it must still load comfortably on an ESP32 (16,383 variables). */
export const SELFTEST_BUDGET = 48 * 1024;
export const DEFAULT_BOARD = 'esp32';

export interface BuildOptions {
  /** Board profile name (boards/<name>.json) or path; default esp32. */
  board?: string;
  /** Output directory; default <repo>/dist. */
  outDir?: string;
  /** Firmware entry, relative to the repository or absolute; default firmware/main.ts. */
  entry?: string;
  /** Also build dist/selftest.js; default only for the default entry. */
  selftest?: boolean;
  /** Byte budget of the firmware bundle; default 16 KB. */
  budget?: number;
  /** false: check and measure only. Default true. */
  write?: boolean;
  /**
   * The research plain build (docs/PROTOCOL.md, "Research plain mode"): no sealing, anonymous MQTT login,
   * written as firmware-plain.js (never firmware.js), its version suffixed "+research-plain". No self-test.
   */
  plain?: boolean;
  /** Ticks per second of readings' "t" (default 1000; the latency bench uses 1e6 for sub-millisecond stamps). */
  stampScale?: number;
}

/** The research plain artefact's file name, next to firmware.js. */
export const PLAIN_FIRMWARE = 'firmware-plain.js';
/** Appended to the version a plain build announces (SEALMQ.version, banner). */
export const PLAIN_VERSION_SUFFIX = '+research-plain';

export interface Artifact {
  /** Where it was (or would be) written. */
  file: string;
  bytes: number;
  budget: number;
  code: string;
}

export interface BuildResult {
  board: BoardProfile;
  firmware: Artifact;
  selftest?: Artifact;
  /** False when write: false was asked. */
  written: boolean;
}

/** A violation placed in the source file it came from (when the source map knows). */
export interface LocatedViolation extends Violation {
  artifact: string;
  source?: { file: string; line: number; column: number };
}

export function formatViolation(v: LocatedViolation): string {
  const where = v.source ? `${v.source.file}:${v.source.line}:${v.source.column + 1}` : `${v.artifact}:${v.line}:${v.column + 1} (code esbuild added)`;
  return `${where}: ${v.construct} — ${v.hint} (bundle ${v.artifact} ${v.line}:${v.column + 1})`;
}

/** esbuild lowers an async function to a generator for ES2015: name what the developer wrote. */
function renameLowered(v: LocatedViolation, root: string): LocatedViolation {
  if (v.construct !== 'generator function' || !v.source) return v;
  let line = '';
  try {
    line = readFileSync(resolve(root, v.source.file), 'utf8').split('\n')[v.source.line - 1] ?? '';
  } catch {
    return v;
  }
  return /\basync\b/.test(line) ? { ...v, construct: 'async function', hint: 'esbuild lowers it to a generator, which Espruino lacks too: return a Promise and chain .then()' } : v;
}

/** The build refused to write: constructs Espruino lacks. `violations` lists each with its position. */
export class BuildRefusedError extends SealmqError {
  readonly violations: LocatedViolation[];
  constructor(violations: LocatedViolation[]) {
    const shown = violations.slice(0, 20).map((v) => '  ' + formatViolation(v)).join('\n');
    const more = violations.length > 20 ? `\n  … and ${violations.length - 20} more` : '';
    super('input', `build refused: the bundle uses ${violations.length} construct${violations.length === 1 ? '' : 's'} Espruino lacks (DESIGN.md §6):\n${shown}${more}`, {
      hint: 'rewrite them in the Espruino subset; nothing was written',
    });
    this.violations = violations;
  }
}

function version(): string {
  return JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')).version;
}

function esbuildError(what: string, errors: Message[]): SealmqError {
  const lines = errors.map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : ''}${m.text}`);
  return new SealmqError('input', `build refused: esbuild could not bundle ${what}:\n${lines.join('\n')}`);
}

/** One bundle: minified code plus its violations placed in the sources. */
async function bundleOne(entry: string, outName: string, defines: Record<string, string>, plugins: Plugin[] = [], minifyIdentifiers = true): Promise<{ code: string; violations: LocatedViolation[] }> {
  const root = repoRoot();
  let result;
  try {
    result = await build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile: join(root, 'dist', outName),
      bundle: true,
      format: 'iife',
      target: 'es2015',
      platform: 'neutral',
      minifyWhitespace: true,
      minifySyntax: true,
      minifyIdentifiers,
      charset: 'ascii',
      legalComments: 'none',
      sourcemap: 'external',
      write: false,
      logLevel: 'silent',
      // Every bundle of firmware sources gets the production values unless the caller says otherwise.
      define: { __PLAIN__: 'false', __TS__: '1000', ...defines },
      external: ESPRUINO_MODULES,
      tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
      mangleProps: new RegExp(`^(${INTERNAL_PROPS.join('|')})$`),
      // The most used globals as one-letter names of the bundle's scope (firmware/globals.ts says why).
      inject: [join(root, 'firmware', 'globals.ts')],
      plugins,
    });
  } catch (e) {
    const errors = (e as { errors?: Message[] }).errors;
    if (errors && errors.length) throw esbuildError(relative(root, entry), errors);
    throw e;
  }
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
  const mapFile = result.outputFiles.find((f) => f.path.endsWith('.map'));
  if (!js) throw new SealmqError('internal', 'esbuild produced no JavaScript');
  const code = js.text.replace(/\n$/, '');
  const found = checkEspruino(code);
  let located: LocatedViolation[] = found.map((v) => ({ ...v, artifact: outName }));
  if (found.length && mapFile) {
    const map = JSON.parse(mapFile.text) as SourceMapV3;
    const decoded = decodeMappings(map.mappings);
    located = located.map((v) => {
      const o = originalPosition(map, decoded, v.line, v.column);
      if (!o) return v;
      const file = relative(root, resolve(join(root, 'dist'), o.source));
      return renameLowered({ ...v, source: { file, line: o.line, column: o.column } }, root);
    });
  }
  located.sort((a, b) => (a.source ? 0 : 1) - (b.source ? 0 : 1) || a.offset - b.offset);
  return { code, violations: located };
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/**
 * Builds the firmware (and the self-test) for a board. Throws BuildRefusedError when a bundle uses what
 * Espruino lacks, and a SealmqError('input') when esbuild fails or a bundle is over its budget; in both
 * cases nothing is written.
 */
export async function buildFirmware(opts: BuildOptions = {}): Promise<BuildResult> {
  const root = repoRoot();
  const board = loadBoard(opts.board ?? DEFAULT_BOARD);
  const entry = opts.entry ? (isAbsolute(opts.entry) ? opts.entry : resolve(root, opts.entry)) : join(root, 'firmware', 'main.ts');
  const isDefault = !opts.entry;
  const outDir = opts.outDir ? resolve(opts.outDir) : join(root, 'dist');
  const budget = opts.budget ?? FIRMWARE_BUDGET;
  const plain = !!opts.plain;
  const outName = plain ? PLAIN_FIRMWARE : 'firmware.js';
  const defines: Record<string, string> = {
    ...boardDefines(board),
    __VERSION__: JSON.stringify(version() + (plain ? PLAIN_VERSION_SUFFIX : '')),
    __PLAIN__: String(plain),
    __TS__: String(opts.stampScale ?? 1000),
  };

  const fw = await bundleOne(entry, outName, defines);
  let st: { code: string; violations: LocatedViolation[] } | undefined;
  if (!plain && (opts.selftest ?? isDefault)) {
    st = await bundleOne(join(root, 'firmware', 'selftest.ts'), 'selftest.js', { ...defines, __VECTORS__: JSON.stringify(selftestVectors()) });
  }
  const violations = [...fw.violations, ...(st ? st.violations : [])];
  if (violations.length) throw new BuildRefusedError(violations);

  const firmware: Artifact = { file: join(outDir, outName), bytes: Buffer.byteLength(fw.code), budget, code: fw.code };
  const selftest: Artifact | undefined = st && { file: join(outDir, 'selftest.js'), bytes: Buffer.byteLength(st.code), budget: SELFTEST_BUDGET, code: st.code };
  for (const a of [firmware, selftest]) {
    if (a && a.bytes > a.budget) {
      throw new SealmqError('input', `build refused: ${relative(root, a.file) || a.file} is ${a.bytes} bytes, over its budget of ${a.budget} (DESIGN.md §8)`, {
        hint: 'make the firmware smaller; nothing was written',
      });
    }
  }
  const write = opts.write ?? true;
  if (write) {
    mkdirSync(outDir, { recursive: true });
    writeAtomic(firmware.file, firmware.code);
    if (selftest) writeAtomic(selftest.file, selftest.code);
  }
  return { board, firmware, selftest, written: write };
}

/**
 * One extra Espruino script built and checked exactly like the firmware (same esbuild settings, same
 * checker), for tools that run code of their own on a board (the crypto bench). Throws BuildRefusedError
 * when it uses what Espruino lacks; never writes anything. defines: extra esbuild defines (JSON text);
 * plugins: source transforms for a bench bundle's third-party code (the checker still judges the output).
 * minifyIdentifiers false: for big third-party code, where esbuild's short names would include `of`, which
 * Espruino's parser reads as the for-of keyword.
 */
export async function bundleScript(entry: string, outName: string, opts: { board?: string; defines?: Record<string, string>; plugins?: Plugin[]; minifyIdentifiers?: boolean } = {}): Promise<Artifact> {
  const root = repoRoot();
  const board = loadBoard(opts.board ?? DEFAULT_BOARD);
  const file = isAbsolute(entry) ? entry : resolve(root, entry);
  const r = await bundleOne(file, outName, { ...boardDefines(board), __VERSION__: JSON.stringify(version()), ...opts.defines }, opts.plugins, opts.minifyIdentifiers ?? true);
  if (r.violations.length) throw new BuildRefusedError(r.violations);
  return { file: join(root, 'dist', outName), bytes: Buffer.byteLength(r.code), budget: Infinity, code: r.code };
}
