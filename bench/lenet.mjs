#!/usr/bin/env node
// npm run bench:lenet — LeNet-5 training images/s on real MNIST, one thread, in one process,
// interleaved:
//   - convnet-wasm, the faithful LeNet-5 (SDLM, eq. 9) at batch 1 (the paper's stochastic
//     updates, one wasm call per image) and at batch 32;
//   - convnet-wasm, the modern variant (Adam) at batch 32;
//   - TensorFlow.js 4.22's LeNet-like network (the modern variant's layers, Adam) at batch 32: the
//     wasm backend with the filter gradient from its own ops, the wasm backend with the CPU
//     backend's Conv2DBackpropFilter, and the CPU backend (see tfjs-training.mjs).
// Writes bench/results/lenet.{json,md}. Flag: --steps N (default 40 timed steps of batch 32).
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as cw from 'convnet-wasm';
import { setupTfjsTraining, timeSteps, timeTfjsSteps } from './tfjs-training.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const STEPS = Number(args[args.indexOf('--steps') + 1]) || 40;
const ROUNDS = 3;
const BATCH = 32;
const WARMUP = 3;

await cw.init();
const data = await cw.datasets.mnist();
const n = (STEPS + WARMUP) * BATCH;
const pixels = data.train.images.subarray(0, n * 784);
const labels = data.train.labels.subarray(0, n);

/** Seconds per image for one of our models trained with `fit` over the bench's images. */
async function ours(build, compile, batchSize) {
  const model = build();
  model.compile(compile);
  const examples = (i) => [i * batchSize, (i + 1) * batchSize];
  const step = (i) => {
    const [a, b] = examples(i);
    return model.fit(pixels.subarray(a * 784, b * 784), labels.subarray(a, b), { batchSize, shuffle: false, curvatureSamples: 1 });
  };
  // At batch 1 one fit() per image would time the fit loop; one fit() over the images times the
  // per-image steps as a user runs them.
  let seconds;
  if (batchSize === 1) {
    await step(0);
    const t0 = performance.now();
    await model.fit(pixels.subarray(784, (STEPS * BATCH + 1) * 784), labels.subarray(1, STEPS * BATCH + 1), { batchSize: 1, shuffle: false, curvatureSamples: 1 });
    seconds = (performance.now() - t0) / 1000 / (STEPS * BATCH);
  } else {
    seconds = (await timeSteps(step, STEPS, WARMUP)) / batchSize;
  }
  model.dispose();
  return seconds;
}

const faithful = (batchSize) => ours(() => cw.models.leNet5(), { optimizer: { type: 'sdlm' }, loss: { type: 'rbfMap', j: 1 }, learningRate: 0.00005, seed: 1 }, batchSize);
const modern = () => ours(() => cw.models.leNet5({ variant: 'modern' }), { optimizer: 'adam', seed: 1 }, BATCH);

/** TF.js's LeNet-like network: the modern variant's layers. */
function tfModel() {
  const model = tf.sequential({
    layers: [
      tf.layers.zeroPadding2d({ padding: 2, inputShape: [28, 28, 1] }),
      tf.layers.conv2d({ filters: 6, kernelSize: 5, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 120, kernelSize: 5, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 84, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

async function tfjs(backend, steps, warmup) {
  const seconds = await timeTfjsSteps(tf, tfModel, { backend, pixels, labels, batch: BATCH, steps, warmup });
  return seconds / BATCH;
}

const { withOwnOpsGradient } = await setupTfjsTraining(tf);
const names = {
  faithful1: 'convnet-wasm, faithful LeNet-5 (SDLM), batch 1',
  faithful32: 'convnet-wasm, faithful LeNet-5 (SDLM), batch 32',
  modern32: 'convnet-wasm, modern variant (Adam), batch 32',
  wasmOwnOps: 'TF.js 4.22 wasm (XNNPACK), filter gradient from its own wasm ops (Adam), batch 32',
  wasmCpuFallback: 'TF.js 4.22 wasm + CPU-backend Conv2DBackpropFilter (Adam), batch 32',
  cpu: 'TF.js 4.22 CPU backend (Adam), batch 32',
};
const runs = {
  faithful1: () => faithful(1),
  faithful32: () => faithful(BATCH),
  modern32: modern,
  wasmOwnOps: () => withOwnOpsGradient(() => tfjs('wasm', STEPS, WARMUP)),
  wasmCpuFallback: () => tfjs('wasm', Math.max(2, STEPS / 4), 1),
  cpu: () => tfjs('cpu', Math.max(2, STEPS / 4), 1),
};
const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [key, run] of Object.entries(runs)) {
    results[key].push(await run());
    console.log(`round ${round + 1}: ${names[key]}: ${(1 / results[key].at(-1)).toFixed(0)} img/s`);
  }
}

const rate = (key) => 1 / Math.min(...results[key]);
const reference = rate('modern32');
const md = [
  `LeNet-5 training on MNIST, one thread, Node ${process.versions.node}, ${os.cpus()[0]?.model}; best of ${ROUNDS} interleaved rounds ` +
    `(${STEPS} timed steps of ${BATCH} images after ${WARMUP} warm-up steps; at batch 1, ${STEPS * BATCH} images).`,
  '',
  '| engine | img/s | modern convnet-wasm is faster by |',
  '|---|---:|---:|',
  ...Object.keys(runs).map((k) => `| ${names[k]} | ${rate(k).toFixed(0)} | ${(reference / rate(k)).toFixed(2)}× |`),
].join('\n');
await mkdir(join(here, 'results'), { recursive: true });
await writeFile(join(here, 'results', 'lenet.json'), `${JSON.stringify({ date: new Date().toISOString(), batch: BATCH, steps: STEPS, secondsPerImage: results }, null, 2)}\n`);
await writeFile(join(here, 'results', 'lenet.md'), `${md}\n`);
console.log(`\n${md}`);
