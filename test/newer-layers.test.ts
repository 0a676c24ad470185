// The layers added after the two reference networks, through the public API: their parameter
// counts and summary lines (Keras's counts), their options' errors, saving and loading, what
// batch normalisation's training depends on (the micro-batch size, never the worker count), and
// inference using the moving statistics.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { keras3Net, normalisedNet } from './shared/newer-layers.js';

const { layers } = cw;
let fashion: cw.Dataset;
let tmp: string;
beforeAll(async () => {
  await cw.init();
  fashion = await cw.datasets.fashionMnist();
  tmp = await mkdtemp(join(tmpdir(), 'convnet-newer-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('the later layers', () => {
  it('count parameters as Keras does, the moving statistics as non-trainable', () => {
    const model = normalisedNet(cw);
    // conv 3·3·1·8 (no bias); BN 4·8; conv 3·3·8·12 + 12; BN (no β) 3·12; separable
    // 3·3·12·2 + 24·16 + 16; depthwise 3·3·16 (no bias); dense 16·32 (no bias); BN (no γ) 3·32;
    // dense 32·10 + 10.
    const counts = [72, 32, 0, 0, 0, 876, 36, 616, 144, 0, 0, 512, 96, 330];
    expect(model.layerSummaries().map((l) => l.params)).toEqual(counts);
    expect(model.countParams()).toBe(counts.reduce((a, b) => a + b));
    expect(model.countNonTrainableParams()).toBe(2 * 8 + 2 * 12 + 2 * 32);
    expect(model.weightSpecs().slice(1, 5).map((w) => w.name)).toEqual(['batchNormalization/gamma', 'batchNormalization/beta', 'batchNormalization/moving_mean', 'batchNormalization/moving_variance']);
    const summary = model.summary();
    expect(summary).toContain('globalAveragePooling2d (GlobalAveragePooling2D)');
    expect(summary).toContain(`Trainable params: ${(2714 - 104).toLocaleString('en-US')}`);
    expect(summary).toContain('Non-trainable params: 104   Total params: 2,714');
    const image: [number, number, number] = [28, 28, 1];
    expect(keras3Net(cw).layerSummaries().map((l) => l.outputShape)).toEqual([...Array<typeof image>(6).fill(image), [12, 12, 8], [12, 12, 8], [10, 10, 12], [1, 1, 12], [1, 1, 12], [1, 1, 10], [1, 1, 10]]);
  });

  it("models.fashionConvNetBN: Keras's counts, and its augmentation and dropout as options", () => {
    const model = cw.models.fashionConvNetBN();
    expect(model.countParams()).toBe(141_098);
    expect(model.countNonTrainableParams()).toBe(640);
    const kinds = (m: cw.Sequential) => m.layers.map((l) => l.className);
    expect(kinds(model).slice(0, 3)).toEqual(['RandomTranslation', 'RandomFlip', 'Conv2D']);
    expect(model.layers[0]!.config()).toMatchObject({ heightFactor: [-0.1, 0.1], widthFactor: [-0.1, 0.1] });
    expect(model.layers.find((l) => l.className === 'Dropout')!.config()).toMatchObject({ rate: 0.3 });
    const varied = cw.models.fashionConvNetBN({ translation: 0.05, flip: false, dropout: 0.2 });
    expect(kinds(varied).slice(0, 2)).toEqual(['RandomTranslation', 'Conv2D']);
    expect(varied.layers[0]!.config()).toMatchObject({ heightFactor: [-0.05, 0.05], widthFactor: [-0.05, 0.05] });
    expect(varied.layers.find((l) => l.className === 'Dropout')!.config()).toMatchObject({ rate: 0.2 });
    expect(kinds(cw.models.fashionConvNetBN({ translation: 0 }))[0]).toBe('RandomFlip');
    expect(kinds(cw.models.fashionConvNetBN({ augment: false }))[0]).toBe('Conv2D');
    expect(varied.countParams()).toBe(141_098);
    expect(() => cw.models.fashionConvNetBN({ translation: 1 })).toThrow('fashionConvNetBN: translation must be a fraction in [0, 1), got 1');
    expect(() => cw.models.fashionConvNetBN({ dropout: 1 })).toThrow('dropout: rate must be in [0, 1), got 1');
    // Wider last stage and a dense layer after the pooling: 9·64·256 + 4·256 for the last block,
    // 256·128 + 128 and 128·10 + 10 for the head.
    const wider = cw.models.fashionConvNetBN({ filters: [32, 64, 256], denseUnits: 128 });
    expect(wider.countParams()).toBe(248_234);
    expect(wider.countNonTrainableParams()).toBe(896);
    expect(kinds(wider).slice(-4)).toEqual(['GlobalAveragePooling2D', 'Dense', 'Dropout', 'Dense']);
    expect(wider.layerSummaries().at(-3)!.outputShape).toEqual([1, 1, 128]);
    expect(() => cw.models.fashionConvNetBN({ filters: [32, 0, 128] })).toThrow('fashionConvNetBN: filters must be three positive integers, got [32, 0, 128]');
    expect(() => cw.models.fashionConvNetBN({ filters: 64 as unknown as [number, number, number] })).toThrow('fashionConvNetBN: filters must be three positive integers, got 64');
    expect(() => cw.models.fashionConvNetBN({ denseUnits: 1.5 })).toThrow('fashionConvNetBN: denseUnits must be a non-negative integer, got 1.5');
    // Flattened 7·7·128 = 6,272 values instead of the pooled 128: 6,272·256 + 256 and 256·10 + 10
    // for the head, beside the default's 139,808 in the blocks.
    const flat = cw.models.fashionConvNetBN({ head: 'flatten', denseUnits: 256 });
    expect(flat.countParams()).toBe(1_748_266);
    expect(flat.countNonTrainableParams()).toBe(640);
    expect(kinds(flat).slice(-4)).toEqual(['Flatten', 'Dense', 'Dropout', 'Dense']);
    expect(flat.layerSummaries().at(-4)!.outputShape).toEqual([1, 1, 6272]);
    expect(() => cw.models.fashionConvNetBN({ head: 'max' as 'flatten' })).toThrow('fashionConvNetBN: head must be one of globalAverage, flatten, got "max"');
    const erasing = cw.models.fashionConvNetBN({ erasing: 0.5 });
    expect(kinds(erasing).slice(0, 4)).toEqual(['RandomTranslation', 'RandomFlip', 'RandomErasing', 'Conv2D']);
    expect(erasing.layers[2]!.config()).toEqual({ factor: [0, 0.5], scale: [0.02, 0.33], fillValue: null, valueRange: [0, 1] });
    expect(erasing.countParams()).toBe(141_098);
    expect(() => cw.models.fashionConvNetBN({ erasing: 2 })).toThrow('fashionConvNetBN: erasing must be a probability in [0, 1], got 2');
    for (const m of [model, varied, wider, flat, erasing]) m.dispose();
  });

  it('refuse bad options with the layer and the value named', () => {
    expect(() => layers.batchNormalization({ momentum: 1.5 })).toThrow('batchNormalization: momentum must be in [0, 1], got 1.5');
    expect(() => layers.batchNormalization({ epsilon: 0 })).toThrow('batchNormalization: epsilon must be a finite number > 0, got 0');
    expect(() => layers.batchNormalization({ center: 'no' as never })).toThrow('batchNormalization: center must be true or false, got no');
    expect(() => layers.leakyReLU({ alpha: -0.1 })).toThrow('leakyReLU: alpha must be a finite number ≥ 0, got -0.1');
    expect(() => layers.elu({ alpha: Number.NaN })).toThrow('elu: alpha must be a finite number ≥ 0, got NaN');
    expect(() => layers.dense({ units: 2, useBias: 0 as never })).toThrow('dense: useBias must be true or false, got 0');
    expect(() => layers.conv2d({ filters: 2, kernelSize: 3, connections: [[0], [0]], useBias: false })).toThrow('conv2d: a conv with a connection table always has a bias');
    expect(() => layers.globalMaxPooling2d({ poolSize: 2 } as never)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => layers.activation({ activation: 'mish' as never })).toThrow('activation: activation must be one of linear, relu, tanh, lecunTanh, sigmoid, softmax, leakyRelu, elu, gelu, swish, hardSigmoid, got "mish"');
    // SDLM needs a curvature rule for every layer; batch normalisation has none.
    expect(() => normalisedNet(cw).compile({ optimizer: 'sdlm' })).toThrow('layer 1 (batchNormalization "batchNormalization"): the sdlm optimizer has no curvature rule for it');
    // A softmax activation only ends a model; the softmax layer goes anywhere.
    const mid = new cw.Sequential({ inputShape: [4, 4, 1], layers: [layers.flatten(), layers.dense({ name: 'inner', units: 3, activation: 'softmax' }), layers.dense({ units: 2, activation: 'softmax' })] });
    expect(() => mid.compile()).toThrow('layer 1 (dense "inner"): softmax is supported only as the last layer\'s activation; use a softmax layer elsewhere');
  });

  it('save and load every weight byte and predicted bit, in our format', async () => {
    for (const build of [normalisedNet, keras3Net]) {
      const model = build(cw).compile({ optimizer: 'adam', seed: 2 });
      await model.fit(fashion.train.images.subarray(0, 64 * 784), fashion.train.labels.subarray(0, 64), { batchSize: 32 });
      const dir = join(tmp, model.name);
      await model.save(`file://${dir}`);
      const back = await cw.loadModel(`file://${dir}`);
      expect(back.layers.map((l) => l.config())).toEqual(model.layers.map((l) => l.config()));
      expect(bytes(back.getWeightsFlat()).equals(bytes(model.getWeightsFlat()))).toBe(true);
      const x = fashion.test.images.subarray(0, 20 * 784);
      expect(bytes(back.predict(x)).equals(bytes(model.predict(x)))).toBe(true);
      back.dispose();
      if (build === normalisedNet) {
        // And through TF.js's format: spatial dropout as its Dropout with Keras's noise shape, the
        // penalties as L1L2.
        const again = cw.fromTfjsLayers(cw.toTfjsLayers(model));
        expect(again.layers.map((l) => [l.className, l.config()])).toEqual(model.layers.map((l) => [l.className, l.config()]));
        expect(bytes(again.predict(x)).equals(bytes(model.predict(x)))).toBe(true);
        again.dispose();
      }
      model.dispose();
    }
  });

  it('kernel penalties add to the loss Keras reports, and are checked', () => {
    const x = fashion.test.images.subarray(0, 32 * 784);
    const y = fashion.test.labels.subarray(0, 32);
    const build = (kernelRegularizer?: cw.Regularizer) =>
      new cw.Sequential({
        inputShape: [28, 28, 1],
        preprocessing: { scale: 1 / 255, offset: 0 },
        layers: [layers.flatten(), layers.dense({ units: 10, activation: 'softmax', ...(kernelRegularizer ? { kernelRegularizer } : {}) })],
      }).compile({ seed: 4 });
    const plain = build();
    const penalised = build(cw.regularizers.l1l2({ l1: 0.001, l2: 0.01 }));
    const w = plain.getWeights()[0]!.values;
    const penalty = 0.001 * w.reduce((s, v) => s + Math.abs(v), 0) + 0.01 * w.reduce((s, v) => s + v * v, 0);
    expect(penalised.evaluate(x, y).loss - plain.evaluate(x, y).loss).toBeCloseTo(penalty, 4);
    plain.dispose();
    penalised.dispose();
    expect(() => layers.dense({ units: 2, kernelRegularizer: { l2: -1 } })).toThrow('dense: kernelRegularizer: l2 must be a finite number ≥ 0, got -1');
    expect(() => layers.conv2d({ filters: 2, kernelSize: 3, kernelRegularizer: 'l3' as never })).toThrow("conv2d: kernelRegularizer must be regularizers.l1(…), regularizers.l2(…), { l1, l2 } or 'l1' / 'l2', got \"l3\"");
    expect(layers.dense({ units: 2, kernelRegularizer: 'l2' }).config()).toMatchObject({ kernelRegularizer: { l1: 0, l2: 0.01 } });
  });

  it("separableConv2d's two kernels take a penalty each, added to the loss and kept by TF.js's format", () => {
    const x = fashion.test.images.subarray(0, 32 * 784);
    const y = fashion.test.labels.subarray(0, 32);
    const penalties = { depthwiseRegularizer: cw.regularizers.l1l2({ l1: 0.002, l2: 0.01 }), pointwiseRegularizer: cw.regularizers.l2(0.03) };
    const build = (penalised: boolean) =>
      new cw.Sequential({
        inputShape: [28, 28, 1],
        preprocessing: { scale: 1 / 255, offset: 0 },
        layers: [
          layers.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, activation: 'relu', ...(penalised ? penalties : {}) }),
          layers.globalAveragePooling2d(),
          layers.dense({ units: 10, activation: 'softmax' }),
        ],
      }).compile({ seed: 4 });
    const plain = build(false);
    const penalised = build(true);
    const [depthwise, pointwise] = plain.getWeights().map((t) => t.values);
    const sum = (w: Float32Array, f: (v: number) => number) => w.reduce((s, v) => s + f(v), 0);
    const penalty = 0.002 * sum(depthwise!, Math.abs) + 0.01 * sum(depthwise!, (v) => v * v) + 0.03 * sum(pointwise!, (v) => v * v);
    expect(penalised.evaluate(x, y).loss - plain.evaluate(x, y).loss).toBeCloseTo(penalty, 4);
    const again = cw.fromTfjsLayers(cw.toTfjsLayers(penalised));
    expect(again.layers[0]!.config()).toEqual(penalised.layers[0]!.config());
    expect(again.layers[0]!.config()).toMatchObject({ depthwiseRegularizer: { l1: 0.002, l2: 0.01 }, pointwiseRegularizer: { l1: 0, l2: 0.03 } });
    for (const m of [plain, penalised, again]) m.dispose();
    expect(() => layers.separableConv2d({ filters: 2, kernelSize: 3, pointwiseRegularizer: { l1: Number.NaN } })).toThrow(
      'separableConv2d: pointwiseRegularizer: l1 must be a finite number ≥ 0, got NaN',
    );
  });

  it('batch normalisation trains by micro-batch: the micro-batch size changes the bits, the worker count does not', async () => {
    const n = 4 * 32;
    const x = fashion.train.images.subarray(0, n * 784);
    const y = fashion.train.labels.subarray(0, n);
    const run = async (options: cw.FitConfig) => {
      const model = normalisedNet(cw).compile({ optimizer: 'adam', seed: 7 });
      await model.fit(x, y, { batchSize: 32, ...options });
      const w = model.getWeightsFlat();
      model.dispose();
      return bytes(w);
    };
    const [micro8, micro8Workers, micro16, whole] = [await run({ microBatchSize: 8, workers: 1 }), await run({ microBatchSize: 8, workers: 2 }), await run({ microBatchSize: 16, workers: 2 }), await run({ microBatchSize: 32 })];
    expect(micro8Workers.equals(micro8)).toBe(true);
    expect(micro16.equals(micro8)).toBe(false);
    expect(whole.equals(micro8)).toBe(false);
  });

  it('batch normalisation predicts with the moving statistics, which training moves', async () => {
    const model = normalisedNet(cw).compile({ optimizer: 'adam', seed: 3 });
    const moving = () => model.getWeights().filter((w) => w.name.endsWith('moving_mean') || w.name.endsWith('moving_variance'));
    const before = moving();
    expect(before.every((w) => w.values.every((v) => v === (w.name.endsWith('mean') ? 0 : 1)))).toBe(true);
    const x = fashion.test.images.subarray(0, 8 * 784);
    // One image alone or among others: inference normalises each by the same moving statistics.
    const together = model.predict(x);
    const alone = model.predict(x.subarray(0, 784));
    expect(bytes(alone).equals(bytes(together.subarray(0, 10)))).toBe(true);
    await model.fit(fashion.train.images.subarray(0, 64 * 784), fashion.train.labels.subarray(0, 64), { batchSize: 32 });
    const after = moving();
    expect(after.every((w, i) => w.values.some((v, j) => v !== before[i]!.values[j]))).toBe(true);
    expect(after.every((w) => w.values.every(Number.isFinite))).toBe(true);
    model.dispose();
  });
});
