#!/usr/bin/env node
// Is a trained Fashion ConvNet slower to run than a fresh one, and where: its prediction (the
// activations), or its training with a fresh optimiser (the gradients)? Loads the model that
// `npm run train -- --out <dir>` saved, then times, each in its own process and alternated
// `rounds` times: predict on the first 2,048 test images at batch 256, and 40 training steps at
// batch 32 on one thread (steps 11–50, Nadam from its initial state), for the trained weights
// and for a fresh model (seed 42).
// Usage: npm run build && node tools/experiments/late-speed.mjs <out dir> [rounds=2]
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === '--time') {
  const cw = await import('convnet-wasm');
  await cw.init();
  const data = await cw.datasets.fashionMnist();
  const [, , , which, dir] = process.argv;
  const model = which === 'trained' ? await cw.loadModel(`file://${resolve(dir)}/model.json`) : cw.models.fashionConvNet();
  model.compile({ optimizer: 'nadam', learningRate: 0.001, seed: 42 });
  const x = data.test.images.subarray(0, 2048 * 784);
  model.predict(x.subarray(0, 256 * 784), { batchSize: 256 });
  const t = performance.now();
  model.predict(x, { batchSize: 256 });
  const predictRate = 2048 / ((performance.now() - t) / 1000);
  let t0 = 0;
  await model.fit(data.train.images.subarray(0, 55000 * 784), data.train.labels.subarray(0, 55000), {
    epochs: 1, batchSize: 32, workers: 1, verbose: 0, shuffle: false,
    callbacks: {
      onBatchEnd: (b) => {
        if (b === 10) t0 = performance.now();
        if (b === 50) {
          console.log(`${predictRate.toFixed(1)} ${((40 * 32) / ((performance.now() - t0) / 1000)).toFixed(1)}`);
          process.exit(0);
        }
      },
    },
  });
} else {
  const [dir, rounds = '2'] = process.argv.slice(2);
  if (!dir) throw new Error('usage: node tools/experiments/late-speed.mjs <out dir> [rounds=2]');
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < Number(rounds); r++) {
    for (const which of ['trained', 'fresh']) {
      const [predict, train] = execFileSync(process.execPath, [self, '--time', which, dir], { encoding: 'utf8' }).trim().split(' ');
      console.log(`${which.padEnd(8)} predict ${predict} img/s, training ${train} img/s`);
    }
  }
}
