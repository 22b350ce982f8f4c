// The dashboard on the demo's pipeline (`sealmq demo --dashboard`): fed by the pipeline's own verifier
// (one verifier per registry: a second would see every frame as a replay), commands through the demo's
// admin broker login, and a one-time enrolment link for a new pending admin of the throw-away registry.
import { randomBytes } from 'node:crypto';
import { otpauthUri } from '../operators/totp.js';
import { OPERATOR_SEED_LEN } from '../registry/registry.js';
import { wipe } from '../registry/crypto.js';
import type { Pipeline, PipelineEvent } from '../pipeline/pipeline.js';
import { LiveHub } from './live.js';
import { RunningDashboard, startDashboard } from './server.js';

export interface PipelineDashboard {
  dashboard: RunningDashboard;
  live: LiveHub;
  /** The enrolment: the operator's name, its one-time password and the link that shows its QR code once. */
  enrol: { name: string; password: string; link: string };
  close(): Promise<void>;
}

export async function dashboardOnPipeline(pipe: Pipeline, o: { listen?: string; reportsDir?: string; operator?: string } = {}): Promise<PipelineDashboard> {
  if (!pipe.registry || !pipe.admin) throw new Error('the dashboard needs the sealed pipeline');
  const live = new LiveHub();
  const onFrame = (e: Extract<PipelineEvent, { type: 'frame' }>) => { if (e.mode === 'sealed') live.push(e.result as never); };
  pipe.events.on('frame', onFrame);
  const dashboard = await startDashboard({
    registry: pipe.registry, live, listen: o.listen ?? 'http://127.0.0.1:8080', reportsDir: o.reportsDir,
    commands: { brokerUrl: pipe.brokerUrl, username: pipe.admin.username, password: pipe.admin.password, prefix: pipe.prefix },
  });
  const name = o.operator ?? 'you';
  const password = randomBytes(15).toString('base64url');
  const seed = new Uint8Array(randomBytes(OPERATOR_SEED_LEN));
  try {
    await pipe.registry.addOperator({ name, role: 'admin', password, actor: 'demo', otpSeed: seed, detail: { dashboard: true } });
    const link = dashboard.enrolLink(name, otpauthUri(name, seed));
    return {
      dashboard, live, enrol: { name, password, link },
      async close() {
        pipe.events.off('frame', onFrame);
        live.close();
        await dashboard.close();
      },
    };
  } finally {
    wipe(seed);
  }
}
