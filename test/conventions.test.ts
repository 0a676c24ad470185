// Keras and TF.js habits: options that no one would read are refused with the nearest valid
// name, metrics: ['accuracy'] and an optimizer object with its learning rate are understood, the
// history and the callbacks' logs use Keras's names (with TF.js's and the old camelCase ones as
// aliases), and verbose prints progress.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as cw from 'convnet-wasm';

let mnist: cw.Dataset;
beforeAll(async () => {
  await cw.init();
  mnist = await cw.datasets.mnist();
});
afterEach(() => vi.restoreAllMocks());

const modern = () => cw.models.leNet5({ variant: 'modern' });
const x = () => mnist.train.images.subarray(0, 64 * 784);
const y = () => mnist.train.labels.subarray(0, 64);

describe('no silent options', () => {
  it('refuses unknown keys in layer configs, naming the nearest valid one', () => {
    expect(() => cw.layers.conv2d({ filters: 8, kernelSize: 3, kernel_size: 3 } as never)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('conv2d: unknown option "kernel_size"; did you mean "kernelSize"?') }),
    );
    expect(() => cw.layers.dense({ units: 4, activaton: 'relu' } as never)).toThrow('dense: unknown option "activaton"; did you mean "activation"?');
    expect(() => cw.layers.maxPool2d({ pool_size: 2 } as never)).toThrow('maxPool2d: unknown option "pool_size"; did you mean "poolSize"?');
    expect(() => cw.layers.dropout({ rate: 0.5, seed: 1 } as never)).toThrow('dropout: unknown option "seed" (the options are name, inputShape, rate)');
  });

  it('refuses unknown keys in compile, fit, evaluate and predict', async () => {
    expect(() => modern().compile({ optimiser: 'adam' } as never)).toThrow('lenet5_modern.compile(): unknown option "optimiser"; did you mean "optimizer"?');
    const model = modern().compile({ seed: 1 });
    await expect(model.fit(x(), y(), { epoch: 2 } as never)).rejects.toThrow('lenet5_modern.fit(): unknown option "epoch"; did you mean "epochs"?');
    await expect(model.fit(x(), y(), { checkpoint: { dir: '/tmp/x', evry: 3 } } as never)).rejects.toThrow('lenet5_modern.fit(): checkpoint: unknown option "evry"; did you mean "every"?');
    expect(() => model.evaluate(x(), y(), { batch_size: 8 } as never)).toThrow('lenet5_modern.evaluate(): unknown option "batch_size"; did you mean "batchSize"?');
    expect(() => model.predict(x(), { verbose: 0 } as never)).toThrow('lenet5_modern.predict(): unknown option "verbose"');
    model.dispose();
  });

  it("takes metrics: ['accuracy'] or ['acc'], and refuses a metric it does not compute", () => {
    modern().compile({ metrics: ['accuracy'] }).dispose();
    modern().compile({ metrics: ['acc'] }).dispose();
    expect(() => modern().compile({ metrics: ['mse'] } as never)).toThrow(`lenet5_modern.compile(): the metric "mse" is not computed; fit() and evaluate() report 'accuracy'`);
  });

  it('takes an optimizer object with its learning rate, and refuses another library’s optimizer', () => {
    const a = modern().compile({ optimizer: { type: 'adam', learningRate: 0.003 }, seed: 1 });
    const b = modern().compile({ optimizer: 'adam', learningRate: 0.003, seed: 1 });
    expect(a.compileConfig).toEqual(b.compileConfig);
    expect(a.compileConfig?.learningRate).toBe(0.003);
    a.dispose();
    b.dispose();
    class AdamOptimizer {
      learningRate = 0.001;
    }
    expect(() => modern().compile({ optimizer: new AdamOptimizer() } as never)).toThrow(
      "lenet5_modern.compile(): optimizer must be one of sgd, adam, nadam, sdlm or { type: 'adam', learningRate: 0.001, … } (a AdamOptimizer: another library's optimizer cannot run here)",
    );
    expect(() => modern().compile({ optimizer: { type: 'adam', momentum: 0.9 } } as never)).toThrow('optimizer "adam": unknown option "momentum"');
    expect(() => modern().compile({ optimizer: { type: 'adam', learningRate: 0.01 }, learningRate: 0.02 })).toThrow("the optimizer's learningRate (0.01) and learningRate (0.02) differ");
  });
});

describe("Keras's names in the history and the logs", () => {
  it('history.history has loss, accuracy, val_loss, val_accuracy, with acc, val_acc, valLoss, valAccuracy as aliases', async () => {
    const model = modern().compile({ seed: 2 });
    const epochLogs: cw.Logs[] = [];
    const history = await model.fit(x(), y(), { epochs: 2, batchSize: 16, validationSplit: 0.25, callbacks: { onEpochEnd: (_e, logs) => void epochLogs.push(logs) } });
    const h = history.history;
    expect(Object.keys(h).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(h.val_loss).toHaveLength(2);
    expect(h.acc).toBe(h.accuracy);
    expect(h.val_acc).toBe(h.val_accuracy);
    expect(h.valLoss).toBe(h.val_loss);
    expect(h.valAccuracy).toBe(h.val_accuracy);
    expect(epochLogs[1]!.val_loss).toBe(h.val_loss[1]);
    expect(epochLogs[1]!.acc).toBe(h.accuracy[1]);
    expect(epochLogs[1]!.valAccuracy).toBe(h.val_accuracy[1]);
    expect(JSON.parse(JSON.stringify(epochLogs[1]))).toEqual({ loss: h.loss[1], accuracy: h.accuracy[1], val_loss: h.val_loss[1], val_accuracy: h.val_accuracy[1] });
    model.dispose();
  });
});

describe('verbose', () => {
  it('2 prints one line per epoch; 0 prints nothing; other values are refused', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    const model = modern().compile({ seed: 3 });
    await model.fit(x(), y(), { epochs: 2, batchSize: 32, verbose: 2, validationSplit: 0.5 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Epoch 1\/2 - \d+\.\d s - loss \d\.\d{4} - accuracy \d\.\d{4} - val_loss \d\.\d{4} - val_accuracy \d\.\d{4}$/);
    await model.fit(x(), y(), { epochs: 1, batchSize: 32 });
    expect(lines).toHaveLength(2);
    await expect(model.fit(x(), y(), { verbose: 3 as never })).rejects.toThrow('lenet5_modern.fit(): verbose must be 0, 1 or 2, got 3');
    model.dispose();
  });
});

describe('errors that teach', () => {
  it('takes file://<dir>/model.json for save and load, as TF.js users write it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'convnet-conventions-'));
    try {
      const model = modern().compile({ seed: 5 });
      await model.save(`file://${dir}/model.json`);
      const again = await cw.loadModel(`file://${dir}/model.json`);
      expect(Buffer.from(again.getWeightsFlat().buffer).equals(Buffer.from(model.getWeightsFlat().buffer))).toBe(true);
      model.dispose();
      again.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('hints at Float32Array.from for number[] inputs and Int32Array.from for number[] labels', async () => {
    const model = modern().compile({ seed: 1 });
    expect(() => model.predict([0, 1, 2] as never)).toThrow(
      'lenet5_modern.predict(): x must be a Float32Array or a Uint8Array, got an array of 3 values; convert it with Float32Array.from(x) (or Uint8Array.from for 8-bit pixels)',
    );
    await expect(model.fit(x(), Array.from(y()) as never)).rejects.toThrow('got an array of 64 values; convert it with Int32Array.from(y)');
    model.dispose();
  });

  it('warns once when 8-bit pixels reach a model without preprocessing; preprocessing: "none" says it is meant', () => {
    const warnings: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((line: string) => void warnings.push(line));
    const layers = () => [cw.layers.flatten(), cw.layers.dense({ units: 10, activation: 'softmax' })];
    const raw = new cw.Sequential({ name: 'raw', inputShape: [28, 28, 1], layers: layers() }).compile();
    raw.predict(x());
    raw.predict(x());
    expect(warnings).toEqual([
      "raw.predict(): Uint8Array pixels go in as 0–255, since the model has no preprocessing; give new Sequential({ preprocessing: { scale: 1 / 255, offset: 0 } }) to scale them, or preprocessing: 'none' if 0–255 is meant",
    ]);
    const meant = new cw.Sequential({ name: 'meant', inputShape: [28, 28, 1], preprocessing: 'none', layers: layers() }).compile();
    meant.predict(x());
    expect(meant.preprocessing).toEqual({ scale: 1, offset: 0 });
    expect(warnings).toHaveLength(1);
    expect(() => new cw.Sequential({ inputshape: [28, 28, 1] } as never)).toThrow('Sequential: unknown option "inputshape"; did you mean "inputShape"?');
    raw.dispose();
    meant.dispose();
  });

  it('wraps file-system errors in the documented codes, naming the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'convnet-conventions-'));
    try {
      const file = join(dir, 'a-file');
      await writeFile(file, 'not a directory');
      const model = modern().compile({ seed: 6 });
      await expect(model.fit(x(), y(), { checkpoint: { dir: file } })).rejects.toThrowError(
        expect.objectContaining({ code: 'CHECKPOINT', message: expect.stringMatching(new RegExp(`^could not read the checkpoint directory: ${file}: ENOTDIR`)) }),
      );
      await expect(model.save(`file://${file}/model`)).rejects.toThrowError(
        expect.objectContaining({ code: 'SAVE_FAILED', message: expect.stringContaining(`model.save(): ${file}/model: ENOTDIR`) }),
      );
      model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('weights per tensor, as Keras and TF.js give them', () => {
  it('getWeights() gives each tensor with its name and shape; setWeights() takes them, bare arrays, or the flat array', () => {
    const model = cw.models.leNet5({ variant: 'modern' }).compile({ seed: 7 });
    const tensors = model.getWeights();
    expect(tensors.map((t) => `${t.name} [${t.shape.join(', ')}]`).slice(0, 3)).toEqual(['C1/kernel [5, 5, 1, 6]', 'C1/bias [6]', 'C3/kernel [5, 5, 6, 16]']);
    expect(tensors.reduce((s, t) => s + t.values.length, 0)).toBe(model.countParams());
    const flat = model.getWeightsFlat();
    const other = cw.models.leNet5({ variant: 'modern' }).compile({ seed: 8 });
    const bytes = (m: cw.Sequential) => Buffer.from(m.getWeightsFlat().buffer);
    other.setWeights(tensors);
    expect(bytes(other).equals(Buffer.from(flat.buffer))).toBe(true);
    other.setWeights(cw.models.leNet5({ variant: 'modern' }).compile({ seed: 9 }).getWeightsFlat());
    other.setWeights(tensors.map((t) => t.values));
    expect(bytes(other).equals(Buffer.from(flat.buffer))).toBe(true);
    expect(() => other.setWeights(tensors.slice(1))).toThrowError(expect.objectContaining({ code: 'SHAPE_MISMATCH', message: expect.stringContaining('9 weight tensors given, the model has 10') }));
    const wrong = tensors.map((t, i) => (i === 0 ? { ...t, shape: [1, 5, 5, 6] } : t));
    expect(() => other.setWeights(wrong)).toThrow('tensor 0 (C1/kernel) has shape [1, 5, 5, 6], the model\'s is [5, 5, 1, 6]');
    model.dispose();
    other.dispose();
  });
});
