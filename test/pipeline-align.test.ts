// SEALMQ.align (docs/FIRMWARE.md): a board's readings move to t + k·interval, so that `bench latency` can spread
// many boards' readings over the interval instead of leaving their phases to chance; and the emulated board's
// intervals keep their phase as Espruino's do (next time = last due time + period).
import test from 'ava';
import { startPipeline, PipelineEvent, hiresNow } from '../host/pipeline/pipeline.js';
import { openLink } from '../host/link/open-link.js';
import { connectRepl } from '../host/link/repl.js';
import { smqCall } from '../host/board/smq.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('SEALMQ.align: two sealed boards report half an interval apart, where the host put them; bad input refused', async (t) => {
  const events: PipelineEvent[] = [];
  const p = await startPipeline({ mode: 'sealed', boards: 2, interval: 0.2, names: 'align', stampScale: 1e6, onEvent: (e) => events.push(e) });
  t.teardown(() => p.stop());
  const at = hiresNow() + 300;
  await p.alignReadings((i) => at + i * 100);
  const since = at + 150;
  for (let i = 0; i < 100; i++) {
    const n = events.filter((e) => e.type === 'frame' && e.result.ok && e.result.t! * 1000 > since).length;
    if (n >= 16) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Each reading's "t" (the board's clock, which is the host's here) against the times asked for: k·200 ms
  // after `at` for align-01, 100 ms later for align-02; a reading late on a busy machine moves no later one.
  for (const [i, name] of ['align-01', 'align-02'].entries()) {
    const ts = events.flatMap((e) => (e.type === 'frame' && e.result.ok && e.result.device === name && e.result.t! * 1000 > since ? [e.result.t! * 1000] : []));
    t.true(ts.length >= 5, `${name}: ${ts.length} readings`);
    const phase = ts.map((x) => (((x - at - i * 100) % 200) + 200) % 200);
    const off = median(phase.map((x) => (x > 100 ? x - 200 : x)));
    t.true(Math.abs(off) < 25, `${name}: readings ${off.toFixed(1)} ms from where they were put`);
  }
  const link = await openLink(p.boards[0].console);
  const repl = await connectRepl(link);
  try {
    t.deepEqual(await smqCall(repl, 'SEALMQ.align("soon")'), { ok: false, error: 'bad time' });
    t.deepEqual(await smqCall(repl, 'SEALMQ.stop(true);SEALMQ.align(getTime()+1)'), { ok: false, error: 'not reporting' });
  } finally {
    repl.detach();
    await link.close();
  }
});
