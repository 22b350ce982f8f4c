// The dashboard page (docs/DASHBOARD.md). No framework: a few panels filled from the JSON API and one
// server-sent event stream. Updates are batched twice: the server sends one event per flush, and the page
// redraws at most once per animation frame (and the charts every 250 ms), however many readings arrived.
import { $, ago, api, ApiError, option, replaceRows, row, say, setCsrf, time } from './dom.js';
import { clearCharts, drawCharts } from './charts.js';
import './style.css';

interface Me { name: string; role: string; may: string[]; commands: boolean; expiresAt: number }
interface Reading { d: string; c: number; e: number; at: number; t: number | null; lat: number | null; m: unknown }
interface Rejection { d: string | null; reason: string; c: number | null; e: number | null; at: number }
interface Batch { readings: Reading[]; rejections: Rejection[]; at: number }

const KEEP = 600;
const byDevice = new Map<string, Reading[]>();
const rejections: Rejection[] = [];
let me: Me | null = null;
let events: EventSource | null = null;
let dirty = false;
let chartsDue = 0;
/** What reached the page (`sealmq bench dashboard` and the speed test read it). opened/ended: event streams. */
const stats = { readings: 0, batches: 0, rejections: 0, maxAgeMs: 0, lastAgeMs: 0, renders: 0, opened: 0, ended: 0, endReasons: [] as string[] };
/**
 * The last LAG_KEEP readings' lags (ms): server → page (the hub's receive time to this page's), reading →
 * page (the reading's own t to this page's); and per render, the oldest unshown data's wait for it.
 */
const LAG_KEEP = 1 << 17;
const lags = { server: new Float64Array(LAG_KEEP), sent: new Float64Array(LAG_KEEP), render: new Float64Array(1 << 14), n: 0, renders: 0 };
let dirtySince = 0;
const ring = (a: Float64Array, n: number) => Array.from(n <= a.length ? a.subarray(0, n) : a);
Object.assign(window as unknown as Record<string, unknown>, {
  __sealmq: stats,
  __sealmqLags: () => ({ server: ring(lags.server, lags.n), sent: ring(lags.sent, lags.n), render: ring(lags.render, lags.renders) }),
});

function show(tab: string): void {
  for (const s of document.querySelectorAll<HTMLElement>('section.panel')) s.hidden = s.id !== tab;
  for (const b of document.querySelectorAll<HTMLElement>('button.tab')) b.classList.toggle('active', b.dataset.tab === tab);
  if (tab === 'fleet') void loadFleet();
  if (tab === 'audit') void loadAudit();
  if (tab === 'reports') void loadReports();
  if (tab === 'operators') void loadOperators();
  if (tab === 'live') dirty = true;
}

function signedIn(m: Me | null): void {
  me = m;
  const inside = !!m;
  $('login').hidden = inside || !$('enrol').hidden;
  $('nav').hidden = !inside;
  $('logout').hidden = !inside;
  $('who').textContent = m ? `${m.name} (${m.role})` : '';
  // Only hides: the server refuses what the role may not do.
  const admin = !!m && m.may.includes('send');
  for (const e of document.querySelectorAll<HTMLElement>('.admin-only')) e.hidden = !admin;
  if (!inside) {
    for (const s of document.querySelectorAll<HTMLElement>('section.panel')) s.hidden = true;
    events?.close();
    events = null;
    return;
  }
  show('fleet');
  connect();
}

function connect(): void {
  events?.close();
  byDevice.clear();
  rejections.length = 0;
  events = new EventSource('/api/events');
  const take = (b: Batch, fresh: boolean) => {
    const now = Date.now();
    for (const r of b.readings) {
      let h = byDevice.get(r.d);
      if (!h) byDevice.set(r.d, (h = []));
      h.push(r);
      if (h.length > KEEP * 1.25) h.splice(0, h.length - KEEP);
      stats.lastAgeMs = now - r.at;
      if (stats.lastAgeMs > stats.maxAgeMs) stats.maxAgeMs = stats.lastAgeMs;
      if (!fresh) continue;
      const k = lags.n++ % LAG_KEEP;
      lags.server[k] = now - r.at;
      lags.sent[k] = r.t === null ? NaN : now - r.t * 1000;
    }
    if (!dirtySince) dirtySince = now;
    for (const j of b.rejections) rejections.push(j);
    if (rejections.length > 500) rejections.splice(0, rejections.length - 500);
    stats.rejections += b.rejections.length;
    dirty = true;
  };
  events.addEventListener('open', () => { stats.opened++; });
  events.addEventListener('snapshot', (e) => take(JSON.parse((e as MessageEvent).data), false));
  events.addEventListener('batch', (e) => {
    const b = JSON.parse((e as MessageEvent).data) as Batch;
    stats.batches++;
    stats.readings += b.readings.length;
    take(b, true);
  });
  // The server ended the stream (the session ended, or this page fell too far behind): start again.
  events.addEventListener('end', (e) => {
    stats.ended++;
    stats.endReasons.push(String(JSON.parse((e as MessageEvent).data).reason));
    events?.close();
    events = null;
    void refreshSession();
  });
}

function devices(): string[] {
  return [...byDevice.keys()].sort();
}

function syncSelect(sel: HTMLSelectElement, ids: string[]): void {
  const have = [...sel.options].map((o) => o.value);
  if (have.length === ids.length && have.every((v, i) => v === ids[i])) return;
  const keep = sel.value;
  sel.replaceChildren(...ids.map(option));
  if (ids.includes(keep)) sel.value = keep;
}

function render(): void {
  requestAnimationFrame(render);
  if (!dirty || !me || $('live').hidden) return;
  dirty = false;
  stats.renders++;
  if (dirtySince) lags.render[lags.renders++ % lags.render.length] = Date.now() - dirtySince;
  dirtySince = 0;
  const sel = $<HTMLSelectElement>('live-device');
  syncSelect(sel, devices());
  const id = sel.value;
  $('live-device-name').textContent = id || '-';
  const h = byDevice.get(id) ?? [];
  replaceRows($('readings-table').querySelector('tbody')!, h.slice(-20).reverse().map((r) =>
    row([time(r.at), r.c, r.e, r.lat === null ? null : r.lat.toFixed(1) + ' ms', JSON.stringify(r.m)])));
  replaceRows($('rejections-table').querySelector('tbody')!, rejections.slice(-100).reverse().map((j) =>
    row([time(j.at), j.d ?? '(invalid topic)', j.reason, j.c, j.e], 'reject reason-' + j.reason.replace(/[^a-z-]/g, ''))));
  $('rejection-count').textContent = `(${rejections.length})`;
  $('live-stats').textContent = `${stats.readings} readings in ${stats.batches} batches; newest ${stats.lastAgeMs} ms old on arrival`;
  if (Date.now() >= chartsDue && id) {
    chartsDue = Date.now() + 250;
    drawCharts($('charts'), id, h, Number($<HTMLSelectElement>('live-window').value));
  } else dirty = true;
}

interface Posture { at: number; actor: string; warnings: string[]; consoleLocked: boolean | null; clockOffsetS: number | null }

/** The last doctor's posture of a device, as one line of text (the whole warning list included). */
function posture(p: Posture | null): string {
  if (!p) return 'not recorded';
  const lock = p.consoleLocked === null ? '' : p.consoleLocked ? 'console locked; ' : 'console OPEN; ';
  const clock = p.clockOffsetS === null ? '' : `clock ${p.clockOffsetS >= 0 ? '+' : ''}${p.clockOffsetS.toFixed(1)} s; `;
  const w = p.warnings.length ? `${p.warnings.length} warning${p.warnings.length > 1 ? 's' : ''}: ${p.warnings.join('; ')}` : 'no warnings';
  return `doctor ${new Date(p.at).toISOString().slice(0, 19).replace('T', ' ')} UTC (${ago(p.at)}): ${lock}${clock}${w}`;
}

async function loadFleet(): Promise<void> {
  const f = await guarded(() => api('GET', '/api/devices'));
  if (!f) return;
  const rows = f.devices.map((d: any) => row([d.id, d.status, d.epoch, ago(d.lastSeen), d.lastCounter, d.perMinute, d.rejections,
    d.firmware === null ? null : String(d.firmware), d.crypto === null ? null : String(d.crypto), posture(d.posture)],
    d.status === 'revoked' ? 'revoked' : d.lastSeen && Date.now() - d.lastSeen < 30_000 ? 'alive' : 'quiet'));
  replaceRows($('fleet-table').querySelector('tbody')!, rows);
  $('fleet-summary').textContent = `${f.devices.length} devices, ${f.devices.filter((d: any) => d.lastSeen && Date.now() - d.lastSeen < 30_000).length} heard in the last 30 s`;
  syncSelect($<HTMLSelectElement>('command-device'), f.devices.filter((d: any) => d.status === 'active').map((d: any) => d.id));
}

async function loadAudit(): Promise<void> {
  const q = new URLSearchParams();
  const op = $<HTMLInputElement>('audit-operator').value.trim();
  const dev = $<HTMLInputElement>('audit-device').value.trim();
  if (op) q.set('operator', op);
  if (dev) q.set('device', dev);
  const a = await guarded(() => api('GET', '/api/audit?' + q.toString()), 'audit-status');
  if (!a) return;
  replaceRows($('audit-table').querySelector('tbody')!, a.entries.map((e: any) =>
    row([e.seq, new Date(e.at).toISOString().replace('T', ' ').slice(0, 19), e.actor, e.action, e.device, e.signed ? 'yes' : 'pending', JSON.stringify(e.detail)])));
}

async function verifyAudit(): Promise<void> {
  say('audit-status', 'verifying the chain and its signatures …');
  const v = await guarded(() => api('GET', '/api/audit/verify'), 'audit-status');
  if (!v) return;
  if (v.ok) say('audit-status', `audit log intact: ${v.entries} entries, ${v.signed} signed${v.pending ? `, ${v.pending} not signed yet` : ''}; head ${v.head ? v.head.seq + ' ' + String(v.head.hash).slice(0, 16) + '…' : '-'}`);
  else say('audit-status', `audit log verification FAILED: ${v.problem}`, true);
}

async function loadReports(): Promise<void> {
  const r = await guarded(() => api('GET', '/api/reports'));
  if (!r) return;
  $('reports-dir').textContent = r.dir ? `(${r.dir})` : '(no --reports folder given)';
  $('reports-list').replaceChildren(...r.reports.map((p: any) => {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = '/reports/' + p.path.split('/').map(encodeURIComponent).join('/');
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = p.path;
    li.append(a, ` — ${(p.bytes / 1024).toFixed(0)} KB, ${new Date(p.modified).toISOString().slice(0, 16).replace('T', ' ')}`);
    return li;
  }));
}

async function loadOperators(): Promise<void> {
  const list = await guarded(() => api('GET', '/api/operators'));
  if (!list) return;
  replaceRows($('operators-table').querySelector('tbody')!, list.map((u: any) => row([u.name, u.role, u.status, u.totp ? 'yes' : 'no', u.failures])));
}

/** Runs a request; a 401 means the session is gone (back to the login), other errors are shown. */
async function guarded<T>(f: () => Promise<T>, messageId?: string): Promise<T | null> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && me) { await refreshSession(); return null; }
    if (messageId) say(messageId, (e as Error).message, true);
    return null;
  }
}

async function refreshSession(): Promise<void> {
  const s = await api('GET', '/api/session');
  setCsrf(s.csrf);
  signedIn(s.me);
}

function form(id: string, f: () => Promise<void>): void {
  $(id).addEventListener('submit', (e) => { e.preventDefault(); void f(); });
}

function wire(): void {
  for (const b of document.querySelectorAll<HTMLElement>('button.tab')) b.addEventListener('click', () => show(b.dataset.tab!));
  $('live-device').addEventListener('change', () => { clearCharts($('charts')); dirty = true; });
  $('live-window').addEventListener('change', () => { dirty = true; chartsDue = 0; });
  form('login-form', async () => {
    say('login-message', 'checking …');
    try {
      const r = await api('POST', '/api/login', { name: $<HTMLInputElement>('login-name').value.trim(), password: $<HTMLInputElement>('login-password').value, code: $<HTMLInputElement>('login-code').value.trim() });
      setCsrf(r.csrf);
      $<HTMLInputElement>('login-password').value = '';
      $<HTMLInputElement>('login-code').value = '';
      say('login-message', '');
      signedIn(r.me);
    } catch (e) {
      say('login-message', (e as Error).message, true);
    }
  });
  $('logout').addEventListener('click', async () => {
    const r = await api('POST', '/api/logout').catch(() => null);
    if (r) setCsrf(r.csrf);
    signedIn(null);
  });
  form('command-form', async () => {
    const command = $<HTMLSelectElement>('command-name').value;
    const device = $<HTMLSelectElement>('command-device').value;
    say('command-message', `sealing ${command} for ${device} …`);
    $('command-reply').textContent = '';
    const body: Record<string, unknown> = { device, command };
    if (command === 'interval') body.seconds = Number($<HTMLInputElement>('command-seconds').value);
    const r = await guarded(() => api('POST', '/api/command', body), 'command-message');
    if (!r) return;
    const how = r.command === 'rotate' ? ` (key epoch ${r.reply.from} → ${r.reply.to}, confirmed by the board's reply under the new one)`
      : r.replyEpoch !== undefined ? ` (epoch ${r.replyEpoch}, command counter ${r.counter})` : '';
    say('command-message', `sealed reply from ${r.device} to ${r.command} in ${Number(r.roundTripMs).toFixed(1)} ms${how}`);
    void loadFleet();
    $('command-reply').textContent = JSON.stringify(r.reply, null, 2);
  });
  form('audit-form', loadAudit);
  $('audit-verify').addEventListener('click', () => void verifyAudit());
  form('operator-form', async () => {
    const r = await guarded(() => api('POST', '/api/operators', { name: $<HTMLInputElement>('operator-name').value.trim(), role: $<HTMLSelectElement>('operator-role').value, password: $<HTMLInputElement>('operator-password').value }), 'operator-message');
    if (!r) return;
    $<HTMLInputElement>('operator-password').value = '';
    $<HTMLImageElement>('operator-qr').src = r.qr;
    $('operator-uri').textContent = r.otpauth;
    $('operator-enrol').hidden = false;
    say('operator-message', `${r.name} (${r.role}) is pending until a first code is confirmed`);
    void loadOperators();
  });
  form('operator-confirm', async () => {
    const r = await guarded(() => api('POST', '/api/operators/confirm', { name: $<HTMLInputElement>('operator-name').value.trim(), code: $<HTMLInputElement>('operator-code').value.trim() }), 'operator-message');
    if (!r) return;
    $('operator-enrol').hidden = true;
    $<HTMLImageElement>('operator-qr').removeAttribute('src');
    $('operator-uri').textContent = '';
    say('operator-message', `${r.name} (${r.role}) is ${r.status}`);
    void loadOperators();
  });
  setInterval(() => { if (me && !$('fleet').hidden) void loadFleet(); }, 2000);
}

/** #enrol=TOKEN (sealmq demo --dashboard): the one-time enrolment of a pending operator. */
async function enrolFromLink(): Promise<void> {
  const m = /^#enrol=([A-Za-z0-9_-]{1,100})$/.exec(location.hash);
  if (!m) return;
  const token = m[1];
  history.replaceState(null, '', location.pathname);
  $('enrol').hidden = false;
  $('login').hidden = true;
  try {
    const e = await api('POST', '/api/enrol/show', { token });
    $('enrol-name').textContent = e.name;
    $<HTMLImageElement>('enrol-qr').src = e.qr;
    $('enrol-uri').textContent = e.otpauth;
  } catch (err) {
    say('enrol-message', (err as Error).message, true);
  }
  form('enrol-form', async () => {
    try {
      const r = await api('POST', '/api/enrol/confirm', { token, code: $<HTMLInputElement>('enrol-code').value.trim() });
      $('enrol').hidden = true;
      $('login').hidden = false;
      $<HTMLInputElement>('login-name').value = r.name;
      say('login-message', `${r.name} is active: log in with its password and the NEXT code (each code is accepted once)`);
    } catch (err) {
      say('enrol-message', (err as Error).message, true);
    }
  });
}

wire();
requestAnimationFrame(render);
void refreshSession().then(enrolFromLink);
