// `sealmq dashboard`'s web server (docs/DASHBOARD.md): Fastify over the host library. It serves the page
// bundled at build time (build/web/dashboard), a JSON API and one server-sent event stream. Every check
// is here, on the server: the operator session (host/operators/auth.ts: only a hash of its token is
// kept), the role (roles.ts), a CSRF token on every state-changing request, body size limits, login rate
// limits per address on top of the accounts' own back-off and lockout. The page only hides what the role
// may not do.
import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SealmqError } from '../errors.js';
import { checkSession, hashToken, sessionOf, Session } from '../operators/auth.js';
import type { Action } from '../operators/roles.js';
import type { Registry } from '../registry/registry.js';
import type { LiveHub } from './live.js';
import { registerAuthRoutes } from './routes-auth.js';
import { registerDataRoutes } from './routes-data.js';
import { newStreamStats, StreamStats } from './sse.js';

export const SESSION_COOKIE = 'smq_session';
export const CSRF_COOKIE = 'smq_csrf';
export const CSRF_HEADER = 'x-csrf-token';
/** Largest request body accepted (JSON): a login or a command is a few hundred bytes. */
export const BODY_LIMIT = 16 * 1024;

/** The page's Content-Security-Policy: its own script and style only, nothing inline, never framed. */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** How the dashboard reaches the boards for commands: an admin operator's broker login (its own, not the page user's). */
export interface CommandLink { brokerUrl: string; username: string; password: string; prefix?: string }

export interface DashboardOptions {
  registry: Registry;
  live: LiveHub;
  /** Where commands go; without it the command panel answers 503. */
  commands?: CommandLink;
  /** Folder of `sealmq report` pages (and the benches' outputs) listed under Reports. */
  reportsDir?: string;
  /** http://HOST:PORT (default http://127.0.0.1:8080; port 0: any free port). */
  listen?: string;
  tls?: { cert: Buffer; key: Buffer };
  /** Session length (default 8 h, as `sealmq login`). */
  sessionTtlMs?: number;
  /** Login attempts per address per minute (default 20), on top of each account's back-off. */
  loginPerMinute?: number;
  /** Bytes held unsent for one page before its stream is ended as too slow (default sse.ts STREAM_LIMIT_BYTES). */
  streamLimitBytes?: number;
}

/** A one-time enrolment (sealmq demo --dashboard): its token's hash → the pending operator it shows once. */
export interface Enrolment { name: string; otpauth: string; shown: boolean; expiresAt: number }

export interface DashboardContext {
  reg: Registry;
  live: LiveHub;
  o: DashboardOptions;
  secure: boolean;
  enrolments: Map<string, Enrolment>;
  /** The event streams' counts, and the bound on what is held unsent for one page (sse.ts). */
  streams: StreamStats;
  /** The session of a request, or a 401 sent (null). Read-only pages need nothing more. */
  viewer(req: FastifyRequest, reply: FastifyReply): Session | null;
  /** THE check before a privileged action (checkSession: audited): 401 without a live session, 403 for the role. */
  allowed(req: FastifyRequest, reply: FastifyReply, action: Action): Session | null;
  setCookie(reply: FastifyReply, name: string, value: string, maxAgeS?: number): void;
  newCsrf(reply: FastifyReply): string;
}

export interface RunningDashboard {
  url: string;
  app: FastifyInstance;
  /** The event streams' counts (open, bytes, the most held unsent for one page, ended as too slow). */
  streams: StreamStats;
  /** Adds a one-time enrolment link for a pending operator; returns the URL to open. */
  enrolLink(name: string, otpauth: string, ttlMs?: number): string;
  close(): Promise<void>;
}

const WEB_DIR = fileURLToPath(new URL('../../web/dashboard/', import.meta.url));
const ASSETS: Record<string, string> = { '/': 'index.html', '/app.js': 'app.js', '/app.css': 'app.css' };
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const m = new Map<string, { body: Buffer; type: string }>();
  for (const [route, file] of Object.entries(ASSETS)) {
    const f = WEB_DIR + file;
    if (!existsSync(f)) throw new SealmqError('internal', `the dashboard page is not built (${f} is missing)`, { hint: 'npm run build' });
    m.set(route, { body: readFileSync(f), type: TYPES[file.split('.').pop()!] });
  }
  return m;
}

export function parseListen(listen: string): { host: string; port: number; tls: boolean } {
  let u: URL;
  try { u = new URL(listen); } catch { throw new SealmqError('usage', `--listen: not a URL: ${JSON.stringify(listen)}`, { hint: 'e.g. http://127.0.0.1:8080' }); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SealmqError('usage', `--listen: http:// or https://, got ${u.protocol}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 8080 : Number(u.port), tls: u.protocol === 'https:' };
}

const sameToken = (a: string | undefined, b: string | undefined): boolean => {
  if (!a || !b || a.length !== b.length || a.length > 200) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
};

export async function startDashboard(o: DashboardOptions): Promise<RunningDashboard> {
  const assets = loadAssets();
  const where = parseListen(o.listen ?? 'http://127.0.0.1:8080');
  if (where.tls && !o.tls) throw new SealmqError('usage', 'an https:// --listen needs --tls-cert and --tls-key');
  const secure = !!o.tls;
  const app = Fastify({ bodyLimit: BODY_LIMIT, logger: false, ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key } } : {}) }) as unknown as FastifyInstance;
  await app.register(cookie);
  await app.register(rateLimit, { global: true, max: 1200, timeWindow: '1 minute' });

  const reg = o.registry;
  const setCookie = (reply: FastifyReply, name: string, value: string, maxAgeS?: number) =>
    void reply.setCookie(name, value, { path: '/', httpOnly: true, sameSite: 'strict', secure, ...(maxAgeS !== undefined ? { maxAge: maxAgeS } : {}) });
  const from = (req: FastifyRequest) => 'dashboard:' + req.ip;
  const ctx: DashboardContext = {
    reg, live: o.live, o, secure, enrolments: new Map(), setCookie, streams: newStreamStats(o.streamLimitBytes),
    newCsrf(reply) {
      const v = randomBytes(32).toString('base64url');
      setCookie(reply, CSRF_COOKIE, v);
      return v;
    },
    viewer(req, reply) {
      const s = sessionOf(reg, req.cookies[SESSION_COOKIE] ?? null);
      if (!s || s.expired || s.status !== 'active') {
        void reply.code(401).send({ error: 'not logged in (or the session ended)' });
        return null;
      }
      return s;
    },
    allowed(req, reply, action) {
      if (!ctx.viewer(req, reply)) return null;
      try {
        return checkSession(reg, req.cookies[SESSION_COOKIE] ?? null, action, from(req));
      } catch (e) {
        void reply.code(e instanceof SealmqError && e.kind === 'auth' ? 403 : 500).send({ error: (e as Error).message });
        return null;
      }
    },
  };

  app.addHook('onSend', async (req, reply, payload) => {
    // A report page sets its own (stricter: sandboxed, no script); everything else gets the page's.
    if (!reply.getHeader('content-security-policy')) reply.header('content-security-policy', CSP);
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    if (secure) reply.header('strict-transport-security', 'max-age=31536000');
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    return payload;
  });
  // CSRF: every request that may change something carries the token of its own cookie in a header (a page
  // elsewhere can neither read the cookie, HttpOnly, nor set the header on a cross-site request).
  app.addHook('preHandler', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    if (!sameToken(req.cookies[CSRF_COOKIE], req.headers[CSRF_HEADER] as string | undefined)) {
      return reply.code(403).send({ error: 'missing or wrong CSRF token' });
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof SealmqError) {
      const code = err.kind === 'auth' ? 401 : err.kind === 'input' || err.kind === 'usage' ? 400 : err.kind === 'device' ? 502 : 500;
      return reply.code(code).send({ error: err.message, ...(err.hint ? { hint: err.hint } : {}) });
    }
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(code).send({ error: code === 500 ? 'internal error' : err.message });
  });

  for (const route of Object.keys(ASSETS)) {
    app.get(route, async (_req, reply) => {
      const a = assets.get(route)!;
      return reply.type(a.type).header('cache-control', 'no-cache').send(a.body);
    });
  }
  registerAuthRoutes(app, ctx);
  registerDataRoutes(app, ctx);

  await app.listen({ host: where.host, port: where.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : where.port;
  const host = where.host.includes(':') ? `[${where.host}]` : where.host;
  const url = `${secure ? 'https' : 'http'}://${host}:${port}/`;
  return {
    url, app, streams: ctx.streams,
    enrolLink(name, otpauth, ttlMs = 3600_000) {
      const token = randomBytes(24).toString('base64url');
      ctx.enrolments.set(hashToken(token), { name, otpauth, shown: false, expiresAt: Date.now() + ttlMs });
      return `${url}#enrol=${token}`;
    },
    close: () => app.close(),
  };
}

