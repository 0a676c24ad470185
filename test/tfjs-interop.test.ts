// TF.js Layers format, checked by the real client: @tensorflow/tfjs 4.22 (CPU backend) loads our
// exports of the Fashion ConvNet and the modern LeNet-5 and predicts the same classes on 100 real
// test images, with probabilities within 1e-4. Models built in TF.js come back into convnet-wasm.
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import type { Dataset } from 'convnet-wasm';
import { keras3Net, normalisedNet } from './shared/newer-layers.js';

let fashion: Dataset;
let mnist: Dataset;
let tmp: string;
beforeAll(async () => {
  await cw.init();
  await tf.setBackend('cpu');
  [fashion, mnist] = await Promise.all([cw.datasets.fashionMnist(), cw.datasets.mnist()]);
  tmp = await mkdtemp(join(tmpdir(), 'convnet-tfjs-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** Our probabilities against TF.js's for the first 100 test images (raw pixels as floats). */
async function compare(model: cw.LayersModel, data: Dataset) {
  const n = 100;
  const pixels = data.test.images.subarray(0, n * 784);
  const ours = model.predict(pixels);
  const a = cw.toTfjsLayers(model);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: a.weightData }));
  const x = tf.tensor4d(Float32Array.from(pixels), [n, 28, 28, 1]);
  const theirs = (loaded.predict(x) as tf.Tensor).dataSync() as Float32Array;
  let worst = 0;
  let sameClass = 0;
  for (let i = 0; i < n; i++) {
    const row = (p: Float32Array) => Array.from(p.subarray(i * 10, i * 10 + 10));
    const [o, t] = [row(ours), row(theirs)];
    worst = Math.max(worst, ...o.map((v, j) => Math.abs(v - t[j]!)));
    sameClass += o.indexOf(Math.max(...o)) === t.indexOf(Math.max(...t)) ? 1 : 0;
  }
  tf.dispose([x]);
  loaded.dispose();
  return { worst, sameClass };
}

describe('TF.js Layers format', () => {
  it('the Fashion ConvNet, after some training, predicts the same in TF.js', async () => {
    const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 });
    await model.fit(fashion.train.images.subarray(0, 256 * 784), fashion.train.labels.subarray(0, 256), { batchSize: 32 });
    const { worst, sameClass } = await compare(model, fashion);
    console.log(`TF.js interop, Fashion ConvNet: same class on ${sameClass}/100, largest probability difference ${worst.toExponential(2)}`);
    expect(sameClass).toBe(100);
    expect(worst).toBeLessThan(1e-4);
    model.dispose();
  }, 120_000);

  it('the modern LeNet-5, trained, predicts the same in TF.js, and the file round-trips', async () => {
    const model = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 4 });
    await model.fit(mnist.train.images.subarray(0, 2000 * 784), mnist.train.labels.subarray(0, 2000), { batchSize: 32 });
    const { worst, sameClass } = await compare(model, mnist);
    console.log(`TF.js interop, modern LeNet-5: same class on ${sameClass}/100, largest probability difference ${worst.toExponential(2)}`);
    expect(sameClass).toBe(100);
    expect(worst).toBeLessThan(1e-4);
    // Save to disk in TF.js's format and read it back: every weight byte survives.
    const dir = join(tmp, 'lenet-modern');
    await cw.saveTfjsLayers(model, `file://${dir}`);
    const back = await cw.loadTfjsLayers(`file://${dir}`);
    expect(Buffer.from(back.getWeightsFlat().buffer).equals(Buffer.from(model.getWeightsFlat().buffer))).toBe(true);
    const x = mnist.test.images.subarray(0, 50 * 784);
    expect(Buffer.from(back.predict(x).buffer).equals(Buffer.from(model.predict(x).buffer))).toBe(true);
    back.dispose();
    model.dispose();
  }, 120_000);

  it('a trained net of batch normalisation, global pooling and the newer activations predicts the same in TF.js', async () => {
    const model = normalisedNet(cw).compile({ optimizer: 'adam', seed: 5 });
    await model.fit(fashion.train.images.subarray(0, 512 * 784), fashion.train.labels.subarray(0, 512), { batchSize: 32 });
    const { worst, sameClass } = await compare(model, fashion);
    console.log(`TF.js interop, batch-normalised net: same class on ${sameClass}/100, largest probability difference ${worst.toExponential(2)}`);
    expect(sameClass).toBe(100);
    expect(worst).toBeLessThan(1e-4);
    model.dispose();
    // Keras 3's hard sigmoid is not TF.js's (0.2·x + 0.5), and TF.js has no leaky_relu activation.
    expect(() => cw.toTfjsLayers(keras3Net(cw).compile())).toThrowError(
      expect.objectContaining({ code: 'TFJS_FORMAT', message: expect.stringContaining('layer 6 (Conv2D "conv2d") uses the activation leakyRelu, which TF.js does not have') }),
    );
  }, 120_000);

  it('reads a model built and initialised in TF.js', async () => {
    const t = tf.sequential({
      layers: [
        tf.layers.rescaling({ scale: 1 / 255, offset: 0, inputShape: [28, 28, 1] }),
        tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    let saved: tf.io.ModelArtifacts | undefined;
    await t.save(tf.io.withSaveHandler(async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const ours = cw.fromTfjsLayers({
      modelTopology: saved!.modelTopology as cw.TfjsArtifacts['modelTopology'],
      weightSpecs: saved!.weightSpecs as cw.TfjsArtifacts['weightSpecs'],
      weightData: saved!.weightData as ArrayBuffer,
    });
    const n = 20;
    const pixels = fashion.test.images.subarray(0, n * 784);
    const theirs = (t.predict(tf.tensor4d(Float32Array.from(pixels), [n, 28, 28, 1])) as tf.Tensor).dataSync();
    const mine = ours.predict(pixels);
    expect(Math.max(...Array.from(mine, (v, i) => Math.abs(v - theirs[i]!)))).toBeLessThan(1e-5);
    ours.dispose();
    t.dispose();
  });

  it("names the input's Rescaling so that it does not collide with a layer called rescaling, in a stack and a graph", async () => {
    const conv = (name: string) => cw.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name });
    const head = () => [cw.layers.globalAveragePooling2d({ name: 'pool' }), cw.layers.dense({ units: 10, activation: 'softmax', name: 'out' })] as const;
    const stack = new cw.Sequential({ inputShape: [28, 28, 1], preprocessing: { scale: 1 / 255, offset: 0 }, layers: [conv('rescaling'), conv('rescaling_1'), ...head()] });
    const x = cw.input({ shape: [28, 28, 1], name: 'rescaling_2' });
    const a = conv('rescaling').apply(x);
    const [pool, out] = head();
    const sum = cw.layers.add({ name: 'sum' }).apply([a, conv('rescaling_1').apply(a)]);
    const graph = cw.model({ inputs: x, outputs: out.apply(pool.apply(sum)), preprocessing: { scale: 1 / 255, offset: 0 } });
    for (const m of [stack, graph]) {
      m.compile({ optimizer: 'adam', seed: 5 });
      await m.fit(fashion.train.images.subarray(0, 64 * 784), fashion.train.labels.subarray(0, 64), { batchSize: 32 });
      const names = cw.toTfjsLayers(m).modelTopology.config.layers.map((l) => String(l.config.name));
      expect(names).toContain(m === stack ? 'rescaling_2' : 'rescaling_3');
      expect(new Set(names).size).toBe(names.length);
      const { worst, sameClass } = await compare(m, fashion);
      expect(sameClass).toBe(100);
      expect(worst).toBeLessThan(1e-5);
      m.dispose();
    }
  }, 120_000);

  it('refuses layers TF.js has no equivalent for, naming the layer', () => {
    expect(() => cw.toTfjsLayers(cw.models.leNet5().compile({ optimizer: 'sdlm' }))).toThrow(
      'toTfjsLayers(): layer 0 (ZeroPadding2D "pad") pads with -0.1, and TF.js pads only with zeros; export it with exportOnnx() instead',
    );
    const sub = new cw.Sequential({ inputShape: [8, 8, 1], layers: [cw.layers.subsampling2d(), cw.layers.flatten(), cw.layers.dense({ units: 2, activation: 'softmax' })] }).compile();
    expect(() => cw.toTfjsLayers(sub)).toThrowError(expect.objectContaining({ code: 'TFJS_FORMAT', message: expect.stringContaining('layer 0 (Subsampling2D "subsampling2d") has no TF.js Layers equivalent') }));
  });
});
