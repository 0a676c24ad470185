// Keras's callbacks (callbacks.earlyStopping, modelCheckpoint, reduceLROnPlateau, csvLogger) on
// the modern LeNet-5 and real MNIST images: each follows Keras's rules epoch by epoch, and a run
// interrupted in the middle of EarlyStopping's patience (and after ReduceLROnPlateau has lowered
// the rate) and resumed from its checkpoint ends with the same weights, history, learning rate,
// CSV file and saved best model as a run that was never interrupted.
//
// To make the epochs' verdicts certain, most cases monitor the training loss in `max` mode: the
// loss of the first epoch is an improvement on −∞, and every later epoch, whose loss is lower, is
// not one. With patience p, EarlyStopping stops at epoch p (0-based), as Keras's does.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import type { Dataset } from 'convnet-wasm';

let mnist: Dataset;
let tmp: string;
beforeAll(async () => {
  await cw.init();
  mnist = await cw.datasets.mnist();
  tmp = await mkdtemp(join(tmpdir(), 'convnet-callbacks-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const N = 512;
const x = () => mnist.train.images.subarray(0, N * 784);
const y = () => mnist.train.labels.subarray(0, N);
const validationData = (): [Uint8Array, Uint8Array] => [mnist.test.images.subarray(0, 256 * 784), mnist.test.labels.subarray(0, 256)];
const build = () => cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', learningRate: 0.001, seed: 5 });

/** A callback that keeps a copy of the weights after each epoch (it runs before the others). */
function weightRecorder(into: Float32Array[]): cw.Callbacks {
  let model: cw.CallbackModel;
  return {
    setModel: (m) => void (model = m),
    onEpochEnd: () => void into.push(model.getWeightsFlat()),
  };
}

describe('callbacks.earlyStopping', () => {
  it("stops after `patience` epochs without improvement and restores the best epoch's weights", async () => {
    const model = build();
    const seen: Float32Array[] = [];
    const history = await model.fit(x(), y(), {
      epochs: 10,
      workers: 1,
      callbacks: [weightRecorder(seen), cw.callbacks.earlyStopping({ monitor: 'loss', mode: 'max', patience: 2, restoreBestWeights: true })],
    });
    expect(history.epoch).toEqual([0, 1, 2]);
    expect(model.getWeightsFlat()).toEqual(seen[0]);
    expect(model.getWeightsFlat()).not.toEqual(seen[2]);
    model.dispose();
  }, 60_000);

  it('with patience 0 and a falling loss in min mode, trains every epoch; bad options are refused by name', async () => {
    const model = build();
    const history = await model.fit(x(), y(), { epochs: 3, workers: 1, callbacks: cw.callbacks.earlyStopping({ monitor: 'loss' }) });
    // The loss of this run falls every epoch (checked), so no epoch lacks an improvement.
    expect(history.history.loss[1]!).toBeLessThan(history.history.loss[0]!);
    expect(history.history.loss[2]!).toBeLessThan(history.history.loss[1]!);
    expect(history.epoch).toEqual([0, 1, 2]);
    await expect(model.fit(x(), y(), { epochs: 1, workers: 1, callbacks: [cw.callbacks.earlyStopping()] })).rejects.toThrow(
      "callbacks.earlyStopping(): monitor 'val_loss' is not in the epoch's logs; validation quantities need fit({ validationData }) or fit({ validationSplit })",
    );
    expect(() => cw.callbacks.earlyStopping({ patiense: 2 } as never)).toThrow(/unknown option "patiense".*patience/);
    expect(() => cw.callbacks.earlyStopping({ monitor: 'val_los' as never })).toThrow(/monitor must be one of/);
    expect(() => cw.callbacks.earlyStopping({ patience: -1 })).toThrow(/patience must be an integer ≥ 0/);
    model.dispose();
  }, 60_000);
});

describe('callbacks.reduceLROnPlateau', () => {
  it('multiplies the learning rate by `factor` after `patience` epochs without improvement, down to minLr', async () => {
    const model = build();
    const rates: number[] = [];
    await model.fit(x(), y(), {
      epochs: 4,
      workers: 1,
      callbacks: [cw.callbacks.reduceLROnPlateau({ monitor: 'loss', mode: 'max', patience: 1, factor: 0.5, minLr: 0.0003 }), { onEpochEnd: () => void rates.push(model.currentLearningRate()) }],
    });
    // Epoch 0 improves; epoch 1 halves the rate; epoch 2 would halve it again, below minLr, so it
    // sets minLr (in float32, as the wasm computes rates); epoch 3 leaves it there.
    expect(rates.slice(0, 2)).toEqual([Math.fround(0.001), Math.fround(0.0005)]);
    expect(rates[2]).toBeCloseTo(0.0003, 10);
    expect(rates[3]).toBe(rates[2]);
    expect(() => cw.callbacks.reduceLROnPlateau({ factor: 1 })).toThrow('callbacks.reduceLROnPlateau(): factor must be in (0, 1), got 1');
    model.dispose();
  }, 60_000);
});

describe('callbacks.modelCheckpoint and callbacks.csvLogger', () => {
  it("saves every epoch ({epoch}) or only the best; the CSV has Keras's columns and the history's values", async () => {
    const model = build();
    const dir = join(tmp, 'mc');
    const seen: Float32Array[] = [];
    const history = await model.fit(x(), y(), {
      epochs: 3,
      workers: 1,
      validationData: validationData(),
      callbacks: [
        weightRecorder(seen),
        cw.callbacks.modelCheckpoint({ path: `file://${dir}/epoch-{epoch}` }),
        cw.callbacks.modelCheckpoint({ path: `file://${dir}/best`, monitor: 'loss', mode: 'max', saveBestOnly: true }),
        cw.callbacks.csvLogger(join(dir, 'log.csv')),
      ],
    });
    for (let e = 1; e <= 3; e++) expect((await cw.loadModel(`file://${dir}/epoch-${e}`)).getWeightsFlat()).toEqual(seen[e - 1]);
    expect((await cw.loadModel(`file://${dir}/best`)).getWeightsFlat()).toEqual(seen[0]);
    const csv = (await readFile(join(dir, 'log.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('epoch,accuracy,loss,val_accuracy,val_loss');
    const h = history.history;
    expect(csv.slice(1)).toEqual(history.epoch.map((e, i) => [e, h.accuracy[i], h.loss[i], h.val_accuracy[i], h.val_loss[i]].join(',')));
    model.dispose();
  }, 60_000);
});

describe('callbacks in checkpoints', () => {
  const all = (dir: string) => [
    cw.callbacks.earlyStopping({ monitor: 'loss', mode: 'max', patience: 3, restoreBestWeights: true }),
    cw.callbacks.reduceLROnPlateau({ monitor: 'loss', mode: 'max', patience: 1, factor: 0.5 }),
    cw.callbacks.modelCheckpoint({ path: `file://${dir}/best`, monitor: 'val_accuracy', saveBestOnly: true }),
    cw.callbacks.csvLogger(join(dir, 'log.csv')),
  ];
  const config = (dir: string, extra: cw.Callbacks[] = []) => ({
    epochs: 8,
    workers: 2,
    validationData: validationData(),
    checkpoint: { dir: join(dir, 'ckpt'), every: 5 },
    callbacks: [...all(dir), ...extra],
  });

  it("a run interrupted mid-patience and resumed ends as an uninterrupted one: weights, history, rate, CSV, best model", async () => {
    const straight = join(tmp, 'straight');
    const a = build();
    const historyA = await a.fit(x(), y(), config(straight));
    // EarlyStopping stopped it after epoch 3 (patience 3 from epoch 0's improvement).
    expect(historyA.epoch).toEqual([0, 1, 2, 3]);

    const broken = join(tmp, 'resumed');
    const b = build();
    // Fails in epoch 2 (after the checkpoint at step 40): EarlyStopping has waited 1 of its 3
    // epochs, and ReduceLROnPlateau has halved the rate once.
    const crash: cw.Callbacks = { onBatchEnd: (batch) => {
      if (b.currentLearningRate() < 0.001 && batch === 10) throw new Error('interrupted');
    } };
    await expect(b.fit(x(), y(), config(broken, [crash]))).rejects.toThrow('interrupted');
    b.dispose();
    // The checkpoint (header: magic, u32 length, JSON) holds the callbacks' state mid-patience.
    const saved = await readFile(join(broken, 'ckpt', 'checkpoint.bin'));
    const header = JSON.parse(saved.subarray(12, 12 + saved.readUInt32LE(8)).toString()) as { step: number; callbacks: { type: string; values: Record<string, number> }[] };
    expect(header.step).toBe(40);
    expect(header.callbacks.map((c) => (c === null ? null : c.type))).toEqual(['earlyStopping', 'reduceLROnPlateau', 'modelCheckpoint', 'csvLogger', null]);
    expect(header.callbacks[0]!.values.wait).toBe(1);
    expect(header.callbacks[1]!.values.scale).toBe(0.5);

    const c = build();
    const historyC = await c.fit(x(), y(), { ...config(broken), resume: true });
    expect(c.getWeightsFlat()).toEqual(a.getWeightsFlat());
    expect(JSON.stringify(historyC)).toBe(JSON.stringify(historyA));
    expect(c.currentLearningRate()).toBe(a.currentLearningRate());
    expect(c.learningRateScale).toBe(0.125);
    expect(await readFile(join(broken, 'log.csv'), 'utf8')).toBe(await readFile(join(straight, 'log.csv'), 'utf8'));
    expect((await cw.loadModel(`file://${broken}/best`)).getWeightsFlat()).toEqual((await cw.loadModel(`file://${straight}/best`)).getWeightsFlat());

    // Resuming with other stateful callbacks is refused, naming both lists.
    const d = build();
    await expect(d.fit(x(), y(), { ...config(broken), callbacks: [cw.callbacks.csvLogger(join(broken, 'other.csv'))], resume: true })).rejects.toThrow(
      /checkpoint\.bin: it was written with the stateful callbacks \[earlyStopping, reduceLROnPlateau, modelCheckpoint, csvLogger\]; this fit\(\) has \[csvLogger\]/,
    );
    a.dispose();
    c.dispose();
    d.dispose();
  }, 120_000);
});
