#!/usr/bin/env node
// A quick A/B timer for kernel changes: the modern LeNet-5 on one thread, batch-1 latency (30,000
// `predict` calls on real test digits after 3,000 warm-up calls) and training speed (300 Adam
// steps of batch 32 in one micro-batch). Run it from two builds in turn, several times each;
// `npm run bench` remains the reference.
// Usage: npm run build && node tools/experiments/lenet-modern-speed.mjs
import * as cw from 'convnet-wasm';

await cw.init();
const data = await cw.datasets.mnist();
const digit = (i) => data.test.images.subarray((i % 1000) * 784, ((i % 1000) + 1) * 784);
const model = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', learningRate: 0.001, seed: 1 });
for (let i = 0; i < 3000; i++) model.predict(digit(i));
const calls = 30_000;
let t = performance.now();
for (let i = 0; i < calls; i++) model.predict(digit(i));
const latency = ((performance.now() - t) / calls) * 1000;
model.dispose();

const trainer = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', learningRate: 0.001, seed: 1 });
const n = 32 * 300;
t = performance.now();
await trainer.fit(data.train.images.subarray(0, n * 784), data.train.labels.subarray(0, n), { epochs: 1, batchSize: 32, microBatchSize: 32, workers: 1 });
const rate = n / ((performance.now() - t) / 1000);
trainer.dispose();
console.log(`batch-1 latency ${latency.toFixed(1)} µs, training ${rate.toFixed(0)} img/s`);
