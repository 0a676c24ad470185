#!/usr/bin/env node
// How a prediction's time grows with the batch: the Fashion ConvNet (or the modern LeNet-5) on
// one thread, `predict` of 1, 2, 4, 8 and 16 real test images, medians of 9 rounds of timed calls
// after a warm-up. If one image costs nearly as much as several, the time goes into what every
// call does once (streaming the packed weights), not into the images.
// Usage: npm run build && node tools/experiments/batch-latency.mjs [fashion|lenet]
import * as cw from 'convnet-wasm';

const network = process.argv[2] ?? 'fashion';
if (network !== 'fashion' && network !== 'lenet') throw new Error(`network must be fashion or lenet, got ${network}`);
await cw.init();
const data = network === 'fashion' ? await cw.datasets.fashionMnist() : await cw.datasets.mnist();
const model = network === 'fashion' ? cw.models.fashionConvNet().compile({ seed: 1 }) : cw.models.leNet5({ variant: 'modern' }).compile({ seed: 1 });
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`${network}: batch, ms a call, ms an image (median of 9 rounds)`);
for (const batch of [1, 2, 4, 8, 16]) {
  const images = (i) => data.test.images.subarray((i % 500) * 784, (i % 500 + batch) * 784);
  const calls = network === 'fashion' ? Math.max(10, 200 / batch) : Math.max(100, 4000 / batch);
  for (let i = 0; i < calls; i++) model.predict(images(i));
  const rounds = [];
  for (let r = 0; r < 9; r++) {
    const t = performance.now();
    for (let i = 0; i < calls; i++) model.predict(images(i + r));
    rounds.push((performance.now() - t) / calls);
  }
  const ms = median(rounds);
  console.log(`${String(batch).padStart(3)}  ${ms.toFixed(3).padStart(7)}  ${(ms / batch).toFixed(3).padStart(7)}`);
}
model.dispose();
