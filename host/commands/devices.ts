// `sealmq devices list|show|export|revoke|rotate`: the device registry for people. list and show never print a
// secret; export prints the current secrets only after the passphrase verifies, and is audited.
import { Command } from 'commander';
import { checkDeviceId, DeviceInfo } from '../registry/registry.js';
import { requireSession } from '../operators/session.js';
import { inputError } from '../errors.js';
import { isoTime, openUnlockedRegistry, table, withRegistry } from './passphrase.js';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { rotateDevice } from '../board/rotate.js';
import { adminSendOptions, operatorCredentials } from './operator.js';

function deviceIdArg(v: string): string {
  return checkDeviceId(v);
}

interface DeviceJson {
  id: string; status: string; epoch: number; created: string; updated: string; lastSeen: string | null;
  brokerUrl: string | null; interval: number | null; board: string | null; info: Record<string, unknown>;
}

function deviceJson(d: DeviceInfo): DeviceJson {
  return {
    id: d.id, status: d.status, epoch: d.epoch, created: isoTime(d.createdAt), updated: isoTime(d.updatedAt),
    lastSeen: d.lastSeenAt == null ? null : isoTime(d.lastSeenAt), brokerUrl: d.brokerUrl, interval: d.interval, board: d.board, info: d.info,
  };
}

export function register(program: Command): void {
  const devices = program.command('devices').description('list and inspect provisioned devices (the registry in $SEALMQ_HOME)');

  devices.command('list')
    .description('list devices: id, status, key epoch, created, last seen')
    .option('--json', 'one JSON array instead of a table')
    .action(async (o: { json?: boolean }) => {
      const list = await withRegistry(false, (reg) => reg.listDevices());
      if (o.json) {
        process.stdout.write(JSON.stringify(list.map(deviceJson), null, 2) + '\n');
        return;
      }
      if (list.length === 0) {
        process.stdout.write('no devices yet (provision one with `sealmq provision`)\n');
        return;
      }
      process.stdout.write(table(['ID', 'STATUS', 'EPOCH', 'CREATED', 'LAST SEEN'],
        list.map((d) => [d.id, d.status, String(d.epoch), isoTime(d.createdAt), isoTime(d.lastSeenAt)])));
    });

  devices.command('show')
    .description('show one device: record, key epochs, replay state (never its secrets)')
    .argument('<id>', 'device id', deviceIdArg)
    .option('--json', 'one JSON object')
    .action(async (id: string, o: { json?: boolean }) => {
      const out = await withRegistry(false, (reg) => {
        const d = reg.getDevice(id);
        if (!d) throw inputError(`no device ${id} in the registry`, 'see `sealmq devices list`');
        const replay = (['up', 'down'] as const).map((dir) => ({ direction: dir, ...reg.getReceiveState(id, dir)! }));
        return { ...deviceJson(d), epochs: reg.epochs(id).map((e) => ({ ...e, createdAt: isoTime(e.createdAt) })), replay, lastTotpStep: reg.lastTotpStep(id) };
      });
      if (o.json) {
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      const lines = [
        `id          ${out.id}`, `status      ${out.status}`, `epoch       ${out.epoch}`, `created     ${out.created}`,
        `last seen   ${out.lastSeen ?? '-'}`, `broker      ${out.brokerUrl ?? '-'}`, `interval    ${out.interval == null ? '-' : out.interval + ' s'}`,
        `board       ${out.board ?? '-'}`,
        `epochs      ${out.epochs.map((e) => `${e.epoch} (${e.status})`).join(', ') || '-'}`,
        ...out.replay.map((r) => `replay ${r.direction.padEnd(4)} epoch ${r.epoch}, highest counter ${r.window.top}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });

  devices.command('export')
    .description("print a device's current secrets as JSON (needs the passphrase; audited)")
    .argument('<id>', 'device id', deviceIdArg)
    .action(async (id: string) => {
      const session = requireSession('devices.export');
      const s = await withRegistry(true, (reg) => reg.exportSecrets(id, session.actor));
      process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    });

  devices.command('revoke')
    .description('revoke a device: it can no longer log in, and its frames are refused (audited)')
    .argument('<id>', 'device id', deviceIdArg)
    .option('--reason <text>', 'why, for the audit log')
    .action(async (id: string, o: { reason?: string }) => {
      const session = requireSession('devices.revoke');
      const d = await withRegistry(false, (reg) => {
        if (!reg.getDevice(id)) throw inputError(`no device ${id} in the registry`);
        return reg.revokeDevice(id, session.actor, o.reason);
      });
      process.stdout.write(`revoked ${d.id}\n`);
    });

  adminSendOptions(devices.command('rotate'))
    .description('move a device to its next key epoch over the air (sealed rotate command); the registry switches when its reply under the new epoch verifies (audited)')
    .argument('<id>', 'device id', deviceIdArg)
    .option('--json', 'one JSON object')
    .action(async (id: string, o) => {
      const session = requireSession('devices.rotate');
      const creds = await operatorCredentials(o.user, o.passwordEnv, session.operator);
      const registry = await openUnlockedRegistry();
      try {
        const r = await rotateDevice({
          registry, brokerUrl: o.broker, username: creds.username, password: creds.password, deviceId: id, prefix: o.prefix,
          timeoutMs: o.timeout * 1000, actor: session.actor,
        });
        if (o.json) process.stdout.write(JSON.stringify({ ok: true, ...r }) + '\n');
        else process.stdout.write(`${r.device} moved from key epoch ${r.from} to ${r.to} (confirmed by its reply in ${r.roundTripMs.toFixed(0)} ms)\n`);
      } finally {
        registry.close();
      }
    });
}
