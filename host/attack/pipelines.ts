// The attacks are in attacks.ts, what they share in judge.ts, the frame handling in frames.ts.
import { smqCall } from '../board/smq.js';
import { hiresNow, Pipeline, PipelineEvent, PipelineMode, startPipeline } from '../pipeline/pipeline.js';
import { boardStatus, rollback, SUITE, withConsole } from './attacks.js';
import { A, ATTACKS, AttackName, AttackReport, AttackResult, AttackSuiteOptions, Ctx, DEFAULT_INTERVAL, genuine, ResultLog } from './judge.js';
import { Relay } from './relay.js';

export { ATTACKS, DEFAULT_INTERVAL } from './judge.js';
export type { AttackName, AttackReport, AttackResult, AttackSuiteOptions, Outcome } from './judge.js';
export { frameCounter, recoverClear, tamperPlain, tamperSealed } from './frames.js';

/**
 * Puts the relay on the path. A networked board is told (over its console, with the configuration it already
 * has) that the broker is at the relay's address; secrets stay on the board, counters are kept (same
 * secrets). A board without a network (a UART to a gateway: QEMU boards) dials no address: its gateway
 * decides where MQTT goes, so the gateway is restarted towards the relay (board → UART → gateway → relay →
 * broker); the board sees its session end and redials through it, nothing on it changes.
 */
async function onPath(p: Pipeline, relay: Relay): Promise<void> {
  await Promise.all(p.boards.map((b, i) => b.uart ? p.restartGateway(b.name, { broker: relay.url }) : withConsole(p, i, async (repl) => {
    const r = await smqCall<{ ok: boolean; error?: string }>(repl,
      `(function(){var c=require("Storage").readJSON("smq.cfg");c.broker={host:"127.0.0.1",port:${relay.port}};SEALMQ.provision(c);})()`, 15_000);
    if (!r.ok) throw new Error(`board ${b.name} refused the relay address: ${r.error}`);
  })));
}

async function runOnPipeline(o: AttackSuiteOptions, mode: PipelineMode, attacks: AttackName[], progress: (done: number) => void): Promise<AttackResult[]> {
  const log = new ResultLog();
  const say = (t: string) => o.onPhase?.(`[${mode}] ${t}`);
  const target = o.target ?? 'emulated';
  const p = await startPipeline({
    mode, broker: o.broker, researchInsecure: true, boards: 3, interval: o.interval ?? DEFAULT_INTERVAL[target], target,
    names: mode === 'plain' ? 'plain' : 'node',
    onEvent: (e: PipelineEvent) => { if (e.type === 'frame') log.add(e.result); else if (e.type === 'phase') say(e.text); },
  });
  const u = new URL(p.brokerUrl);
  const relay = new Relay({ brokerHost: u.hostname, brokerPort: Number(u.port) });
  try {
    await relay.start();
    say(`on-path relay ${relay.url} in front of ${p.brokerUrl}` + (p.boards.some((b) => b.uart) ? ' (the boards\' gateways relay to it)' : ''));
    // On the embedded broker a device's TOTP step is accepted once: the boards logged in during set-up,
    // so they come back through the relay at the next step.
    await onPath(p, relay);
    const ids = p.boards.map((b) => b.deviceId);
    const ctx: Ctx = { mode, broker: o.broker, p, relay, log, ids, topic: (i, ch = 'up') => `${p.prefix}/${ids[i]}/${ch}`, epoch: 0, say };
    for (let i = 0; i < ids.length; i++) {
      if (!(await relay.waitSession(ids[i], 90_000))) throw new Error(`board ${ids[i]} did not come back through the relay`);
    }
    say('boards on the relay');
    await genuine(ctx, A);
    // The rollback runs alongside the others, on its own board (it waits for counters and a new login).
    // Verifier restarts wait for it: a frame sent while the verifier is down is never seen, so the same
    // counter coming back from the restored board would be a first delivery, not a replay.
    const rollbackDone = attacks.includes('counter-rollback') ? rollback.setup!(ctx, o.runs) : Promise.resolve();
    const order = [...attacks.filter((a) => a !== 'replay-after-restart' && a !== 'counter-rollback'),
      ...attacks.filter((a) => a === 'counter-rollback' || a === 'replay-after-restart')];
    let done = 0;
    const byName = new Map<AttackName, AttackResult>();
    for (const name of order) {
      const attack = SUITE[name];
      if (name === 'counter-rollback' || name === 'replay-after-restart') await rollbackDone;
      if (name !== 'counter-rollback') await attack.setup?.(ctx, o.runs);
      const before = name === 'forged-command' && mode === 'sealed' ? (await boardStatus(ctx, A)).rejected ?? 0 : 0;
      const res: AttackResult = { attack: name, pipeline: mode, succeeded: 0, detected: 0, runs: o.runs, reasons: {} };
      for (let i = 0; i < o.runs; i++) {
        const out = await attack.run(ctx, i);
        if (out.succeeded) res.succeeded++;
        if (out.detected) res.detected++;
        const k = out.reason ?? (out.succeeded ? 'succeeded' : 'failed');
        res.reasons[k] = (res.reasons[k] ?? 0) + 1;
        progress(++done);
      }
      if (name === 'forged-command' && mode === 'sealed') {
        // The board counts every downlink frame it refuses (SEALMQ.status().rejected).
        const after = (await boardStatus(ctx, A)).rejected ?? 0;
        res.detected = Math.min(o.runs, after - before);
        res.reasons['board-rejected'] = after - before;
      }
      byName.set(name, res);
    }
    return attacks.map((a) => byName.get(a)!);
  } finally {
    await relay.close();
    await p.stop();
  }
}

export async function runAttackSuite(o: AttackSuiteOptions): Promise<AttackReport> {
  const t0 = hiresNow();
  const attacks = o.attacks ?? [...ATTACKS];
  const total = attacks.length * o.runs;
  const done: Record<string, number> = {};
  const tick = (mode: string) => (n: number) => {
    done[mode] = n;
    o.onProgress?.('attacks', Object.values(done).reduce((a, b) => a + b, 0), total * o.pipelines.length);
  };
  // Both pipelines at once: they share nothing but the machine.
  const per = await Promise.all(o.pipelines.map((m) => runOnPipeline(o, m, attacks, tick(m))));
  const { cpus } = await import('node:os');
  const c = cpus();
  const target = o.target ?? 'emulated';
  return {
    runs: o.runs, broker: o.broker, target, interval: o.interval ?? DEFAULT_INTERVAL[target], results: per.flat(), date: new Date().toISOString(),
    seconds: Math.round((hiresNow() - t0) / 100) / 10,
    platform: { node: process.version, cpu: c[0]?.model ?? 'unknown', cores: c.length },
  };
}
