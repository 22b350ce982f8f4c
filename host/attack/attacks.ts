// The attacks of docs/SECURITY.md ("The attack table"), one Attack each: what the attacker does in a run and
// how its outcome is judged (judge.ts). pipelines.ts runs them against each pipeline.
import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { smqCall } from '../board/smq.js';
import { unlockConsole } from '../link/console-lock.js';
import { connectRepl, Repl } from '../link/repl.js';
import { openLink } from '../link/open-link.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { forgedFrame, forgedPlainReading, frameCounter, recoverClear, tamperPlain, tamperSealed } from './frames.js';
import {
  A, Attack, AttackName, B, Ctx, genuine, judgeVerifier, Outcome, R, sameFrame, session, sleep,
} from './judge.js';
import { publishPacket } from '../mqtt/packets.js';

/** Eavesdrop: succeeds if the reading's values are recovered from the captured bytes alone (equal to what the verifier delivered). */
const eavesdrop: Attack = {
  async run(ctx) {
    const topic = ctx.topic(A);
    const from = ctx.log.mark;
    const pub = await ctx.relay.next('up', (p) => p.topic === topic, 5000);
    if (!pub) return { succeeded: false, detected: false, reason: 'no-frame' };
    const clear = recoverClear(pub.payload);
    if (!clear || !('d' in clear)) return { succeeded: false, detected: false, reason: 'unreadable' };
    const r = await ctx.log.find(from, (x) => x.ok && x.topic === topic && isDeepStrictEqual(x.message.d, clear.d));
    return r ? { succeeded: true, detected: false, reason: 'read' } : { succeeded: false, detected: false, reason: 'no-match' };
  },
};

/** Inject: a made-up reading written into board A's session; succeeds if the verifier accepts it. */
const inject: Attack = {
  async run(ctx, i) {
    const s = await session(ctx, A);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const topic = ctx.topic(A);
    const payload = ctx.mode === 'plain' ? Buffer.from(JSON.stringify(forgedPlainReading(i))) : forgedFrame(ctx.epoch, 0x7000_0000 + i);
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(topic, payload)]);
    return judgeVerifier(ctx, from, topic, (r) => sameFrame(ctx, r, topic, payload));
  },
};

/** Replay: a frame the verifier already accepted, sent again; succeeds if it is accepted a second time. */
const replay: Attack = {
  async run(ctx) {
    const pub = await genuine(ctx, A);
    const s = pub && !pub.session.closed ? pub.session : await session(ctx, A);
    if (!pub || !s) return { succeeded: false, detected: false, reason: 'no-frame' };
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(pub.topic, pub.payload)]);
    return judgeVerifier(ctx, from, pub.topic, (r) => sameFrame(ctx, r, pub.topic, pub.payload));
  },
};

/** Replay after a verifier restart: as replay, with the verifier restarted in between (its state must persist). */
const replayAfterRestart: Attack = {
  async run(ctx) {
    const pub = await genuine(ctx, A);
    if (!pub) return { succeeded: false, detected: false, reason: 'no-frame' };
    await ctx.p.restartVerifier();
    const s = await session(ctx, A);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(pub.topic, pub.payload)]);
    return judgeVerifier(ctx, from, pub.topic, (r) => sameFrame(ctx, r, pub.topic, pub.payload));
  },
};

/** Tamper: board A's next frame held and one bit of one field flipped (each field in turn); succeeds if the altered frame is accepted. */
const tamper: Attack = {
  async run(ctx, i) {
    const topic = ctx.topic(A);
    const held = await ctx.relay.hold('up', (p) => p.topic === topic, 5000);
    if (!held) return { succeeded: false, detected: false, reason: 'no-frame' };
    let payload: Buffer;
    if (ctx.mode === 'plain') {
      const m = recoverClear(held.payload);
      payload = m ? Buffer.from(JSON.stringify(tamperPlain(m, i).message)) : Buffer.from(held.payload);
    } else {
      payload = tamperSealed(held.payload, i).frame;
    }
    const from = ctx.log.mark;
    held.release([publishPacket(topic, payload)]);
    // The original was not forwarded: an acceptance under its counter or the altered one is the altered frame's.
    return judgeVerifier(ctx, from, topic, (r) => sameFrame(ctx, r, topic, payload) ||
      (ctx.mode === 'sealed' && (r as { counter?: number }).counter === frameCounter(held.payload)));
  },
};

/** Move: board A's frame taken off the wire and published on board B's topic, in B's session; succeeds if accepted as B's. */
const move: Attack = {
  async run(ctx) {
    const topicA = ctx.topic(A);
    const topicB = ctx.topic(B);
    const held = await ctx.relay.hold('up', (p) => p.topic === topicA, 5000);
    if (!held) return { succeeded: false, detected: false, reason: 'no-frame' };
    held.release([]);
    const s = await session(ctx, B);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const from = ctx.log.mark;
    ctx.relay.inject(s, 'up', [publishPacket(topicB, held.payload)]);
    return judgeVerifier(ctx, from, topicB, (r) => sameFrame(ctx, r, topicB, held.payload));
  },
};

/** Downgrade: board A's frame replaced by the same reading in the plain format; succeeds if the verifier accepts it. */
const downgrade: Attack = {
  async run(ctx, i) {
    const topic = ctx.topic(A);
    const held = await ctx.relay.hold('up', (p) => p.topic === topic, 5000);
    if (!held) return { succeeded: false, detected: false, reason: 'no-frame' };
    const clear = recoverClear(held.payload);
    const m = clear ? { ...clear, plain: true } : forgedPlainReading(i);
    const payload = Buffer.from(JSON.stringify(m));
    const from = ctx.log.mark;
    held.release([publishPacket(topic, payload)]);
    return judgeVerifier(ctx, from, topic, (r) => isDeepStrictEqual((r as { message: unknown }).message, m));
  },
};

/**
 * Runs fn on board i's console REPL (the test bench's own access to its boards). A console locked by
 * provisioning (Espruino's console password, host/link/console-lock.ts) is unlocked first with the
 * password the pipeline's registry holds for the device.
 */
export async function withConsole<T>(p: Pipeline, i: number, fn: (repl: Repl) => Promise<T>): Promise<T> {
  const b = p.boards[i];
  const link = await openLink(b.console);
  try {
    // The research plain boards have no registry and an open console; unlockConsole leaves an open one alone.
    if (p.registry) await unlockConsole(link, p.registry.consolePasswords(b.deviceId), { device: b.deviceId });
    const repl = await connectRepl(link);
    try {
      return await fn(repl);
    } finally {
      repl.detach();
    }
  } finally {
    await link.close().catch(() => {});
  }
}

export function boardStatus(ctx: Ctx, i: number): Promise<{ rejected?: number }> {
  return withConsole(ctx.p, i, (repl) => smqCall<{ rejected?: number }>(repl, 'SEALMQ.status()'));
}

/**
 * Forged command: a command the admin never sent written into board A's session from the broker's side
 * (odd runs: the plain JSON command; even runs: a frame-shaped forgery). Succeeds if the board carries it
 * out (its reply reaches the verifier); detected when the board's rejected-frame count rises.
 */
const forgedCommand: Attack = {
  async run(ctx, i) {
    const s = await session(ctx, A);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const topic = ctx.topic(A);
    const nonce = `ping`;
    const payload = ctx.mode === 'plain' || i % 2 === 1 ? Buffer.from(JSON.stringify({ c: nonce, a: {} })) : forgedFrame(ctx.epoch, 0x7000_0000 + i, 1);
    const from = ctx.log.mark;
    // The board answers a command as soon as it has read it, on the same connection as its readings: once
    // five more readings of A went through the verifier, a reply that has not come will not come.
    let readings = 0;
    ctx.relay.inject(s, 'down', [publishPacket(ctx.topic(A, 'down'), payload)]);
    const r = await ctx.log.find(from, (x) => {
      if (x.topic !== topic) return false;
      if (x.ok && (x.message as { r?: unknown }).r === nonce) return true;
      if (x.ok && 'd' in x.message) readings++;
      return readings >= 5;
    }, 3000);
    return r && r.ok && (r.message as { r?: unknown }).r === nonce
      ? { succeeded: true, detected: false, reason: 'executed' } : { succeeded: false, detected: false, reason: 'not-executed' };
  },
};

/**
 * Malicious broker (the relay as the boards' broker): run i reads (i mod 4 = 0), forges (1), reorders (2) or
 * replays (3) what it relays. Reorder succeeds if two frames reach the verifier swapped and both are
 * accepted with nothing authenticated to show it (sealed readings carry their authenticated counter, so a
 * later-delivered lower counter is counted as detected).
 */
const maliciousBroker: Attack = {
  async run(ctx, i) {
    switch (i % 4) {
      case 0: return eavesdrop.run(ctx, i);
      case 1: return inject.run(ctx, i);
      case 3: return replay.run(ctx, i);
    }
    const topic = ctx.topic(A);
    const first = await ctx.relay.hold('up', (p) => p.topic === topic, 5000);
    if (!first) return { succeeded: false, detected: false, reason: 'no-frame' };
    const from = ctx.log.mark;
    const second = await ctx.relay.next('up', (p) => p.topic === topic, 5000);
    first.release();
    if (!second) return { succeeded: false, detected: false, reason: 'no-frame' };
    const a = await ctx.log.find(from, (r) => sameFrame(ctx, r, topic, second.payload));
    const b = await ctx.log.find(from, (r) => sameFrame(ctx, r, topic, first.payload));
    if (!a || !b) return { succeeded: false, detected: !!(a && !a.ok) || !!(b && !b.ok), reason: 'no-result' };
    if (!a.ok || !b.ok) return { succeeded: false, detected: true, reason: (!a.ok ? a : b as { reason: string }).reason as string };
    if (ctx.mode === 'sealed') {
      const ca = (a as { counter: number }).counter;
      const cb = (b as { counter: number }).counter;
      return cb < ca ? { succeeded: false, detected: true, reason: 'reorder-visible-by-counter' } : { succeeded: true, detected: false, reason: 'accepted' };
    }
    return { succeeded: true, detected: false, reason: 'accepted' };
  },
};

/** An attacker's own MQTT client; resolves with it, or with the refusal. */
function attackerClient(ctx: Ctx, o: mqtt.IClientOptions): Promise<{ client?: mqtt.MqttClient; refused?: string }> {
  return new Promise((resolve) => {
    const c = mqtt.connect(ctx.p.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000, clean: true, ...o });
    c.once('connect', () => resolve({ client: c }));
    c.once('error', (e) => { c.end(true); resolve({ refused: (e as { code?: number }).code ? `connack-${(e as { code?: number }).code}` : e.message }); });
    c.once('close', () => resolve({ refused: 'closed' }));
  });
}

/**
 * Password reuse: the user name and password board B sent in its CONNECT, as captured on the wire, used by
 * the attacker's own client to publish a made-up reading as B. Succeeds if the verifier accepts the reading.
 */
const passwordReuse: Attack = {
  async run(ctx, i) {
    const cred = ctx.relay.sniffedCredentials(ctx.ids[B]);
    if (!cred) return { succeeded: false, detected: false, reason: 'nothing-sniffed' };
    const { client, refused } = await attackerClient(ctx, {
      clientId: 'attacker-' + randomBytes(3).toString('hex'),
      ...(cred.username !== null ? { username: cred.username } : {}),
      ...(cred.password !== null ? { password: cred.password } : {}),
    });
    if (!client) return { succeeded: false, detected: true, reason: 'broker-refused' };
    try {
      const topic = ctx.topic(B);
      const payload = ctx.mode === 'plain' ? Buffer.from(JSON.stringify(forgedPlainReading(i))) : forgedFrame(ctx.epoch, 0x7100_0000 + i);
      const from = ctx.log.mark;
      await client.publishAsync(topic, payload, { qos: 0 });
      return await judgeVerifier(ctx, from, topic, (r) => sameFrame(ctx, r, topic, payload));
    } finally {
      client.end(true);
      await ctx.relay.waitSession(ctx.ids[B], 15_000);
      void refused;
    }
  },
};

/**
 * Client id takeover: the attacker's own client connects with board B's client id and whatever credentials
 * were sniffed. Succeeds if the broker closes B's session for it and nothing reports it.
 */
const takeover: Attack = {
  async run(ctx) {
    const s = await session(ctx, B);
    if (!s) return { succeeded: false, detected: false, reason: 'no-session' };
    const cred = ctx.relay.sniffedCredentials(ctx.ids[B]);
    const { client } = await attackerClient(ctx, {
      clientId: ctx.ids[B],
      ...(cred?.username ? { username: cred.username } : {}),
      ...(cred?.password ? { password: cred.password } : {}),
    });
    if (!client) return { succeeded: false, detected: true, reason: 'broker-refused' };
    // A broker that hands the id over closes the old session right after the new CONNACK.
    for (let waited = 0; !s.closed && waited < 3000; waited += 25) await sleep(25);
    const kicked = s.closed && s.closedBy === 'broker';
    client.end(true);
    await ctx.relay.waitSession(ctx.ids[B], 15_000, s.opened + 1);
    return kicked ? { succeeded: true, detected: false, reason: 'board-kicked' } : { succeeded: false, detected: false, reason: 'board-kept' };
  },
};

/**
 * Counter rollback: board R's counter and window records are read over its console (the "old flash image"),
 * the board runs on for `runs` + 2·K frames, then the old records are written back and it reboots. Each of
 * the first `runs` frames it sends after that reuses a counter it had already sent: a run succeeds if the
 * verifier accepts such a frame, and is detected if the verifier rejects it (replay or stale).
 */
export const rollback: Attack = {
  async setup(ctx, runs) {
    const topic = ctx.topic(R);
    const files = ['smq.cfg', 'smq.c0', 'smq.c1', 'smq.dw0', 'smq.dw1', 'smq.iv'];
    const outcomes: Outcome[] = [];
    await withConsole(ctx.p, R, async (repl) => {
      const read = `var o={};${JSON.stringify(files)}.forEach(function(n){var v=S.read(n);o[n]=v===undefined?null:v;});return o;`;
      const image = await repl.eval<Record<string, string | null>>(`(function(){var S=require("Storage");${read}})()`);
      // Counters sent since the image: at least runs + 2K (K = 64 on the emulated board) so every counter the
      // restored board uses again was used before.
      const from = ctx.log.mark;
      const need = runs + 2 * 64 + 4;
      let seen = 0;
      let maxBefore = 0;
      await ctx.log.find(from, (r) => {
        if (r.ok && r.topic === topic) {
          seen++;
          maxBefore = Math.max(maxBefore, (r as { counter?: number }).counter ?? 0);
        }
        return seen >= need;
      }, 60_000);
      const restore = Object.entries(image).map(([n, v]) => v === null ? `S.erase(${JSON.stringify(n)});` : `S.write(${JSON.stringify(n)},${JSON.stringify(v)});`).join('');
      const mark = ctx.log.mark;
      const t0 = Date.now();
      // Written back, read back (the board's Storage holds the old image, whatever medium it is: a flash file,
      // QEMU's SRAM), then a reboot: the firmware starts from the old records.
      const back = await repl.eval<Record<string, string | null>>(`(function(){SEALMQ.stop(true);var S=require("Storage");${restore}${read}})()`);
      if (!isDeepStrictEqual(back, image)) throw new Error(`counter rollback: board ${ctx.ids[R]} does not hold the restored records`);
      await repl.run('setTimeout(load,10)');
      // The restored board logs in again (on the embedded broker: at the next TOTP step) and resends old counters.
      let taken = 0;
      await ctx.log.find(mark, (r) => {
        if (r.topic !== topic || taken >= runs) return taken >= runs;
        if (ctx.mode === 'plain') {
          if (r.ok) { outcomes.push({ succeeded: true, detected: false, reason: 'accepted' }); taken++; }
          return taken >= runs;
        }
        const c = (r as { counter?: number }).counter;
        if (r.ok && c !== undefined && c <= maxBefore) outcomes.push({ succeeded: true, detected: false, reason: 'accepted-reused-counter' });
        else if (!r.ok) outcomes.push({ succeeded: false, detected: true, reason: r.reason });
        else return false;
        taken++;
        return taken >= runs;
      }, 180_000);
      ctx.say(`counter rollback: image restored; ${taken} frames judged in ${((Date.now() - t0) / 1000).toFixed(1)} s (highest counter before: ${maxBefore})`);
    });
    ctx.rollback = outcomes;
  },
  async run(ctx, i) {
    return ctx.rollback?.[i] ?? { succeeded: false, detected: false, reason: 'no-frame' };
  },
};

export const SUITE: Record<AttackName, Attack> = {
  eavesdrop, inject, replay, 'replay-after-restart': replayAfterRestart, tamper, move, downgrade,
  'forged-command': forgedCommand, 'malicious-broker': maliciousBroker, 'password-reuse': passwordReuse,
  'client-id-takeover': takeover, 'counter-rollback': rollback,
};
