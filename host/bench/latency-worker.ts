// One pipeline of `sealmq bench latency` in its own worker thread (its own event loop): the sealed
// verifier's durable writes block only the sealed pipeline's broker and verifier, never the plain one's,
// as separate processes would in a deployment. Driven by messages from host/bench/latency.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { startPipeline, Pipeline, PipelineOptions } from '../pipeline/pipeline.js';
import type { LatencySample } from './latency.js';

export type WorkerCommand =
  | { do: 'sync'; rounds: number; apply: boolean; biasPerRtt: number }
  | { do: 'align'; atMs: number[] }
  | { do: 'measure'; on: boolean }
  | { do: 'stop' };

export type WorkerReply =
  | { done: 'started' }
  | { done: 'sync'; clocks: import('../pipeline/pipeline.js').ClockSync[] }
  | { done: 'align' }
  | { done: 'measure' }
  | { done: 'samples'; samples: LatencySample[]; rejected: number }
  | { done: 'stopped' }
  | { done: 'error'; message: string; kind?: string };

const port = parentPort!;
const o = workerData as Omit<PipelineOptions, 'onEvent'>;
let measuring = false;
let samples: LatencySample[] = [];
let rejected = 0;
let pipe: Pipeline | undefined;
const post = (m: WorkerReply) => port.postMessage(m);

async function main(): Promise<void> {
  pipe = await startPipeline({
    ...o,
    onEvent: (e) => {
      if (e.type !== 'frame' || !measuring) return;
      const r = e.result;
      if (!r.ok) return void rejected++;
      if (r.kind !== 'reading' || r.t === null) return;
      const t = r.t * 1000;
      samples.push({
        pipeline: e.mode, board: r.device, e2eMs: e.timing.doneAt - t, wireMs: e.timing.receivedAt - t,
        verifyMs: e.timing.doneAt - e.timing.receivedAt, durableMs: e.timing.durableMs,
      });
    },
  });
  post({ done: 'started' });
}

port.on('message', (m: WorkerCommand) => {
  void (async () => {
    try {
      if (m.do === 'sync') post({ done: 'sync', clocks: await pipe!.syncClocks(m.rounds, m.apply, m.biasPerRtt) });
      else if (m.do === 'align') {
        await pipe!.alignReadings((i) => m.atMs[i]);
        post({ done: 'align' });
      } else if (m.do === 'measure') {
        measuring = m.on;
        if (!m.on) {
          post({ done: 'samples', samples, rejected });
          samples = [];
          rejected = 0;
        } else post({ done: 'measure' });
      } else if (m.do === 'stop') {
        await pipe?.stopReporting().catch(() => {});
        await pipe?.stop();
        post({ done: 'stopped' });
        port.close();
      }
    } catch (e) {
      post({ done: 'error', message: (e as Error).message, kind: (e as { kind?: string }).kind });
    }
  })();
});

main().catch(async (e) => {
  post({ done: 'error', message: (e as Error).message, kind: (e as { kind?: string }).kind });
  await pipe?.stop().catch(() => {});
  port.close();
});
