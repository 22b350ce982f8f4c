// One uPlot chart per numeric field of the chosen device, over the history window. uPlot: a small,
// fast canvas time-series library, bundled in (docs/ARCHITECTURE.md); it builds its own DOM, and the
// field names reach it as series labels (text).
import uPlot from 'uplot';

export interface Point { at: number; m: unknown }

const charts = new Map<string, uPlot>();
const COLORS = ['#2a7ab0', '#c0392b', '#27ae60', '#8e44ad', '#d35400', '#16a085'];

/** The numeric fields of a reading (top level of d), in their order. */
export function numericFields(m: unknown): string[] {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return [];
  return Object.keys(m).filter((k) => typeof (m as Record<string, unknown>)[k] === 'number' && Number.isFinite((m as Record<string, number>)[k]));
}

export function drawCharts(box: HTMLElement, device: string, points: Point[], windowS: number): void {
  const since = windowS > 0 ? Date.now() - windowS * 1000 : 0;
  const shown = points.filter((p) => p.at >= since);
  const fields: string[] = [];
  for (const p of shown) for (const f of numericFields(p.m)) if (!fields.includes(f)) fields.push(f);
  const key = (f: string) => device + '\u0000' + f;
  for (const [k, c] of charts) {
    if (!k.startsWith(device + '\u0000') || !fields.includes(k.slice(device.length + 1))) {
      c.destroy();
      charts.delete(k);
    }
  }
  const width = Math.max(300, Math.min(box.clientWidth || 600, 1400) / Math.min(2, Math.max(1, fields.length)) - 16);
  fields.forEach((f, i) => {
    const xs = shown.map((p) => p.at / 1000);
    const ys = shown.map((p) => {
      const v = (p.m as Record<string, unknown>)[f];
      return typeof v === 'number' ? v : null;
    });
    const data: uPlot.AlignedData = [xs, ys];
    let c = charts.get(key(f));
    if (!c) {
      const holder = document.createElement('div');
      holder.className = 'chart';
      holder.dataset.field = f;
      box.appendChild(holder);
      c = new uPlot({
        width, height: 220, title: `${device} · ${f}`,
        series: [{}, { label: f, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: { show: false } }],
        axes: [{}, { size: 60 }],
        scales: { x: { time: true } },
      }, data, holder);
      charts.set(key(f), c);
    } else {
      c.setData(data);
    }
  });
}

export function clearCharts(box: HTMLElement): void {
  for (const c of charts.values()) c.destroy();
  charts.clear();
  box.replaceChildren();
}
