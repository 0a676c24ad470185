#!/usr/bin/env node
// Why the paper's η diverge with our SDLM (docs/lenet5.md, "Why the paper's η diverge here").
// Trains the faithful LeNet-5 (eq. 9 with j = 1, batch 1, seed 1) on the first `train` MNIST
// training images at the η given (one value, held, or five: the paper's stages), and prints for
// the first pass, per weight tensor, the curvature estimated before it (on its first 500 shuffled
// images), the step η/(μ + h) it gives and how far the tensor moved; then, per pass, the loss per
// 1,000 steps, the median curvature of each tensor and the error on the last 10,000 training
// images (validation; the test set is not read). Deterministic.
// `init` sqrt scales every initial weight by √Fᵢ (its unit's fan-in), making the range ±2.4/√Fᵢ
// instead of the paper's ±2.4/Fᵢ.
// Usage: npm run build && node tools/experiments/lenet-eta-investigation.mjs [η=0.0005 | a,b,c,d,e] [μ=0.02] [passes=1] [train=10000] [init=paper|sqrt] [curvature samples=500]
import * as cw from 'convnet-wasm';

const etaArg = (process.argv[2] ?? '0.0005').split(',').map(Number);
const mu = Number(process.argv[3] ?? 0.02);
const passes = Number(process.argv[4] ?? 1);
const N = Number(process.argv[5] ?? 10_000);
const init = process.argv[6] ?? 'paper';
const samples = Number(process.argv[7] ?? 500);
const WINDOW = 1000;
const px = 784;
const learningRate = etaArg.length === 5 ? cw.leNet5Schedule(N, etaArg) : etaArg[0];

await cw.init();
const data = await cw.datasets.mnist();
const x = data.train.images.subarray(0, N * px);
const y = data.train.labels.subarray(0, N);
const vx = data.train.images.subarray(50_000 * px);
const vy = data.train.labels.subarray(50_000);

const model = cw.models.leNet5().compile({ optimizer: { type: 'sdlm', mu }, loss: { type: 'rbfMap', j: 1 }, learningRate, seed: 1 });
if (init === 'sqrt') {
  // Fan-in per weight: C3's compact kernel holds each map's 25·|inputs| weights in turn.
  const c3 = cw.C3_CONNECTIONS.map((inputs) => 25 * inputs.length);
  const fanIn = { C1: () => 25, S2: () => 4, S4: () => 4, C5: () => 400, F6: () => 120 };
  model.setWeights(
    model.getWeights().map(({ name, shape, values }) => {
      const [layer, kind] = name.split('/');
      const fan =
        layer === 'C3'
          ? kind === 'bias'
            ? (i) => c3[i]
            : (i) => c3[c3.findIndex((_, f) => i < c3.slice(0, f + 1).reduce((a, b) => a + b, 0))]
          : fanIn[layer];
      return { name, shape, values: values.map((v, i) => v * Math.sqrt(fan(i))) };
    }),
  );
} else if (init !== 'paper') throw new Error(`init must be paper or sqrt, got ${init}`);
const names = model.getWeights().map((t) => t.name);
const sizes = model.getWeights().map((t) => t.values.length);
const before = model.getWeights();
const rms = (v) => Math.sqrt(v.reduce((s, a) => s + a * a, 0) / v.length);
const quantile = (v, q) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const g = (v) => v.toPrecision(3);
const perTensor = (flat) => {
  let at = 0;
  return sizes.map((n) => flat.subarray(at, (at += n)));
};

console.log(`η ${etaArg.join(',')}, μ ${mu}, init ${init}, eq. 9 (j = 1), curvature on ${samples} images, ${passes} pass(es) over ${N}`);
let losses = [];
let firstPass;
await model.fit(x, y, {
  epochs: passes,
  batchSize: 1,
  curvatureSamples: samples,
  validationData: [vx, vy],
  callbacks: {
    onBatchEnd: (batch, logs) => {
      losses.push(logs.loss);
      if (batch !== 0) return;
      // The estimate made before the pass is what every step of the pass uses.
      // A diagnostic: it reads the engine's estimate through the model's private accessor.
      const h = perTensor(model['model']('curvature').curvature().slice());
      firstPass ??= h;
      console.log(`  median h per tensor: ${names.map((n, t) => `${n} ${g(quantile(h[t], 0.5))}`).join(', ')}`);
    },
    onEpochEnd: (epoch, logs) => {
      const windows = [];
      for (let i = 0; i < losses.length; i += WINDOW) windows.push((losses.slice(i, i + WINDOW).reduce((a, b) => a + b, 0) / Math.min(WINDOW, losses.length - i)).toFixed(2));
      console.log(`pass ${epoch + 1}: mean loss per ${WINDOW} steps ${windows.join(' ')}; validation error ${(100 * (1 - logs.val_accuracy)).toFixed(2)}%`);
      if (epoch === 0) {
        const after = model.getWeights();
        console.log('  tensor          size   h: min / median / max            step η/(μ+h): median / max     rms before → after pass 1');
        const eta1 = etaArg[0];
        for (let t = 0; t < names.length; t++) {
          const h = firstPass[t];
          const steps = Array.from(h, (v) => eta1 / (mu + v));
          console.log(
            `  ${names[t].padEnd(14)} ${String(sizes[t]).padStart(6)}   ${g(quantile(h, 0))} / ${g(quantile(h, 0.5))} / ${g(quantile(h, 1))}`.padEnd(66) +
              `${g(quantile(steps, 0.5))} / ${g(quantile(steps, 1))}`.padEnd(28) +
              `${g(rms(before[t].values))} → ${g(rms(after[t].values))}`,
          );
        }
      }
      losses = [];
    },
  },
});
model.dispose();
