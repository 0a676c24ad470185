// Small DOM/SVG/canvas views for the demo: bars, feature maps, a confusion matrix and a curve.
// Display only: every number they show comes from the library.

const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** Horizontal bars, one per class, the largest marked. */
export function bars(container: HTMLElement, labels: readonly string[], values: ArrayLike<number>): void {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  container.replaceChildren(
    ...Array.from(labels, (label, i) => {
      const v = values[i]!;
      const fill = el('div', { className: 'fill' });
      fill.style.width = `${(100 * v).toFixed(2)}%`;
      return el('div', { className: i === best ? 'bar best' : 'bar' }, el('span', { className: 'label' }, label), el('div', { className: 'track' }, fill), el('span', { className: 'value' }, `${(100 * v).toFixed(1)}%`));
    }),
  );
}

/** A gray image from `values` (row-major, `stride` apart from `offset`), mapped from [lo, hi] to black…white. */
export function grayCanvas(values: ArrayLike<number>, width: number, height: number, lo: number, hi: number, offset = 0, stride = 1): HTMLCanvasElement {
  const canvas = el('canvas', { width, height });
  paintGray(canvas, values, lo, hi, offset, stride);
  return canvas;
}

export function paintGray(canvas: HTMLCanvasElement, values: ArrayLike<number>, lo: number, hi: number, offset = 0, stride = 1): void {
  const { width, height } = canvas;
  const ctx = canvas.getContext('2d')!;
  const image = ctx.createImageData(width, height);
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < width * height; i++) {
    const g = Math.max(0, Math.min(255, Math.round((255 * (values[offset + i * stride]! - lo)) / span)));
    image.data.set([g, g, g, 255], i * 4);
  }
  ctx.putImageData(image, 0, 0);
}

/** Every channel of one NHWC feature map as its own small image, on a shared gray scale. */
export function featureMaps(container: HTMLElement, values: Float32Array, [h, w, c]: readonly [number, number, number]): void {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  container.replaceChildren(...Array.from({ length: c }, (_, k) => grayCanvas(values, w, h, lo, hi, k, c)));
}

/** `matrix[actual][predicted]` as a table shaded by each row's share. */
export function confusionTable(table: HTMLTableElement, matrix: number[][], names: readonly string[]): void {
  const head = el('tr', {}, el('th', { className: 'corner' }, 'actual ↓ predicted →'), ...names.map((n, j) => el('th', { title: n }, String(j))));
  const rows = matrix.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    return el('tr', {}, el('th', {}, `${i} ${names[i]}`), ...row.map((count, j) => {
      const td = el('td', { className: i === j ? 'diag' : '' }, count ? String(count) : '');
      td.style.setProperty('--share', (count / total).toFixed(3));
      return td;
    }));
  });
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...rows));
}

export interface Series {
  name: string;
  className: string;
  points: { x: number; y: number }[];
  /** The y range this series is drawn on. */
  range: [number, number];
  /** Draw dots instead of a line. */
  dots?: boolean;
}

/** A line chart of several series over a shared x axis, in an SVG with a 600×260 viewBox. */
export function curve(svg: SVGSVGElement, series: Series[], xLabel: string): void {
  const W = 600, H = 260, left = 34, right = 34, top = 22, bottom = 34;
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const xMax = Math.max(1, ...xs);
  const X = (x: number) => left + ((W - left - right) * x) / xMax;
  const node = (tag: string, attrs: Record<string, string | number>, text?: string) => {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = text;
    return n;
  };
  const parts: Element[] = [
    node('rect', { x: left, y: top, width: W - left - right, height: H - top - bottom, class: 'frame' }),
    node('text', { x: W / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, xLabel),
    node('text', { x: left, y: H - bottom + 14, 'text-anchor': 'middle', class: 'axis' }, '0'),
    node('text', { x: W - right, y: H - bottom + 14, 'text-anchor': 'middle', class: 'axis' }, String(xMax)),
  ];
  // A legend along the top; the first series' range on the left axis, the second's on the right.
  let legendX = left;
  series.forEach((s, k) => {
    const [lo, hi] = s.range;
    const Y = (y: number) => H - bottom - ((H - top - bottom) * (Math.min(hi, Math.max(lo, y)) - lo)) / (hi - lo);
    const label = `${s.dots ? '●' : '—'} ${s.name}${k < 2 ? ` (${k === 0 ? 'left' : 'right'} axis)` : ''}`;
    parts.push(node('text', { x: legendX, y: 12, class: `axis ${s.className}` }, label));
    legendX += 7 * label.length + 18;
    if (k < 2) {
      const x = k === 0 ? left - 4 : W - right + 4;
      const anchor = k === 0 ? 'end' : 'start';
      parts.push(node('text', { x, y: top + 8, 'text-anchor': anchor, class: `axis ${s.className}` }, String(hi)));
      parts.push(node('text', { x, y: H - bottom, 'text-anchor': anchor, class: `axis ${s.className}` }, String(lo)));
    }
    if (s.dots) {
      for (const p of s.points) parts.push(node('circle', { cx: X(p.x).toFixed(1), cy: Y(p.y).toFixed(1), r: 4, class: s.className }));
    } else if (s.points.length > 0) {
      parts.push(node('polyline', { points: s.points.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' '), class: s.className }));
    }
  });
  svg.replaceChildren(...parts);
}
