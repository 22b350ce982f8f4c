// Bundles the dashboard's page at build time (npm run build): web/dashboard/app.ts with uPlot and the
// styles, by esbuild, into build/web/dashboard/{index.html, app.js, app.css}. The server serves those
// three files and nothing else: the page loads nothing from anywhere but its own origin.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../web/dashboard/', import.meta.url));
const OUT = fileURLToPath(new URL('../../web/dashboard/', import.meta.url));

export async function bundleDashboard(): Promise<{ dir: string; bytes: number }> {
  mkdirSync(OUT, { recursive: true });
  const r = await build({
    entryPoints: { app: SRC + 'app.ts' }, outdir: OUT, bundle: true, minify: true, format: 'iife', target: 'es2020',
    platform: 'browser', sourcemap: false, legalComments: 'eof', metafile: true, logLevel: 'warning',
  });
  copyFileSync(SRC + 'index.html', OUT + 'index.html');
  const bytes = Object.values(r.metafile!.outputs).reduce((a, o) => a + o.bytes, 0);
  return { dir: OUT, bytes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await bundleDashboard();
  process.stdout.write(`dashboard page: ${r.dir} (${(r.bytes / 1024).toFixed(1)} KB)\n`);
}
