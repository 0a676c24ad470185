#!/usr/bin/env node
// Where a data-parallel training step of the Fashion ConvNet spends its time on this thread:
// wraps the model's wasm calls that WorkerPool.step makes (weights out, this thread's
// micro-batches, each worker's gradient parts added, the optimiser step) with timers; the rest of
// the step is waiting for the workers. Batch 32 in micro-batches of 8, Nadam; steps 11–50 of
// the first real Fashion-MNIST images are averaged. With 1 worker, the step is one call.
// Usage: npm run build && node tools/experiments/step-phases.mjs [workers=2]
import * as cw from 'convnet-wasm';
import { WasmModel } from '../../dist/wasm/convnet_wasm.js';

const workers = Number(process.argv[2] ?? 2);
const phases = { weights_into: 0, weights: 0, reduce_own: 0, reduce_add: 0, reduce_finish: 0, train_step_micro: 0 };
for (const name of Object.keys(phases)) {
  const original = WasmModel.prototype[name];
  WasmModel.prototype[name] = function (...args) {
    const t = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      phases[name] += performance.now() - t;
    }
  };
}
await cw.init();
const data = await cw.datasets.fashionMnist();
const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 });
const [first, last] = [10, 50];
let t0 = 0;
await model.fit(data.train.images, data.train.labels, {
  batchSize: 32,
  shuffle: false,
  workers,
  callbacks: {
    onBatchEnd: (b) => {
      if (b === first - 1) {
        for (const k of Object.keys(phases)) phases[k] = 0;
        t0 = performance.now();
      } else if (b === last - 1) {
        const steps = last - first;
        const step = (performance.now() - t0) / steps;
        const spent = Object.values(phases).reduce((a, v) => a + v, 0) / steps;
        const ms = (v) => `${(v / steps).toFixed(2)} ms`;
        console.log(`${workers} worker(s), ${steps} steps: ${step.toFixed(1)} ms a step (${((32 * 1000) / step).toFixed(1)} img/s)`);
        if (workers === 1) console.log(`  one call into the wasm a step (train_step_micro) ${ms(phases.train_step_micro)}, the rest ${(step - spent).toFixed(2)} ms`);
        else console.log(`  weights out ${ms(phases.weights_into + phases.weights)}, this thread's micro-batches ${ms(phases.reduce_own)}, ` +
          `workers' parts added ${ms(phases.reduce_add)}, optimiser step ${ms(phases.reduce_finish)}, the rest (waiting, callbacks) ${(step - spent).toFixed(2)} ms`);
        model.stopTraining = true;
      }
    },
  },
});
