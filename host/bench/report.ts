// `sealmq report DIR`: every bench's JSON, CSV and SVG in DIR in one self-contained HTML page. SVG is
// inlined as is (vega's output, no script), JSON reports become tables (a "results" array row by row,
// scalars and small objects as key/value), CSV files with no JSON beside them become tables too.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { inputError } from '../errors.js';

const esc = (s: unknown) => String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toPrecision(4)) : v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function table(rows: Record<string, unknown>[], cols?: string[]): string {
  const c = cols ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return `<table><thead><tr>${c.map((k) => `<th>${esc(k)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${c.map((k) => `<td${typeof r[k] === 'number' ? ' class="n"' : ''}>${esc(fmt(r[k]))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function kv(o: Record<string, unknown>): string {
  return `<table class="kv"><tbody>${Object.entries(o).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(fmt(v))}</td></tr>`).join('')}</tbody></table>`;
}

/** A CSV with quoted cells (as output.ts writes them) into rows. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (q) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') q = false;
      else cell += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else if (ch !== '\r') cell += ch;
  }
  if (cell || row.length) row.push(cell), rows.push(row);
  const [head, ...body] = rows;
  return head ? body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? '']))) : [];
}

const inlineSvg = (text: string) => text.replace(/<\?xml[^>]*>\s*/, '').replace(/<!DOCTYPE[^>]*>\s*/i, '');

export interface ReportResult {
  file: string;
  benches: number;
  plots: number;
  tables: number;
}

/** Builds the page from DIR and writes it (default DIR/report.html). */
export function writeReport(dir: string, out?: string): ReportResult {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    throw inputError(`cannot read ${dir}: ${(e as Error).message}`, 'give the folder a bench wrote with --out');
  }
  const stems = new Set(names.filter((n) => /\.(json|csv|svg)$/.test(n)).map((n) => n.replace(/\.(json|csv|svg)$/, '')));
  if (!stems.size) throw inputError(`${dir} holds no bench output (.json, .csv, .svg)`, 'run a bench with --out DIR first');
  const parts: string[] = [];
  let plots = 0;
  let tables = 0;
  let benches = 0;
  for (const stem of stems) {
    const has = (ext: string) => names.includes(stem + ext);
    const read = (ext: string) => readFileSync(join(dir, stem + ext), 'utf8');
    const sec: string[] = [`<section><h2>${esc(stem)}</h2>`];
    let json: Record<string, unknown> | undefined;
    if (has('.json')) {
      try {
        json = JSON.parse(read('.json'));
      } catch {
        sec.push(`<p class="warn">${esc(stem)}.json is not valid JSON</p>`);
      }
    }
    if (json) {
      benches++;
      const scalars: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(json)) if (!Array.isArray(v) && (typeof v !== 'object' || v === null)) scalars[k] = v;
      sec.push(kv(scalars));
      for (const [k, v] of Object.entries(json)) {
        if (v && typeof v === 'object' && !Array.isArray(v)) sec.push(`<h3>${esc(k)}</h3>`, kv(v as Record<string, unknown>)), tables++;
      }
    }
    if (has('.svg')) {
      sec.push(`<figure>${inlineSvg(read('.svg'))}<figcaption>${esc(stem)}.svg</figcaption></figure>`);
      plots++;
    }
    if (json) {
      for (const [k, v] of Object.entries(json)) {
        if (Array.isArray(v) && v.length && typeof v[0] === 'object') sec.push(`<h3>${esc(k)}</h3>`, table(v as Record<string, unknown>[])), tables++;
      }
    } else if (has('.csv')) {
      sec.push(table(parseCsv(read('.csv'))));
      tables++;
    }
    sec.push(`<p class="files">files: ${['.json', '.csv', '.svg'].filter(has).map((e) => esc(stem + e)).join(', ')}</p></section>`);
    parts.push(sec.join('\n'));
  }
  const file = resolve(out ?? join(dir, 'report.html'));
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sealmq benchmarks — ${esc(basename(resolve(dir)))}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}table.kv th{background:#f4f4f4}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption,.files{color:#666;font-size:12px}.warn{color:#b00}
section{border-top:2px solid #ddd;padding-top:.5em}
</style></head><body>
<h1>sealmq benchmarks</h1>
<p>Generated ${esc(new Date().toISOString())} by <code>sealmq report</code> from ${esc(resolve(dir))}: ${benches} report(s), ${plots} plot(s). Every time is the target's own clock; see each report's method.</p>
${parts.join('\n')}
</body></html>
`;
  writeFileSync(file, html);
  return { file, benches, plots, tables };
}
