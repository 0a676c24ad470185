#!/usr/bin/env node
// Times one pass over the first 2,560 Fashion-MNIST training images (40 batches of 64 in
// micro-batches of 32, Adam) for the residual network of fashion-bn-resnet.mjs, three times:
// its training speed between builds (run it from a clone at each build, alternating).
// Usage: npm run build && node tools/experiments/fashion-bn-resnet-speed.mjs [workers=2]
import * as cw from 'convnet-wasm';
import { resNet } from './fashion-bn-resnet.mjs';
const workers = Number(process.argv[2] ?? 2);
await cw.init();
const data = await cw.datasets.fashionMnist();
const n = 64 * 40;
const x = data.train.images.subarray(0, n * 784);
const y = data.train.labels.subarray(0, n);
const network = { translation: 0.1, flip: true, erasing: 0, dropout: 0.3, filters: [32, 64, 128], head: 'globalAverage', denseUnits: 0 };
for (let i = 0; i < 3; i++) {
  const model = resNet(cw, network).compile({ optimizer: 'adam', learningRate: 0.001, seed: 1 });
  const start = performance.now();
  await model.fit(x, y, { epochs: 1, batchSize: 64, microBatchSize: 32, workers, verbose: 0 });
  console.log(`resnet: ${((performance.now() - start) / 1000).toFixed(2)} s for ${n} images, ${workers} workers`);
  model.dispose();
}
process.exit(0);
