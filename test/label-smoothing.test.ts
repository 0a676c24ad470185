// Label smoothing (Keras's CategoricalCrossentropy(label_smoothing=…)) through the public API, on
// real Fashion-MNIST images: the loss `evaluate` reports against one computed in f64 from
// `predict`'s probabilities, training that differs from the plain loss's and is the same for any
// worker count, the setting kept by save/load, and misuse refused. The kernel's gradient is checked
// by finite differences and against Keras in crate/src/kernels/softmax.rs and golden_tests.rs.
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

const { layers, Sequential } = cw;
let data: Awaited<ReturnType<typeof cw.datasets.fashionMnist>>;

beforeAll(async () => {
  await cw.init();
  data = await cw.datasets.fashionMnist();
});

function network(loss?: cw.LossConfig) {
  return new Sequential({
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal' }),
      layers.maxPool2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  }).compile({ optimizer: 'adam', learningRate: 0.003, seed: 5, ...(loss ? { loss } : {}) });
}

const train = (n: number) => [data.train.images.subarray(0, n * 784), data.train.labels.subarray(0, n)] as const;
const bits = (m: cw.Sequential) => Buffer.from(m.getWeightsFlat().buffer);

/** Σ over examples of −Σ_j t_j ln p_j with t = (1 − s)·onehot + s/10, as an f64 mean. */
function smoothedLoss(probs: Float32Array, labels: Uint8Array, s: number): number {
  let total = 0;
  for (let n = 0; n < labels.length; n++) {
    for (let j = 0; j < 10; j++) {
      const t = s / 10 + (j === labels[n] ? 1 - s : 0);
      total -= t * Math.log(probs[10 * n + j]!);
    }
  }
  return total / labels.length;
}

describe('loss: sparseCategoricalCrossentropy with labelSmoothing', () => {
  it("evaluate reports Keras's smoothed cross-entropy; accuracy is the plain one", async () => {
    const model = network({ type: 'sparseCategoricalCrossentropy', labelSmoothing: 0.1 });
    await model.fit(...train(2048), { epochs: 1, batchSize: 32 });
    const x = data.test.images.subarray(0, 500 * 784);
    const y = data.test.labels.subarray(0, 500);
    const probs = model.predict(x);
    const e = model.evaluate(x, y);
    const want = smoothedLoss(probs, y, 0.1);
    expect(Math.abs(e.loss - want)).toBeLessThan(1e-4 * want);
    // The plain loss of the same probabilities is smaller: smoothing charges for confidence.
    expect(smoothedLoss(probs, y, 0)).toBeLessThan(want - 0.01);
    let correct = 0;
    for (let n = 0; n < 500; n++) {
      const row = Array.from(probs.subarray(10 * n, 10 * n + 10));
      if (row.indexOf(Math.max(...row)) === y[n]) correct++;
    }
    expect(e.accuracy).toBe(correct / 500);
    model.dispose();
  });

  it('trains differently from the plain loss, the same for 1 and 2 workers; 0 is the plain loss bit for bit', async () => {
    const fit = async (loss: cw.LossConfig | undefined, workers: number) => {
      const m = network(loss);
      await m.fit(...train(1024), { epochs: 1, batchSize: 64, microBatchSize: 16, workers });
      const b = bits(m);
      m.dispose();
      return b;
    };
    const smooth = { type: 'sparseCategoricalCrossentropy', labelSmoothing: 0.2 } as const;
    const one = await fit(smooth, 1);
    expect((await fit(smooth, 2)).equals(one)).toBe(true);
    const plain = await fit(undefined, 1);
    expect(plain.equals(one)).toBe(false);
    expect((await fit({ type: 'sparseCategoricalCrossentropy', labelSmoothing: 0 }, 1)).equals(plain)).toBe(true);
    expect((await fit({ type: 'sparseCategoricalCrossentropy' }, 1)).equals(plain)).toBe(true);
  });

  it('is kept by save and load', async () => {
    const model = network({ type: 'sparseCategoricalCrossentropy', labelSmoothing: 0.1 });
    await model.fit(...train(512), { epochs: 1, batchSize: 32 });
    const back = await cw.loadModel(cw.toArtifacts(model));
    expect(back.compileConfig?.loss).toEqual({ type: 'sparseCategoricalCrossentropy', labelSmoothing: 0.1 });
    const x = data.test.images.subarray(0, 200 * 784);
    const y = data.test.labels.subarray(0, 200);
    expect(back.evaluate(x, y).loss).toBe(model.evaluate(x, y).loss);
    model.dispose();
    back.dispose();
  });

  it('refuses smoothing outside [0, 1], unknown keys, and a smoothed loss on an RBF output', () => {
    const uncompiled = () =>
      new Sequential({ inputShape: [28, 28, 1], layers: [layers.flatten(), layers.dense({ units: 10, activation: 'softmax' })] });
    for (const bad of [-0.1, 1.5, Number.NaN, '0.1' as never]) {
      expect(() => uncompiled().compile({ loss: { type: 'sparseCategoricalCrossentropy', labelSmoothing: bad } })).toThrowError(
        expect.objectContaining({ name: 'InvalidArgumentError', message: `sequential.compile(): sparseCategoricalCrossentropy's labelSmoothing must be a number in [0, 1], got ${String(bad)}` }),
      );
    }
    expect(() => uncompiled().compile({ loss: { type: 'sparseCategoricalCrossentropy', labelSmothing: 0.1 } as never })).toThrow(
      'sequential.compile(): loss: unknown option "labelSmothing"; did you mean "labelSmoothing"?',
    );
    expect(() => cw.models.leNet5().compile({ optimizer: 'sdlm', loss: { type: 'sparseCategoricalCrossentropy', labelSmoothing: 0.1 } })).toThrow(
      'sparseCategoricalCrossentropy needs a softmax on the last layer',
    );
  });
});
