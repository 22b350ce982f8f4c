// Locates ../shared/vectors (published known answers and independent frame vectors) for tests and the
// board self-test build. SEALMQ_VECTORS overrides; a copy under test/vectors is used when shared/ is absent.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (works from host/… and from build/host/…). */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'firmware'))) return d;
    d = dirname(d);
  }
  throw new Error('sealmq: cannot find the repository root from ' + fileURLToPath(import.meta.url));
}

export function vectorsDir(): string {
  const candidates = [process.env.SEALMQ_VECTORS, join(repoRoot(), '..', 'shared', 'vectors'), join(repoRoot(), 'test', 'vectors')];
  for (const c of candidates) if (c && existsSync(join(c, 'frames-v1.json'))) return resolve(c);
  throw new Error('sealmq: vectors not found; set SEALMQ_VECTORS to the folder holding frames-v1.json and known-answers.json');
}

export function loadVectors(name: 'frames-v1.json' | 'known-answers.json'): any {
  return JSON.parse(readFileSync(join(vectorsDir(), name), 'utf8'));
}
