#!/usr/bin/env node
// The main job (npm run train): trains Géron's Fashion-MNIST ConvNet with the book's recipe
// (Nadam, batch 32, seed 42, the first 55,000 training images, the last 5,000 for validation),
// shortened by default so it finishes in minutes; --help shows how to run the full recipe.
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import * as cw from 'convnet-wasm';

const positiveInt = (name) => (value) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

const program = new Command()
  .name('train')
  .description("Train Géron's Fashion-MNIST ConvNet (Hands-On ML, ch. 14) with convnet-wasm.")
  .addOption(new Option('--model <name>', 'network to train').choices(['fashion']).default('fashion'))
  .option('--epochs <n>', 'passes over the training images', positiveInt('--epochs'), 1)
  .option('--batch-size <n>', 'examples per step', positiveInt('--batch-size'), 32)
  .option('--train-limit <n>', 'use only the first n of the 55,000 training images', positiveInt('--train-limit'), 3000)
  .option('--test-limit <n>', 'evaluate on the first n of the 10,000 test images', positiveInt('--test-limit'), 10000)
  .option('--seed <n>', 'seed for initialisation, shuffling and dropout', (v) => Number(v), 42)
  .option('--data <dir>', 'directory with the Fashion-MNIST IDX files (default: $CONVNET_DATA, the cache, /usr/share/datasets)')
  .option('--download', 'download Fashion-MNIST (with a SHA-256 check) if it is not found')
  .option('--out <dir>', 'where to save the trained model', 'out/fashion-convnet')
  .addHelpText(
    'after',
    "\nThe book's full recipe (10 epochs on all 55,000 training images):\n  npm run train -- --epochs 10 --train-limit 55000",
  );
program.parse();
const opts = program.opts();

const started = performance.now();
await cw.init();
const data = await cw.datasets.fashionMnist({ dir: opts.data, download: Boolean(opts.download) });
const { train: fullTrain, validation } = cw.trainValidationSplit(data.train, 55_000);
const trainCount = Math.min(opts.trainLimit, fullTrain.count);
const testCount = Math.min(opts.testLimit, data.test.count);
const px = 28 * 28;
const trainX = fullTrain.images.subarray(0, trainCount * px);
const trainY = fullTrain.labels.subarray(0, trainCount);

const model = cw.models.fashionConvNet();
model.compile({ optimizer: 'nadam', learningRate: 0.001, seed: opts.seed });
console.log(model.summary());
console.log(
  `\nTraining on ${trainCount.toLocaleString('en-US')} images (validation ${validation.count.toLocaleString('en-US')}), ` +
    `${opts.epochs} epoch(s), batch ${opts.batchSize}, Nadam, seed ${opts.seed}.`,
);
if (trainCount < 55_000 || opts.epochs < 10) {
  console.log("The book's full recipe: npm run train -- --epochs 10 --train-limit 55000\n");
}

const bar = new cliProgress.SingleBar(
  {
    format: 'epoch {epoch} |{bar}| {value}/{total} img | {rate} img/s | ETA {eta_formatted} | loss {loss} | acc {acc}',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 10_000,
  },
  cliProgress.Presets.shades_classic,
);
let epochStart = 0;
let seen = 0;
let lossSum = 0;
let correct = 0;
const history = await model.fit(trainX, trainY, {
  epochs: opts.epochs,
  batchSize: opts.batchSize,
  validationData: [validation.images, validation.labels],
  callbacks: {
    onEpochBegin(epoch) {
      epochStart = performance.now();
      seen = lossSum = correct = 0;
      bar.start(trainCount, 0, { epoch: `${epoch + 1}/${opts.epochs}`, rate: '—', loss: '—', acc: '—' });
    },
    onBatchEnd(_batch, logs) {
      seen += logs.size;
      lossSum += logs.loss * logs.size;
      correct += logs.accuracy * logs.size;
      const rate = seen / ((performance.now() - epochStart) / 1000);
      bar.update(seen, { rate: rate.toFixed(1), loss: (lossSum / seen).toFixed(4), acc: (correct / seen).toFixed(4) });
    },
    onEpochEnd(epoch, logs) {
      bar.stop();
      const seconds = (performance.now() - epochStart) / 1000;
      console.log(
        `epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)}, accuracy ${logs.accuracy.toFixed(4)}, ` +
          `val_loss ${logs.valLoss?.toFixed(4)}, val_accuracy ${logs.valAccuracy?.toFixed(4)} ` +
          `(${seconds.toFixed(0)} s, ${(trainCount / seconds).toFixed(1)} img/s training and validation)`,
      );
    },
  },
});

// Evaluate in slices, so the bar can show progress, and combine them.
const evalBar = new cliProgress.SingleBar(
  { format: 'test    |{bar}| {value}/{total} img | {rate} img/s', hideCursor: true, noTTYOutput: true, notTTYSchedule: 10_000 },
  cliProgress.Presets.shades_classic,
);
const classes = data.classNames.length;
const test = { loss: 0, accuracy: 0, confusionMatrix: data.classNames.map(() => new Array(classes).fill(0)) };
const evalStart = performance.now();
evalBar.start(testCount, 0, { rate: '—' });
for (let from = 0; from < testCount; from += 1000) {
  const to = Math.min(from + 1000, testCount);
  const part = model.evaluate(data.test.images.subarray(from * px, to * px), data.test.labels.subarray(from, to));
  test.loss += part.loss * (to - from);
  part.confusionMatrix.forEach((row, i) => row.forEach((v, j) => (test.confusionMatrix[i][j] += v)));
  evalBar.update(to, { rate: (to / ((performance.now() - evalStart) / 1000)).toFixed(1) });
  await new Promise((resolve) => setImmediate(resolve));
}
evalBar.stop();
test.loss /= testCount;
test.accuracy = test.confusionMatrix.reduce((s, row, i) => s + row[i], 0) / testCount;
console.log(`test accuracy ${test.accuracy.toFixed(4)}, test loss ${test.loss.toFixed(4)}\n`);
const names = data.classNames;
const header = 'actual \\ predicted';
const width = Math.max(header.length, ...names.map((n, i) => `${i} ${n}`.length));
console.log(`${header.padEnd(width)}${names.map((_, i) => String(i).padStart(6)).join('')}`);
test.confusionMatrix.forEach((row, i) => {
  console.log(`${`${i} ${names[i]}`.padEnd(width)}${row.map((v) => String(v).padStart(6)).join('')}`);
});

const saved = await model.save(`file://${opts.out}`);
const minutes = (performance.now() - started) / 60_000;
console.log(`\nDone in ${minutes.toFixed(1)} min. Model saved to ${saved.modelJson} and ${saved.weights}.`);
console.log(`Final epoch: ${JSON.stringify(Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, v.at(-1)])))}`);
model.dispose();
