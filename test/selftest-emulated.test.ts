// dist/selftest.js on the emulated board, through its console as on a real one: every known answer of
// shared/vectors passes, on a board with native crypto and on one without require("crypto").
import test from 'ava';
import { join } from 'node:path';
import { buildFirmware } from '../host/build/bundle.js';
import { EmulatedBoard } from '../host/emulator/board.js';
import { loadProfile } from '../host/emulator/profile.js';
import { EmulatedLink } from '../host/link/emulated-link.js';
import { connectRepl } from '../host/link/repl.js';
import { uploadFile } from '../host/link/storage-files.js';
import { repoRoot } from '../host/protocol/vectors.js';
import { tmpHome } from './cli-helpers.js';

for (const nativeCrypto of [true, false]) {
  test(`dist/selftest.js on the emulated board: N passed, 0 failed (${nativeCrypto ? 'native' : 'no native'} crypto)`, async (t) => {
    const dir = tmpHome('sealmq-selftest-');
    const r = await buildFirmware({ board: 'emulated', outDir: join(dir, 'dist') });
    const board = new EmulatedBoard({ name: 'st', flashFile: join(dir, 'st.flash'), banner: false, profile: loadProfile('emulated', repoRoot()), nativeCrypto });
    const link = new EmulatedLink(board);
    await link.open();
    t.teardown(() => board.close());
    // The self-test runs one case per timer tick (so a board's watchdog never fires): its lines arrive as
    // the board's own log lines, after the command that started it.
    const logs: string[] = [];
    const repl = await connectRepl(link, { timeoutMs: 60_000, onLog: (l) => logs.push(l) });
    await uploadFile(repl, 'selftest.js', r.selftest!.code);
    const lines = await repl.run('eval(require("Storage").read("selftest.js"))', { timeoutMs: 60_000 });
    const text = () => lines.concat(logs).join('\n');
    const deadline = Date.now() + 60_000;
    while (!/\d+ passed, \d+ failed/.test(text()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const out = text();
    const m = /(\d+) passed, (\d+) failed/.exec(out);
    t.truthy(m, out.slice(-400));
    t.log(m![0]);
    t.is(Number(m![2]), 0, out.split('\n').filter((l) => /FAIL/.test(l)).join('\n'));
    t.true(Number(m![1]) >= (nativeCrypto ? 50 : 25), "every case, on each crypto path the board has");
    t.is(/\[js\]/.test(out), true, 'the pure-JS fallback is checked too');
    if (!nativeCrypto) t.false(/\[native\]/.test(out), 'no native case runs without require("crypto")');
  });
}
