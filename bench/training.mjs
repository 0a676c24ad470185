#!/usr/bin/env node
// npm run bench:training — steady-state training images/s of Géron's Fashion ConvNet at batch 32,
// one thread, for convnet-wasm and TensorFlow.js 4.22 in the same process, interleaved:
//   - convnet-wasm (Nadam, the book's optimiser);
//   - TF.js wasm backend (XNNPACK, SIMD), which has no Conv2DBackpropFilter: see below;
//   - TF.js CPU backend (pure JS), what Node gets without a native addon: one step only (slow).
// TF.js has no Nadam, so its models use Adam; the cost per step is the same to within the
// optimiser's few element-wise operations. Inputs are real Fashion-MNIST images.
// Writes bench/results/training.{json,md}. Flags: --steps N (default 6); --quick skips the two
// one-step TF.js runs whose steps take minutes.
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
const STEPS = Number(args[args.indexOf('--steps') + 1]) || 6;
const QUICK = args.includes('--quick');
const ROUNDS = 3;
const BATCH = 32;

await cw.init();
const data = await cw.datasets.fashionMnist();
const pixels = data.train.images.subarray(0, (STEPS + 2) * BATCH * 784);
const labels = data.train.labels.subarray(0, (STEPS + 2) * BATCH);
if (labels.length < (STEPS + 2) * BATCH) throw new Error(`bench: --steps ${STEPS} needs more images than the training set has`);

async function ours() {
  const model = cw.models.fashionConvNet();
  model.compile({ optimizer: 'nadam', seed: 42 });
  const seconds = await timeSteps(
    (i) => model.fit(pixels.subarray(i * BATCH * 784, (i + 1) * BATCH * 784), labels.subarray(i * BATCH, (i + 1) * BATCH), { batchSize: BATCH, shuffle: false }),
    STEPS,
    2,
  );
  model.dispose();
  return seconds;
}

/** The Fashion ConvNet in TF.js Layers. */
function tfModel() {
  const conv = (filters, kernelSize, extra = {}) =>
    tf.layers.conv2d({ filters, kernelSize, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal', ...extra });
  const model = tf.sequential({
    layers: [
      conv(64, 7, { inputShape: [28, 28, 1] }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(128, 3),
      conv(128, 3),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(256, 3),
      conv(256, 3),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

async function tfjs(backend, steps, warmup) {
  const seconds = await timeTfjsSteps(tf, tfModel, { backend, pixels, labels, batch: BATCH, steps, warmup });
  return seconds;
}

const { withOwnOpsGradient } = await setupTfjsTraining(tf);

const fmt = (s) => `${(BATCH / s).toFixed(BATCH / s < 1 ? 3 : 1)} img/s`;
const results = { ours: [], wasmOwnOps: [], wasmCpuFallback: null, cpu: null };
for (let round = 0; round < ROUNDS; round++) {
  results.ours.push(await ours());
  console.log(`round ${round + 1}: convnet-wasm ${fmt(results.ours.at(-1))}`);
  results.wasmOwnOps.push(await withOwnOpsGradient(() => tfjs('wasm', STEPS, 2)));
  console.log(`round ${round + 1}: TF.js wasm, filter gradient from its own ops ${fmt(results.wasmOwnOps.at(-1))}`);
}
if (!QUICK) {
  // One step each: a step takes minutes.
  results.wasmCpuFallback = await tfjs('wasm', 1, 0);
  console.log(`TF.js wasm + CPU Conv2DBackpropFilter ${fmt(results.wasmCpuFallback)}`);
  results.cpu = await tfjs('cpu', 1, 0);
  console.log(`TF.js CPU ${fmt(results.cpu)}`);
}

const best = (xs) => Math.min(...xs);
const rate = (s) => BATCH / s;
const oursRate = rate(best(results.ours));
const rows = [
  [`convnet-wasm (Nadam), best of ${ROUNDS}×${STEPS} steps`, oursRate],
  [`TF.js 4.22 wasm (XNNPACK), filter gradient from its own wasm ops (Adam), best of ${ROUNDS}×${STEPS} steps`, rate(best(results.wasmOwnOps))],
  ...(QUICK
    ? []
    : [
        ['TF.js 4.22 wasm + CPU-backend Conv2DBackpropFilter (Adam), one step', rate(results.wasmCpuFallback)],
        ['TF.js 4.22 CPU backend (Adam), one step', rate(results.cpu)],
      ]),
].map(([name, r]) => `| ${name} | ${r.toFixed(r < 1 ? 3 : 1)} | ${(oursRate / r).toFixed(r > oursRate / 10 ? 2 : 0)}× |`);
const md = [
  `Fashion ConvNet training at batch ${BATCH}, one thread, Node ${process.versions.node}, ${os.cpus()[0]?.model}; ` +
    `${ROUNDS} interleaved rounds of ${STEPS} timed steps after 2 warm-up steps; real Fashion-MNIST images.`,
  '',
  '| engine | img/s | convnet-wasm is faster by |',
  '|---|---:|---:|',
  ...rows,
].join('\n');
await mkdir(join(here, 'results'), { recursive: true });
await writeFile(join(here, 'results', 'training.json'), `${JSON.stringify({ date: new Date().toISOString(), batch: BATCH, steps: STEPS, seconds: results }, null, 2)}\n`);
await writeFile(join(here, 'results', 'training.md'), `${md}\n`);
console.log(`\n${md}`);
