// What every bench leaves behind in its --out folder: <bench>-<target>.json (the full report),
// .csv (one row per result) and .svg (a plot drawn by vega-lite, rendered by vega in Node without a canvas).
// `sealmq report` (report.ts) gathers them into one HTML page.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { CryptoBenchReport } from './crypto.js';
import type { VerifierBenchReport } from './verifier.js';

/** A file-name-safe slug of the target label. */
export const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);

const csvCell = (v: unknown) => {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
};

export function toCsv(rows: Record<string, unknown>[], columns: string[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

/** Renders a vega-lite spec to an SVG string (vega's headless View, renderer 'none'). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Cost per op by payload size, log-log, one line per implementation (native vs pure JS), one panel per op. */
export function cryptoSpec(r: CryptoBenchReport): vl.TopLevelSpec {
  const values = r.results.filter((x) => x.size !== null && x.medianMs !== undefined && x.medianMs > 0).map((x) => ({ op: x.op, impl: x.impl, size: x.size, ms: x.medianMs }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'sealmq crypto cost per operation by payload size', subtitle: `${r.target} — median of ${r.reps} batches, board clock` },
    data: { values },
    facet: { field: 'op', type: 'nominal', title: null },
    columns: 3,
    spec: {
      width: 200,
      height: 150,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'size', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'payload bytes' },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'ms per op' },
        color: { field: 'impl', type: 'nominal', title: 'implementation', scale: { domain: ['native', 'js'] } },
      },
    },
    resolve: { scale: { y: 'shared' } },
  } as vl.TopLevelSpec;
}

export const CRYPTO_COLUMNS = ['target', 'op', 'impl', 'size', 'medianMs', 'minMs', 'maxMs', 'instrMedian', 'instrMin', 'instrMax', 'reps', 'inner', 'vars', 'error'];

/** Writes crypto-<target>.json/.csv/.svg into dir; returns the paths. */
export async function writeCryptoOutputs(r: CryptoBenchReport, dir: string): Promise<{ json: string; csv: string; svg: string }> {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `crypto-${slug(r.target)}`);
  const files = { json: base + '.json', csv: base + '.csv', svg: base + '.svg' };
  writeFileSync(files.json, JSON.stringify(r, null, 2) + '\n');
  const rows: Record<string, unknown>[] = r.results.map(({ instr, ...x }) => ({ target: r.target, ...x, instrMedian: instr?.median, instrMin: instr?.min, instrMax: instr?.max }));
  const f = r.footprint;
  rows.push(
    { target: r.target, op: 'firmware-bundle-bytes', impl: 'firmware', medianMs: null, vars: f.bundleBytes },
    { target: r.target, op: 'firmware-idle-vars', impl: 'firmware', vars: f.idleVars, error: f.note },
    { target: r.target, op: 'firmware-seal', impl: 'firmware', medianMs: f.sealMs, reps: f.seals, vars: f.varsPerSeal },
    { target: r.target, op: 'firmware-seal-peak-vars', impl: 'firmware', vars: f.peakVarsPerSeal ?? null, error: f.peakNote },
    { target: r.target, op: 'firmware-growth-over-seals', impl: 'firmware', reps: f.seals, vars: f.growthVars },
  );
  writeFileSync(files.csv, toCsv(rows, CRYPTO_COLUMNS));
  writeFileSync(files.svg, await renderSvg(cryptoSpec(r)));
  return files;
}

/** The verifier bench's bar chart: frames/s per pass (in-process, ceilings, through the broker) against the §8 budget. */
export function verifierSpec(r: VerifierBenchReport): vl.TopLevelSpec {
  const values: { pass: string; fps: number; min?: number; max?: number }[] = [
    { pass: 'verifier, in-process', fps: r.framesPerSecond },
    { pass: 'ceiling: node:crypto one-shot', fps: r.ceilingFramesPerSecond },
    { pass: 'ceiling: verifier primitives', fps: r.keyedCeilingFramesPerSecond },
  ];
  // Through a broker: the median shot, with a whisker from the slowest shot to the fastest.
  const shots = (b: NonNullable<VerifierBenchReport['broker']>) => `${b.publishers} devices, ${b.shots.length} shot${b.shots.length === 1 ? '' : 's'}`;
  if (r.broker) values.push({ pass: `via the broker (${shots(r.broker)})`, fps: r.broker.framesPerSecond, ...r.broker.framesPerSecondRange });
  const m = r.mosquitto;
  if (m && !('skipped' in m)) values.push({ pass: `via Mosquitto (${shots(m)})`, fps: m.framesPerSecond, ...m.framesPerSecondRange });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'sealmq verifier throughput vs ceiling', subtitle: `median of ${r.runs} runs × ${r.frames} frames, one core; ratio ${r.ratio} of the one-shot ceiling` },
    width: 420,
    height: 160,
    layer: [
      {
        data: { values },
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'pass', type: 'nominal', sort: null, title: null, axis: { labelLimit: 320 } },
          x: { field: 'fps', type: 'quantitative', title: 'frames per second' },
          color: { field: 'pass', type: 'nominal', legend: null },
        },
      },
      {
        data: { values: values.filter((v) => v.min !== undefined) },
        mark: { type: 'rule', color: 'black' },
        encoding: {
          y: { field: 'pass', type: 'nominal', sort: null },
          x: { field: 'min', type: 'quantitative' },
          x2: { field: 'max' },
        },
      },
      {
        data: { values: [{ budget: r.budgetFramesPerSecond }] },
        mark: { type: 'rule', color: 'black', strokeDash: [4, 3] },
        encoding: { x: { field: 'budget', type: 'quantitative' } },
      },
    ],
  } as vl.TopLevelSpec;
}

/** Writes <dir>/verifier.svg; returns its path. */
export async function writeVerifierSvg(r: VerifierBenchReport, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'verifier.svg');
  writeFileSync(file, await renderSvg(verifierSpec(r)));
  return file;
}
