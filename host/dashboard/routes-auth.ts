// The dashboard's login, logout, session and enrolment routes (docs/DASHBOARD.md). All of it is the
// operators library (host/operators/auth.ts): the same password + TOTP check, back-off and lockout as
// `sealmq login`, the same session table (only the token's hash is stored), the same audit entries.
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';
import { inputError } from '../errors.js';
import { confirmEnrolment, hashToken, login, logout, operatorActor, sessionOf, DEFAULT_TTL_MS } from '../operators/auth.js';
import { actionsOf } from '../operators/roles.js';
import { otpauthUri } from '../operators/totp.js';
import { wipe } from '../registry/crypto.js';
import { OPERATOR_SEED_LEN, ROLES, Role } from '../registry/registry.js';
import { CSRF_COOKIE, DashboardContext, SESSION_COOKIE } from './server.js';

const str = (max: number, pattern?: string) => ({ type: 'string', minLength: 1, maxLength: max, ...(pattern ? { pattern } : {}) });
const NAME = str(32, '^[a-z][a-z0-9._-]{0,31}$');
const CODE = str(10, '^[0-9]{6,8}$');
const body = (props: Record<string, unknown>, required = Object.keys(props)) =>
  ({ body: { type: 'object', additionalProperties: false, required, properties: props } });

/** The otpauth URI as a QR code image (data: URL, allowed by the page's CSP) and as text. */
export const qrOf = async (uri: string) => ({ otpauth: uri, qr: await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, scale: 5 }) });

export function registerAuthRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  const { reg } = ctx;
  const ttl = ctx.o.sessionTtlMs ?? DEFAULT_TTL_MS;

  // Who am I, and the CSRF token this page must send back (its cookie is HttpOnly: the page learns it here).
  app.get('/api/session', async (req, reply) => {
    const csrf = req.cookies[CSRF_COOKIE] ?? ctx.newCsrf(reply);
    const s = sessionOf(reg, req.cookies[SESSION_COOKIE] ?? null);
    const me = s && !s.expired && s.status === 'active'
      ? { name: s.operator, role: s.role, expiresAt: s.expiresAt, may: actionsOf(s.role), commands: !!ctx.o.commands }
      : null;
    return { csrf, me };
  });

  app.post('/api/login', {
    config: { rateLimit: { max: ctx.o.loginPerMinute ?? 20, timeWindow: '1 minute' } },
    schema: body({ name: NAME, password: str(1024), code: CODE }),
  }, async (req, reply) => {
    const b = req.body as { name: string; password: string; code: string };
    const r = await login(reg, { name: b.name, password: b.password, code: b.code, ttlMs: ttl, from: 'dashboard:' + req.ip });
    ctx.setCookie(reply, SESSION_COOKIE, r.token, Math.floor(ttl / 1000));
    const csrf = ctx.newCsrf(reply);
    return { csrf, me: { name: r.operator.name, role: r.operator.role, expiresAt: r.expiresAt, may: actionsOf(r.operator.role), commands: !!ctx.o.commands } };
  });

  app.post('/api/logout', async (req, reply) => {
    const token = req.cookies[SESSION_COOKIE];
    if (token) logout(reg, token);
    ctx.setCookie(reply, SESSION_COOKIE, '', 0);
    return { csrf: ctx.newCsrf(reply), me: null };
  });

  app.get('/api/operators', async (req, reply) => {
    if (!ctx.viewer(req, reply)) return reply;
    return reg.listOperators().map((u) => ({ name: u.name, role: u.role, status: u.status, totp: u.hasTotp, failures: u.failures }));
  });

  // An admin adds an operator: pending until a first code from its authenticator is confirmed; the QR code
  // (it carries the seed) is in this one answer only.
  app.post('/api/operators', { schema: body({ name: NAME, role: { type: 'string', enum: [...ROLES] }, password: str(1024) }) }, async (req, reply) => {
    const s = ctx.allowed(req, reply, 'users.manage');
    if (!s) return reply;
    const b = req.body as { name: string; role: Role; password: string };
    const seed = new Uint8Array(randomBytes(OPERATOR_SEED_LEN));
    try {
      const op = await reg.addOperator({ name: b.name, role: b.role, password: b.password, actor: s.actor, otpSeed: seed, detail: { from: 'dashboard:' + req.ip } });
      return { name: op.name, role: op.role, status: op.status, ...(await qrOf(otpauthUri(op.name, seed))) };
    } finally {
      wipe(seed);
    }
  });

  app.post('/api/operators/confirm', { schema: body({ name: NAME, code: CODE }) }, async (req, reply) => {
    if (!ctx.allowed(req, reply, 'users.manage')) return reply;
    const b = req.body as { name: string; code: string };
    const op = confirmEnrolment(reg, b.name, b.code, operatorActor(b.name));
    return { name: op.name, role: op.role, status: op.status };
  });

  // A one-time enrolment link (sealmq demo --dashboard): the QR code is shown once; the first code activates.
  const enrolment = (token: string) => {
    const e = ctx.enrolments.get(hashToken(token));
    if (!e || e.expiresAt < Date.now()) throw inputError('this enrolment link is not valid (used, expired, or from another run)');
    return e;
  };
  app.post('/api/enrol/show', { schema: body({ token: str(100) }) }, async (req) => {
    const e = enrolment((req.body as { token: string }).token);
    if (e.shown) throw inputError('this enrolment was already shown once; ask for a new one');
    e.shown = true;
    const uri = e.otpauth;
    e.otpauth = '';
    return { name: e.name, ...(await qrOf(uri)) };
  });
  app.post('/api/enrol/confirm', { schema: body({ token: str(100), code: CODE }) }, async (req) => {
    const b = req.body as { token: string; code: string };
    const e = enrolment(b.token);
    const op = confirmEnrolment(reg, e.name, b.code, operatorActor(e.name));
    ctx.enrolments.delete(hashToken(b.token));
    return { name: op.name, role: op.role, status: op.status };
  });
}
