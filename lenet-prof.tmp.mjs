import * as cw from 'convnet-wasm';
await cw.init();
const data = await cw.datasets.mnist();
const model = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 1 });
const batch = 32, n = 20000;
let t0 = 0;
await model.fit(data.train.images.subarray(0, n * 784), data.train.labels.subarray(0, n), {
  batchSize: batch, shuffle: false, workers: 1, epochs: 1,
  callbacks: { onBatchEnd: (b) => { if (b === 100) t0 = performance.now(); } },
});
const steps = n / batch - 101;
console.log('img/s', (steps * batch / ((performance.now() - t0) / 1000)).toFixed(0));
