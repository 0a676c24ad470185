#!/usr/bin/env node
// Trains models.fashionConvNetBN() (Conv–BN–ReLU blocks, global average pooling, random shifts
// and flips in training) on the first 55,000 Fashion-MNIST training images, validating on the last
// 5,000 after every epoch. Adam (or --optimizer sgd, SGD with Nesterov momentum 0.9), batch 64 in micro-batches (the batch normalisation's statistics;
// 16 unless --micro-batch), the rate --lr (0.001) either dropped to 0.3 and 0.1 of it after half
// and three quarters of the epochs (--schedule step, the default) or decayed per epoch along a
// cosine to a hundredth of it (--schedule cosine). The network's shifts (--translation, a fraction
// of the image, 0.1), flips (--no-flip), random erasing (--erasing, its factor; 0: none), dropout (--dropout, 0.3), the three stages' filters
// (--filters, 32,64,128), what follows the last stage (--head, globalAverage or flatten) and a dense
// ReLU layer after it (--dense, units; 0: none) are options, and so is label smoothing
// (--label-smoothing, Keras's label_smoothing; 0: none) and Keras's decoupled weight decay (--weight-decay,
// which makes Adam AdamW; 0: none). With --test,
// the 10,000 test images are then evaluated once (a run whose settings were chosen on
// validation); without it they are not read. --train-all (with --test) trains on all 60,000
// training images and validates on none. --arch skip builds the same network as a graph with
// identity shortcuts around the second conv of the first two stages (relu(bn(conv(x)) + x), the
// same arithmetic plus two adds), through input(), apply() and model(). --convs sets the Conv–BN–ReLU
// blocks per stage (2,2,1; fashion-bn-stages.mjs). --arch resnet trains a deeper residual network
// of about the same arithmetic instead (fashion-bn-resnet.mjs). --views also reports the accuracies
// (validation, and test with --test) with the probabilities averaged over testTimeViews() (the
// image, moved one pixel each way, and those mirrored: ten views), the library's `views` option.
// Writes out/fashion-bn[-<tag>]/history.json and curve.svg (training and validation error per
// epoch), and the model.
// Usage: npm run build && node tools/experiments/fashion-bn.mjs [epochs=16] [seed=1] [workers=cores] [--micro-batch 16] [--lr 0.001] [--schedule step|cosine] [--translation 0.1] [--no-flip] [--erasing 0] [--dropout 0.3] [--filters 32,64,128] [--head globalAverage|flatten] [--dense 0] [--label-smoothing 0] [--optimizer adam|sgd] [--weight-decay 0] [--arch plain|skip|resnet] [--convs 2,2,1] [--test [--train-all]] [--views] [--tag name]
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import * as cw from 'convnet-wasm';
import { withShortcuts } from './fashion-bn-shortcuts.mjs';
import { withStages } from './fashion-bn-stages.mjs';
import { resNet } from './fashion-bn-resnet.mjs';
import { errorCurveSvg } from '../../dist/cli/curve-svg.js';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'micro-batch': { type: 'string', default: '16' },
    lr: { type: 'string', default: '0.001' },
    schedule: { type: 'string', default: 'step' },
    translation: { type: 'string', default: '0.1' },
    'no-flip': { type: 'boolean', default: false },
    erasing: { type: 'string', default: '0' },
    dropout: { type: 'string', default: '0.3' },
    filters: { type: 'string', default: '32,64,128' },
    head: { type: 'string', default: 'globalAverage' },
    dense: { type: 'string', default: '0' },
    'label-smoothing': { type: 'string', default: '0' },
    'weight-decay': { type: 'string', default: '0' },
    optimizer: { type: 'string', default: 'adam' },
    arch: { type: 'string', default: 'plain' },
    convs: { type: 'string', default: '2,2,1' },
    test: { type: 'boolean', default: false },
    'train-all': { type: 'boolean', default: false },
    views: { type: 'boolean', default: false },
    tag: { type: 'string' },
  },
});
const epochs = Number(positionals[0] ?? 16);
const seed = Number(positionals[1] ?? 1);
const workers = Number(positionals[2] ?? availableParallelism());
const micro = Number(opts['micro-batch']);
const lr = Number(opts.lr);
const labelSmoothing = Number(opts['label-smoothing']);
const weightDecay = Number(opts['weight-decay']);
if (opts.optimizer !== 'adam' && opts.optimizer !== 'sgd') throw new Error(`--optimizer must be adam or sgd, got ${opts.optimizer}`);
const sgd = opts.optimizer === 'sgd';
const decay = weightDecay ? { weightDecay } : {};
// Adam's runs name it as a string without a weight decay, so that they keep their settings.
const optimizer = sgd ? { type: 'sgd', momentum: 0.9, nesterov: true, ...decay } : weightDecay ? { type: 'adamw', weightDecay } : 'adam';
const optimizerName = `${sgd ? 'SGD (Nesterov momentum 0.9)' : weightDecay ? 'AdamW' : 'Adam'}${weightDecay ? ` (weight decay ${weightDecay})` : ''}`;
if (opts.schedule !== 'step' && opts.schedule !== 'cosine') throw new Error(`--schedule must be step or cosine, got ${opts.schedule}`);
if (opts['train-all'] && !opts.test) throw new Error('--train-all leaves no validation data: use it with --test, for a run whose settings were chosen on validation');
const network = {
  translation: Number(opts.translation),
  flip: !opts['no-flip'],
  erasing: Number(opts.erasing),
  dropout: Number(opts.dropout),
  filters: opts.filters.split(',').map(Number),
  head: opts.head,
  denseUnits: Number(opts.dense),
};
if (!['plain', 'skip', 'resnet'].includes(opts.arch)) throw new Error(`--arch must be plain, skip or resnet, got ${opts.arch}`);
const convs = opts.convs.split(',').map(Number);
// The library's network unless the blocks per stage differ, so that runs without --convs keep their bits.
const stages = convs.join(',') !== '2,2,1';
if (stages && opts.arch !== 'plain') throw new Error(`--convs and --arch ${opts.arch} do not combine`);

const outDir = opts.tag ? `out/fashion-bn-${opts.tag}` : 'out/fashion-bn';
const BATCH = 64;
const started = performance.now();
await cw.init();
const data = await cw.datasets.fashionMnist();
const { train, validation } = opts['train-all'] ? { train: data.train, validation: undefined } : cw.trainValidationSplit(data.train, 55_000);
const steps = Math.ceil(train.count / BATCH);
const model = (opts.arch === 'skip' ? withShortcuts(cw, network) : opts.arch === 'resnet' ? resNet(cw, network) : stages ? withStages(cw, network, convs) : cw.models.fashionConvNetBN(network)).compile({
  optimizer,
  learningRate:
    opts.schedule === 'step'
      ? { boundaries: [Math.round(steps * epochs * 0.5), Math.round(steps * epochs * 0.75)], values: [lr, 0.3 * lr, 0.1 * lr] }
      : cw.cosineDecayPerEpoch({ initialLearningRate: lr, epochs, stepsPerEpoch: steps, alpha: 0.01 }),
  // The string form unless smoothing is asked for, so that runs without it keep their settings.
  ...(labelSmoothing ? { loss: { type: 'sparseCategoricalCrossentropy', labelSmoothing } } : {}),
  seed,
});
console.log(model.summary());
console.log(
  `${opts.arch === 'skip' ? 'shortcuts around the 2nd and 4th convs, ' : opts.arch === 'resnet' ? 'residual network (fashion-bn-resnet.mjs), ' : ''}${stages ? `blocks per stage ${convs.join(', ')}, ` : ''}epochs ${epochs}, seed ${seed}, workers ${workers}, batch ${BATCH} in micro-batches of ${micro}, ${optimizerName} ${lr} (${opts.schedule}), ${labelSmoothing ? `label smoothing ${labelSmoothing}, ` : ''}${JSON.stringify(opts.arch === 'resnet' ? { ...network, filters: [16, 32, 64] } : network)}, ` +
    `${train.count} training images, test set ${opts.test ? 'evaluated once at the end' : 'not read'}`,
);
let epochStart = 0;
const history = await model.fit(train.images, train.labels, {
  epochs,
  batchSize: BATCH,
  microBatchSize: micro,
  workers,
  ...(validation ? { validationData: [validation.images, validation.labels] } : {}),
  callbacks: {
    onEpochBegin: () => void (epochStart = performance.now()),
    onEpochEnd: (epoch, logs) =>
      console.log(
        `epoch ${epoch + 1}: loss ${logs.loss.toFixed(4)} acc ${logs.accuracy.toFixed(4)}${validation ? ` val_loss ${logs.val_loss.toFixed(4)} val_acc ${logs.val_accuracy.toFixed(4)}` : ''} ` +
          `(${((performance.now() - epochStart) / 1000).toFixed(0)} s; ${((performance.now() - started) / 60000).toFixed(1)} min so far)`,
      ),
  },
});
const trainMinutes = (performance.now() - started) / 60000;
const test = opts.test ? await model.evaluateAsync(data.test.images, data.test.labels, { workers }) : undefined;
const views = opts.views ? cw.testTimeViews() : undefined;
const viewsValidation = views && validation ? await model.evaluateAsync(validation.images, validation.labels, { workers, views }) : undefined;
const viewsTest = views && opts.test ? await model.evaluateAsync(data.test.images, data.test.labels, { workers, views }) : undefined;
const minutes = (performance.now() - started) / 60000;
if (viewsValidation) console.log(`validation accuracy averaged over ${views.length} views: ${viewsValidation.accuracy.toFixed(4)} (without: ${history.history.val_accuracy.at(-1).toFixed(4)})`);
if (test) console.log(`test accuracy ${test.accuracy.toFixed(4)} (loss ${test.loss.toFixed(4)})${viewsTest ? `, averaged over ${views.length} views ${viewsTest.accuracy.toFixed(4)} (loss ${viewsTest.loss.toFixed(4)})` : ''}; ${minutes.toFixed(1)} min in all (${trainMinutes.toFixed(1)} min to the end of training)`);
else console.log(`${trainMinutes.toFixed(1)} min to the end of training, ${minutes.toFixed(1)} min in all; the test set was not read`);
mkdirSync(outDir, { recursive: true });
const h = history.history;
const settings = { epochs, seed, workers, batch: BATCH, microBatch: micro, lr, schedule: opts.schedule, ...(optimizer !== 'adam' ? { optimizer } : {}), ...(labelSmoothing ? { labelSmoothing } : {}), ...(opts.arch !== 'plain' ? { arch: opts.arch } : {}), ...(stages ? { convs } : {}), ...network, trainImages: train.count };
writeFileSync(
  `${outDir}/history.json`,
  `${JSON.stringify({ ...settings, minutes, trainMinutes, ...(test ? { test: { accuracy: test.accuracy, loss: test.loss, ...(viewsTest ? { viewsAccuracy: viewsTest.accuracy, viewsLoss: viewsTest.loss } : {}) } } : {}), ...(viewsValidation ? { viewsValidation: { accuracy: viewsValidation.accuracy, loss: viewsValidation.loss } } : {}), history: h }, null, 1)}\n`,
);
const series = [
  { name: 'train (augmented)', values: h.accuracy.map((a) => 100 * (1 - a)) },
  ...(validation ? [{ name: 'validation', values: h.val_accuracy.map((a) => 100 * (1 - a)) }] : []),
];
const title = `${opts.arch === 'resnet' ? 'residual network' : 'fashionConvNetBN'}${opts.arch === 'skip' ? ' with shortcuts' : ''}${stages ? ` (blocks ${convs.join('/')})` : ''}, seed ${seed}: error per epoch${test ? ` (test ${(100 * (1 - (viewsTest ?? test).accuracy)).toFixed(2)}%${viewsTest ? `, ${views.length} views` : ''})` : ''}`;
writeFileSync(`${outDir}/curve.svg`, errorCurveSvg({ title, series }));
await model.save(`file://${outDir}/model`);
model.dispose();
