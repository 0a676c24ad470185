import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { panicInWasm } from './shared/internals.js';

const { layers, Sequential } = cw;

beforeAll(() => cw.init());

/** A small network for API tests: conv → pool → flatten → dense softmax over 3 classes. */
function tiny(seed = 1) {
  const model = new Sequential({
    inputShape: [6, 6, 1],
    layers: [
      layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal' }),
      layers.maxPool2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dropout({ rate: 0.25 }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  return model.compile({ optimizer: 'adam', learningRate: 0.01, seed });
}

function data(n: number, seed: number) {
  const x = cw.ops.randomUniform(seed, n * 36, -1, 1);
  const y = new Uint8Array(n).map((_, i) => i % 3);
  return { x, y };
}

describe('Sequential: building and validation', () => {
  it('infers shapes and counts parameters and connections', () => {
    const model = tiny();
    expect(model.outputShape).toEqual([1, 1, 3]);
    expect(model.countParams()).toBe(3 * 3 * 1 * 4 + 4 + 36 * 3 + 3);
    const summary = model.summary();
    expect(summary).toContain('conv2d (Conv2D)');
    expect(summary).toContain('[3, 3, 4]');
    expect(summary).toContain(`Trainable params: ${model.countParams()}`);
    expect(model.layerSummaries()[0]!.connections).toBe(6 * 6 * 4 * (9 + 1));
  });

  it("reports the Fashion ConvNet's 1,413,834 parameters, layer by layer as in REFERENCE.md", () => {
    const model = cw.models.fashionConvNet();
    expect(model.countParams()).toBe(1_413_834);
    const params = model.layerSummaries().map((l) => l.params).filter((p) => p > 0);
    expect(params).toEqual([3_200, 73_856, 147_584, 295_168, 590_080, 295_040, 8_256, 650]);
    expect(model.layerSummaries()[7]!.outputShape).toEqual([3, 3, 256]);
  });

  it('names the layer, its index and the shapes when a layer does not fit', () => {
    const model = new Sequential({ inputShape: [4, 4, 1] });
    expect(() => model.add(layers.conv2d({ filters: 2, kernelSize: 5 }))).toThrowError(
      expect.objectContaining({
        code: 'SHAPE_MISMATCH',
        message: "layer 0 (conv2d \"conv2d\"): input [4, 4, 1]: a 5×5 kernel with 'valid' padding does not fit a 4×4 input",
      }),
    );
    model.add(layers.conv2d({ filters: 2, kernelSize: 3 }));
    expect(() => model.add(layers.dense({ units: 2 }))).toThrow(
      'layer 1 (dense "dense"): input [2, 2, 2]: its input is 2×2×2; add a flatten layer before it',
    );
    expect(() => new Sequential().add(layers.flatten())).toThrow('layer 0 (flatten) needs an inputShape');
    expect(() => layers.conv2d({ filters: 0, kernelSize: 3 })).toThrow('conv2d: filters must be an integer ≥ 1, got 0');
    expect(() => layers.dropout({ rate: 1 })).toThrow('dropout: rate must be in [0, 1), got 1');
    expect(() => layers.dense({ units: 2, activation: 'mish' as never })).toThrow('dense: activation must be one of');
  });

  it('checks compile settings', () => {
    const noSoftmax = new Sequential({ inputShape: [2, 2, 1], layers: [layers.flatten(), layers.dense({ units: 2 })] });
    expect(() => noSoftmax.compile()).toThrow('layer 1 (dense "dense"): sparseCategoricalCrossentropy needs a softmax on the last layer');
    const model = new Sequential({ inputShape: [2, 2, 1], layers: [layers.flatten(), layers.dense({ units: 2, activation: 'softmax' })] });
    expect(() => model.compile({ optimizer: 'adagrad' as never })).toThrow('unknown optimizer "adagrad"; the optimizers are sgd, adam, adamw, nadam, rmsprop, sdlm');
    expect(() => model.compile({ learningRate: -1 })).toThrow('learning rate must be a positive number, got -1');
    expect(() => model.compile({ learningRate: { boundaries: [10], values: [0.1] } })).toThrow('one more value than boundaries');
    model.compile();
    expect(() => model.add(layers.flatten())).toThrow('sequential.add(): layers cannot be added after compile()');
  });
});

describe('Sequential: fit, evaluate, predict', () => {
  it('refuses bad data before any wasm call, naming the argument and sizes', async () => {
    const model = tiny();
    const { x, y } = data(8, 3);
    await expect(model.fit(x.subarray(1), y)).rejects.toThrow('x has 287 values, not a whole number of examples of [6, 6, 1] = 36 values');
    await expect(model.fit(x, y.subarray(1))).rejects.toThrow('x holds 8 examples but y has 7 labels');
    await expect(model.fit(x, new Uint8Array(8).fill(3))).rejects.toThrow('label 3 at index 0 is not a class index in [0, 3)');
    const nan = x.slice();
    nan[40] = Number.NaN;
    await expect(model.fit(nan, y)).rejects.toThrow('x[40] (example 1) is NaN');
    for (const batchSize of [0, -1, 9, 1.5]) {
      await expect(model.fit(x, y, { batchSize })).rejects.toThrow(`batchSize must be an integer in [1, 8] (the training examples), got ${batchSize}`);
    }
    await expect(model.fit([1, 2] as never, y)).rejects.toThrow('x must be a Float32Array or a Uint8Array, got an array of 2 values; convert it with Float32Array.from(x)');
    await expect(new Sequential({ inputShape: [6, 6, 1], layers: [layers.flatten()] }).fit(x, y)).rejects.toThrow('call compile() first');
  });

  it('trains: the loss falls, callbacks run in order, history has an entry per epoch', async () => {
    const model = tiny(5);
    const { x, y } = data(48, 4);
    const events: string[] = [];
    const history = await model.fit(x, y, {
      epochs: 4,
      batchSize: 16,
      validationSplit: 0.25,
      callbacks: {
        onEpochBegin: (e) => void events.push(`begin ${e}`),
        onBatchEnd: (b, logs) => void events.push(`batch ${b} ${logs.size}`),
        onEpochEnd: (e) => void events.push(`end ${e}`),
      },
    });
    expect(history.epoch).toEqual([0, 1, 2, 3]);
    expect(history.history.val_loss).toHaveLength(4);
    expect(history.history.loss[3]!).toBeLessThan(history.history.loss[0]!);
    expect(events.slice(0, 5)).toEqual(['begin 0', 'batch 0 16', 'batch 1 16', 'batch 2 4', 'end 0']);
    expect(model.iterations).toBe(12);
  });

  it('takes a list of callback objects and calls each hook of each, in list order', async () => {
    const model = tiny(6);
    const { x, y } = data(32, 3);
    const events: string[] = [];
    const logger = (tag: string): cw.Callbacks => ({
      onTrainBegin: () => void events.push(`${tag} train`),
      onEpochEnd: async (e) => {
        // An async hook is awaited before the next callback runs.
        await new Promise((resolve) => setTimeout(resolve, 5));
        events.push(`${tag} epoch ${e}`);
      },
      onTrainEnd: (h) => void events.push(`${tag} end ${h.epoch.length}`),
    });
    await model.fit(x, y, { epochs: 2, batchSize: 16, callbacks: [logger('a'), logger('b')] });
    expect(events).toEqual(['a train', 'b train', 'a epoch 0', 'b epoch 0', 'a epoch 1', 'b epoch 1', 'a end 2', 'b end 2']);
    model.dispose();
  });

  it('is deterministic: the same seed gives the same weights, bit for bit', async () => {
    const run = async (seed: number) => {
      const model = tiny(seed);
      const { x, y } = data(32, 9);
      await model.fit(x, y, { epochs: 2, batchSize: 8 });
      const w = Buffer.from(model.getWeightsFlat().buffer);
      model.dispose();
      return w;
    };
    const a = await run(11);
    expect(a.equals(await run(11))).toBe(true);
    expect(a.equals(await run(12))).toBe(false);
  });

  it('stops when a callback sets stopTraining, and stops with an error when the loss diverges', async () => {
    const model = tiny();
    const { x, y } = data(32, 2);
    const history = await model.fit(x, y, { epochs: 5, batchSize: 8, callbacks: { onBatchEnd: () => void (model.stopTraining = true) } });
    expect(model.iterations).toBe(1);
    expect(history.epoch).toEqual([0]);
    const wild = tiny().compile({ optimizer: 'sgd', learningRate: 1e30 });
    await expect(wild.fit(x.map((v) => v * 1e3), y, { epochs: 3, batchSize: 8 })).rejects.toThrowError(
      expect.objectContaining({ code: 'TRAINING_DIVERGED', message: expect.stringMatching(/training diverged at epoch \d+, batch \d+: step \d+: /) }),
    );
  });

  it('evaluates with a confusion matrix and predicts probabilities; dispose frees the model', () => {
    const model = tiny();
    const { x, y } = data(10, 6);
    const e = model.evaluate(x, y, { batchSize: 4 });
    expect(e.confusionMatrix.flat().reduce((a, b) => a + b, 0)).toBe(10);
    expect(e.accuracy).toBe(e.confusionMatrix.reduce((s, row, i) => s + row[i]!, 0) / 10);
    const p = model.predict(x, { batchSize: 3 });
    expect(p).toHaveLength(30);
    for (let i = 0; i < 10; i++) expect(p[3 * i]! + p[3 * i + 1]! + p[3 * i + 2]!).toBeCloseTo(1, 6);
    expect(Array.from(model.predict(x))).toEqual(Array.from(p));
    model.dispose();
    expect(() => model.predict(x)).toThrowError(expect.objectContaining({ code: 'DISPOSED' }));
  });

  it('reads 8-bit pixels through the preprocessing', () => {
    const model = new Sequential({
      inputShape: [2, 2, 1],
      preprocessing: { scale: 1 / 255, offset: 0 },
      layers: [layers.flatten(), layers.dense({ units: 2, activation: 'softmax' })],
    }).compile({ seed: 3 });
    const pixels = new Uint8Array([0, 51, 102, 255]);
    const floats = new Float32Array([0, 51 / 255, 102 / 255, 1]);
    const a = model.predict(pixels);
    const b = model.predict(floats);
    for (let i = 0; i < 2; i++) expect(a[i]).toBeCloseTo(b[i]!, 6);
  });

  it('a panic inside a model call reaches JS with its message and marks the model broken', async () => {
    const model = tiny();
    const { x, y } = data(32, 2);
    expect(() => (model as unknown as { call(w: string, f: () => void): void }).call('test', () => panicInWasm('test', 'boom in a model'))).toThrowError(
      expect.objectContaining({ code: 'WASM_PANIC', message: expect.stringContaining('boom in a model') }),
    );
    await expect(model.fit(x, y)).rejects.toThrowError(expect.objectContaining({ code: 'BROKEN', message: expect.stringContaining('boom in a model') }));
    expect(() => model.predict(x)).toThrowError(expect.objectContaining({ code: 'BROKEN' }));
    model.dispose();
    // Other models go on working.
    const other = tiny();
    await other.fit(x, y);
    expect(other.predict(x).every(Number.isFinite)).toBe(true);
    other.dispose();
  });
});
