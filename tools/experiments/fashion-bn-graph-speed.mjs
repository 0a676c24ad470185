#!/usr/bin/env node
// Times one pass over the first 2,560 Fashion-MNIST training images (40 batches of 64 in
// micro-batches of 32) for models.fashionConvNetBN() as a stack and as the graph with identity
// shortcuts (fashion-bn-shortcuts.mjs: the same convs plus two adds), alternating, three times
// each: what a graph model's runtime costs beside a stack's. With `resnet`, times
// models.fashionResNet() three times instead (its speed between builds: run it from a clone at
// each build, alternating).
// Usage: npm run build && node tools/experiments/fashion-bn-graph-speed.mjs [workers=2] [resnet]
import * as cw from 'convnet-wasm';
import { withShortcuts } from './fashion-bn-shortcuts.mjs';

const workers = Number(process.argv[2] ?? 2);
await cw.init();
const data = await cw.datasets.fashionMnist();
const n = 64 * 40;
const x = data.train.images.subarray(0, n * 784);
const y = data.train.labels.subarray(0, n);
const network = { translation: 0.1, flip: true, erasing: 0, dropout: 0.3, filters: [32, 64, 128], head: 'globalAverage', denseUnits: 0 };
const builds = [
  ['stack', () => cw.models.fashionConvNetBN(network)],
  ['graph with shortcuts', () => withShortcuts(cw, network)],
];
const resnet = [['residual network', () => cw.models.fashionResNet()]];
const chosen = process.argv[3] === 'resnet' ? resnet : builds;
for (const [name, build] of [...chosen, ...chosen, ...chosen]) {
  const model = build().compile({ optimizer: 'adam', learningRate: 0.001, seed: 1 });
  const start = performance.now();
  await model.fit(x, y, { epochs: 1, batchSize: 64, microBatchSize: 32, workers, verbose: 0 });
  console.log(`${name}: ${((performance.now() - start) / 1000).toFixed(2)} s for ${n} images, ${workers} workers`);
  model.dispose();
}
process.exit(0);
