// DOM and API helpers. Everything from the server (device ids, readings, replies, audit details) is put
// in the page with textContent only: data, never markup.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error('no #' + id);
  return e as T;
};

/** A table row of text cells. */
export function row(cells: (string | number | null | undefined)[], cls?: string): HTMLTableRowElement {
  const tr = document.createElement('tr');
  if (cls) tr.className = cls;
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c === null || c === undefined ? '-' : String(c);
    tr.appendChild(td);
  }
  return tr;
}

export function replaceRows(tbody: HTMLElement, rows: HTMLTableRowElement[]): void {
  tbody.replaceChildren(...rows);
}

export function option(value: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = value;
  return o;
}

export const time = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString().slice(11, 23) : '-');
export const ago = (ms: number | null | undefined) => {
  if (!ms) return 'never';
  const s = Math.max(0, (Date.now() - ms) / 1000);
  return s < 60 ? `${s.toFixed(0)} s ago` : s < 3600 ? `${(s / 60).toFixed(0)} min ago` : new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
};

let csrf = '';
export const setCsrf = (v: string) => { csrf = v; };

export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

/** A JSON request to the dashboard's own API; state-changing ones carry the CSRF token. */
export async function api<T = any>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') {
    headers['x-csrf-token'] = csrf;
    headers['content-type'] = 'application/json';
  }
  const r = await fetch(path, { method, headers, credentials: 'same-origin', body: method === 'GET' ? undefined : JSON.stringify(body ?? {}) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, String(j.error ?? r.statusText));
  return j as T;
}

export function say(id: string, text: string, bad = false): void {
  const e = $(id);
  e.textContent = text;
  e.classList.toggle('bad', bad);
}
