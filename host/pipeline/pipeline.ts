// A whole pipeline on this machine, as a library (docs/ARCHITECTURE.md, /work/notes/pipeline-api.md): a
// broker, N emulated boards (each its own process, reached only through its console, flashed and set up
// exactly as a real board would be), a verifier with an event stream, commands down to the boards, stop().
// mode 'sealed' is the product (what `sealmq demo` runs); mode 'plain' is the RESEARCH PLAIN pipeline of
// issue 5 item 1 — same firmware sources built without sealing (dist/firmware-plain.js), an anonymous
// broker without ACL, the plain verifier — refused unless researchInsecure: true, labelled everywhere.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PREFIX } from '../../core/ids.js';
import { packageVersion } from '../board/firmware-bundle.js';
import { flashBoard } from '../board/flash.js';
import { provisionBoard } from '../board/provision.js';
import { sendCommand } from '../board/send.js';
import { smqCall } from '../board/smq.js';
import { startBroker, RunningBroker, BrokerEvent } from '../broker/broker.js';
import { startInsecureBroker, RunningInsecureBroker } from '../broker/insecure.js';
import { emitMosquitto, MosquittoPolicy, writeDevicesFile } from '../broker/mosquitto.js';
import { buildFirmware, PLAIN_VERSION_SUFFIX } from '../build/bundle.js';
import { spawnEmulator, EmulatorProcess, targetBoard, type BoardTarget } from '../emulator/process.js';
import { usageError } from '../errors.js';
import { parseBrokerUrl } from '../gateway/gateway.js';
import { startBoardGateway, type PipelineGateway } from './gateways.js';
import { openRegistry, Registry } from '../registry/registry.js';
import type { VerifierStats } from '../verifier/run.js';
import type { VerifyResult } from '../verifier/verifier.js';
import { PLAIN_LABEL, PlainResult, requireResearchInsecure } from '../verifier/plain.js';
import { alignReadings, consoleRun, hiresNow, onConsole, syncClock } from './console.js';
import { freePort, startInsecureMosquitto, startMosquitto, RunningMosquitto } from './mosquitto.js';
import { plainCommand, plainSetup, plainVerifierOn } from './plain.js';
import { sealedVerifierOn } from './sealed.js';

export { hiresNow, syncClock } from './console.js';
export { plainCommand, plainSetup } from './plain.js';
export { gatewayText, startBoardGateway, type PipelineGateway } from './gateways.js';

export type PipelineMode = 'plain' | 'sealed';
export type PipelineBrokerKind = 'embedded' | 'mosquitto';

/** Host wall clock in milliseconds with sub-millisecond resolution (what the emulated boards' getTime() follows). */

export interface PipelineOptions {
  mode: PipelineMode;
  /**
   * Required (true) for mode 'plain' (anonymous broker, no ACL, whichever broker): refused otherwise (exit 2).
   * Not needed for the sealed pipeline on Mosquitto: that one runs the config of `sealmq broker
   * --emit-mosquitto` (devices' TOTP through sealmq's plugin, operators' passwords, the ACL).
   */
  researchInsecure?: boolean;
  /** Default 'embedded'. */
  broker?: PipelineBrokerKind;
  /** Number of emulated boards (default 1). */
  boards?: number;
  /** Seconds between readings on each board (default 1). */
  interval?: number;
  /** Emulated board profile (default 'emulated'; with target espruino, always 'linux'). */
  board?: string;
  /** What runs the boards (default 'emulated'; 'espruino': Espruino's own Linux interpreter, one process each). */
  target?: BoardTarget;
  /** Device ids are `${names}-01`, … (default 'node'; use different ones for two pipelines side by side). */
  names?: string;
  prefix?: string;
  /** Ticks per second of the readings' "t" (default 1000 as in production; the latency bench uses 1e6). */
  stampScale?: number;
  /**
   * Leave each emulated board's clock exactly the host clock (it follows performance.timeOrigin +
   * performance.now() in its process): no setTime at set-up. Sealed provisioning always sends the host's
   * time, which lands late by the console's transit; with this option setTime is a no-op on the board
   * for the length of the provisioning (through its console), then restored. For latency measurements.
   */
  keepHostClock?: boolean;
  /** Throw-away SEALMQ_HOME (registry, flash files, firmware); default a new temp folder, removed by stop(). */
  home?: string;
  /** Keep the home folder at stop(). */
  keep?: boolean;
  /**
   * Sealed only. 'registry' (default): the replay window is made durable (SQLite, synchronous=FULL) before a
   * reading is output, as `sealmq verify` does. 'memory': kept in memory only — NOT what the product does; for
   * measurements that separate the protocol's cost from the storage's (bench latency --verifier-store memory).
   */
  verifierStore?: 'registry' | 'memory';
  /** Verifier clock (ms since the epoch); default hiresNow. */
  now?: () => number;
  /**
   * Boards without a network (profile network "uart", e.g. board 'emulated-uart'): each gets a gateway from
   * its UART to the broker. 'in-process' (default): host/gateway's startGateway here; 'process': a
   * `sealmq gateway --json` process per board (so it can be killed like a real one); or a function that
   * starts one for a board (another broker route, a serial path: tests), also used by restartGateway.
   */
  gateway?: 'in-process' | 'process' | GatewayStarter;
  onEvent?: (e: PipelineEvent) => void;
}

/** Timing of one verified (or rejected) message, in host milliseconds (hiresNow). */
export interface FrameTiming {
  /** When the verifier's MQTT client handed the message over. */
  receivedAt: number;
  /** When the verifier's result was ready (for a sealed reading: after its replay window was made durable). */
  doneAt: number;
  /** Of doneAt - receivedAt, the time spent in the registry's durable writes (fsync; sealed only, else 0). */
  durableMs: number;
}

export type PipelineResult = VerifyResult | PlainResult;

export type PipelineEvent =
  | { type: 'phase'; text: string }
  | { type: 'board'; name: string; text: string }
  | { type: 'broker'; text: string }
  | { type: 'frame'; mode: PipelineMode; result: PipelineResult; timing: FrameTiming };

export interface PipelineBoard {
  name: string;
  deviceId: string;
  /** tcp://127.0.0.1:PORT: the board's console (open with openLink + connectRepl; one client at a time). */
  console: string;
  flashFile: string;
  emulator: EmulatorProcess;
  /** A board without a network: its UART (tcp://…), which the pipeline's gateway relays to the broker. */
  uart?: string;
  /** That board's gateway. */
  gateway?: PipelineGateway;
  /** Where that gateway relays to: the pipeline's broker, unless restartGateway({ broker }) moved it. */
  gatewayBroker?: string;
}

/** Starts the gateway of one board: from its UART (uart) to the broker (brokerUrl); onText gets its log lines. */
export type GatewayStarter = (uart: string, brokerUrl: string, onText: (text: string) => void, board: PipelineBoard) => Promise<PipelineGateway>;

export interface Credentials { username: string; password: string }

export interface CommandReply {
  device: string;
  command: string;
  reply: Record<string, unknown>;
  roundTripMs: number;
}

/** offsetMs: the estimate (board − host); correctedMs: what the board's clock was moved back by (0: not moved). */
export interface ClockSync { board: string; offsetMs: number; rttMs: number; correctedMs: number }

export interface Pipeline {
  mode: PipelineMode;
  /** 'sealed' or 'RESEARCH PLAIN / NOT SECURE'. */
  label: string;
  brokerKind: PipelineBrokerKind;
  brokerUrl: string;
  /** Whether the broker authenticates and enforces the ACL (false: research insecure). */
  brokerSecure: boolean;
  prefix: string;
  home: string;
  firmware: { version: string; bytes: number; file: string };
  boards: PipelineBoard[];
  /** Sealed only: the unlocked throw-away registry and two operators on the broker. */
  registry?: Registry;
  viewer?: Credentials;
  admin?: Credentials;
  /** 'frame' events (PipelineEvent of type 'frame'), as onEvent gets them. */
  events: EventEmitter;
  /** The verifier's counts so far. */
  stats(): VerifierStats;
  /** Closes the verifier's connection and opens a new one (its replay state persists in the registry). */
  restartVerifier(): Promise<void>;
  /**
   * A board without a network: stops its gateway (kill: SIGKILL a 'process' gateway, no goodbye), waits
   * downMs, and starts a new one on the same UART. broker: the new gateway (and later restarts) relays to
   * this mqtt://HOST:PORT instead (e.g. an on-path relay in front of brokerUrl); default: where it did.
   */
  restartGateway(name: string, opts?: { kill?: boolean; downMs?: number; broker?: string }): Promise<void>;
  /** Sends a command to a board and waits for its reply (sealed: through the registry's keys; plain: in clear). */
  command(deviceId: string, command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<CommandReply>;
  /**
   * Estimates each board's clock offset from the host's (NTP-style over its console, best of `rounds`) and,
   * with apply (default), corrects the board by (estimate − biasPerRtt × round trip) in one step on the
   * board. biasPerRtt: the estimator's own error as a fraction of the round trip, measured on boards whose
   * true offset is known to be 0 (the console's inbound path is slower than its outbound one, so the
   * midpoint estimate reads the board ahead by about a third of the round trip here); default 0.
   */
  syncClocks(rounds?: number, apply?: boolean, biasPerRtt?: number): Promise<ClockSync[]>;
  /** Moves board i's readings to atMs(i) + k·interval (host clock, ms): SEALMQ.align over each console. */
  alignReadings(atMs: (i: number) => number): Promise<void>;
  /** Stops the boards' reporting (SEALMQ.stop) and returns how many messages each had handed to the broker. */
  stopReporting(): Promise<{ board: string; sent: number }[]>;
  /** Stops everything it started (verifier, boards, broker, registry) and removes the home unless keep. */
  stop(): Promise<void>;
}

export interface VerifierHandle {
  stats: VerifierStats;
  close(): Promise<void>;
}

export async function startPipeline(o: PipelineOptions): Promise<Pipeline> {
  const mode = o.mode;
  if (mode !== 'plain' && mode !== 'sealed') throw usageError(`pipeline mode must be 'plain' or 'sealed', got ${JSON.stringify(mode)}`);
  const brokerKind = o.broker ?? 'embedded';
  if (brokerKind !== 'embedded' && brokerKind !== 'mosquitto') throw usageError(`broker must be 'embedded' or 'mosquitto', got ${JSON.stringify(brokerKind)}`);
  if (mode === 'plain') requireResearchInsecure(o.researchInsecure, 'the plain pipeline');
  const n = o.boards ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw usageError(`boards: 1..64, got ${n}`);
  const label = mode === 'plain' ? PLAIN_LABEL : 'sealed';
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const base = o.names ?? 'node';
  const names = Array.from({ length: n }, (_, i) => `${base}-${String(i + 1).padStart(2, '0')}`);
  const interval = o.interval ?? 1;
  const now = o.now ?? hiresNow;
  const emit = (e: PipelineEvent) => {
    try {
      o.onEvent?.(e);
    } catch { /* a listener's bug must not stop the pipeline */ }
    if (e.type === 'frame') events.emit('frame', e);
  };
  const say = (text: string) => emit({ type: 'phase', text: mode === 'plain' ? `[${PLAIN_LABEL}] ${text}` : text });
  const events = new EventEmitter();
  const home = o.home ?? mkdtempSync(join(tmpdir(), `sealmq-${mode}-`));
  const ownsHome = !o.home;
  const boards: PipelineBoard[] = [];
  let registry: Registry | undefined;
  let broker: RunningBroker | RunningInsecureBroker | RunningMosquitto | undefined;
  let verifier: VerifierHandle | undefined;
  let viewer: Credentials | undefined;
  let admin: Credentials | undefined;
  const cleanup = async () => {
    await verifier?.close().catch(() => {});
    await Promise.all(boards.map((b) => b.gateway?.stop().catch(() => {})));
    await Promise.all(boards.map((b) => b.emulator.stop().catch(() => {})));
    await broker?.close().catch(() => {});
    registry?.close();
    if (ownsHome && !o.keep) rmSync(home, { recursive: true, force: true });
  };
  try {
    if (mode === 'sealed') {
      const passphrase = randomBytes(24).toString('base64');
      viewer = { username: `${o.names ?? 'demo'}-viewer`, password: randomBytes(18).toString('base64') };
      admin = { username: `${o.names ?? 'demo'}-admin`, password: randomBytes(18).toString('base64') };
      say(`registry in ${home} (throw-away, random passphrase)`);
      registry = openRegistry({ home });
      await registry.unlock(passphrase);
      await registry.addOperator({ name: viewer.username, role: 'viewer', password: viewer.password, actor: 'demo' });
      await registry.addOperator({ name: admin.username, role: 'admin', password: admin.password, actor: 'demo' });
    }

    say(mode === 'plain' ? 'building the research plain firmware (no sealing, anonymous MQTT)' : 'building the firmware bundle');
    const target = o.target ?? 'emulated';
    // A QEMU board has no network: its profile (qemu-stm32f4) sends MQTT over Serial2, through a gateway below.
    const board = targetBoard(target, o.board);
    const built = await buildFirmware({ board, outDir: join(home, 'dist'), selftest: false, plain: mode === 'plain', stampScale: o.stampScale });
    const version = packageVersion() + (mode === 'plain' ? PLAIN_VERSION_SUFFIX : '');
    const bundle = new Uint8Array(Buffer.from(built.firmware.code, 'utf8'));
    const firmware = { version, bytes: bundle.length, file: built.firmware.file };
    say(`firmware ${version}: ${bundle.length} bytes`);

    // Sealed on Mosquitto: the files of `sealmq broker --emit-mosquitto` for the boards about to be
    // provisioned (the ACL names them now; the devices file gains each one's OTP seed as it is provisioned).
    let mosquittoPolicy: MosquittoPolicy | undefined;
    const mosquittoDir = join(home, 'mosquitto');
    if (brokerKind === 'mosquitto' && mode === 'sealed') {
      const port = await freePort();
      mosquittoPolicy = { prefix, devices: names, operators: [{ name: viewer!.username, role: 'viewer' }, { name: admin!.username, role: 'admin' }] };
      const r = await emitMosquitto({ registry: registry!, dir: mosquittoDir, host: '127.0.0.1', port, prefix, actor: 'demo', policy: mosquittoPolicy });
      // Mosquitto's password file holds the operators' static passwords, not their embedded-broker ones.
      viewer = { username: viewer!.username, password: r.credentials.get(viewer!.username)! };
      admin = { username: admin!.username, password: r.credentials.get(admin!.username)! };
      broker = await startMosquitto({ conf: r.files.conf, port, onLog: (l) => emit({ type: 'broker', text: l }) });
      say(`Mosquitto on ${broker.url} (devices: TOTP through the sealmq plugin; operators: password file; ACL)`);
    } else if (brokerKind === 'mosquitto') {
      broker = await startInsecureMosquitto({ dir: mosquittoDir, researchInsecure: true, onLog: (l) => emit({ type: 'broker', text: l }) });
      say(`Mosquitto on ${broker.url} (RESEARCH INSECURE: anonymous, no ACL)`);
    } else if (mode === 'plain') {
      broker = await startInsecureBroker({ researchInsecure: true, listen: 'mqtt://127.0.0.1:0', onEvent: (e) => e.type !== 'login' && emit({ type: 'broker', text: e.text }) });
      say(`embedded broker on ${broker.url} (RESEARCH INSECURE: anonymous, no ACL)`);
    } else {
      broker = await startBroker({ registry: registry!, listen: 'mqtt://127.0.0.1:0', prefix, onEvent: (e: BrokerEvent) => {
        if (e.type === 'login-refused' || e.type === 'publish-denied' || e.type === 'subscribe-denied' || e.type === 'error') {
          emit({ type: 'broker', text: `${e.type}${e.reason ? ': ' + e.reason : ''}${e.user ? ' user ' + e.user : ''}` });
        }
      } });
      say(`embedded broker on ${broker.url}`);
    }
    const brokerUrl = broker.url;

    // The verifier first, so no reading is missed while the boards come up.
    const startVerifier = async (): Promise<VerifierHandle> => mode === 'plain'
      ? plainVerifierOn(brokerUrl, prefix, now, emit)
      : sealedVerifierOn(registry!, brokerUrl, prefix, viewer!, now, emit, o.verifierStore === 'memory');
    verifier = await startVerifier();
    say(mode === 'plain' ? 'plain verifier subscribed (reads in clear, proves nothing)' : 'verifier subscribed');

    const viaUart = built.board.network === 'uart';
    const kind = target === 'espruino' ? 'boards on Espruino\'s own Linux interpreter' : target === 'qemu' ? 'QEMU boards (Espruino\'s STM32 firmware on qemu-system-arm)' : 'emulated boards';
    say(`starting ${n} ${kind}` + (viaUart ? ` without a network (MQTT over ${built.board.uart!.port} at ${built.board.uart!.baud} baud)` : ''));
    for (const name of names) {
      const flashFile = join(home, target === 'emulated' ? `${name}.flash` : `${name}.${target}.flash`);
      const emulator = await spawnEmulator({ name, flashFile, target, board, uart: viaUart ? 'tcp://127.0.0.1:0' : undefined });
      boards.push({ name, deviceId: name, console: emulator.console, flashFile, emulator, uart: emulator.uart });
    }
    // Boards without a network reach the broker through a gateway on their UART, started before they dial.
    const g = o.gateway ?? 'in-process';
    const gatewayKind = typeof g === 'function' ? 'custom' : g;
    const gatewayFor = (b: PipelineBoard) => {
      const onText = (text: string) => emit({ type: 'board', name: b.name, text });
      const to = b.gatewayBroker ??= brokerUrl;
      return typeof g === 'function' ? g(b.uart!, to, onText, b) : startBoardGateway(b.uart!, to, g, onText);
    };
    await Promise.all(boards.filter((b) => b.uart).map(async (b) => {
      b.gateway = await gatewayFor(b);
    }));
    if (viaUart) say(`${boards.length} gateways (${gatewayKind}): UART → ${brokerUrl}`);
    await Promise.all(boards.map(async (b) => {
      const f = await flashBoard({ port: b.console, bundle, version });
      emit({ type: 'board', name: b.name, text: `flashed ${f.bytes} bytes in ${f.seconds.toFixed(1)} s (sha256 checked on the board)` });
      if (mode === 'plain') {
        const s = await plainSetup(b.console, b.deviceId, brokerUrl, prefix, interval, !o.keepHostClock);
        emit({ type: 'board', name: b.name, text: `set up in clear (${PLAIN_LABEL}): ${s.state}` });
      } else {
        // Throw-away demo boards keep an open console: the bench reads their clocks and stops them over it.
        // (Espruino's Linux build needs none of this, nor would let setTime be replaced: its setTime does
        // nothing there, jshSetSystemTime being empty, so its clock is the host's.)
        const hold = o.keepHostClock && target === 'emulated';
        if (hold) await consoleRun(b.console, 'var __smqST=setTime;setTime=function(){};');
        const p = await provisionBoard({ port: b.console, deviceId: b.deviceId, broker: brokerUrl, interval, prefix, registry: registry!, actor: 'demo', lockConsole: false });
        if (hold) await consoleRun(b.console, 'setTime=__smqST;delete __smqST;');
        emit({ type: 'board', name: b.name, text: `provisioned: epoch ${p.epoch}, crypto ${p.crypto}, ${p.seconds.toFixed(1)} s` });
        // Mosquitto's plugin re-reads the file when it changes: the board's next login is checked against its seed.
        if (mosquittoPolicy) writeDevicesFile({ registry: registry!, dir: mosquittoDir, policy: mosquittoPolicy });
      }
    }));

    const handle: Pipeline = {
      mode, label, brokerKind, brokerUrl, brokerSecure: mode === 'sealed', prefix, home, firmware, boards,
      registry, viewer, admin, events,
      stats: () => verifier!.stats,
      async restartGateway(name, opts = {}) {
        const b = boards.find((x) => x.name === name || x.deviceId === name);
        if (!b || !b.uart) throw usageError(`restartGateway: ${JSON.stringify(name)} is not a board without a network in this pipeline`);
        if (opts.broker !== undefined) parseBrokerUrl(opts.broker); // a wrong URL is refused before anything stops
        const g = b.gateway;
        b.gateway = undefined;
        if (g) await (opts.kill && g.kill ? g.kill() : g.stop());
        if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
        if (opts.broker !== undefined) b.gatewayBroker = opts.broker;
        b.gateway = await gatewayFor(b);
      },
      async restartVerifier() {
        const old = verifier!;
        await old.close();
        verifier = await startVerifier();
        // Counts continue across restarts.
        verifier.stats.accepted += old.stats.accepted;
        verifier.stats.rejected += old.stats.rejected;
        for (const [k, v] of Object.entries(old.stats.byReason)) verifier.stats.byReason[k] = (verifier.stats.byReason[k] ?? 0) + v;
      },
      async command(deviceId, command, args, timeoutMs = 10000) {
        if (mode === 'sealed') {
          const r = await sendCommand({
            registry: registry!, brokerUrl, username: admin!.username, password: admin!.password, deviceId, command, args, prefix, actor: 'demo', timeoutMs,
          });
          return { device: deviceId, command, reply: r.reply, roundTripMs: r.roundTripMs };
        }
        return plainCommand(brokerUrl, prefix, deviceId, command, args, timeoutMs);
      },
      syncClocks: (rounds = 15, apply = true, biasPerRtt = 0) => Promise.all(boards.map((b) => syncClock(b, rounds, apply, biasPerRtt))),
      alignReadings: async (atMs) => void (await Promise.all(boards.map((b, i) => alignReadings(b, atMs(i))))),
      async stopReporting() {
        const out: { board: string; sent: number }[] = [];
        for (const b of boards) {
          const s = await onConsole(b.console, (repl) => smqCall<{ sent?: number; counter?: number }>(repl, 'SEALMQ.stop(true);SEALMQ.status()'));
          out.push({ board: b.name, sent: s.sent ?? s.counter ?? 0 });
        }
        return out;
      },
      stop: cleanup,
    };
    return handle;
  } catch (e) {
    await cleanup();
    throw e;
  }
}
