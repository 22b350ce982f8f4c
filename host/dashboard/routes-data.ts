// The dashboard's data routes (docs/DASHBOARD.md): the fleet (registry + live counts), the live stream
// (server-sent events, batched by host/dashboard/live.ts), the audit log with its chain's verification,
// the reports folder, and sealed commands (admin) through host/board/send.ts and rotate.ts.
import type { FastifyInstance } from 'fastify';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { isDeviceId } from '../../core/ids.js';
import { rotateDevice } from '../board/rotate.js';
import { sendCommand } from '../board/send.js';
import { inputError } from '../errors.js';
import { sessionOf } from '../operators/auth.js';
import type { LiveBatch } from './live.js';
import { CSP, DashboardContext, SESSION_COOKIE } from './server.js';
import { EventStream } from './sse.js';

/** Commands the panel offers, with their arguments' shape (firmware/commands.ts). */
export const COMMANDS = ['ping', 'status', 'interval', 'rotate'] as const;

/** How often an open event stream re-checks its session (a logout or expiry ends it). */
const RECHECK_MS = 1000;
const REPORT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json', '.csv': 'text/csv; charset=utf-8', '.png': 'image/png' };
/** A report page is opened as a document of its own: inline style allowed, no script at all, sandboxed. */
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'";

function listReports(dir: string): { path: string; bytes: number; modified: number }[] {
  const out: { path: string; bytes: number; modified: number }[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = join(d, e.name);
      if (e.isDirectory() && depth < 3) walk(f, depth + 1);
      else if (e.isFile() && extname(e.name) === '.html') {
        const st = statSync(f);
        out.push({ path: relative(dir, f).split(sep).join('/'), bytes: st.size, modified: st.mtimeMs });
      }
    }
  };
  if (existsSync(dir)) walk(dir, 0);
  return out.sort((a, b) => b.modified - a.modified);
}

export function registerDataRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  const { reg, live } = ctx;

  app.get('/api/devices', async (req, reply) => {
    if (!ctx.viewer(req, reply)) return reply;
    const known = reg.listDevices();
    const postures = reg.listPostures();
    const rows = known.map((d) => {
      const l = live.devices.get(d.id);
      const info = d.info as Record<string, unknown>;
      const p = postures.get(d.id);
      const r = p?.report ?? {};
      return {
        id: d.id, status: d.status, epoch: d.epoch, board: d.board, interval: d.interval,
        lastSeen: Math.max(d.lastSeenAt ?? 0, l?.lastAt ?? 0) || null,
        lastCounter: l?.lastCounter ?? null, perMinute: live.perMinute(d.id), readings: l?.readings ?? 0, rejections: l?.rejections ?? 0,
        firmware: info.firmware ?? info.version ?? null, crypto: info.crypto ?? null,
        // The last `sealmq doctor --device` of this device, if one was recorded (host/registry/posture.ts).
        posture: p ? { at: p.at, actor: p.actor, warnings: p.warnings, consoleLocked: r.consoleLocked ?? null, firmware: r.firmware ?? null, crypto: r.crypto ?? null, clockOffsetS: r.clockOffsetS ?? null } : null,
      };
    });
    return { devices: rows, counts: live.counts };
  });

  // The live stream: a snapshot (each device's history window, the latest rejections), then one event per
  // flush, its JSON made once for every open page. What the server holds unsent for a page is bounded
  // (sse.ts). The session is re-checked every second: a logout or an expiry ends the stream.
  const batchJson = new WeakMap<LiveBatch, string>();
  const jsonOf = (b: LiveBatch) => {
    let j = batchJson.get(b);
    if (j === undefined) batchJson.set(b, (j = JSON.stringify(b)));
    return j;
  };
  app.get('/api/events', async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE] ?? null;
    if (!ctx.viewer(req, reply)) return reply;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
      'content-security-policy': CSP, connection: 'keep-alive',
    });
    const stream = new EventStream(res, ctx.streams);
    stream.send('snapshot', JSON.stringify(live.snapshot()));
    const off = live.subscribe((b) => { if (!stream.send('batch', jsonOf(b))) done(); });
    const check = setInterval(() => {
      const s = sessionOf(reg, token);
      if (!s || s.expired || s.status !== 'active') stream.end({ reason: 'session ended' });
      if (stream.isClosed) done();
    }, RECHECK_MS);
    const done = () => { off(); clearInterval(check); };
    res.on('close', done);
    res.on('error', done);
  });

  app.get('/api/audit', async (req, reply) => {
    if (!ctx.viewer(req, reply)) return reply;
    const q = req.query as { operator?: string; device?: string; limit?: string };
    if (q.device && !isDeviceId(q.device)) throw inputError('device filter: not a device id');
    if (q.operator && !/^[a-z][a-z0-9._-]{0,31}$/.test(q.operator)) throw inputError('operator filter: not an operator name');
    const limit = Math.max(1, Math.min(Number(q.limit) || 200, 1000));
    let rows = reg.auditLog({ device: q.device || undefined, limit: q.operator ? 100000 : limit });
    // An operator's entries: those it did (actor) and those about it (detail.name: logins refused, enrolment).
    if (q.operator) rows = rows.filter((e) => e.actor === 'operator:' + q.operator || e.detail.name === q.operator).slice(-limit);
    return { entries: rows.reverse() };
  });

  app.get('/api/audit/verify', async (req, reply) => {
    if (!ctx.viewer(req, reply)) return reply;
    const r = reg.verifyAudit();
    return { ok: r.ok, entries: r.entries, signed: r.signed, pending: r.pending, head: r.head ?? null, problem: r.problem?.message ?? null, publicKey: r.publicKey };
  });

  app.get('/api/reports', async (req, reply) => {
    if (!ctx.viewer(req, reply)) return reply;
    return { dir: ctx.o.reportsDir ?? null, reports: ctx.o.reportsDir ? listReports(ctx.o.reportsDir) : [] };
  });

  app.get('/reports/*', async (req, reply) => {
    if (!ctx.viewer(req, reply)) return reply;
    const dir = ctx.o.reportsDir;
    const rel = (req.params as { '*': string })['*'];
    if (!dir || !rel || rel.includes('\0')) return reply.code(404).send({ error: 'no such report' });
    const f = join(dir, rel);
    const type = REPORT_TYPES[extname(f)];
    if (!type || !existsSync(f)) return reply.code(404).send({ error: 'no such report' });
    // Inside the reports folder only (no .., no symbolic link out of it).
    const root = realpathSync(dir);
    const real = realpathSync(f);
    if (real !== root && !real.startsWith(root + sep)) return reply.code(404).send({ error: 'no such report' });
    const body = readFileSync(real);
    reply.type(type);
    return reply.header('content-security-policy', REPORT_CSP).send(body);
  });

  app.post('/api/command', {
    schema: {
      body: {
        type: 'object', additionalProperties: false, required: ['device', 'command'],
        properties: {
          device: { type: 'string', minLength: 1, maxLength: 32 },
          command: { type: 'string', enum: [...COMMANDS] },
          seconds: { type: 'number', minimum: 0.05, maximum: 86400 },
        },
      },
    },
  }, async (req, reply) => {
    const b = req.body as { device: string; command: typeof COMMANDS[number]; seconds?: number };
    const s = ctx.allowed(req, reply, b.command === 'rotate' ? 'devices.rotate' : 'send');
    if (!s) return reply;
    const link = ctx.o.commands;
    if (!link) return reply.code(503).send({ error: 'this dashboard was started without a broker login for commands (--user)' });
    if (!isDeviceId(b.device)) throw inputError('not a device id');
    const base = { registry: reg, brokerUrl: link.brokerUrl, username: link.username, password: link.password, prefix: link.prefix, deviceId: b.device, actor: s.actor, timeoutMs: 10_000 };
    if (b.command === 'rotate') {
      const r = await rotateDevice(base);
      return { device: b.device, command: 'rotate', reply: { ok: true, from: r.from, to: r.to }, roundTripMs: r.roundTripMs, sealed: true };
    }
    if (b.command === 'interval' && b.seconds === undefined) throw inputError('interval needs seconds (0.05 to 86400)');
    const r = await sendCommand({ ...base, command: b.command, args: b.command === 'interval' ? { s: b.seconds } : undefined });
    return { device: r.device, command: r.command, counter: r.counter, epoch: r.epoch, replyEpoch: r.replyEpoch, reply: r.reply, roundTripMs: r.roundTripMs, sealed: true };
  });
}

