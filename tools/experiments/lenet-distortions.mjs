#!/usr/bin/env node
// The faithful LeNet-5 with and without the paper's distortions (models.leNet5({ distortions })),
// measured on validation data only: trained on the first 50,000 MNIST training images, its error
// on the last 10,000 training images after every pass. SDLM (μ 0.02), eq. 9 (j = 1), batch 1, the
// stage rates given (default CONVNET_ETAS), seed given. The test set is not read.
// With `test` last: trained on all 60,000 training images, the 10,000 test images evaluated once,
// after the last pass (for a run whose settings were chosen on validation).
// The seventh argument is eq. 9's j (default 1).
// Usage: npm run build && node tools/experiments/lenet-distortions.mjs [passes=20] [distortions=default|none|t,s,q,h] [seed=1] [etas=a,b,c,d,e|default] [validation|test] [j=1]
import * as cw from 'convnet-wasm';

const passes = Number(process.argv[2] ?? 20);
const which = process.argv[3] ?? 'default';
const seed = Number(process.argv[4] ?? 1);
const etas = process.argv[5] && process.argv[5] !== 'default' ? process.argv[5].split(',').map(Number) : [...cw.CONVNET_ETAS];
const mode = process.argv[6] ?? 'validation';
const j = Number(process.argv[7] ?? 1);
if (!(Number.isFinite(j) && j > 0)) throw new Error(`j must be a positive number, got ${process.argv[7]}`);
if (mode !== 'validation' && mode !== 'test') throw new Error(`the last argument must be validation or test, got ${mode}`);
const distortions =
  which === 'none' ? false : which === 'default' ? true : Object.fromEntries(which.split(',').map(Number).map((v, i) => [['translation', 'scale', 'squeeze', 'shear'][i], v]));
const TRAIN = mode === 'test' ? 60_000 : 50_000;
const started = performance.now();
await cw.init();
const data = await cw.datasets.mnist();
const px = 784;
const x = data.train.images.subarray(0, TRAIN * px);
const y = data.train.labels.subarray(0, TRAIN);
const vx = data.train.images.subarray(50_000 * px);
const vy = data.train.labels.subarray(50_000);
const model = cw.models.leNet5({ distortions }).compile({
  optimizer: { type: 'sdlm', mu: 0.02 },
  loss: { type: 'rbfMap', j },
  learningRate: cw.leNet5Schedule(TRAIN, etas),
  seed,
});
console.log(`distortions ${JSON.stringify(distortions)}, η ${etas.join(',')}, seed ${seed}, ${passes} passes over ${TRAIN} images, eq. 9 with j = ${j}, ${mode}`);
const errors = [];
const minutes = () => ((performance.now() - started) / 60000).toFixed(1);
await model.fit(x, y, {
  epochs: passes,
  batchSize: 1,
  ...(mode === 'validation' ? { validationData: [vx, vy] } : {}),
  callbacks: {
    onEpochEnd: (epoch, logs) => {
      if (mode === 'test') {
        errors.push(100 * (1 - logs.accuracy));
        console.log(`pass ${epoch + 1}: training loss ${logs.loss.toFixed(4)}, training error ${errors.at(-1).toFixed(2)}% (${minutes()} min)`);
        return;
      }
      errors.push(100 * (1 - logs.val_accuracy));
      console.log(`pass ${epoch + 1}: validation error ${errors.at(-1).toFixed(2)}% (${minutes()} min)`);
    },
  },
});
console.log(`${mode === 'test' ? 'training' : 'validation'} errors per pass: ${errors.map((e) => e.toFixed(2)).join(' ')}`);
if (mode === 'test') {
  const test = model.evaluate(data.test.images, data.test.labels);
  console.log(`test error (10,000 images, evaluated once): ${(100 * (1 - test.accuracy)).toFixed(2)}% (${minutes()} min)`);
}
model.dispose();
