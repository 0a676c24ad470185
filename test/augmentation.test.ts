// The augmentation layers through the public API: Keras's options (a factor f is [−f, f]), their
// errors, training-only behaviour (inference passes images through; training on augmented images
// changes the weights, the same way for any worker count and seed by seed), saving and loading,
// exports that leave them out (they are the identity in inference), and LeNet-5's distortions.
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { keras3Net } from './shared/newer-layers.js';

const { layers } = cw;
let fashion: cw.Dataset;
let mnist: cw.Dataset;
beforeAll(async () => {
  await cw.init();
  [fashion, mnist] = await Promise.all([cw.datasets.fashionMnist(), cw.datasets.mnist()]);
});

const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('augmentation layers', () => {
  it('take Keras’s options and refuse bad ones, naming them', () => {
    expect(layers.randomTranslation({ heightFactor: 0.1, widthFactor: [-0.2, 0.05] }).config()).toEqual({ heightFactor: [-0.1, 0.1], widthFactor: [-0.2, 0.05], fillMode: 'reflect', fillValue: 0 });
    expect(layers.randomFlip().config()).toEqual({ mode: 'horizontal_and_vertical' });
    expect(layers.randomContrast({ factor: 0.3 }).config()).toEqual({ factor: [0.3, 0.3], valueRange: [0, 255] });
    expect(() => layers.randomRotation({ factor: 2 })).toThrow('randomRotation: factor must be a number in [0, 1] or [low, high] within ±1, got 2');
    expect(() => layers.randomZoom({ heightFactor: [0.2, -0.2] })).toThrow('randomZoom: heightFactor must be a number in [0, 1] or [low, high] within ±1, got [0.2,-0.2]');
    expect(() => layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, fillMode: 'mirror' as never })).toThrow('randomTranslation: fillMode must be one of reflect, wrap, nearest, constant, got "mirror"');
    expect(() => layers.randomFlip({ mode: 'diagonal' as never })).toThrow('randomFlip: mode must be one of horizontal, vertical, horizontal_and_vertical, got "diagonal"');
    expect(() => layers.randomContrast({ factor: 1.5 })).toThrow('randomContrast: factor must be a number or [lower, upper], lower in [0, 1] and upper ≥ 0, got 1.5');
    expect(() => layers.randomAffine({ shear: 3 })).toThrow('randomAffine: shear must be a number in [0, 1], got 3');
    expect(() => cw.models.leNet5({ distortions: 'yes' as never })).toThrow('leNet5: distortions must be true, false or { translation, scale, squeeze, shear }, got "yes"');
  });

  it('pass images through in inference and change training, the same for any worker count', async () => {
    const n = 4 * 32;
    const x = fashion.train.images.subarray(0, n * 784);
    const y = fashion.train.labels.subarray(0, n);
    const test = fashion.test.images.subarray(0, 16 * 784);
    const plain = () => {
      const m = keras3Net(cw);
      return new cw.Sequential({ name: 'plain', inputShape: m.inputShape, preprocessing: m.preprocessing, layers: m.layers.filter((l) => !l.className.startsWith('Random')) });
    };
    const augmented = keras3Net(cw).compile({ optimizer: 'adam', seed: 9 });
    const without = plain().compile({ optimizer: 'adam', seed: 9 });
    // The same initial weights (the augmentation layers have none): the same predictions.
    expect(bytes(augmented.getWeightsFlat()).equals(bytes(without.getWeightsFlat()))).toBe(true);
    expect(bytes(augmented.predict(test)).equals(bytes(without.predict(test)))).toBe(true);
    await augmented.fit(x, y, { batchSize: 32, microBatchSize: 8, workers: 1 });
    await without.fit(x, y, { batchSize: 32, microBatchSize: 8, workers: 1 });
    expect(bytes(augmented.getWeightsFlat()).equals(bytes(without.getWeightsFlat()))).toBe(false);
    const twoWorkers = keras3Net(cw).compile({ optimizer: 'adam', seed: 9 });
    await twoWorkers.fit(x, y, { batchSize: 32, microBatchSize: 8, workers: 2 });
    expect(bytes(twoWorkers.getWeightsFlat()).equals(bytes(augmented.getWeightsFlat()))).toBe(true);
    for (const m of [augmented, without, twoWorkers]) m.dispose();
  }, 120_000);

  it('save and load with their settings; TF.js and ONNX exports leave them out', async () => {
    const model = keras3Net(cw).compile({ optimizer: 'adam', seed: 3 });
    const back = await cw.loadModel(cw.toArtifacts(model));
    expect(back.layers.map((l) => [l.className, l.config()])).toEqual(model.layers.map((l) => [l.className, l.config()]));
    back.dispose();
    const onnx = await cw.exportOnnx(model);
    expect(onnx.length).toBeGreaterThan(0);
    model.dispose();
    // TF.js's format: the augmentation is dropped; Keras's names are read back.
    const normalised = new cw.Sequential({
      inputShape: [28, 28, 1],
      preprocessing: { scale: 1 / 255, offset: 0 },
      layers: [layers.randomFlip({ mode: 'horizontal' }), layers.flatten(), layers.dense({ units: 10, activation: 'softmax' })],
    }).compile();
    const artifacts = cw.toTfjsLayers(normalised);
    expect(artifacts.modelTopology.config.layers.map((l) => l.class_name)).toEqual(['Rescaling', 'Flatten', 'Dense']);
    const keras = { ...artifacts, modelTopology: { ...artifacts.modelTopology, config: { ...artifacts.modelTopology.config, layers: [...artifacts.modelTopology.config.layers] } } };
    keras.modelTopology.config.layers.splice(1, 0, { class_name: 'RandomTranslation', config: { name: 'aug', height_factor: 0.1, width_factor: [-0.1, 0.2], fill_mode: 'constant', fill_value: 0.5, interpolation: 'bilinear', seed: null } });
    const read = cw.fromTfjsLayers(keras);
    expect(read.layers[0]!.config()).toEqual({ heightFactor: [-0.1, 0.1], widthFactor: [-0.1, 0.2], fillMode: 'constant', fillValue: 0.5 });
    read.dispose();
    normalised.dispose();
  });

  it('randomErasing: Keras’s options; in training one rectangle per image, in inference nothing; any worker count', async () => {
    expect(layers.randomErasing().config()).toEqual({ factor: [0, 1], scale: [0.02, 0.33], fillValue: null, valueRange: [0, 255] });
    expect(layers.randomErasing({ factor: [0.5, 0.2], scale: 0.1, fillValue: 3 }).config()).toEqual({ factor: [0.2, 0.5], scale: [0, 0.1], fillValue: 3, valueRange: [0, 255] });
    expect(() => layers.randomErasing({ factor: 1.5 })).toThrow('randomErasing: factor must be a number in [0, 1] or [low, high] within [0, 1], got 1.5');
    expect(() => layers.randomErasing({ scale: [0.1, 2] })).toThrow('randomErasing: scale must be a number in [0, 1] or [low, high] within [0, 1], got [0.1,2]');
    expect(() => layers.randomErasing({ fillValue: Number.NaN })).toThrow('randomErasing: fillValue must be a finite number or null, got null');
    expect(() => layers.randomErasing({ valueRange: [1, 0] })).toThrow('randomErasing: valueRange must be [low, high] with low < high, got [1,0]');
    const net = (erasing: cw.Layer[]) =>
      new cw.Sequential({ inputShape: [28, 28, 1], preprocessing: { scale: 1 / 255, offset: 0 }, layers: [...erasing, layers.flatten(), layers.dense({ units: 10, activation: 'softmax' })] }).compile({ optimizer: 'adam', seed: 4 });
    // Erasing always (factor [1, 1]) with zeros, one image, one Adam step: a kernel row of the
    // dense layer stays as it was exactly where its pixel was 0 after the erasing, so the
    // image's nonzero pixels that kept their rows are the erased ones, and they fill a rectangle.
    const image = fashion.train.images.subarray(0, 784);
    const erasing = net([layers.randomErasing({ factor: [1, 1], scale: [0.3, 0.33], fillValue: 0, valueRange: [0, 1] })]);
    const before = erasing.getWeightsFlat();
    await erasing.fit(image, fashion.train.labels.subarray(0, 1), { batchSize: 1, workers: 1 });
    const after = erasing.getWeightsFlat();
    const kept = (i: number) => [...Array(10).keys()].every((k) => before[i * 10 + k] === after[i * 10 + k]);
    const lit = [...Array(784).keys()].filter((i) => image[i] !== 0);
    const erased = lit.filter(kept);
    expect(erased.length).toBeGreaterThan(50);
    const rows = erased.map((i) => Math.floor(i / 28));
    const cols = erased.map((i) => i % 28);
    const inBox = (i: number) => Math.floor(i / 28) >= Math.min(...rows) && Math.floor(i / 28) <= Math.max(...rows) && i % 28 >= Math.min(...cols) && i % 28 <= Math.max(...cols);
    expect(lit.filter(inBox)).toEqual(erased);
    // Each side is √0.3–√0.33 of the image: 15.3–16.1 positions, 15 to 17 once rounded to them.
    expect(Math.max(...rows) - Math.min(...rows) + 1).toBeLessThanOrEqual(17);
    expect(Math.max(...cols) - Math.min(...cols) + 1).toBeLessThanOrEqual(17);
    // Inference passes images through: the same predictions as the network without the layer.
    const without = net([]);
    without.setWeights(after);
    const test = fashion.test.images.subarray(0, 16 * 784);
    expect(bytes(erasing.predict(test)).equals(bytes(without.predict(test)))).toBe(true);
    // Noise fills (the default), training on 64 images: the same bits for one or two workers,
    // and not those of the network without erasing.
    const x = fashion.train.images.subarray(0, 64 * 784);
    const y = fashion.train.labels.subarray(0, 64);
    const trained = await Promise.all(
      [1, 2, 0].map(async (workers) => {
        const m = net(workers ? [layers.randomErasing({ valueRange: [0, 1] })] : []);
        await m.fit(x, y, { batchSize: 32, microBatchSize: 16, workers: workers || 1 });
        const w = m.getWeightsFlat();
        m.dispose();
        return bytes(w);
      }),
    );
    expect(trained[0]!.equals(trained[1]!)).toBe(true);
    expect(trained[0]!.equals(trained[2]!)).toBe(false);
    // Saved and loaded with its settings; read from Keras's format; left out of TF.js's.
    const back = await cw.loadModel(cw.toArtifacts(erasing));
    expect(back.layers[0]!.config()).toEqual(erasing.layers[0]!.config());
    expect(cw.toTfjsLayers(erasing).modelTopology.config.layers.map((l) => l.class_name)).toEqual(['Rescaling', 'Flatten', 'Dense']);
    const artifacts = cw.toTfjsLayers(without);
    const topology = artifacts.modelTopology;
    const keras = { ...artifacts, modelTopology: { ...topology, config: { ...topology.config, layers: [...topology.config.layers] } } };
    keras.modelTopology.config.layers.splice(1, 0, { class_name: 'RandomErasing', config: { name: 'erase', factor: [0, 0.5], scale: [0.02, 0.33], fill_value: null, value_range: [0, 1], seed: null } });
    const read = cw.fromTfjsLayers(keras);
    expect(read.layers[0]!.config()).toEqual({ factor: [0, 0.5], scale: [0.02, 0.33], fillValue: null, valueRange: [0, 1] });
    for (const m of [erasing, without, back, read]) m.dispose();
  }, 60_000);

  it('LeNet-5 with the paper’s distortions trains with SDLM, predicting as the plain network does', async () => {
    const distorted = cw.models.leNet5({ distortions: { translation: 1.5 } }).compile({ optimizer: 'sdlm', learningRate: 0.0005, seed: 6 });
    const plain = cw.models.leNet5().compile({ optimizer: 'sdlm', learningRate: 0.0005, seed: 6 });
    expect(distorted.layers[0]!.config()).toEqual({ translation: 1.5, scale: 0.1, squeeze: 0.1, shear: 0.2, fillMode: 'constant', fillValue: -0.1 });
    expect(distorted.countParams()).toBe(60_000);
    const test = mnist.test.images.subarray(0, 20 * 784);
    expect(bytes(distorted.predict(test)).equals(bytes(plain.predict(test)))).toBe(true);
    const x = mnist.train.images.subarray(0, 100 * 784);
    const y = mnist.train.labels.subarray(0, 100);
    await distorted.fit(x, y, { batchSize: 1, curvatureSamples: 20 });
    await plain.fit(x, y, { batchSize: 1, curvatureSamples: 20 });
    expect(bytes(distorted.getWeightsFlat()).equals(bytes(plain.getWeightsFlat()))).toBe(false);
    expect(distorted.getWeightsFlat().every(Number.isFinite)).toBe(true);
    distorted.dispose();
    plain.dispose();
  }, 60_000);
});
