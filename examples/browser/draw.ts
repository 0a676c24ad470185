// The drawing pad: pointer events (mouse, pen and touch), and MNIST's own preparation of a digit:
// its bounding box scaled to fit 20×20 pixels, keeping the aspect ratio, then placed in a 28×28
// image so that its centre of mass is at the centre.

export interface Pad {
  clear(): void;
  /** The digit as 28×28 gray bytes (white ink on black, like MNIST); null when nothing is drawn. */
  image(): Uint8Array | null;
}

export function drawingPad(canvas: HTMLCanvasElement, onChange: () => void): Pad {
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  ctx.strokeStyle = '#fff';
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.lineWidth = canvas.width / 13;

  let last: { x: number; y: number } | undefined;
  const at = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * canvas.width) / r.width, y: ((e.clientY - r.top) * canvas.height) / r.height };
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    ctx.beginPath();
    ctx.arc(last.x, last.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fillStyle = '#fff';
    ctx.fill();
    onChange();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (last === undefined) return;
    const p = at(e);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
    onChange();
  });
  const end = () => {
    last = undefined;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  const scratch = document.createElement('canvas');
  scratch.width = scratch.height = 28;
  const small = scratch.getContext('2d', { willReadFrequently: true })!;

  return {
    clear: () => {
      clear();
      onChange();
    },
    image: () => {
      const { width: w, height: h } = canvas;
      const pixels = ctx.getImageData(0, 0, w, h).data;
      let x0 = w, y0 = h, x1 = -1, y1 = -1;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (pixels[(y * w + x) * 4]! > 32) {
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
          }
        }
      }
      if (x1 < 0) return null;
      const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
      const scale = 20 / Math.max(bw, bh);
      const draw = (dx: number, dy: number) => {
        small.fillStyle = '#000';
        small.fillRect(0, 0, 28, 28);
        small.imageSmoothingEnabled = true;
        small.imageSmoothingQuality = 'high';
        small.drawImage(canvas, x0, y0, bw, bh, (28 - bw * scale) / 2 + dx, (28 - bh * scale) / 2 + dy, bw * scale, bh * scale);
        const rgba = small.getImageData(0, 0, 28, 28).data;
        return Uint8Array.from({ length: 784 }, (_, i) => rgba[i * 4]!);
      };
      const boxed = draw(0, 0);
      let mass = 0, mx = 0, my = 0;
      boxed.forEach((v, i) => {
        mass += v;
        mx += v * (i % 28);
        my += v * Math.floor(i / 28);
      });
      return draw(Math.round(13.5 - mx / mass), Math.round(13.5 - my / mass));
    },
  };
}
