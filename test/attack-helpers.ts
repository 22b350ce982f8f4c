// What test/attack.test.ts and test/attack-qemu.test.ts assert of a `sealmq attack --json` report.
import type { ExecutionContext } from 'ava';
import { ATTACKS } from '../host/attack/pipelines.js';
import type { AttackReport } from '../host/attack/pipelines.js';

/** Every active attack the sealed pipeline stops is also reported (passive reading cannot be). */
export const DETECTED_EVERY_RUN = ['inject', 'replay', 'replay-after-restart', 'tamper', 'move', 'downgrade', 'forged-command', 'password-reuse'] as const;

/** The sealed table docs/SECURITY.md states, whole: nothing succeeds, every active attack is detected on every run, each by what should. */
export function checkSealed(t: ExecutionContext, report: AttackReport, n: number): void {
  const get = (a: string) => report.results.find((x) => x.attack === a && x.pipeline === 'sealed')!;
  for (const a of ATTACKS) t.is(get(a).succeeded, 0, `sealed ${a}`);
  t.is(get('counter-rollback').detected, n, 'counter rollback detected every run');
  for (const a of DETECTED_EVERY_RUN) t.is(get(a).detected, n, `sealed ${a} detected every run`);
  {
    // The restarted verifier refuses it from its persisted state: as a replay (window written back) or, after
    // reservation ahead, as stale-after-restart (at or below the recorded bound): both are the §4 guarantee.
    const r = get('replay-after-restart').reasons;
    t.is((r.replay ?? 0) + (r['stale-after-restart'] ?? 0), n, 'a replay after a verifier restart is refused from persisted state');
  }
  t.is(get('downgrade').reasons['plain-downgrade'], n);
  t.is(get('client-id-takeover').detected, n, 'the broker refuses the sniffed login');
  // The rest of the table, so that it is pinned whole (attack-qemu.test.ts compares QEMU boards with it):
  // nothing can see a passive read; a malicious broker reads in runs 0, 4, 8, … and is caught in the others.
  t.is(get('eavesdrop').detected, 0, 'eavesdropping is passive');
  t.is(get('malicious-broker').detected, n - Math.ceil(n / 4), 'the malicious broker caught whenever it does more than read');
  t.is(report.results.filter((x) => x.pipeline === 'sealed').length, ATTACKS.length, 'one sealed row per attack');
  t.is(get('password-reuse').reasons['broker-refused'], n, 'a sniffed TOTP is refused (each step is accepted once)');
}
