// The optimisers added after the reference networks, through the public API on real Fashion-MNIST
// images. Keras's decoupled weight decay (the base optimiser's `weight_decay`, and `AdamW`): one
// SGD step shrinks every weight by w·wd·lr beside the plain step, 'adamw' is Adam with 0.004,
// training is the same for any worker count, the setting survives save/load. RMSprop: the same
// for any worker count and after a resume from a checkpoint (its centered form keeps two slots in
// one). Misuse is refused with the option's name. The updates themselves are checked against
// Keras in crate/tests/model_training.rs (test/fixtures/golden/training.json).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const bits = (m: cw.LayersModel) => Buffer.from(m.getWeightsFlat().buffer);

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

describe("'rmsprop'", () => {
  it('trains the same for 1 and 2 workers, differently centered and with momentum, and resumes bit for bit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cw-rmsprop-'));
    try {
      const fit = async (optimizer: NonNullable<cw.CompileConfig['optimizer']>, workers: number, extra: cw.FitConfig = {}) => {
        const m = network(optimizer, 0.001);
        await m.fit(...train(1024), { epochs: 2, batchSize: 64, microBatchSize: 16, workers, ...extra });
        const b = bits(m);
        m.dispose();
        return b;
      };
      const centered = { type: 'rmsprop', momentum: 0.9, centered: true } as const;
      const one = await fit(centered, 1);
      expect((await fit(centered, 2)).equals(one)).toBe(true);
      expect((await fit('rmsprop', 1)).equals(one)).toBe(false);
      // Stopped after 20 of its 32 steps (a checkpoint every 8), then resumed from step 16's.
      const stopped = network(centered, 0.001);
      let epoch = 0;
      await stopped.fit(...train(1024), {
        epochs: 2,
        batchSize: 64,
        microBatchSize: 16,
        workers: 1,
        checkpoint: { dir, every: 8 },
        callbacks: {
          onEpochBegin: (e) => void (epoch = e),
          onBatchEnd: (b) => void (epoch === 1 && b === 3 && (stopped.stopTraining = true)),
        },
      });
      const stoppedBits = bits(stopped);
      stopped.dispose();
      expect(stoppedBits.equals(one)).toBe(false);
      expect((await readdir(dir)).length).toBeGreaterThan(0);
      let steps = 0;
      const resumed = await fit(centered, 1, { checkpoint: { dir, every: 8 }, resume: true, callbacks: { onBatchEnd: () => void steps++ } });
      expect(steps).toBe(16);
      expect(resumed.equals(one)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses options of the wrong form or range, naming them', () => {
    const uncompiled = () => new Sequential({ inputShape: [28, 28, 1], layers: [layers.flatten(), layers.dense({ units: 10, activation: 'softmax' })] });
    expect(() => uncompiled().compile({ optimizer: { type: 'rmsprop', centered: 'yes' as never } })).toThrow(
      `sequential.compile(): optimizer "rmsprop"'s centered must be true or false, got "yes"`,
    );
    expect(() => uncompiled().compile({ optimizer: { type: 'rmsprop', rho: Number.NaN } })).toThrow(`sequential.compile(): optimizer "rmsprop"'s rho must be a finite number, got NaN`);
    expect(() => uncompiled().compile({ optimizer: { type: 'rmsprop', rho: 1 } })).toThrow('sequential.compile(): optimizer rho must be in [0, 1), got 1');
    expect(() => uncompiled().compile({ optimizer: { type: 'sgd', nesterov: 1 as never } })).toThrow(`sequential.compile(): optimizer "sgd"'s nesterov must be true or false, got 1`);
  });
});
