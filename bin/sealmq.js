#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript (npm install runs `prepare`, which compiles it).
import { existsSync } from 'node:fs';
const cli = new URL('../build/host/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('sealmq: not built yet; run `npm install` (or `npm run build`) in the sealmq folder first\n');
  process.exit(70);
}
await import(cli.href);
