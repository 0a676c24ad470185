// A training curve as a small standalone SVG: error (%) per epoch, one or more series.

const W = 640;
const H = 360;
const M = { left: 64, right: 24, top: 44, bottom: 52 };
const COLORS = ['#1f6feb', '#d1242f', '#1a7f37', '#8250df'];

const esc = (s: string): string => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A "nice" step for about `n` ticks over `span`. */
function niceStep(span: number, n: number): number {
  const raw = span / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

/** A chart: series of errors in percent, one value per epoch (epoch 1 first). */
export interface CurveChart {
  title: string;
  series: { name: string; values: number[] }[];
}

/** The chart as an SVG document. */
export function errorCurveSvg({ title, series }: CurveChart): string {
  const epochs = Math.max(...series.map((s) => s.values.length));
  const all = series.flatMap((s) => s.values);
  const top = Math.max(...all);
  const step = niceStep(top || 1, 5);
  const yMax = Math.ceil(top / step) * step || step;
  const x = (e: number): number => M.left + (epochs === 1 ? 0.5 : (e - 1) / (epochs - 1)) * (W - M.left - M.right);
  const y = (v: number): number => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${+v.toFixed(3)}%</text>`);
  }
  const every = Math.ceil(epochs / 10);
  for (let e = 1; e <= epochs; e++) {
    if ((e - 1) % every === 0 || e === epochs) out.push(`<text x="${x(e)}" y="${H - M.bottom + 18}" text-anchor="middle">${e}</text>`);
  }
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">epoch (pass)</text>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.values.map((v, e) => `${x(e + 1).toFixed(1)},${y(v).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    s.values.forEach((v, e) => out.push(`<circle cx="${x(e + 1).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"><title>${esc(s.name)}, epoch ${e + 1}: ${v.toFixed(2)}%</title></circle>`));
    const last = s.values.length;
    out.push(`<text x="${W - M.right}" y="${M.top + 16 * i}" text-anchor="end" fill="${color}">${esc(s.name)}: ${s.values[last - 1]!.toFixed(2)}% after ${last}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
