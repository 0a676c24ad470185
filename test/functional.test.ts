// Graph models (TF.js's functional API): input(), layer.apply(), the merge layers and model(), on real
// Fashion-MNIST images. A residual network trains to the same bits on 1 and 2 workers and after a
// resume from a checkpoint, learns, saves and loads (model.json's `Model` topology) to the same
// predictions, exports to ONNX (checked by native ONNX Runtime) and to TF.js's Layers format
// (checked by @tensorflow/tfjs), and misuse is refused with the layer, the shapes or the names.
// Graphs come in too: one built in TF.js, and one trained in Keras 3 (its own topology JSON,
// tools/fixtures/make-keras-residual-fixture.py) gives Keras's probabilities. The gradients through
// branches and merges are checked by finite differences in crate/src/model/step.rs.
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { halfs } from './shared/halfs.js';
import { residualNet } from './shared/residual-net.js';

const { layers, input, model } = cw;
let data: Awaited<ReturnType<typeof cw.datasets.fashionMnist>>;

beforeAll(async () => {
  await cw.init();
  await tf.setBackend('cpu');
  data = await cw.datasets.fashionMnist();
});

/** The largest difference between two sets of probabilities, and how many rows' classes differ. */
function compare(ours: Float32Array, theirs: ArrayLike<number>): { worst: number; otherClass: number } {
  expect(theirs.length).toBe(ours.length);
  let worst = 0;
  let otherClass = 0;
  for (let i = 0; i < ours.length; i += 10) {
    const o = Array.from(ours.subarray(i, i + 10));
    const t = Array.from({ length: 10 }, (_, j) => theirs[i + j]!);
    worst = Math.max(worst, ...o.map((v, j) => Math.abs(v - t[j]!)));
    otherClass += o.indexOf(Math.max(...o)) === t.indexOf(Math.max(...t)) ? 0 : 1;
  }
  return { worst, otherClass };
}

const residual = (name?: string) => residualNet(cw, name);

const train = (n: number) => [data.train.images.subarray(0, n * 784), data.train.labels.subarray(0, n)] as const;
const bits = (m: cw.LayersModel) => Buffer.from(m.getWeightsFlat().buffer);

describe('graph models', () => {
  it('are built from applied layers, in the order applied, and say what each layer reads', () => {
    const m = residual();
    expect(m).toBeInstanceOf(cw.LayersModel);
    expect(m.isGraph).toBe(true);
    expect(m.inputShape).toEqual([28, 28, 1]);
    expect(m.outputShape).toEqual([1, 1, 10]);
    expect(m.layers.map((l) => l.name)).toEqual([
      'conv2d', 'batchNormalization', 'activation', 'maxPool2d', 'conv2d_1', 'batchNormalization_1', 'activation_1', 'conv2d_2',
      'batchNormalization_2', 'add', 'activation_2', 'conv2d_3', 'concatenate', 'globalAveragePooling2d', 'globalMaxPooling2d', 'add_1', 'dropout', 'dense',
    ]);
    expect(m.inboundNames(0)).toEqual(['pixels']);
    expect(m.inboundNames(9)).toEqual(['batchNormalization_2', 'maxPool2d']);
    expect(m.inboundNames(12)).toEqual(['activation_2', 'conv2d_3']);
    expect(m.inboundNames(15)).toEqual(['globalAveragePooling2d', 'globalMaxPooling2d']);
    // 72 + 2·576 + 36 conv weights, 3·32 batch-normalisation values, 12·10 + 10 dense.
    expect(m.countParams()).toBe(72 + 2 * 576 + 36 + 3 * 32 + 130);
    const summary = m.summary();
    expect(summary).toContain('Connected to');
    expect(summary).toMatch(/add \(Add\)\s+\[14, 14, 8\]\s+0\s+0\s+batchNormalization_2, maxPool2d\n/);
    expect(summary).toMatch(/concatenate \(Concatenate\)\s+\[14, 14, 12\]\s+0\s+0\s+activation_2, conv2d_3\n/);
    // A stack is not a graph, and its summary has no such column.
    expect(cw.models.fashionConvNet().summary()).not.toContain('Connected to');
  });

  it('train to the same bits on 1 and 2 workers and after a resume, and learn', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cw-graph-'));
    try {
      const fit = async (workers: number, extra: cw.FitConfig = {}) => {
        const m = residual().compile({ optimizer: 'adam', learningRate: 0.01, seed: 3 });
        await m.fit(...train(2048), { epochs: 4, batchSize: 64, microBatchSize: 16, workers, ...extra });
        return m;
      };
      const first = await fit(1);
      const one = bits(first);
      const second = await fit(2);
      expect(bits(second).equals(one)).toBe(true);
      // It learns: well above chance (0.1) on 1,000 test images after 128 steps of this small
      // network (0.509 when written).
      const { accuracy } = first.evaluate(data.test.images.subarray(0, 1000 * 784), data.test.labels.subarray(0, 1000));
      expect(accuracy).toBeGreaterThan(0.35);
      first.dispose();
      second.dispose();
      // Stopped after 100 of its 128 steps (a checkpoint every 8), then resumed from step 96's.
      const stopped = residual().compile({ optimizer: 'adam', learningRate: 0.01, seed: 3 });
      let epoch = 0;
      await stopped.fit(...train(2048), {
        epochs: 4,
        batchSize: 64,
        microBatchSize: 16,
        workers: 1,
        checkpoint: { dir, every: 8 },
        callbacks: { onEpochBegin: (e) => void (epoch = e), onBatchEnd: (b) => void (epoch === 3 && b === 3 && (stopped.stopTraining = true)) },
      });
      expect(bits(stopped).equals(one)).toBe(false);
      stopped.dispose();
      expect((await readdir(dir)).length).toBeGreaterThan(0);
      let steps = 0;
      const resumed = await fit(1, { checkpoint: { dir, every: 8 }, resume: true, callbacks: { onBatchEnd: () => void steps++ } });
      expect(steps).toBe(32);
      expect(bits(resumed).equals(one)).toBe(true);
      resumed.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('save and load to the same predictions, in memory and on disk, and export to ONNX', async () => {
    const m = residual().compile({ optimizer: 'adam', learningRate: 0.01, seed: 4 });
    await m.fit(...train(512), { epochs: 1, batchSize: 64 });
    const x = data.test.images.subarray(0, 100 * 784);
    const want = Buffer.from(m.predict(x).buffer);
    const artifacts = cw.toArtifacts(m);
    expect(artifacts.modelJson.modelTopology.className).toBe('Model');
    const loaded = cw.fromArtifacts({ modelJson: JSON.parse(JSON.stringify(artifacts.modelJson)), weights: artifacts.weights });
    expect(loaded.isGraph).toBe(true);
    expect(loaded.summary()).toBe(m.summary());
    expect(Buffer.from(loaded.predict(x).buffer).equals(want)).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'cw-graph-save-'));
    try {
      await m.save(`file://${dir}`);
      const fromDisk = await cw.loadModel(`file://${dir}`);
      expect(Buffer.from(fromDisk.predict(x).buffer).equals(want)).toBe(true);
      fromDisk.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // ONNX: the merges as Add and Concat nodes (the second Add of vectors); native ONNX Runtime agrees with predict.
    const session = await ort.InferenceSession.create(await cw.exportOnnx(m));
    const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x), [100, 28, 28, 1]) });
    const theirs = out.probabilities!.data as Float32Array;
    const ours = m.predict(x);
    expect(theirs.length).toBe(ours.length);
    let worst = 0;
    for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - theirs[i]!));
    expect(worst).toBeLessThan(1e-5);
    await session.release();
    // TF.js's Layers format: @tensorflow/tfjs loads it (a functional `Model`) and agrees with
    // predict; read back, it is the same model, bit for bit.
    const a = cw.toTfjsLayers(m);
    expect(a.modelTopology.class_name).toBe('Model');
    const t = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs, weightData: a.weightData }));
    const tfjs = compare(ours, (t.predict(tf.tensor4d(Float32Array.from(x), [100, 28, 28, 1])) as tf.Tensor).dataSync() as Float32Array);
    t.dispose();
    expect(tfjs.worst).toBeLessThan(1e-5);
    expect(tfjs.otherClass).toBe(0);
    const back = cw.fromTfjsLayers(a);
    expect(back.isGraph).toBe(true);
    expect(back.summary().replace(/^Model: \S+/, '')).toBe(m.summary().replace(/^Model: \S+/, ''));
    expect(Buffer.from(back.predict(x).buffer).equals(want)).toBe(true);
    back.dispose();
    m.dispose();
    loaded.dispose();
  });

  it("every merge (subtract, multiply, average, maximum, minimum): saved, loaded, exported to ONNX and TF.js with predict's probabilities", async () => {
    const x = input({ shape: [28, 28, 1] });
    const a = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
    const b = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(x);
    const difference = layers.subtract().apply([a, b]);
    const product = layers.multiply().apply([a, b, difference]);
    const mean = layers.average().apply([a, b, product]);
    const top = layers.maximum().apply([mean, a]);
    const bottom = layers.minimum().apply([top, b, a]);
    const out = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.globalAveragePooling2d().apply(bottom));
    const make = () => model({ inputs: x, outputs: out, preprocessing: { scale: 1 / 255, offset: 0 } });
    const m = make().compile({ optimizer: 'adam', learningRate: 0.01, seed: 9 });
    expect(m.layers.map((l) => l.className).slice(2, 7)).toEqual(['Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum']);
    await m.fit(...train(256), { epochs: 1, batchSize: 32 });
    const pixels = data.test.images.subarray(0, 100 * 784);
    const ours = m.predict(pixels);
    const loaded = cw.fromArtifacts(cw.toArtifacts(m));
    expect(Buffer.from(loaded.predict(pixels).buffer).equals(Buffer.from(ours.buffer))).toBe(true);
    loaded.dispose();
    const session = await ort.InferenceSession.create(await cw.exportOnnx(m));
    const result = await session.run({ input: new ort.Tensor('float32', Float32Array.from(pixels), [100, 28, 28, 1]) });
    const onnx = compare(ours, result.probabilities!.data as Float32Array);
    await session.release();
    expect(onnx.worst).toBeLessThan(1e-5);
    expect(onnx.otherClass).toBe(0);
    // TF.js has every one of them but Subtract.
    expect(() => cw.toTfjsLayers(m)).toThrow("toTfjsLayers(): layer 2 (Subtract \"subtract\") is a Subtract, which TF.js does not have; export it with exportOnnx() instead");
    m.dispose();
    const y = input({ shape: [28, 28, 1] });
    const c = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(y);
    const d = layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'tanh' }).apply(y);
    const merged = layers.minimum().apply([layers.maximum().apply([layers.average().apply([c, d]), c]), layers.multiply().apply([c, d])]);
    const n = model({ inputs: y, outputs: layers.dense({ units: 10, activation: 'softmax' }).apply(layers.globalMaxPooling2d().apply(merged)), preprocessing: { scale: 1 / 255, offset: 0 } }).compile({ seed: 2 });
    const a2 = cw.toTfjsLayers(n);
    const t = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: a2.modelTopology, weightSpecs: a2.weightSpecs, weightData: a2.weightData }));
    const tfjs = compare(n.predict(pixels), (t.predict(tf.tensor4d(Float32Array.from(pixels), [100, 28, 28, 1])) as tf.Tensor).dataSync() as Float32Array);
    t.dispose();
    expect(tfjs.worst).toBeLessThan(1e-5);
    expect(tfjs.otherClass).toBe(0);
    const back = cw.fromTfjsLayers(a2);
    expect(back.layers.map((l) => l.className).slice(2, 6)).toEqual(['Average', 'Maximum', 'Multiply', 'Minimum']);
    expect(Buffer.from(back.predict(pixels).buffer).equals(Buffer.from(n.predict(pixels).buffer))).toBe(true);
    back.dispose();
    n.dispose();
  });

  it('refuse misuse with the layer, the shapes or the names', () => {
    const x = input({ shape: [8, 8, 2] });
    const a = layers.conv2d({ filters: 2, kernelSize: 3 }).apply(x);
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as cw.ConvnetError;
      }
      throw new Error('no error');
    };
    let e = err(() => layers.add().apply([a, x]));
    expect(e).toBeInstanceOf(cw.ShapeMismatchError);
    expect(e.message).toBe('add.apply(): inputs [6, 6, 2], [8, 8, 2]: its inputs must have one shape: input 0 is [6, 6, 2], input 1 is [8, 8, 2]');
    expect(err(() => layers.add().apply(a)).message).toBe(
      'add.apply(): input [6, 6, 2]: add merges two or more inputs, got 1; apply it to a list of tensors in a graph model (layers.add().apply([a, b]), see model())',
    );
    expect(err(() => layers.flatten().apply([a, a])).message).toBe('flatten.apply(): inputs [6, 6, 2], [6, 6, 2]: flatten takes one input, given 2');
    expect(err(() => layers.subtract().apply([a, a, a])).message).toBe(
      'subtract.apply(): inputs [6, 6, 2], [6, 6, 2], [6, 6, 2]: subtract merges exactly two inputs, got 3; apply it to a list of tensors in a graph model (layers.subtract().apply([a, b]), see model())',
    );
    expect(err(() => layers.concatenate().apply([a, x])).message).toBe(
      'concatenate.apply(): inputs [6, 6, 2], [8, 8, 2]: its inputs must have one height and width: input 0 is [6, 6, 2], input 1 is [8, 8, 2]',
    );
    expect(layers.concatenate().apply([x, x, x]).shape).toEqual([8, 8, 6]);
    expect(err(() => layers.concatenate({ axis: 1 })).message).toBe('concatenate: axis must be -1 (the channels; 3 is the same), got 1');
    const conv = layers.conv2d({ filters: 2, kernelSize: 3, name: 'c' });
    conv.apply(x);
    e = err(() => conv.apply(x));
    expect(e).toBeInstanceOf(cw.InvalidArgumentError);
    expect(e.message).toBe('conv2d "c".apply(): the layer was applied already; make a new layer (shared layers are not supported)');
    expect(err(() => layers.dense({ units: 2 }).apply([] as never)).message).toMatch(/needs a tensor from input\(\)/);
    // The output must depend on the model's input only.
    const other = input({ shape: [8, 8, 2], name: 'other' });
    const mixed = layers.add().apply([layers.conv2d({ filters: 2, kernelSize: 1 }).apply(x), layers.conv2d({ filters: 2, kernelSize: 1 }).apply(other)]);
    expect(err(() => model({ inputs: x, outputs: mixed })).message).toBe(
      'model(): the output depends on the input "other", which is not the model\'s input ("input")',
    );
    expect(err(() => model({ inputs: [x, other], outputs: mixed })).message).toMatch(/^model\(\): inputs must be one tensor/);
    expect(err(() => model({ inputs: a, outputs: a })).message).toBe("model(): inputs must be a tensor from input(), not a layer's output");
    expect(err(() => model({ inputs: x, outputs: x })).message).toBe("model(): outputs must be a layer's output, not an input");
    // A merge layer has no place in a stack.
    e = err(() => new cw.Sequential({ inputShape: [4, 4, 1], layers: [layers.add()] }));
    expect(e).toBeInstanceOf(cw.ShapeMismatchError);
    expect(e.message).toMatch(/^layer 0 \(add "add"\): input \[4, 4, 1\]: add merges two or more inputs, got 1; apply it to a list of tensors in a graph model/);
    // A layer's name may not be the input's.
    const y = input({ shape: [4, 4, 1], name: 'flatten' });
    const flat = layers.flatten().apply(y);
    expect(err(() => model({ inputs: y, outputs: layers.dense({ units: 2, activation: 'softmax' }).apply(flat) })).message).toBe(
      'layer 0 (flatten): the name "flatten" is already used',
    );
  });

  it('come in from TF.js (a functional model built there) and from Keras 3 (its own topology JSON) with their probabilities', async () => {
    // Built and initialised in TF.js: a residual block and two merged poolings.
    const x = tf.input({ shape: [28, 28, 1] });
    const stem = tf.layers.maxPooling2d({ poolSize: 2 }).apply(tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x)) as tf.SymbolicTensor;
    const branch = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }).apply(tf.layers.batchNormalization().apply(stem)) as tf.SymbolicTensor;
    const added = tf.layers.activation({ activation: 'relu' }).apply(tf.layers.add().apply([branch, stem])) as tf.SymbolicTensor;
    const block = tf.layers.concatenate().apply([added, stem]) as tf.SymbolicTensor;
    const pool = (l: tf.layers.Layer) => l.apply(block) as tf.SymbolicTensor;
    const pooled = tf.layers.add().apply([pool(tf.layers.globalAveragePooling2d({})), pool(tf.layers.globalMaxPooling2d({}))]) as tf.SymbolicTensor;
    const t = tf.model({ inputs: x, outputs: tf.layers.dense({ units: 10, activation: 'softmax' }).apply(pooled) as tf.SymbolicTensor });
    let saved: tf.io.ModelArtifacts | undefined;
    await t.save(tf.io.withSaveHandler(async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const pixels = data.test.images.subarray(0, 100 * 784);
    const floats = Float32Array.from(pixels, (v) => v / 255);
    const theirs = (t.predict(tf.tensor4d(floats, [100, 28, 28, 1])) as tf.Tensor).dataSync() as Float32Array;
    t.dispose();
    const fromTfjs = cw.fromTfjsLayers({
      modelTopology: saved!.modelTopology as cw.TfjsArtifacts['modelTopology'],
      weightSpecs: saved!.weightSpecs as cw.TfjsArtifacts['weightSpecs'],
      weightData: saved!.weightData as ArrayBuffer,
    });
    expect(fromTfjs.isGraph).toBe(true);
    const tfjs = compare(fromTfjs.predict(floats), theirs);
    expect(tfjs.worst).toBeLessThan(1e-5);
    expect(tfjs.otherClass).toBe(0);
    fromTfjs.dispose();
    // Trained in Keras 3: its Functional topology, weights in get_weights() order.
    const dir = new URL('./fixtures/keras/', import.meta.url);
    const doc = JSON.parse(readFileSync(new URL('residual.json', dir), 'utf8')) as { topology: unknown; shapes: number[][]; params: number; trainable: number; probabilities: number[][] };
    const weights = halfs(new Uint8Array(readFileSync(new URL('residual.f16.bin', dir))));
    const keras = cw.fromTfjsLayers({
      modelTopology: doc.topology as cw.TfjsArtifacts['modelTopology'],
      weightSpecs: doc.shapes.map((shape, k) => ({ name: `w${k}`, shape, dtype: 'float32' as const })),
      weightData: weights.slice().buffer,
    });
    expect(keras.isGraph).toBe(true);
    expect(keras.countParams()).toBe(doc.params);
    expect(keras.countParams() - keras.countNonTrainableParams()).toBe(doc.trainable);
    expect(keras.layers.filter((l) => l.className === 'Add').length).toBe(2);
    const fromKeras = compare(keras.predict(floats), doc.probabilities.flat());
    console.log(`Keras residual import: largest probability difference ${fromKeras.worst.toExponential(2)} on 100 images`);
    expect(fromKeras.worst).toBeLessThan(1e-4);
    expect(fromKeras.otherClass).toBe(0);
    keras.dispose();
  });

  it('refuse a model.json whose layers read unknown tensors', async () => {
    const m = residual().compile({ seed: 1 });
    const artifacts = cw.toArtifacts(m);
    m.dispose();
    const json = JSON.parse(JSON.stringify(artifacts.modelJson));
    json.modelTopology.config.layers[9].inbound = ['batchNormalization_2', 'dense'];
    const err = (() => {
      try {
        cw.fromArtifacts({ modelJson: json, weights: artifacts.weights });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(cw.ModelFormatError);
    expect(err!.message).toBe('model: layer 9 ("add") reads "dense", which is neither the input nor an earlier layer');
    delete json.modelTopology.config.layers[9].inbound;
    expect(() => cw.fromArtifacts({ modelJson: json, weights: artifacts.weights })).toThrow('model: layer 9 ("add") of a Model must list its inbound tensors\' names');
  });
});

describe('models.fashionResNet', () => {
  it('builds the residual network of docs/fashion-bn.md with Keras’s parameter count, and checks its options', () => {
    const m = cw.models.fashionResNet();
    // Keras's count: 3×3 convs without biases, four values per batch-norm channel (two trainable), the dense head.
    const convs: [number, number][] = [[1, 16], [16, 16], [16, 16], [16, 32], ...Array<[number, number]>(4).fill([32, 32]), [32, 64], ...Array<[number, number]>(4).fill([64, 64])];
    const weights = convs.reduce((s, [i, o]) => s + 9 * i * o, 0) + 64 * 10 + 10;
    const norms = convs.reduce((s, [, o]) => s + 4 * o, 0);
    expect(m.countParams()).toBe(weights + norms);
    expect(m.countParams()).toBe(214_874);
    expect(m.countNonTrainableParams()).toBe(norms / 2);
    expect(m.summary()).toContain('Connections: 20,174,538');
    expect(m.summary().match(/\(Add\)/g)).toHaveLength(5);
    m.dispose();
    const small = cw.models.fashionResNet({ filters: [8, 16, 16], blocks: [0, 1, 0], augment: false });
    expect(small.summary().match(/\(Conv2D\)/g)).toHaveLength(5);
    expect(small.summary()).not.toContain('RandomFlip');
    small.dispose();
    expect(() => cw.models.fashionResNet({ filters: [16, 32] as unknown as [number, number, number] })).toThrow(/fashionResNet: filters must be three integers ≥ 1, got \[16, 32\]/);
    expect(() => cw.models.fashionResNet({ blocks: [1, -1, 2] })).toThrow(/blocks must be three integers ≥ 0/);
    expect(() => cw.models.fashionResNet({ translation: 1 })).toThrow(/translation must be a fraction in \[0, 1\), got 1/);
  });
});
