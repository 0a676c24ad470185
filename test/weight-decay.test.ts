// Keras's decoupled weight decay (the base optimiser's `weight_decay`, and `AdamW`) through the
// public API, on real Fashion-MNIST images: one SGD step shrinks every weight by w·wd·lr beside
// the plain step, 'adamw' is Adam with 0.004, training is the same for any worker count, the
// setting survives save/load, and misuse is refused. The update itself is checked against Keras
// in crate/tests/model_training.rs (test/fixtures/golden/training.json).
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

const { layers, Sequential } = cw;
let data: Awaited<ReturnType<typeof cw.datasets.fashionMnist>>;

beforeAll(async () => {
  await cw.init();
  data = await cw.datasets.fashionMnist();
});

function network(optimizer: NonNullable<cw.CompileConfig['optimizer']>, learningRate = 0.003) {
  return new Sequential({
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }),
      layers.batchNormalization(),
      layers.activation({ activation: 'relu' }),
      layers.maxPool2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  }).compile({ optimizer, learningRate, seed: 5 });
}

const train = (n: number) => [data.train.images.subarray(0, n * 784), data.train.labels.subarray(0, n)] as const;
const bits = (m: cw.Sequential) => Buffer.from(m.getWeightsFlat().buffer);

describe("optimizers' weightDecay and 'adamw'", () => {
  it('one SGD step: every trainable weight moves by w·weightDecay·learningRate more than without; the moving statistics do not', async () => {
    const plain = network('sgd', 0.1);
    const decayed = network({ type: 'sgd', weightDecay: 0.5 }, 0.1);
    const w0 = plain.getWeightsFlat();
    expect(Buffer.from(decayed.getWeightsFlat().buffer).equals(Buffer.from(w0.buffer))).toBe(true);
    await plain.fit(...train(32), { epochs: 1, batchSize: 32 });
    await decayed.fit(...train(32), { epochs: 1, batchSize: 32 });
    const [a, b] = [plain.getWeightsFlat(), decayed.getWeightsFlat()];
    // getWeightsFlat: conv kernel (36), then γ, β, moving mean, moving variance (4 each), then the dense layer.
    const moving = new Set([44, 45, 46, 47, 48, 49, 50, 51]);
    let checked = 0;
    for (let i = 0; i < w0.length; i++) {
      if (moving.has(i)) {
        expect(b[i]).toBe(a[i]);
        continue;
      }
      expect(Math.abs(a[i]! - b[i]! - w0[i]! * 0.05)).toBeLessThan(1e-6);
      if (w0[i] !== 0) checked++;
    }
    expect(checked).toBeGreaterThan(700);
    plain.dispose();
    decayed.dispose();
  });

  it("'adamw' is Adam with weightDecay 0.004, bit for bit, the same for 1 and 2 workers; weightDecay 0 is plain Adam", async () => {
    const fit = async (optimizer: NonNullable<cw.CompileConfig['optimizer']>, workers: number) => {
      const m = network(optimizer);
      await m.fit(...train(1024), { epochs: 1, batchSize: 64, microBatchSize: 16, workers });
      const b = bits(m);
      m.dispose();
      return b;
    };
    const adamw = await fit('adamw', 1);
    expect((await fit({ type: 'adam', weightDecay: 0.004 }, 1)).equals(adamw)).toBe(true);
    expect((await fit('adamw', 2)).equals(adamw)).toBe(true);
    const adam = await fit('adam', 1);
    expect(adam.equals(adamw)).toBe(false);
    expect((await fit({ type: 'adam', weightDecay: 0 }, 1)).equals(adam)).toBe(true);
    expect((await fit({ type: 'nadam', weightDecay: 0.1 }, 1)).equals(await fit('nadam', 1))).toBe(false);
  });

  it('is kept by save and load, and training goes on the same', async () => {
    const model = network({ type: 'adamw', weightDecay: 0.02 });
    await model.fit(...train(256), { epochs: 1, batchSize: 32 });
    const back = await cw.loadModel(cw.toArtifacts(model));
    expect(back.compileConfig?.optimizer).toEqual({ type: 'adamw', weightDecay: 0.02 });
    const fresh = network({ type: 'adam', weightDecay: 0.02 });
    fresh.setWeights(back.getWeights());
    await back.fit(...train(64), { epochs: 1, batchSize: 32, shuffle: false });
    await fresh.fit(...train(64), { epochs: 1, batchSize: 32, shuffle: false });
    expect(bits(back).equals(bits(fresh))).toBe(true);
    for (const m of [model, back, fresh]) m.dispose();
  });

  it('refuses a weightDecay that is not a finite number ≥ 0, and one given to SDLM', () => {
    const uncompiled = () => new Sequential({ inputShape: [28, 28, 1], layers: [layers.flatten(), layers.dense({ units: 10, activation: 'softmax' })] });
    for (const bad of [-0.1, Number.NaN, Number.POSITIVE_INFINITY, '0.1' as never]) {
      expect(() => uncompiled().compile({ optimizer: { type: 'adamw', weightDecay: bad } })).toThrowError(
        expect.objectContaining({
          name: 'InvalidArgumentError',
          message: expect.stringContaining(`sequential.compile(): optimizer "adamw"'s weightDecay must be a finite number ≥ 0, got`),
        }),
      );
    }
    expect(() => uncompiled().compile({ optimizer: { type: 'sdlm', weightDecay: 0.1 } as never })).toThrow(
      'sequential.compile() optimizer "sdlm": unknown option "weightDecay"',
    );
  });
});
