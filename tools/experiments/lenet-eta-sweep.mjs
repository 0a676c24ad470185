#!/usr/bin/env node
// Trains the faithful LeNet-5 with SDLM (μ 0.02, eq. 9 with j = 1, batch 1, seed 1) for one pass
// over the first 6,000 MNIST training images at several constant η, and prints how the loss
// moves and the accuracy on the first 2,000 test images. The README's LeNet-5 section quotes it:
// the paper's η diverge here, a tenth of them train. Deterministic: the same output every run.
// Usage: npm run build && node tools/experiments/lenet-eta-sweep.mjs [eta …]
import * as cw from 'convnet-wasm';

const etas = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [0.0005, 0.0002, 0.0001, 0.00005];
const N = 6000;
const WINDOW = 600;

await cw.init();
const data = await cw.datasets.mnist();
for (const eta of etas) {
  const model = cw.models.leNet5();
  model.compile({ optimizer: { type: 'sdlm', mu: 0.02 }, loss: { type: 'rbfMap', j: 1 }, learningRate: eta, seed: 1 });
  const losses = [];
  await model.fit(data.train.images.subarray(0, N * 784), data.train.labels.subarray(0, N), {
    epochs: 1,
    batchSize: 1,
    callbacks: { onBatchEnd: (_batch, logs) => void losses.push(logs.loss) },
  });
  const windows = [];
  for (let i = 0; i < N; i += WINDOW) windows.push((losses.slice(i, i + WINDOW).reduce((a, b) => a + b, 0) / WINDOW).toFixed(1));
  const test = model.evaluate(data.test.images.subarray(0, 2000 * 784), data.test.labels.subarray(0, 2000));
  console.log(`η ${eta}: first losses ${losses.slice(0, 6).map((v) => v.toFixed(1)).join(' ')}`);
  console.log(`  mean loss per ${WINDOW} steps: ${windows.join(' ')}`);
  console.log(`  test accuracy (first 2,000): ${test.accuracy.toFixed(4)}`);
  model.dispose();
}
