#!/usr/bin/env node
// The main job (npm run train): trains Géron's Fashion-MNIST ConvNet with the book's recipe
// (Nadam, batch 32, seed 42, the first 55,000 training images, the last 5,000 for validation),
// shortened by default so it finishes in minutes; --help shows how to run the full recipe.
// --model lenet5 trains the faithful LeNet-5 on MNIST with SDLM, --model lenet5-modern the modern
// variant with Adam.
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as cw from 'convnet-wasm';
import { errorCurveSvg } from './lib/curve-svg.mjs';

const positiveInt = (name) => (value) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

const program = new Command()
  .name('train')
  .description(
    "Train Géron's Fashion-MNIST ConvNet (Hands-On ML, ch. 14) or LeNet-5 (LeCun et al. 1998) on MNIST with convnet-wasm.",
  )
  .addOption(new Option('--model <name>', 'network to train').choices(['fashion', 'lenet5']).default('fashion'))
  .addOption(
    new Option('--variant <name>', 'lenet5: the 1998 network, or ReLU + max-pool + full C3 + softmax').choices(['faithful', 'modern']).default('faithful'),
  )
  .addOption(
    new Option('--optimizer <name>', 'default: nadam (fashion), sdlm (lenet5 faithful), adam (lenet5 modern)').choices(['sgd', 'adam', 'nadam', 'sdlm']),
  )
  .option('--learning-rate <x>', 'for sgd, adam and nadam (default: 0.01 for sgd, else 0.001)', (v) => Number(v))
  .option('--epochs <n>', 'passes over the training images', positiveInt('--epochs'), 1)
  .option('--batch-size <n>', 'examples per step (default: 32; 1 for lenet5, as in the paper)', positiveInt('--batch-size'))
  .option('--train-limit <n>', 'use only the first n training images (Fashion: of 55,000; MNIST: of 60,000)', positiveInt('--train-limit'), 3000)
  .option('--test-limit <n>', 'evaluate on the first n of the 10,000 test images', positiveInt('--test-limit'), 10000)
  .option('--seed <n>', 'seed for initialisation, shuffling and dropout', (v) => Number(v), 42)
  .option(
    '--eta <values>',
    "sdlm: η for the paper's five stages of passes (1–2, 3–5, 6–8, 9–12, 13+), comma-separated, or 'paper' for the paper's " +
      `(${cw.PAPER_ETAS.join(',')}); see docs/lenet5.md`,
    cw.CONVNET_ETAS.join(','),
  )
  .option('--data <dir>', 'directory with the IDX files (default: $CONVNET_DATA, the cache, /usr/share/datasets)')
  .option('--download', 'download the dataset (with a SHA-256 check) if it is not found')
  .option('--out <dir>', 'where to save the trained model and its curve.svg (default: out/<model>)')
  .option('--checkpoint-every <n>', "write <out>/checkpoint/checkpoint.bin every n steps, or 'epoch'", 'epoch')
  .option('--no-checkpoint', 'write no checkpoints')
  .option('--workers <n>', 'data-parallel threads: this one and n − 1 worker threads (default: the number of cores; the result is the same for any number)', positiveInt('--workers'))
  .option('--micro-batch-size <n>', 'examples per micro-batch (default: a quarter of the batch); the result depends on it', positiveInt('--micro-batch-size'))
  .option('--resume', 'go on from <out>/checkpoint when a checkpoint is there (bit for bit the same result)')
  .addHelpText(
    'after',
    "\nThe book's full recipe (10 epochs on all 55,000 training images):\n  npm run train -- --epochs 10 --train-limit 55000\n" +
      "LeNet-5 as in the paper (20 passes over the 60,000 MNIST images, SDLM):\n  npm run train -- --model lenet5 --epochs 20 --train-limit 60000\n" +
      'Its modern variant:\n  npm run train -- --model lenet5 --variant modern --epochs 20 --train-limit 60000',
  );
program.parse();
const opts = program.opts();
const isLeNet = opts.model === 'lenet5';
const name = isLeNet ? `lenet5-${opts.variant}` : 'fashion';
const optimizer = opts.optimizer ?? (isLeNet ? (opts.variant === 'faithful' ? 'sdlm' : 'adam') : 'nadam');
const batchSize = opts.batchSize ?? (optimizer === 'sdlm' ? 1 : 32);
const out = opts.out ?? `out/${name}`;
if (opts.learningRate !== undefined && !(opts.learningRate > 0)) program.error('--learning-rate must be a positive number');
const checkpointEvery = opts.checkpointEvery === 'epoch' ? 'epoch' : Number(opts.checkpointEvery);
if (checkpointEvery !== 'epoch' && !(Number.isInteger(checkpointEvery) && checkpointEvery >= 1)) {
  program.error("--checkpoint-every must be a number of steps or 'epoch'");
}
const checkpoint = opts.checkpoint ? { dir: join(out, 'checkpoint'), every: checkpointEvery } : undefined;
if (opts.resume && !checkpoint) program.error('--resume needs checkpoints (drop --no-checkpoint)');

const started = performance.now();
await cw.init();
const load = isLeNet ? cw.datasets.mnist : cw.datasets.fashionMnist;
const data = await load({ dir: opts.data, download: Boolean(opts.download) });
// Fashion: the book's split, the first 55,000 for training and the last 5,000 for validation.
// MNIST: the paper trains on all 60,000 and reports the test error after each pass.
const { train: fullTrain, validation } = isLeNet
  ? { train: data.train, validation: { images: data.test.images, labels: data.test.labels, count: data.test.count } }
  : cw.trainValidationSplit(data.train, 55_000);
const trainCount = Math.min(opts.trainLimit, fullTrain.count);
const testCount = Math.min(opts.testLimit, data.test.count);
const px = 28 * 28;
const trainX = fullTrain.images.subarray(0, trainCount * px);
const trainY = fullTrain.labels.subarray(0, trainCount);
const valName = isLeNet ? 'test' : 'val';

const model = isLeNet ? cw.models.leNet5({ variant: opts.variant }) : cw.models.fashionConvNet();
// The faithful LeNet-5 ends in RBF units and takes the paper's eq. 9 (j = 1); the others a softmax.
const loss = isLeNet && opts.variant === 'faithful' ? { type: 'rbfMap', j: 1 } : 'sparseCategoricalCrossentropy';
let learningRate;
let recipe;
if (optimizer === 'sdlm') {
  const etas = opts.eta === 'paper' ? cw.PAPER_ETAS : opts.eta.split(',').map(Number);
  try {
    learningRate = cw.leNet5Schedule(Math.ceil(trainCount / batchSize), etas);
  } catch (error) {
    program.error(`--eta: ${error.message}`);
  }
  recipe = `SDLM (μ 0.02, curvature re-estimated on 500 images before each pass), η ${etas.join(', ')} for passes 1–2, 3–5, 6–8, 9–12, 13+`;
} else {
  learningRate = opts.learningRate ?? (optimizer === 'sgd' ? 0.01 : 0.001);
  recipe = `${optimizer}, learning rate ${learningRate}`;
}
if (typeof loss === 'object') recipe += ', loss eq. 9 (j = 1)';
try {
  model.compile({ optimizer: optimizer === 'sdlm' ? { type: 'sdlm', mu: 0.02 } : optimizer, loss, learningRate, seed: opts.seed });
} catch (error) {
  program.error(`cannot train ${name} with ${optimizer}: ${error.message}`);
}
console.log(model.summary());
console.log(
  `\nTraining on ${trainCount.toLocaleString('en-US')} images (${valName} ${validation.count.toLocaleString('en-US')}), ` +
    `${opts.epochs} epoch(s), batch ${batchSize}, ${recipe}, seed ${opts.seed}.`,
);
const microBatchSize = opts.microBatchSize ?? Math.ceil(batchSize / 4);
if (microBatchSize > batchSize) program.error(`--micro-batch-size must be at most the batch size (${batchSize})`);
const workers = microBatchSize < batchSize ? Math.min(opts.workers ?? availableParallelism(), Math.ceil(batchSize / microBatchSize)) : 1;
console.log(
  microBatchSize < batchSize
    ? `Data-parallel: ${workers} thread(s) (this one and ${workers - 1} worker thread(s)), micro-batches of ${microBatchSize} (the same weights for any number of workers).`
    : 'One micro-batch per batch: every step runs in this thread.',
);
if (opts.model === 'fashion' && (trainCount < 55_000 || opts.epochs < 10)) {
  console.log("The book's full recipe: npm run train -- --epochs 10 --train-limit 55000\n");
}
if (isLeNet && (trainCount < 60_000 || opts.epochs < 20)) {
  console.log("The paper's recipe: npm run train -- --model lenet5 --epochs 20 --train-limit 60000\n");
}

if (opts.resume) {
  const found = existsSync(join(checkpoint.dir, 'checkpoint.bin'));
  console.log(found ? `Resuming from ${checkpoint.dir}/checkpoint.bin.` : `No checkpoint in ${checkpoint.dir} yet: starting from the beginning.`);
}
const bar = new cliProgress.SingleBar(
  {
    format: 'epoch {epoch} |{bar}| {value}/{total} img | {rate} img/s | ETA {etaText} | loss {loss} | acc {acc}',
    hideCursor: true,
    noTTYOutput: true,
    notTTYSchedule: 10_000,
  },
  cliProgress.Presets.shades_classic,
);
/** 75 → "1m15s" (cli-progress's own ETA can print "1m60s"). */
const duration = (seconds) => {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
};
let epochStart = 0;
let done = 0;
let lossSum = 0;
let correct = 0;
const history = await model.fit(trainX, trainY, {
  epochs: opts.epochs,
  batchSize,
  microBatchSize,
  workers,
  checkpoint,
  resume: Boolean(opts.resume),
  validationData: [validation.images, validation.labels],
  callbacks: {
    onEpochBegin(epoch) {
      epochStart = performance.now();
      done = lossSum = correct = 0;
      bar.start(trainCount, 0, { epoch: `${epoch + 1}/${opts.epochs}`, rate: '—', etaText: '—', loss: '—', acc: '—' });
    },
    onBatchEnd(batch, logs) {
      // Counted from this process's first batch, so that a resumed epoch shows its true rate.
      done += logs.size;
      lossSum += logs.loss * logs.size;
      correct += logs.accuracy * logs.size;
      const position = Math.min((batch + 1) * batchSize, trainCount);
      const rate = done / ((performance.now() - epochStart) / 1000);
      bar.update(position, { rate: rate.toFixed(1), etaText: duration((trainCount - position) / rate), loss: (lossSum / done).toFixed(4), acc: (correct / done).toFixed(4) });
    },
    onEpochEnd(epoch, logs) {
      bar.stop();
      const seconds = (performance.now() - epochStart) / 1000;
      console.log(
        `epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)}, accuracy ${logs.accuracy.toFixed(4)}, ` +
          `${valName}_loss ${logs.val_loss?.toFixed(4)}, ${valName}_accuracy ${logs.val_accuracy?.toFixed(4)} ` +
          `(${seconds.toFixed(0)} s, ${(done / seconds).toFixed(1)} img/s training and validation)`,
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

const saved = await model.save(`file://${out}`);
const curvePath = join(out, 'curve.svg');
const title = `${name}, ${optimizer}, ${trainCount.toLocaleString('en-US')} training images: error per epoch`;
await writeFile(
  curvePath,
  errorCurveSvg({
    title,
    series: [
      // From the history, which a resumed run carries over from its checkpoint.
      { name: isLeNet ? 'test' : 'validation', values: history.history.val_accuracy.map((a) => 100 * (1 - a)) },
      { name: 'training (running, during the epoch)', values: history.history.accuracy.map((a) => 100 * (1 - a)) },
    ],
  }),
);
const minutes = (performance.now() - started) / 60_000;
console.log(`\nDone in ${minutes.toFixed(1)} min. Model saved to ${saved.modelJson} and ${saved.weights}; the error curve to ${curvePath}.`);
console.log(`Final epoch: ${JSON.stringify(Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, v.at(-1)])))}`);
model.dispose();
