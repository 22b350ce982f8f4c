// `sealmq audit verify|tail`: the tamper-evident audit log (docs/SECURITY.md). Neither needs the
// passphrase: verify checks the hash chain and the Ed25519 signatures with the public key alone.
import { Command } from 'commander';
import { inputError, SealmqError } from '../errors.js';
import { isoTime, table, withRegistry } from './passphrase.js';

function countArg(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 100000) throw inputError(`-n: must be 1..100000, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function register(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log: verify its chain and signatures, show the latest entries');

  audit.command('verify')
    .description('check every entry\'s hash chain and signature; names the first bad entry and exits 1')
    .option('--pubkey <hex>', 'the audit public key to trust (default: the one stored in the registry)')
    .option('--strict', 'fail on entries not signed yet (written while the registry was locked)')
    .option('--json', 'print the result as one JSON object')
    .action(async (o: { pubkey?: string; strict?: boolean; json?: boolean }) => {
      const r = await withRegistry(false, (reg) => reg.verifyAudit({ publicKey: o.pubkey, strict: o.strict }));
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      else if (r.ok) {
        process.stdout.write(`audit log intact: ${r.entries} entries, ${r.signed} signed` +
          (r.pending ? `, ${r.pending} newest not signed yet (written while locked; signed at the next unlock)` : '') + '\n');
        if (r.head) process.stdout.write(`head: entry ${r.head.seq} ${r.head.hash}\n`);
        if (r.publicKey) process.stdout.write(`audit key: ${r.publicKey}\n`);
      }
      if (!r.ok) throw new SealmqError('rejected', `audit log verification failed: ${r.problem!.message}`);
    });

  audit.command('tail')
    .description('the latest entries (oldest first)')
    .option('-n <count>', 'how many', countArg, 20)
    .option('--json', 'one JSON object per line')
    .action(async (o: { n: number; json?: boolean }) => {
      const rows = await withRegistry(false, (reg) => reg.auditLog({ limit: o.n }));
      if (o.json) {
        for (const e of rows) process.stdout.write(JSON.stringify(e) + '\n');
        return;
      }
      process.stdout.write(table(['seq', 'time', 'actor', 'action', 'device', 'signed', 'detail'],
        rows.map((e) => [String(e.seq), isoTime(e.at), e.actor, e.action, e.device ?? '-', e.signed ? 'yes' : 'pending', JSON.stringify(e.detail)])));
    });
}
