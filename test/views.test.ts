// Test-time augmentation (`views` on predict, evaluate and their async forms) on real
// Fashion-MNIST images: the averaged probabilities are the float32 mean, in the order given, of
// predict on each view made here independently of the wasm; the same bits on 2 workers and
// for any batch size; evaluation on them; bad views refused with the argument named.
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

let fashion: cw.Dataset;
beforeAll(async () => {
  await cw.init();
  fashion = await cw.datasets.fashionMnist();
});

const hex = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** The view of 28×28×1 images `x`: flipped, then moved, zeros outside (the definition, pixel by pixel). */
function view(x: Float32Array, { dx = 0, dy = 0, flip }: cw.View): Float32Array {
  const side = 28;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length / (side * side); i++) {
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        let [sr, sc] = [r - dy, c - dx];
        if (sr < 0 || sr >= side || sc < 0 || sc >= side) continue;
        if (flip === 'horizontal' || flip === 'horizontal_and_vertical') sc = side - 1 - sc;
        if (flip === 'vertical' || flip === 'horizontal_and_vertical') sr = side - 1 - sr;
        out[i * side * side + r * side + c] = x[i * side * side + sr * side + sc]!;
      }
    }
  }
  return out;
}

describe('test-time views', () => {
  it('testTimeViews: the image, moved each way, and mirrored', () => {
    expect(cw.testTimeViews()).toEqual([
      { dx: 0, dy: 0 }, { dx: 1, dy: 0 }, { dx: -1, dy: 0 }, { dx: 0, dy: 1 }, { dx: 0, dy: -1 },
      { dx: 0, dy: 0, flip: 'horizontal' }, { dx: 1, dy: 0, flip: 'horizontal' }, { dx: -1, dy: 0, flip: 'horizontal' },
      { dx: 0, dy: 1, flip: 'horizontal' }, { dx: 0, dy: -1, flip: 'horizontal' },
    ]);
    expect(cw.testTimeViews({ shift: 2, flip: 'none' })).toHaveLength(5);
    expect(cw.testTimeViews({ shift: 2, flip: 'none' })[1]).toEqual({ dx: 2, dy: 0 });
    expect(() => cw.testTimeViews({ shift: 0 })).toThrow(/shift must be an integer ≥ 1, got 0/);
    expect(() => cw.testTimeViews({ flip: 'diagonal' as cw.ViewFlip })).toThrow(/flip must be/);
  });

  it('predict with views is the mean of predict on each view, the same bits on workers and for any batch size', async () => {
    const model = cw.models.fashionConvNetBN().compile({ optimizer: 'adam', seed: 3 });
    await model.fit(fashion.train.images.subarray(0, 128 * 784), fashion.train.labels.subarray(0, 128), { epochs: 1, batchSize: 32, workers: 1 });
    const n = 37;
    const x = Float32Array.from(fashion.test.images.subarray(0, n * 784), (p) => p / 255);
    const views: cw.View[] = [{}, { dx: 1 }, { dy: -2, flip: 'horizontal' }, { dx: -1, dy: 1, flip: 'horizontal_and_vertical' }, { flip: 'vertical' }];
    const sum = new Float32Array(n * 10);
    views.forEach((v, k) => {
      const p = model.predict(view(x, v));
      if (k === 0) sum.set(p);
      else for (let i = 0; i < sum.length; i++) sum[i] = Math.fround(sum[i]! + p[i]!);
    });
    const want = sum.map((s) => Math.fround(s / views.length));
    const got = model.predict(x, { views });
    expect(hex(got)).toBe(hex(want));
    expect(hex(got)).not.toBe(hex(model.predict(x)));
    expect(hex(model.predict(x, { views: [{}] }))).toBe(hex(model.predict(x)));
    expect(hex(model.predict(x, { views, batchSize: 5 }))).toBe(hex(got));
    expect(hex(await model.predictAsync(x, { views, workers: 2, batchSize: 8 }))).toBe(hex(got));
    // 8-bit pixels go through the model's preprocessing first; the moves fill its input with zeros.
    const pixels = fashion.test.images.subarray(0, n * 784);
    expect(hex(model.predict(pixels, { views: cw.testTimeViews() }))).toBe(hex(await model.predictAsync(pixels, { views: cw.testTimeViews(), workers: 2 })));
    model.dispose();
  }, 60_000);

  it('evaluate with views scores the averaged probabilities', async () => {
    const model = cw.models.fashionConvNetBN().compile({ optimizer: 'adam', seed: 4 });
    await model.fit(fashion.train.images.subarray(0, 256 * 784), fashion.train.labels.subarray(0, 256), { epochs: 1, batchSize: 32, workers: 1 });
    const n = 300;
    const x = fashion.test.images.subarray(0, n * 784);
    const y = fashion.test.labels.subarray(0, n);
    const views = cw.testTimeViews();
    const probs = model.predict(x, { views });
    const e = model.evaluate(x, y, { views, batchSize: 128 });
    let [correct, loss] = [0, 0];
    const confusion = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    for (let i = 0; i < n; i++) {
      const row = Array.from(probs.subarray(i * 10, i * 10 + 10));
      const best = row.indexOf(Math.max(...row));
      confusion[y[i]!]![best]! += 1;
      correct += best === y[i] ? 1 : 0;
      loss -= Math.log(Math.min(Math.max(row[y[i]!]!, 1e-7), 1 - 1e-7));
    }
    expect(e.accuracy).toBe(correct / n);
    expect(e.confusionMatrix).toEqual(confusion);
    expect(e.loss).toBeCloseTo(loss / n, 5);
    expect(await model.evaluateAsync(x, y, { views, batchSize: 128, workers: 2 })).toEqual(e);
    model.dispose();
  }, 60_000);

  it('bad views are refused, naming the call, the view and the sizes', () => {
    const model = cw.models.fashionConvNetBN().compile({ optimizer: 'adam', seed: 1 });
    const x = fashion.test.images.subarray(0, 2 * 784);
    const bad = (views: unknown) => () => model.predict(x, { views: views as cw.View[] });
    expect(bad([])).toThrow(cw.InvalidArgumentError);
    expect(bad([])).toThrow(/predict\(\): views must be a non-empty array/);
    expect(bad([{}, { dx: 28 }])).toThrow(/views\[1\]\.dx must be an integer with \|dx\| < 28 \(the input's width\), got 28/);
    expect(bad([{ dy: 0.5 }])).toThrow(/views\[0\]\.dy must be an integer/);
    expect(bad([{ flip: 'diagonal' }])).toThrow(/views\[0\]\.flip must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got "diagonal"/);
    expect(bad([{ flip: 'toString' }])).toThrow(/views\[0\]\.flip must be/);
    expect(bad([{ shift: 1 }])).toThrow(/views\[0\] has unknown keys shift/);
    expect(bad([null])).toThrow(/views\[0\] must be an object/);
    expect(bad(new Array(cw.MAX_VIEWS + 1).fill({}))).toThrow(/257 views, above the limit of 256/);
    expect(() => model.evaluate(x, fashion.test.labels.subarray(0, 2), { views: [{ dx: -30 }] })).toThrow(/evaluate\(\): views\[0\]\.dx/);
    model.dispose();
  });
});
