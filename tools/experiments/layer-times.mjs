#!/usr/bin/env node
// Where one-thread Fashion ConvNet training spends a step, layer by layer and, in the Winograd
// layers, phase by phase: wall-clock sums kept inside the wasm by a timing build (the patch
// beside this script imports performance.now into the crate). Batch 32, Nadam, steps 6–35 of
// the first real Fashion-MNIST images, in micro-batches of the given size.
// Usage: git apply tools/experiments/layer-times.patch && npm run build &&
//        node tools/experiments/layer-times.mjs [micro-batch size=8]
//        (then git apply -R tools/experiments/layer-times.patch && npm run build)
import * as cw from 'convnet-wasm';
import * as wasm from '../../dist/wasm/convnet_wasm.js';

if (typeof wasm.timing_take !== 'function') {
  console.error('layer-times: dist/ is not a timing build; apply tools/experiments/layer-times.patch and run npm run build');
  process.exit(2);
}
const micro = Number(process.argv[2] ?? 8);
await cw.init();
const data = await cw.datasets.fashionMnist();
const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 });
const names = model.layers.map((l) => l.name);
const [first, last] = [5, 35];
let t0 = 0;
await model.fit(data.train.images, data.train.labels, {
  batchSize: 32,
  shuffle: false,
  workers: 1,
  microBatchSize: micro,
  callbacks: {
    onBatchEnd: (b) => {
      if (b === first - 1) {
        wasm.timing_take();
        t0 = performance.now();
      } else if (b === last - 1) {
        const steps = last - first;
        const step = (performance.now() - t0) / steps;
        const t = wasm.timing_take();
        const ms = (v) => (v / steps).toFixed(2);
        console.log(`micro-batches of ${micro}: ${step.toFixed(1)} ms a step (${((32 * 1000) / step).toFixed(1)} img/s); ms a step:`);
        console.log('| layer | forward | backward | its gradient added |\n|---|---:|---:|---:|');
        names.forEach((name, i) => console.log(`| ${i} ${name} | ${ms(t[i])} | ${ms(t[32 + i])} | ${ms(t[64 + i])} |`));
        console.log(`loss ${ms(t[120])}, optimiser step and checks ${ms(t[121])}, input loaded ${ms(t[122])}`);
        // The forward phases also time the input gradient, a forward pass of its own.
        const phases = [
          [100, 'packing W (forward)'], [110, 'packing Wᵀ (input gradient)'], [102, 'zeroing the kernel gradient sums'],
          [104, 'kernel gradient: input and output-gradient transforms'], [106, 'kernel gradient: products'],
          [108, 'kernel gradient: transformed back'], [112, 'input gradient (all of it)'],
          [114, 'input transform (forward and input gradient)'], [116, 'products (forward and input gradient)'],
          [118, 'output transform (forward and input gradient)'],
        ];
        console.log('| Winograd phase | conv 256→256 | the others |\n|---|---:|---:|');
        for (const [slot, what] of phases) console.log(`| ${what} | ${ms(t[slot])} | ${ms(t[slot + 1])} |`);
        model.stopTraining = true;
      }
    },
  },
});
