#!/usr/bin/env node
// How sure is a trained network of its training images? Loads the model that
// `npm run train -- --out <dir>` saved and counts, over the first `n` training images of
// Fashion-MNIST, the class probabilities below 1e-20 … 1e-35 and below the smallest normal
// float (and the images with one), and those that are exactly 0. Their loss gradients,
// (p − onehot)/batch, are what the backward pass carries down to the subnormal range.
// Usage: npm run build && node tools/experiments/tiny-probs.mjs <out dir> [n=10000]
import { resolve } from 'node:path';
import * as cw from 'convnet-wasm';

const [dir, count = '10000'] = process.argv.slice(2);
if (!dir) throw new Error('usage: node tools/experiments/tiny-probs.mjs <out dir> [n=10000]');
await cw.init();
const data = await cw.datasets.fashionMnist();
const model = await cw.loadModel(`file://${resolve(dir)}/model.json`);
const n = Number(count);
const classes = 10;
const p = model.predict(data.train.images.subarray(0, n * 784), { batchSize: 256 });
const bounds = [1e-20, 1e-25, 1e-30, 1e-35, 2 ** -126];
const entries = bounds.map(() => 0);
const rows = bounds.map(() => 0);
let zero = 0;
for (let i = 0; i < n; i++) {
  const row = p.subarray(i * classes, (i + 1) * classes);
  bounds.forEach((bound, k) => {
    const below = row.filter((v) => v > 0 && v < bound).length;
    entries[k] += below;
    if (below > 0) rows[k]++;
  });
  zero += row.filter((v) => v === 0).length;
}
const percent = (v) => `${((100 * v) / (n * classes)).toFixed(2)}%`;
bounds.forEach((bound, k) => console.log(`0 < p < ${bound.toPrecision(3)}: ${entries[k]} of ${n * classes} (${percent(entries[k])}), in ${rows[k]} images`));
console.log(`p = 0: ${zero} (${percent(zero)})`);
