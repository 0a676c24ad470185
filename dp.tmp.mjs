import { init, models, datasets } from 'convnet-wasm';
import { createHash } from 'node:crypto';
await init();
const f = await datasets.fashionMnist();
const n = Number(process.argv[2] ?? 640);
const x = f.train.images.subarray(0, n * 784), y = f.train.labels.subarray(0, n);
for (const [label, opts] of [['old path (micro = batch)', { microBatchSize: 32, workers: 1 }], ['micro 8, in-process', { workers: 1 }], ['micro 8, 2 workers', { workers: 2 }], ['micro 8, 4 workers', { workers: 4 }], ['micro 8, in-process again', { workers: 1 }], ['micro 8, 2 workers again', { workers: 2 }]]) {
  const m = models.fashionConvNet();
  m.compile({ optimizer: 'nadam', seed: 42 });
  const t = performance.now();
  const h = await m.fit(x, y, { batchSize: 32, ...opts });
  const s = (performance.now() - t) / 1000;
  console.log(label.padEnd(28), (n / s).toFixed(1), 'img/s', 'loss', h.history.loss[0], createHash('sha256').update(m.getWeights()).digest('hex').slice(0, 16));
  m.dispose();
}
