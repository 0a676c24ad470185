#!/usr/bin/env node
// Times one pass over the first 2,560 Fashion-MNIST training images (40 batches of 64 in
// micro-batches of 32) for models.fashionConvNetBN() with its default head (global average
// pooling) and with a flattened head and a dense layer of 256 units, alternating, twice each.
// Usage: npm run build && node tools/experiments/fashion-bn-heads-speed.mjs [workers=2]
import * as cw from 'convnet-wasm';

const workers = Number(process.argv[2] ?? 2);
await cw.init();
const data = await cw.datasets.fashionMnist();
const n = 64 * 40;
const x = data.train.images.subarray(0, n * 784);
const y = data.train.labels.subarray(0, n);
const heads = [
  ['global average pooling', {}],
  ['flatten, dense 256', { head: 'flatten', denseUnits: 256 }],
];
for (const [name, options] of [...heads, ...heads]) {
  const model = cw.models.fashionConvNetBN(options).compile({ optimizer: 'adam', learningRate: 0.001, seed: 1 });
  const start = performance.now();
  await model.fit(x, y, { epochs: 1, batchSize: 64, microBatchSize: 32, workers, verbose: 0 });
  console.log(`${name}: ${((performance.now() - start) / 1000).toFixed(2)} s for ${n} images, ${workers} workers`);
  model.dispose();
}
process.exit(0);
