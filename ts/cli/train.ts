/**
 * `convnet-wasm train`: Géron's Fashion-MNIST ConvNet with the book's recipe (Nadam, batch 32,
 * seed 42, the first 55,000 training images, the last 5,000 for validation), or LeNet-5 on MNIST
 * (the faithful network with SDLM, or the modern variant with Adam). Saves the model and its
 * error curve.
 * @module
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import * as cw from '../index.node.js';
import { errorCurveSvg } from './curve-svg.js';
import { confusionTable, duration, fraction, integer, loadDataset, nonNegative, positive } from './shared.js';

interface TrainOptions {
  model: 'fashion' | 'fashion-bn' | 'fashion-resnet' | 'lenet5';
  variant: 'faithful' | 'modern';
  optimizer?: 'sgd' | 'adam' | 'adamw' | 'nadam' | 'rmsprop' | 'sdlm';
  learningRate?: number;
  weightDecay?: number;
  schedule?: 'constant' | 'cosine';
  epochs: number;
  batchSize?: number;
  trainLimit?: number;
  testLimit: number;
  seed: number;
  eta: string;
  distortions?: boolean | string;
  j?: number;
  labelSmoothing?: number;
  data?: string;
  download?: boolean;
  out?: string;
  checkpointEvery: string;
  checkpoint: boolean;
  workers?: number;
  microBatchSize?: number;
  resume?: boolean;
  simd: 'default' | 'relaxed';
  views?: boolean;
}

export function trainCommand(): Command {
  return new Command('train')
    .description("Train Géron's Fashion-MNIST ConvNet (Hands-On ML, ch. 14) or LeNet-5 (LeCun et al. 1998) on MNIST, and save it.")
    .addOption(
      new Option('--model <name>', 'network to train (fashion-bn: models.fashionConvNetBN(); fashion-resnet: models.fashionResNet(), trained by the same recipe)')
        .choices(['fashion', 'fashion-bn', 'fashion-resnet', 'lenet5'])
        .default('fashion'),
    )
    .addOption(new Option('--variant <name>', 'lenet5: the 1998 network, or ReLU + max-pool + full C3 + softmax').choices(['faithful', 'modern']).default('faithful'))
    .addOption(new Option('--optimizer <name>', 'default: nadam (fashion), adam (fashion-bn, fashion-resnet), sdlm (lenet5 faithful), adam (lenet5 modern)').choices(['sgd', 'adam', 'adamw', 'nadam', 'rmsprop', 'sdlm']))
    .option('--learning-rate <x>', 'for sgd, adam, adamw, nadam and rmsprop (default: 0.01 for sgd, else 0.001)', positive('--learning-rate'))
    .option(
      '--weight-decay <x>',
      "for sgd, adam, adamw, nadam and rmsprop: Keras's decoupled weight decay, w − w·x·learning rate before each update (default: 0.004 for adamw, else none)",
      nonNegative('--weight-decay'),
    )
    .addOption(
      new Option(
        '--schedule <name>',
        'for sgd, adam, adamw, nadam and rmsprop: the learning rate held, or decayed per epoch along a cosine to a hundredth of it (default: cosine for fashion-bn and fashion-resnet, else constant)',
      ).choices(['constant', 'cosine']),
    )
    .option('--epochs <n>', 'passes over the training images', integer('--epochs'), 1)
    .option('--batch-size <n>', 'examples per step (default: 32; 64 for fashion-bn and fashion-resnet; 1 for sdlm, as in the paper)', integer('--batch-size'))
    .option('--train-limit <n>', 'use only the first n training images (default: all, 55,000 for Fashion, 60,000 for MNIST)', integer('--train-limit'))
    .option('--test-limit <n>', 'evaluate on the first n of the 10,000 test images', integer('--test-limit'), 10_000)
    .option('--seed <n>', 'seed for initialisation, shuffling and dropout', integer('--seed', 0), 42)
    .option(
      '--eta <values>',
      "sdlm: η for the paper's five stages of passes (1–2, 3–5, 6–8, 9–12, 13+), comma-separated, or 'paper' for the paper's " +
        `(${cw.PAPER_ETAS.join(',')})`,
      cw.CONVNET_ETAS.join(','),
    )
    .option(
      '--distortions [bounds]',
      "lenet5 faithful: the paper's random affine distortions in training; bounds 'translation,scale,squeeze,shear' (default 2,0.1,0.1,0.2)",
    )
    .option('--j <x>', "lenet5 faithful: the constant j of the paper's loss, eq. 9 (default 1)", positive('--j'))
    .option(
      '--label-smoothing <x>',
      "the softmax networks (not lenet5 faithful): train against labels smoothed by x in [0, 1], Keras's label_smoothing (default 0)",
      fraction('--label-smoothing'),
    )
    .option('--data <dir>', 'directory with the IDX files (default: $CONVNET_DATA, the cache, /usr/share/datasets)')
    .option('--download', 'download the dataset (with a SHA-256 check) if it is not found')
    .option('--out <dir>', 'where to save the trained model and its curve.svg (default: out/<model>)')
    .option('--checkpoint-every <n>', "write <out>/checkpoint/checkpoint.bin every n steps, or 'epoch'", 'epoch')
    .option('--no-checkpoint', 'write no checkpoints')
    .option('--workers <n>', 'threads: this one and n − 1 worker threads (default: the cores; the result is the same for any number)', integer('--workers'))
    .option(
      '--micro-batch-size <n>',
      'examples per micro-batch (default: a quarter of the batch; half of it for fashion-bn and fashion-resnet, whose batch statistics are per micro-batch); the result depends on it',
      integer('--micro-batch-size'),
    )
    .option('--views', 'also evaluate the test images with the class probabilities averaged over ten test-time views (the image, moved one pixel each way, and those mirrored)')
    .option('--resume', 'go on from <out>/checkpoint when a checkpoint is there (bit for bit the same result, with the same --simd)')
    .addOption(
      new Option(
        '--simd <build>',
        'relaxed: the relaxed-SIMD build, faster where the CPU has fused multiply-add, not bit-identical with the default build (Node 20: node --experimental-wasm-relaxed-simd examples/train.mjs …)',
      )
        .choices(['default', 'relaxed'])
        .default('default'),
    )
    .addHelpText('after', ({ command }) => {
      // `convnet-wasm train`, or `npm run train --` when examples/train.mjs runs this command alone.
      const run = command.parent ? `${command.parent.name()} ${command.name()}` : command.name();
      return (
        "\nThe default is the book's recipe for one epoch. Its full recipe (10 epochs; test accuracy 0.907):\n" +
        `  ${run} --epochs 10\n` +
        `LeNet-5 as in the paper (20 passes over the 60,000 MNIST images, SDLM; test error 0.98%):\n  ${run} --model lenet5 --epochs 20\n` +
        `With the paper's distortions, eq. 9's j = 2, a gentler first stage and 70 passes (chosen on validation data; test error 0.68% over three seeds):\n` +
        `  ${run} --model lenet5 --epochs 70 --distortions --j 2 --eta 0.00002,0.00005,0.00005,0.00002,0.00001\n` +
        `Its modern variant:\n  ${run} --model lenet5 --variant modern --epochs 20\n` +
        `The batch-normalised network with its recipe (30 epochs, Adam with a cosine decay, batch 64 in micro-batches of 32; docs/fashion-bn.md):\n  ${run} --model fashion-bn --epochs 30\n` +
        `The residual network, its recipe chosen on validation (40 epochs, the same schedule, test accuracy over ten views: 0.9440 over three seeds; docs/fashion-bn.md):\n  ${run} --model fashion-resnet --epochs 40 --views`
      );
    })
    .action(async function (this: Command, opts: TrainOptions) {
      await train(this, opts);
    });
}

async function train(command: Command, opts: TrainOptions): Promise<void> {
  const isLeNet = opts.model === 'lenet5';
  // Both batch-normalised networks take the same recipe.
  const isBN = opts.model === 'fashion-bn' || opts.model === 'fashion-resnet';
  const faithful = isLeNet && opts.variant === 'faithful';
  const name = isLeNet ? `lenet5-${opts.variant}` : opts.model;
  const optimizer = opts.optimizer ?? (faithful ? 'sdlm' : isLeNet || isBN ? 'adam' : 'nadam');
  const batchSize = opts.batchSize ?? (optimizer === 'sdlm' ? 1 : isBN ? 64 : 32);
  const schedule = opts.schedule ?? (isBN ? 'cosine' : 'constant');
  const out = opts.out ?? join('out', name);
  const checkpointEvery: number | 'epoch' = opts.checkpointEvery === 'epoch' ? 'epoch' : Number(opts.checkpointEvery);
  if (checkpointEvery !== 'epoch' && !(Number.isInteger(checkpointEvery) && checkpointEvery >= 1)) {
    command.error("error: --checkpoint-every must be a number of steps or 'epoch'");
  }
  const checkpoint = opts.checkpoint ? { dir: join(out, 'checkpoint'), every: checkpointEvery } : undefined;
  if (opts.resume && !checkpoint) command.error('error: --resume needs checkpoints (drop --no-checkpoint)');

  if (opts.simd === 'relaxed' && !cw.relaxedSimdSupported()) {
    command.error(
      'error: --simd relaxed: this Node.js has no WebAssembly relaxed SIMD. Node.js 22 or later has it; Node.js 20 needs the flag ' +
        '(node --experimental-wasm-relaxed-simd examples/train.mjs …). Without --simd relaxed the default build runs.',
    );
  }
  const started = performance.now();
  await cw.init({ simd: opts.simd });
  const data = await loadDataset(isLeNet ? 'mnist' : 'fashion', opts);
  // Fashion: the book's split, the first 55,000 for training and the last 5,000 for validation.
  // MNIST: the paper trains on all 60,000 and reports the test error after each pass.
  const { train: fullTrain, validation } = isLeNet ? { train: data.train, validation: data.test } : cw.trainValidationSplit(data.train, 55_000);
  const trainCount = Math.min(opts.trainLimit ?? fullTrain.count, fullTrain.count);
  const testCount = Math.min(opts.testLimit, data.test.count);
  const px = 28 * 28;
  const trainX = fullTrain.images.subarray(0, trainCount * px);
  const trainY = fullTrain.labels.subarray(0, trainCount);
  const valName = isLeNet ? 'test' : 'val';

  let distortions: NonNullable<cw.LeNet5Options['distortions']> = false;
  if (opts.distortions !== undefined) {
    if (!faithful) command.error('error: --distortions applies to --model lenet5 (faithful) only');
    if (opts.distortions === true) distortions = true;
    else {
      const bounds = String(opts.distortions).split(',').map(Number);
      if (bounds.length !== 4 || !bounds.every((b) => Number.isFinite(b) && b >= 0)) {
        command.error(`error: --distortions takes four bounds 'translation,scale,squeeze,shear' (numbers ≥ 0), got '${opts.distortions}'`);
      }
      const [translation, scale, squeeze, shear] = bounds as [number, number, number, number];
      distortions = { translation, scale, squeeze, shear };
    }
  }
  const model = isLeNet ? cw.models.leNet5({ variant: opts.variant, distortions }) : opts.model === 'fashion-resnet' ? cw.models.fashionResNet() : isBN ? cw.models.fashionConvNetBN() : cw.models.fashionConvNet();
  // The faithful LeNet-5 ends in RBF units and takes the paper's eq. 9; the others a softmax.
  if (!faithful && opts.j !== undefined) command.error('error: --j applies to --model lenet5 (faithful) only');
  const j = opts.j ?? 1;
  if (faithful && opts.labelSmoothing !== undefined) command.error('error: --label-smoothing applies to the softmax networks, not lenet5 (faithful), whose output is RBF units');
  const loss: cw.LossConfig = faithful
    ? { type: 'rbfMap', j }
    : opts.labelSmoothing
      ? { type: 'sparseCategoricalCrossentropy', labelSmoothing: opts.labelSmoothing }
      : 'sparseCategoricalCrossentropy';
  let learningRate: cw.LearningRate;
  let recipe: string;
  if (optimizer === 'sdlm') {
    if (opts.schedule) command.error("error: --schedule is for sgd, adam, adamw, nadam and rmsprop; sdlm follows the paper's stages (--eta)");
    if (opts.weightDecay !== undefined) command.error('error: --weight-decay is for sgd, adam, adamw, nadam and rmsprop, not sdlm');
    const etas = opts.eta === 'paper' ? cw.PAPER_ETAS : opts.eta.split(',').map(Number);
    try {
      learningRate = cw.leNet5Schedule(Math.ceil(trainCount / batchSize), etas);
    } catch (error) {
      command.error(`error: --eta: ${(error as Error).message}`);
    }
    recipe = `SDLM (μ 0.02, curvature re-estimated on 500 images before each pass), η ${etas.join(', ')} for passes 1–2, 3–5, 6–8, 9–12, 13+`;
  } else {
    const rate = opts.learningRate ?? (optimizer === 'sgd' ? 0.01 : 0.001);
    if (schedule === 'cosine') {
      learningRate = cw.cosineDecayPerEpoch({ initialLearningRate: rate, epochs: opts.epochs, stepsPerEpoch: Math.ceil(trainCount / batchSize), alpha: 0.01 });
      recipe = `${optimizer}, learning rate ${rate} decayed per epoch along a cosine to ${rate / 100}`;
    } else {
      learningRate = rate;
      recipe = `${optimizer}, learning rate ${rate}`;
    }
  }
  if (opts.weightDecay !== undefined) recipe += `, weight decay ${opts.weightDecay}`;
  if (faithful) recipe += `, loss eq. 9 (j = ${j})`;
  if (opts.labelSmoothing) recipe += `, label smoothing ${opts.labelSmoothing}`;
  if (distortions) recipe += `, distortions ${JSON.stringify(distortions === true ? 'default' : distortions)}`;
  try {
    const chosen: cw.OptimizerConfig =
      optimizer === 'sdlm' ? { type: 'sdlm', mu: 0.02 } : { type: optimizer, ...(opts.weightDecay === undefined ? {} : { weightDecay: opts.weightDecay }) };
    model.compile({ optimizer: chosen, loss, learningRate, seed: opts.seed });
  } catch (error) {
    command.error(`error: cannot train ${name} with ${optimizer}: ${(error as Error).message}`);
  }
  console.log(model.summary());
  console.log(
    `\nTraining on ${trainCount.toLocaleString('en-US')} images (${valName} ${validation.count.toLocaleString('en-US')}), ` +
      `${opts.epochs} epoch(s), batch ${batchSize}, ${recipe}, seed ${opts.seed}.`,
  );
  const microBatchSize = opts.microBatchSize ?? Math.ceil(batchSize / (isBN ? 2 : 4));
  if (microBatchSize > batchSize) command.error(`error: --micro-batch-size must be at most the batch size (${batchSize})`);
  const workers = Math.min(opts.workers ?? availableParallelism(), Math.ceil(batchSize / microBatchSize));
  console.log(
    workers > 1
      ? `Data-parallel: ${workers} threads (this one and ${workers - 1} worker thread(s)), micro-batches of ${microBatchSize} (the same weights for any number of workers).`
      : 'Every step runs in this thread.',
  );
  if (opts.model === 'fashion' && (trainCount < 55_000 || opts.epochs < 10)) console.log("The book's full recipe: --epochs 10 (see --help)\n");
  if (isLeNet && (trainCount < 60_000 || opts.epochs < 20)) console.log("The paper's recipe: --model lenet5 --epochs 20\n");
  if (opts.model === 'fashion-bn' && (trainCount < 55_000 || opts.epochs < 30)) console.log('Its recipe: --model fashion-bn --epochs 30 (see --help)\n');
  if (opts.resume && checkpoint) {
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
  let epochStart = 0;
  let done = 0;
  let lossSum = 0;
  let correct = 0;
  const history = await model.fit(trainX, trainY, {
    epochs: opts.epochs,
    batchSize,
    microBatchSize,
    workers,
    ...(checkpoint ? { checkpoint } : {}),
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
            `${valName}_loss ${logs.val_loss?.toFixed(4)}, ${valName}_accuracy ${logs.val_accuracy?.toFixed(4)} (${duration(seconds)} with validation)`,
        );
      },
    },
  });

  const evalStart = performance.now();
  const testX = data.test.images.subarray(0, testCount * px);
  const testY = data.test.labels.subarray(0, testCount);
  const plain = await model.evaluateAsync(testX, testY, { workers });
  const views = opts.views ? cw.testTimeViews() : undefined;
  const test = views ? await model.evaluateAsync(testX, testY, { workers, views }) : plain;
  const evalSeconds = (performance.now() - evalStart) / 1000;
  if (views) console.log(`\ntest accuracy of the image alone ${plain.accuracy.toFixed(4)}, test loss ${plain.loss.toFixed(4)}`);
  const averaged = views ? ` averaged over ${views.length} views` : '';
  console.log(`${views ? '' : '\n'}test accuracy${averaged} ${test.accuracy.toFixed(4)}, test loss ${test.loss.toFixed(4)} (${testCount.toLocaleString('en-US')} images, ${duration(evalSeconds)})\n`);
  console.log(confusionTable(test, data.classNames));

  const saved = await model.save(`file://${out}`);
  const curvePath = join(out, 'curve.svg');
  await writeFile(
    curvePath,
    errorCurveSvg({
      title: `${name}, ${optimizer}, ${trainCount.toLocaleString('en-US')} training images: error per epoch`,
      series: [
        // From the history, which a resumed run carries over from its checkpoint.
        { name: isLeNet ? 'test' : 'validation', values: history.history.val_accuracy!.map((a) => 100 * (1 - a)) },
        { name: 'training (running, during the epoch)', values: history.history.accuracy!.map((a) => 100 * (1 - a)) },
      ],
    }),
  );
  const minutes = (performance.now() - started) / 60_000;
  console.log(`\nDone in ${minutes.toFixed(1)} min. Model saved to ${saved.modelJson} and ${saved.weights}; the error curve to ${curvePath}.`);
  console.log(`Final epoch: ${JSON.stringify(Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, (v as number[]).at(-1)])))}`);
  model.dispose();
}
