// ONNX export, checked by two real runtimes: native ONNX Runtime (onnxruntime-node 1.30, the
// engine a server runs; installed with --ignore-scripts, its binary ships in the package) and its
// wasm build (onnxruntime-web, in Node). Each loads the exports of all three networks — the Fashion
// ConvNet, the faithful LeNet-5 (C3 as Gathers, Convs and a Concat; the RBF as Sub and
// ReduceSumSquare) and the modern LeNet-5 — and of two nets holding every later layer (batch
// normalisation, global pooling, softmax layers, the newer activations), and its outputs match
// `predict` within 1e-5 on 100 real test images, with the same classes.
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import type { Dataset } from 'convnet-wasm';
import { keras3Net, normalisedNet } from './shared/newer-layers.js';

let fashion: Dataset;
let mnist: Dataset;
beforeAll(async () => {
  await cw.init();
  ortWeb.env.wasm.numThreads = 1;
  [fashion, mnist] = await Promise.all([cw.datasets.fashionMnist(), cw.datasets.mnist()]);
});

async function compare(ort: typeof ortWeb, model: cw.Sequential, data: Dataset) {
  const n = 100;
  const pixels = data.test.images.subarray(0, n * 784);
  const ours = model.predict(pixels);
  const session = await ort.InferenceSession.create(await cw.exportOnnx(model));
  const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(pixels), [n, 28, 28, 1]) });
  const theirs = out.probabilities!.data as Float32Array;
  expect(theirs.length).toBe(ours.length);
  let worst = 0;
  let sameClass = 0;
  for (let i = 0; i < n; i++) {
    const o = Array.from(ours.subarray(i * 10, i * 10 + 10));
    const t = Array.from(theirs.subarray(i * 10, i * 10 + 10));
    worst = Math.max(worst, ...o.map((v, j) => Math.abs(v - t[j]!)));
    sameClass += o.indexOf(Math.max(...o)) === t.indexOf(Math.max(...t)) ? 1 : 0;
  }
  await session.release();
  return { worst, sameClass };
}

const runtimes: [string, typeof ortWeb][] = [
  ['onnxruntime-node', ortNode as unknown as typeof ortWeb],
  ['onnxruntime-web', ortWeb],
];

describe.each(runtimes)('ONNX export (%s)', (runtime, ort) => {
  const cases: [string, () => cw.Sequential, () => Dataset, number][] = [
    ['Fashion ConvNet', () => cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 }), () => fashion, 128],
    ['faithful LeNet-5', () => cw.models.leNet5().compile({ optimizer: 'sdlm', learningRate: 0.00005, seed: 1 }), () => mnist, 1000],
    ['modern LeNet-5', () => cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 1 }), () => mnist, 1000],
    ['batch-normalised net', () => normalisedNet(cw).compile({ optimizer: 'adam', seed: 3 }), () => fashion, 256],
    ['Keras 3 activations net', () => keras3Net(cw).compile({ optimizer: 'adam', seed: 3 }), () => fashion, 256],
    ['fashionConvNetBN with random erasing', () => cw.models.fashionConvNetBN({ filters: [8, 16, 16], erasing: 1 }).compile({ optimizer: 'adam', seed: 3 }), () => fashion, 256],
  ];
  for (const [name, build, data, n] of cases) {
    it(`${name}: the same probabilities within 1e-5 and the same classes on 100 test images`, async () => {
      const model = build();
      const d = data();
      const batchSize = model.compileConfig?.optimizer.type === 'sdlm' ? 1 : 32;
      await model.fit(d.train.images.subarray(0, n * 784), d.train.labels.subarray(0, n), { batchSize });
      const { worst, sameClass } = await compare(ort, model, d);
      console.log(`ONNX (${runtime}), ${name}: same class on ${sameClass}/100, largest probability difference ${worst.toExponential(2)}`);
      expect(sameClass).toBe(100);
      expect(worst).toBeLessThan(1e-5);
      model.dispose();
    }, 120_000);
  }
});
