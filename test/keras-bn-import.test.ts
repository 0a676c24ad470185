// A Keras CNN of the kind users bring, imported: tools/fixtures/make-keras-bn-fixture.py trained
// Conv–BatchNormalization–ReLU blocks (convs without biases), global average pooling and a dense
// head in Keras on real Fashion-MNIST images, and stored its weights (rounded to float16) with the
// probabilities Keras computes from them for the first 100 test images. They load into the same
// stack through setWeights() and through TF.js's Layers format (the model rebuilt in
// @tensorflow/tfjs and saved by it), and give Keras's probabilities within 1e-4.
import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { halfs } from './shared/halfs.js';
import type { Dataset } from 'convnet-wasm';

const DIR = new URL('./fixtures/keras/', import.meta.url);
const doc = JSON.parse(readFileSync(new URL('bn-convnet.json', DIR), 'utf8')) as {
  shapes: number[][];
  params: number;
  trainable: number;
  non_trainable: number;
  probabilities: number[][];
};

const weights = halfs(new Uint8Array(readFileSync(new URL('bn-convnet.f16.bin', DIR))));
let fashion: Dataset;
let tmp: string;
beforeAll(async () => {
  await cw.init();
  await tf.setBackend('cpu');
  fashion = await cw.datasets.fashionMnist();
  tmp = await mkdtemp(join(tmpdir(), 'convnet-bn-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** The fixture's network, built with convnet-wasm's layers. */
function ours(): cw.Sequential {
  const { layers } = cw;
  const block = (filters: number) => [layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false }), layers.batchNormalization(), layers.activation({ activation: 'relu' })];
  return new cw.Sequential({
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      ...block(16),
      layers.maxPool2d(),
      ...block(32),
      layers.maxPool2d(),
      ...block(64),
      layers.globalAveragePooling2d(),
      layers.dense({ units: 64, activation: 'relu' }),
      layers.dropout({ rate: 0.3 }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

/** The largest difference from Keras's probabilities over the 100 images, with the classes checked. */
function againstKeras(model: cw.LayersModel): number {
  const probs = model.predict(fashion.test.images.subarray(0, 100 * 784));
  let worst = 0;
  for (let i = 0; i < 100; i++) {
    const want = doc.probabilities[i]!;
    const got = Array.from(probs.subarray(i * 10, i * 10 + 10));
    worst = Math.max(worst, ...got.map((v, j) => Math.abs(v - want[j]!)));
    expect(got.indexOf(Math.max(...got))).toBe(want.indexOf(Math.max(...want)));
  }
  return worst;
}

describe('a Keras Conv–BN–ReLU network with global average pooling', () => {
  it('loads through setWeights() and gives Keras’s probabilities on 100 real test images', () => {
    const model = ours().compile({ optimizer: 'adam', seed: 1 });
    expect(model.weightSpecs().map((w) => w.shape)).toEqual(doc.shapes);
    expect(model.countParams()).toBe(doc.params);
    expect(model.countNonTrainableParams()).toBe(doc.non_trainable);
    const summary = model.summary();
    expect(summary).toContain(`Trainable params: ${doc.trainable.toLocaleString('en-US')}`);
    expect(summary).toContain(`Non-trainable params: ${doc.non_trainable.toLocaleString('en-US')}   Total params: ${doc.params.toLocaleString('en-US')}`);
    model.setWeights(weights);
    const worst = againstKeras(model);
    console.log(`Keras BN import (setWeights): largest probability difference ${worst.toExponential(2)} on 100 images`);
    expect(worst).toBeLessThan(1e-4);
    model.dispose();
  });

  it('loads through the TF.js Layers format written by TF.js, and saves back to it and to our format', async () => {
    const t = tf.sequential();
    t.add(tf.layers.rescaling({ scale: 1 / 255, offset: 0, inputShape: [28, 28, 1] }));
    for (const [k, filters] of [16, 32, 64].entries()) {
      t.add(tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false }));
      t.add(tf.layers.batchNormalization());
      t.add(tf.layers.activation({ activation: 'relu' }));
      if (k < 2) t.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    }
    t.add(tf.layers.globalAveragePooling2d({}));
    t.add(tf.layers.dense({ units: 64, activation: 'relu' }));
    t.add(tf.layers.dropout({ rate: 0.3 }));
    t.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
    // Layer by layer: a TF.js model lists all trainable weights before the moving statistics.
    let at = 0;
    let k = 0;
    for (const layer of t.layers) {
      const own = doc.shapes.slice(k, (k += layer.weights.length));
      layer.setWeights(own.map((shape) => tf.tensor(weights.subarray(at, (at += shape.reduce((p, d) => p * d, 1))), shape)));
    }
    let saved: tf.io.ModelArtifacts | undefined;
    await t.save(tf.io.withSaveHandler(async (a) => ((saved = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    t.dispose();
    const model = cw.fromTfjsLayers({
      modelTopology: saved!.modelTopology as cw.TfjsArtifacts['modelTopology'],
      weightSpecs: saved!.weightSpecs as cw.TfjsArtifacts['weightSpecs'],
      weightData: saved!.weightData as ArrayBuffer,
    });
    expect(model.layers.map((l) => l.className)).toEqual(ours().layers.map((l) => l.className));
    const worst = againstKeras(model);
    console.log(`Keras BN import (TF.js Layers format): largest probability difference ${worst.toExponential(2)} on 100 images`);
    expect(worst).toBeLessThan(1e-4);
    // Back out: TF.js's format and ours keep every weight byte and every predicted bit.
    const x = fashion.test.images.subarray(0, 50 * 784);
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    await cw.saveTfjsLayers(model, `file://${join(tmp, 'tfjs')}`);
    await model.save(`file://${join(tmp, 'ours')}`);
    for (const back of [await cw.loadTfjsLayers(`file://${join(tmp, 'tfjs')}`), await cw.loadModel(`file://${join(tmp, 'ours')}`)]) {
      expect(bytes(back.getWeightsFlat()).equals(bytes(model.getWeightsFlat()))).toBe(true);
      expect(bytes(back.predict(x)).equals(bytes(model.predict(x)))).toBe(true);
      back.dispose();
    }
    model.dispose();
  }, 60_000);
});
