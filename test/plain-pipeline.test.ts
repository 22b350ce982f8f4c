// The research plain pipeline (issue 5 item 1): readings arrive in clear and are labelled plain; a command
// goes down and back in clear; the research modes are refused without the explicit ask; the sealed
// verifier names a plain message a downgrade; the plain build leaves the sealed bundle untouched.
import test from 'ava';
import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utf8Encode } from '../core/bytes.js';
import { startInsecureBroker } from '../host/broker/insecure.js';
import { buildFirmware } from '../host/build/bundle.js';
import { SealmqError } from '../host/errors.js';
import { startPipeline, PipelineEvent } from '../host/pipeline/pipeline.js';
import { startInsecureMosquitto, haveMosquitto } from '../host/pipeline/mosquitto.js';
import { openRegistry } from '../host/registry/registry.js';
import { registryVerifier } from '../host/verifier/run.js';
import { isPlainFrame, PLAIN_LABEL, PlainVerifier, runPlainVerifier } from '../host/verifier/plain.js';
import type { VerifyResult } from '../host/verifier/verifier.js';
import { sealmq } from './cli-helpers.js';
import { openLink } from '../host/link/open-link.js';
import { connectRepl } from '../host/link/repl.js';
import { smqCall } from '../host/board/smq.js';

const usage = (t: { is: (a: unknown, b: unknown) => void }, e: unknown) => {
  t.is(e instanceof SealmqError && e.kind, 'usage');
};

test('research modes are refused unless asked for explicitly (library and CLI, exit 2)', async (t) => {
  usage(t, await t.throwsAsync(() => startInsecureBroker({ researchInsecure: false })));
  usage(t, await t.throwsAsync(() => startInsecureBroker({} as never)));
  usage(t, await t.throwsAsync(() => startPipeline({ mode: 'plain' })));
  // (The sealed pipeline on Mosquitto is not a research mode: it runs the emitted deny-by-default config.)
  usage(t, await t.throwsAsync(() => runPlainVerifier({ brokerUrl: 'mqtt://127.0.0.1:1', researchInsecure: false })));
  usage(t, await t.throwsAsync(() => startInsecureMosquitto({ dir: tmpdir(), researchInsecure: false })));
  const r = await sealmq(['demo', '--pipeline', 'plain', '--boards', '1', '--seconds', '1']);
  t.is(r.code, 2);
  t.regex(r.stderr, /RESEARCH PLAIN \/ NOT SECURE.*refused unless asked for explicitly/);
  t.regex(r.stderr, /--research-insecure/);
});

test('the insecure broker is loopback only and warns when it starts', async (t) => {
  const e = await t.throwsAsync(() => startInsecureBroker({ researchInsecure: true, listen: 'mqtt://0.0.0.0:0' }));
  t.regex(e!.message, /loopback only/);
  const said: string[] = [];
  const b = await startInsecureBroker({ researchInsecure: true, onEvent: (x) => said.push(`${x.type}: ${x.text}`) });
  await b.close();
  t.true(said.some((s) => /^warning: RESEARCH INSECURE broker: anonymous logins, no ACL/.test(s)));
});

test('the sealed verifier rejects a plain message as a downgrade, by name', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'sealmq-plain-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const reg = openRegistry({ home });
  t.teardown(() => reg.close());
  await reg.unlock('plain pipeline test passphrase');
  reg.recordProvisioned({ id: 'node-01', root: new Uint8Array(randomBytes(32)), otpSeed: new Uint8Array(randomBytes(20)), actor: 'test' });
  const { verifier, stats } = registryVerifier(reg, {});
  const plain = utf8Encode(JSON.stringify({ t: 1795000000.5, d: { temp: 21 }, plain: true }));
  t.true(isPlainFrame(plain));
  const r = verifier.handle('sealmq/node-01/up', plain) as VerifyResult;
  t.false(r.ok);
  t.is(!r.ok && r.reason, 'plain-downgrade');
  t.is(stats.byReason['plain-downgrade'], 1);
  // Other JSON (no plain marker) and garbage stay 'malformed'.
  const other = verifier.handle('sealmq/node-01/up', utf8Encode('{"t":1,"d":{}}'));
  t.is(!other.ok && other.reason, 'malformed');
  // And the plain verifier does not take a sealed-looking frame.
  const pv = new PlainVerifier();
  const x = pv.handle('sealmq/node-01/up', new Uint8Array([1, 0, 0, 0, 0, 0, 1, ...randomBytes(48)]));
  t.is(!x.ok && x.reason, 'not-plain');
});

test('the plain build is a separate artefact, labelled; nothing of it reaches the sealed bundle', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'sealmq-plain-build-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const sealed = await buildFirmware({ board: 'esp32', outDir: out, write: false, selftest: false });
  const sealedMicro = await buildFirmware({ board: 'esp32', outDir: out, write: false, selftest: false, stampScale: 1000 });
  const plain = await buildFirmware({ board: 'esp32', outDir: out, write: false, plain: true });
  t.is(sealedMicro.firmware.code, sealed.firmware.code);
  t.true(plain.firmware.file.endsWith('firmware-plain.js'));
  t.is(plain.selftest, undefined);
  t.true(plain.firmware.code.includes('RESEARCH PLAIN / NOT SECURE'));
  t.true(plain.firmware.code.includes('+research-plain'));
  // Nothing of the plain mode reaches the sealed bundle.
  t.false(sealed.firmware.code.includes('RESEARCH PLAIN'));
  t.false(sealed.firmware.code.includes('plain'));
  t.true(sealed.firmware.bytes <= 16 * 1024);
});

async function runPlain(t: { teardown: (f: () => Promise<void> | void) => void }, broker: 'embedded' | 'mosquitto') {
  const events: PipelineEvent[] = [];
  const p = await startPipeline({ mode: 'plain', researchInsecure: true, broker, boards: 2, interval: 0.25, names: 'plain', onEvent: (e) => events.push(e) });
  t.teardown(() => p.stop());
  const frames = () => events.filter((e): e is Extract<PipelineEvent, { type: 'frame' }> => e.type === 'frame');
  for (let i = 0; i < 100 && new Set(frames().filter((f) => f.result.ok).map((f) => f.result.device)).size < 2; i++) await new Promise((r) => setTimeout(r, 100));
  return { p, events, frames };
}

test.serial('plain pipeline on the embedded broker: readings arrive in clear, labelled plain; a command round trip in clear', async (t) => {
  const { p, events, frames } = await runPlain(t, 'embedded');
  t.is(p.label, PLAIN_LABEL);
  t.false(p.brokerSecure);
  t.true(events.some((e) => e.type === 'phase' && e.text.startsWith(`[${PLAIN_LABEL}]`)));
  // A third party with no credentials reads the readings in clear (that is the point of the comparison).
  const spy = mqtt.connect(p.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  t.teardown(() => { spy.end(true); });
  const sniffed = await new Promise<Record<string, unknown>>((resolve) => {
    spy.on('connect', () => spy.subscribe('sealmq/+/up'));
    spy.on('message', (_topic, payload) => resolve(JSON.parse(payload.toString('utf8'))));
  });
  t.is(sniffed.plain, true);
  t.is(typeof (sniffed.d as Record<string, unknown>).temp, 'number');
  const ok = frames().filter((f) => f.result.ok);
  t.true(ok.length >= 2);
  for (const f of ok) {
    const r = f.result;
    t.is(f.mode, 'plain');
    t.true(r.ok && 'plain' in r && r.plain === true && r.label === PLAIN_LABEL);
    t.true(r.ok && r.kind === 'reading' && typeof r.latencyMs === 'number');
  }
  const reply = await p.command('plain-01', 'status');
  t.is(reply.reply.plain, true);
  t.is(reply.reply.ok, true);
  t.is((reply.reply.a as Record<string, unknown>).state, PLAIN_LABEL);
  // A board without a key cannot prove anything: its challenge and TOTP are refused, with the label.
  const link = await openLink(p.boards[0].console);
  const repl = await connectRepl(link);
  try {
    t.deepEqual(await smqCall(repl, 'SEALMQ.challenge("00")'), { ok: false, error: PLAIN_LABEL });
    t.deepEqual(await smqCall(repl, 'SEALMQ.totp()'), { ok: false, error: PLAIN_LABEL });
  } finally {
    repl.detach();
    await link.close();
  }
  const sent = await p.stopReporting();
  t.is(sent.length, 2);
  t.true(sent.every((s) => s.sent > 0));
  t.is(p.stats().rejected, 0);
});

test.serial('plain pipeline on a research insecure Mosquitto (skipped with the reason when mosquitto is not installed)', async (t) => {
  if (!haveMosquitto()) {
    t.log('SKIPPED: no mosquitto binary (apt install mosquitto)');
    t.pass();
    return;
  }
  const { p, frames } = await runPlain(t, 'mosquitto');
  t.is(p.brokerKind, 'mosquitto');
  t.true(frames().some((f) => f.result.ok && 'plain' in f.result));
  const reply = await p.command('plain-02', 'ping');
  t.is(reply.reply.ok, true);
});

test('sealmq build --research-plain writes firmware-plain.js next to firmware.js and says what it is', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'sealmq-plain-cli-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const r = await sealmq(['build', '--board', 'emulated', '--out', out, '--no-selftest', '--research-plain']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /firmware-plain\.js\s+\d+ bytes .*RESEARCH PLAIN \/ NOT SECURE/);
  t.true(existsSync(join(out, 'firmware.js')));
  t.true(readFileSync(join(out, 'firmware-plain.js'), 'utf8').includes('RESEARCH PLAIN / NOT SECURE'));
  // Without the flag, no plain artefact.
  const out2 = mkdtempSync(join(tmpdir(), 'sealmq-plain-cli-'));
  t.teardown(() => rmSync(out2, { recursive: true, force: true }));
  const r2 = await sealmq(['build', '--board', 'emulated', '--out', out2, '--no-selftest']);
  t.is(r2.code, 0, r2.stderr);
  t.false(existsSync(join(out2, 'firmware-plain.js')));
});
