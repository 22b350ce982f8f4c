// `sealmq provision`: fresh per-device secrets to one board (or a box of boards, concurrently) over their
// consoles, proven, then recorded.
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { checkProvisionInput, provisionBoard } from '../board/provision.js';
import { deviceError, inputError } from '../errors.js';
import { BoardResult, expandDevices, PlanEntry, provisionMany, readManifest, validatePlan } from '../board/provision-many.js';
import { checkDeviceId } from '../registry/registry.js';
import { requireSession } from '../operators/session.js';
import { openUnlockedRegistry } from './passphrase.js';
import { progress } from './progress.js';
import { table } from './passphrase.js';
import { checkPortExists } from './flash.js';

export function register(program: Command): void {
  program.command('provision')
    .description('give a flashed board its identity: per-device root secret and OTP seed (CSPRNG), broker, interval; verified on the board, then recorded')
    .option('--port <url>', 'console link: /dev/ttyUSB0, tcp://HOST:PORT or emulated:NAME; repeat for several boards',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--device <id>', 'device id, [a-z0-9][a-z0-9-]{0,31}; with several --port: a list a,b,c or a pattern such as field-{nn}')
    .option('--manifest <file.csv>', 'boards to provision, one per line: port,device[,interval]; already provisioned devices are skipped')
    .option('--concurrency <n>', 'boards provisioned at the same time (default: all, at most 8)', (v) => Number.parseInt(v, 10))
    .option('--verbose', 'with several boards and no terminal: one line per board and step on stderr')
    .option('--broker <url>', 'broker the board connects to', 'mqtt://127.0.0.1:1883')
    .option('--interval <seconds>', 'seconds between readings', Number, 10)
    .option('--prefix <prefix>', 'topic prefix', DEFAULT_PREFIX)
    .option('--k <n>', 'counter block size K (one Storage write per K frames)', (v) => Number.parseInt(v, 10))
    .option('--wifi-ssid <ssid>', 'Wi-Fi network for boards that need one (ESP32)')
    .option('--wifi-password-env <var>', 'environment variable holding the Wi-Fi password (never on the command line)')
    .option('--replace <old-id>', 'a new board takes over a broken one: same device id (or --device NEW, then OLD is revoked), fresh secrets, next key epoch')
    .option('--rekey', 'the device is already provisioned: give it fresh secrets under its next key epoch')
    .option('--baud <n>', 'serial baud rate', (v) => Number.parseInt(v, 10), 115200)
    .option('--json', 'print the result as one JSON object')
    .addHelpText('after', `
Secrets are made on this computer, sent once over the console, and recorded (encrypted with the registry
passphrase, $SEALMQ_PASSPHRASE or a prompt) only after the board proved it holds them. If anything fails,
nothing is recorded: fix the cause and run the same command again.`)
    .action(async (o) => {
      const ports: string[] = o.port ?? [];
      if (o.manifest && (ports.length || o.device !== undefined)) throw inputError('--manifest lists the ports and devices: do not also give --port or --device');
      if (o.replace !== undefined && (o.manifest || ports.length !== 1)) throw inputError('--replace works on one board: give one --port');
      if (o.replace !== undefined) { checkDeviceId(o.replace, '--replace'); o.device ??= o.replace; }
      if (!o.manifest && (!ports.length || o.device === undefined)) throw inputError('give --port and --device (or --manifest FILE.csv)');
      if (o.manifest || ports.length > 1) return provisionSeveral(o, ports);
      o.port = ports[0];
      checkProvisionInput({ deviceId: o.device, broker: o.broker, interval: o.interval });
      checkPortExists(o.port);
      const wifi = wifiOption(o);
      // Changing who an existing identity is (--replace, --rekey) is an admin's; new boards a technician's too.
      const session = requireSession(o.replace !== undefined || o.rekey ? 'provision.replace' : 'provision');
      const registry = await openUnlockedRegistry();
      const bar = progress(!o.json, `provision ${o.device}`);
      try {
        const replacing = o.replace !== undefined ? checkReplace(registry, o.replace, o.device) : null;
        if (replacing === 'same-id') o.rekey = true;
        const r = await provisionBoard({
          port: o.port, deviceId: o.device, broker: o.broker, interval: o.interval, prefix: o.prefix, k: o.k, wifi,
          registry, actor: session.actor, rekey: !!o.rekey, link: { baud: o.baud }, replacing: o.replace,
          onStep: (s, done, total) => bar.update(s, done, total),
        });
        bar.stop();
        if (replacing) {
          const actor = session.actor;
          if (replacing === 'new-id') registry.revokeDevice(o.replace, actor, `replaced by ${o.device}`);
          registry.audit({ actor, action: 'device.replace', device: o.device, detail: { replaced: o.replace, port: o.port, epoch: r.epoch } });
        }
        if (o.json) process.stdout.write(JSON.stringify({ ok: true, ...r, ...(replacing ? { replaced: o.replace } : {}) }) + '\n');
        else process.stdout.write(`provisioned ${r.deviceId} on ${o.port}: epoch ${r.epoch}, firmware ${r.firmware}, crypto ${r.crypto}, ${r.seconds.toFixed(1)} s\n`);
      } finally {
        bar.stop();
        registry.close();
      }
    });
}

function wifiOption(o: { wifiSsid?: string; wifiPasswordEnv?: string }): { ssid: string; password: string } | undefined {
  if (o.wifiSsid !== undefined) {
    const pw = o.wifiPasswordEnv ? process.env[o.wifiPasswordEnv] : '';
    if (o.wifiPasswordEnv && pw === undefined) throw inputError(`--wifi-password-env: ${o.wifiPasswordEnv} is not set`);
    return { ssid: o.wifiSsid, password: pw ?? '' };
  }
  if (o.wifiPasswordEnv) throw inputError('--wifi-password-env needs --wifi-ssid');
  return undefined;
}

/** Per-board progress: a multi-bar on a terminal (not with --json), plain lines on stderr with --verbose. */
function boardProgress(o: { json?: boolean; verbose?: boolean }, plan: PlanEntry[]) {
  const label = (e: PlanEntry) => `${e.deviceId} ${e.port}`;
  // --verbose: plain lines on stderr, also with --json (stdout stays JSON only).
  if (o.verbose) {
    return {
      update(e: PlanEntry, step: string, done: number, total: number) { process.stderr.write(`${label(e)}: ${step} ${done}/${total}\n`); },
      stop() {},
    };
  }
  if (o.json || !process.stderr.isTTY) return { update() {}, stop() {} };
  const width = Math.max(...plan.map((e) => label(e).length));
  const multi = new cliProgress.MultiBar({
    stream: process.stderr, hideCursor: true, clearOnComplete: false,
    format: '{name} [{bar}] {step}',
  }, cliProgress.Presets.shades_classic);
  const bars = new Map(plan.map((e) => [e, multi.create(6, 0, { name: label(e).padEnd(width), step: 'waiting' })]));
  return {
    update(e: PlanEntry, step: string, done: number, total: number) { bars.get(e)?.setTotal(total); bars.get(e)?.update(done, { step }); },
    stop() { multi.stop(); },
  };
}

async function provisionSeveral(o: any, ports: string[]): Promise<void> {
  const plan: PlanEntry[] = o.manifest ? readManifest(o.manifest) : (() => {
    const ids = expandDevices(o.device, ports.length);
    return ports.map((port, i) => ({ port, deviceId: ids[i] }));
  })();
  validatePlan(plan, checkPortExists);
  checkProvisionInput({ deviceId: plan[0].deviceId, broker: o.broker, interval: o.interval });
  if (o.concurrency !== undefined && !(o.concurrency >= 1 && o.concurrency <= 64)) throw inputError('--concurrency: 1..64');
  const wifi = wifiOption(o);
  const session = requireSession(o.rekey ? 'provision.replace' : 'provision');
  const registry = await openUnlockedRegistry();
  const started = Date.now();
  const bar = boardProgress(o, plan);
  let results: BoardResult[];
  try {
    results = await provisionMany({
      plan, registry, concurrency: o.concurrency, skipProvisioned: true, broker: o.broker, interval: o.interval, prefix: o.prefix, k: o.k, wifi,
      actor: session.actor, rekey: !!o.rekey, link: { baud: o.baud },
      onStep: (e, s, done, total) => bar.update(e, s, done, total),
    });
  } finally {
    bar.stop();
    registry.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const failed = results.filter((r) => r.result === 'failed');
  const summary = {
    boards: results.length, ok: results.filter((r) => r.result === 'ok').length,
    alreadyProvisioned: results.filter((r) => r.result === 'already provisioned').length,
    failed: failed.length, failedBoards: failed.map((r) => r.board), seconds,
  };
  if (o.json) {
    for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
    process.stdout.write(JSON.stringify({ summary }) + '\n');
  } else {
    process.stdout.write(table(['BOARD', 'DEVICE', 'RESULT', 'SECONDS'], results.map((r) => [r.board, r.device, r.result, r.seconds.toFixed(1)])));
    for (const r of failed) process.stdout.write(`${r.board} (${r.device}): ${r.error}\n`);
    process.stdout.write(`${summary.ok} provisioned, ${summary.alreadyProvisioned} already provisioned, ${summary.failed} failed, in ${seconds.toFixed(1)} s\n`);
  }
  if (failed.length) {
    throw deviceError(`${failed.length} of ${results.length} boards failed: ${failed.map((r) => `${r.board} (${r.device})`).join(', ')}`,
      'nothing was recorded for them; fix the cause and run the same command again: only what is missing is done');
  }
}

/** --replace OLD: OLD must be a known, active device; the new board gets OLD's id (or a new one, then OLD is revoked). */
function checkReplace(registry: import('../registry/registry.js').Registry, old: string, device: string): 'same-id' | 'new-id' {
  const d = registry.getDevice(old);
  if (!d) throw inputError(`--replace: no device ${old} in the registry`, 'see `sealmq devices list`');
  if (d.status !== 'active') throw inputError(`--replace: device ${old} is revoked; a revoked id is never reused`, 'provision the new board under a new id');
  if (device === old) return 'same-id';
  if (registry.getDevice(device)) throw inputError(`--replace: device ${device} already exists`);
  return 'new-id';
}
