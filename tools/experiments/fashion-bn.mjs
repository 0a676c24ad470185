#!/usr/bin/env node
// Trains models.fashionConvNetBN() (Conv–BN–ReLU blocks, global average pooling, random shifts
// and flips in training) on the first 55,000 Fashion-MNIST training images, validating on the last
// 5,000 after every epoch, then evaluates the 10,000 test images once. Adam, batch 64
// (micro-batches of 16, the batch normalisation's statistics), the rate 0.001 dropped to 0.0003
// and 0.0001 after half and three quarters of the epochs. Writes out/fashion-bn/history.json and
// curve.svg (training and validation error per epoch; the test set is evaluated once, at the end),
// and the model.
// Usage: npm run build && node tools/experiments/fashion-bn.mjs [epochs=16] [seed=1] [workers=cores]
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as cw from 'convnet-wasm';
import { errorCurveSvg } from '../../dist/cli/curve-svg.js';

const epochs = Number(process.argv[2] ?? 16);
const seed = Number(process.argv[3] ?? 1);
const workers = Number(process.argv[4] ?? availableParallelism());
const BATCH = 64;
const started = performance.now();
await cw.init();
const data = await cw.datasets.fashionMnist();
const { train, validation } = cw.trainValidationSplit(data.train, 55_000);
const steps = Math.ceil(train.count / BATCH);
const model = cw.models.fashionConvNetBN().compile({
  optimizer: 'adam',
  learningRate: { boundaries: [Math.round(steps * epochs * 0.5), Math.round(steps * epochs * 0.75)], values: [0.001, 0.0003, 0.0001] },
  seed,
});
console.log(model.summary());
console.log(`epochs ${epochs}, seed ${seed}, workers ${workers}, batch ${BATCH}`);
let epochStart = 0;
const history = await model.fit(train.images, train.labels, {
  epochs,
  batchSize: BATCH,
  microBatchSize: 16,
  workers,
  validationData: [validation.images, validation.labels],
  callbacks: {
    onEpochBegin: () => void (epochStart = performance.now()),
    onEpochEnd: (epoch, logs) =>
      console.log(
        `epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)} acc ${logs.accuracy.toFixed(4)} val_loss ${logs.val_loss.toFixed(4)} val_acc ${logs.val_accuracy.toFixed(4)} ` +
          `(${((performance.now() - epochStart) / 1000).toFixed(0)} s; ${((performance.now() - started) / 60000).toFixed(1)} min so far)`,
      ),
  },
});
const trainMinutes = (performance.now() - started) / 60000;
const test = await model.evaluateAsync(data.test.images, data.test.labels, { workers });
const minutes = (performance.now() - started) / 60000;
console.log(`test accuracy ${test.accuracy.toFixed(4)} (loss ${test.loss.toFixed(4)}); ${minutes.toFixed(1)} min in all (${trainMinutes.toFixed(1)} min to the end of training)`);
mkdirSync('out/fashion-bn', { recursive: true });
const h = history.history;
writeFileSync(
  'out/fashion-bn/history.json',
  `${JSON.stringify({ epochs, seed, workers, batch: BATCH, minutes, trainMinutes, test: { accuracy: test.accuracy, loss: test.loss }, history: h }, null, 1)}\n`,
);
const series = [
  { name: 'train (augmented)', values: h.accuracy.map((a) => 100 * (1 - a)) },
  { name: 'validation', values: h.val_accuracy.map((a) => 100 * (1 - a)) },
];
writeFileSync('out/fashion-bn/curve.svg', errorCurveSvg({ title: `fashionConvNetBN, seed ${seed}: error per epoch (test ${(100 * (1 - test.accuracy)).toFixed(2)}%)`, series }));
await model.save('file://out/fashion-bn/model');
model.dispose();
