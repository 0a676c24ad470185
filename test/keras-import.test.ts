// Weights trained in Keras, imported: tools/fixtures/make-keras-fixture.py trained Géron's Fashion
// ConvNet for one short epoch in Keras (tensorflow-cpu) and stored its weights (rounded to
// float16, to keep the fixture small) with the probabilities Keras computes from them for the
// first 100 test images. Set into models.fashionConvNet(), they give the same probabilities.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { halfs } from './shared/halfs.js';

const DIR = new URL('./fixtures/keras/', import.meta.url);
const doc = JSON.parse(readFileSync(new URL('fashion-convnet.json', DIR), 'utf8')) as { shapes: number[][]; params: number; probabilities: number[][] };

beforeAll(async () => {
  await cw.init();
});

describe('weights trained in Keras', () => {
  it('load into fashionConvNet() and give Keras’s probabilities on 100 real test images', async () => {
    const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 });
    // Keras's get_weights() order and layouts are ours: each layer's kernel, then its bias.
    expect(model.weightSpecs().map((w) => w.shape)).toEqual(doc.shapes);
    const weights = halfs(new Uint8Array(readFileSync(new URL('fashion-convnet.f16.bin', DIR))));
    expect(weights.length).toBe(doc.params);
    model.setWeights(weights);
    const data = await cw.datasets.fashionMnist();
    const probs = model.predict(data.test.images.subarray(0, 100 * 784));
    let worst = 0;
    for (let i = 0; i < 100; i++) {
      const want = doc.probabilities[i]!;
      const got = Array.from(probs.subarray(i * 10, i * 10 + 10));
      worst = Math.max(worst, ...got.map((v, j) => Math.abs(v - want[j]!)));
      expect(got.indexOf(Math.max(...got))).toBe(want.indexOf(Math.max(...want)));
    }
    console.log(`Keras import: largest probability difference ${worst.toExponential(2)} on 100 images`);
    expect(worst).toBeLessThan(1e-4);
    model.dispose();
  });
});
