/**
 * The training loop: `fit()`'s options, its epochs and steps (an ordinary step, or a
 * data-parallel one on this thread or a worker pool), validation, the history, callbacks and
 * checkpoints. It runs a model through the narrow {@link FitHost} that `Sequential` gives it.
 * @module
 */
import { CallbackList, emptyHistory, makeLogs, progressLogger, recordEpoch, type CallbackModel, type CallbackState, type Callbacks, type History, type Logs, type Verbosity } from './callbacks/base.js';
import { Checkpointer, type CheckpointedModel, type EpochSums } from './checkpoint.js';
import type { Evaluation, Inputs, Labels, OptimizerConfig } from './config.js';
import { ConvnetError, InvalidArgumentError } from './errors.js';
import { WorkerPool, defaultWorkers, type ReducingModel } from './worker-pool.js';
import { checkKeys } from './validate.js';

/** Options of {@link Sequential.fit}. */
export interface FitConfig {
  /** Default 1. */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Reshuffle the training examples every epoch (with the model's seeded generator). Default true. */
  shuffle?: boolean;
  /** Validation data evaluated after every epoch. */
  validationData?: [Inputs, Labels];
  /** The fraction of examples, taken from the end before shuffling, held out for validation. */
  validationSplit?: number;
  /** One callbacks object, or a list of them called in order. */
  callbacks?: Callbacks | Callbacks[];
  /** Yield to the event loop at least this often, in milliseconds (default 50), so progress bars and UIs stay live. */
  yieldEvery?: number;
  /**
   * With the `sdlm` optimiser: how many training examples (the first of each epoch's shuffled
   * order) its curvature is re-estimated on before each epoch. Default 500 (the paper: "a few
   * hundred").
   */
  curvatureSamples?: number;
  /**
   * Write a checkpoint to `dir/checkpoint.bin` after every epoch (`every: 'epoch'`, the default)
   * or every `every` optimiser steps. It holds the weights, the optimiser's and the random
   * generator's state, the position and the shuffle order, and is written atomically (Node).
   */
  checkpoint?: { dir: string; every?: 'epoch' | number };
  /**
   * Go on from the checkpoint in `checkpoint.dir` when there is one (like Keras's
   * BackupAndRestore); the result is the same, bit for bit, as a run that never stopped.
   * Without a checkpoint there, training starts from the beginning. Default false.
   */
  resume?: boolean;
  /**
   * Data-parallel training: how many threads compute micro-batch gradients. This thread computes
   * one run of micro-batches with the model itself; `workers − 1` more (`worker_threads` in Node,
   * module Web Workers in browsers), each with its own wasm instance, compute the others.
   * Default: the number of cores in Node, 1 in browsers. The weights after training are the same
   * bits for any number of workers (see `microBatchSize`).
   */
  workers?: number;
  /**
   * Each batch is cut into micro-batches of this many examples (default: a quarter of the batch,
   * rounded up). Their gradients are summed in order, weighted by their share of the batch, and
   * each has its own dropout masks, so the result does not depend on which worker computed
   * which. Results depend on this size, not on `workers`. A batch that is one micro-batch is an
   * ordinary step.
   */
  microBatchSize?: number;
  /**
   * Progress on the console, as Keras and tfjs-node print it: 0 (the default) nothing, 1 a
   * progress bar updated each batch (where the output is a terminal; one line per epoch
   * elsewhere), 2 one line per epoch.
   */
  verbose?: Verbosity;
}

/** fit()'s option names. */
const FIT_OPTIONS = [
  'epochs', 'batchSize', 'shuffle', 'validationData', 'validationSplit', 'callbacks', 'yieldEvery', 'curvatureSamples',
  'checkpoint', 'resume', 'workers', 'microBatchSize', 'verbose',
] as const;

/** @internal What the training loop needs of a compiled model's wasm. */
export interface TrainingWasm extends ReducingModel {
  permutation(n: number): Uint32Array;
  estimate_curvature(x: Inputs, labels: Uint32Array): void;
  train_step(x: Inputs, labels: Uint32Array): number;
  train_step_micro(x: Inputs, labels: Uint32Array, micro: number): number;
  last_correct(): number;
  divergence(): string | undefined;
  iterations(): number;
}

/** @internal A batch's inputs and labels. */
export interface Batch {
  bx: Inputs;
  by: Uint32Array;
}

/** @internal What the training loop needs of the model it trains. */
export interface FitHost extends CheckpointedModel {
  readonly wasm: TrainingWasm;
  /** The spec the wasm was built from (workers build their models from it). */
  readonly spec: string;
  readonly optimizer: OptimizerConfig;
  /** Values per example. */
  readonly exampleLength: number;
  /** Whether a callback asked to stop after the current batch (`model.stopTraining = true`). */
  stopRequested(): boolean;
  clearStop(): void;
  /** Whether `dispose()` was called: training stops at the next step. */
  disposed(): boolean;
  /** The model as callbacks see it (`setModel`). */
  readonly callbackModel: CallbackModel;
  /** A call into the model's wasm, named `what` in errors. */
  call<T>(what: string, fn: () => T): T;
  /** Checks inputs and labels; returns the number of examples. */
  checkData(what: string, x: Inputs, y?: Labels): number;
  /** Examples `order[from..to]` of x (and y) as a batch, copied into `reuse` where it can be. */
  gather(x: Inputs, y: Labels | undefined, order: Uint32Array | null, from: number, to: number, reuse?: Batch): Batch;
  /** Loss, accuracy and confusion matrix, on `workers` threads when more than 1 (the same numbers). */
  evaluate(x: Inputs, y: Labels, workers: number): Promise<Evaluation>;
}

/**
 * Lets timers, I/O and rendering run between training steps. `setTimeout(0)` would wait at least
 * 1 ms (4 ms when nested, in browsers); Node's `setImmediate` and a message to ourselves do not.
 */
const yieldToEventLoop = (): Promise<void> =>
  new Promise<void>((resolve) => {
    if (typeof setImmediate === 'function') {
      setImmediate(resolve);
      return;
    }
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });

/** fit()'s options, checked, with their defaults. */
interface FitPlan {
  epochs: number;
  batchSize: number;
  nTrain: number;
  trainX: Inputs;
  trainY: Labels;
  validation: [Inputs, Labels] | undefined;
  checkpoint: { dir: string; every: 'epoch' | number } | undefined;
  resume: boolean;
  microBatchSize: number;
  /** More than one micro-batch per batch: the data-parallel path. */
  parallel: boolean;
  threads: number;
  workers: number;
  shuffle: boolean;
  callbacks: CallbackList;
  yieldEvery: number;
  curvatureSamples: number;
}

/** Checks fit()'s arguments and options; every message names the model and the option. */
function plan(host: FitHost, x: Inputs, y: Labels, config: FitConfig): FitPlan {
  const name = `${host.name}.fit()`;
  checkKeys(name, config, FIT_OPTIONS);
  const total = host.checkData('fit()', x, y);
  const epochs = config.epochs ?? 1;
  const batchSize = config.batchSize ?? 32;
  if (!Number.isInteger(epochs) || epochs < 1) throw new InvalidArgumentError(`${name}: epochs must be an integer ≥ 1, got ${epochs}`);
  const split = config.validationSplit ?? 0;
  if (!(split >= 0 && split < 1)) throw new InvalidArgumentError(`${name}: validationSplit must be in [0, 1), got ${split}`);
  if (split > 0 && config.validationData) throw new InvalidArgumentError(`${name}: give validationData or validationSplit, not both`);
  const nTrain = total - Math.floor(total * split);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > nTrain) {
    throw new InvalidArgumentError(`${name}: batchSize must be an integer in [1, ${nTrain}] (the training examples), got ${batchSize}`);
  }
  const per = host.exampleLength;
  const validation: [Inputs, Labels] | undefined = split > 0 ? [x.subarray(nTrain * per), y.subarray(nTrain)] : config.validationData;
  if (validation) host.checkData('fit() validationData', validation[0], validation[1]);
  const checkpoint = config.checkpoint;
  let every: 'epoch' | number = 'epoch';
  if (checkpoint !== undefined) {
    if (typeof checkpoint.dir !== 'string' || checkpoint.dir === '') throw new InvalidArgumentError(`${name}: checkpoint.dir must be a directory path`);
    every = checkpoint.every ?? 'epoch';
    if (every !== 'epoch' && !(Number.isInteger(every) && every >= 1)) {
      throw new InvalidArgumentError(`${name}: checkpoint.every must be 'epoch' or a number of steps ≥ 1, got ${JSON.stringify(every)}`);
    }
  }
  if (config.resume && checkpoint === undefined) throw new InvalidArgumentError(`${name}: resume needs checkpoint.dir`);
  const microBatchSize = config.microBatchSize ?? Math.ceil(batchSize / 4);
  if (!Number.isInteger(microBatchSize) || microBatchSize < 1 || microBatchSize > batchSize) {
    throw new InvalidArgumentError(`${name}: microBatchSize must be an integer in [1, ${batchSize}] (the batch size), got ${config.microBatchSize}`);
  }
  const workers = config.workers ?? defaultWorkers();
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new InvalidArgumentError(`${name}: workers must be an integer in [1, 256], got ${config.workers}`);
  }
  const verbose = config.verbose ?? 0;
  if (verbose !== 0 && verbose !== 1 && verbose !== 2) throw new InvalidArgumentError(`${name}: verbose must be 0, 1 or 2, got ${JSON.stringify(config.verbose)}`);
  if (checkpoint !== undefined) checkKeys(`${name}: checkpoint`, checkpoint, ['dir', 'every']);
  const curvatureSamples = Math.min(config.curvatureSamples ?? 500, nTrain);
  if (!Number.isInteger(curvatureSamples) || curvatureSamples < 1) {
    throw new InvalidArgumentError(`${name}: curvatureSamples must be an integer ≥ 1, got ${config.curvatureSamples}`);
  }
  // One micro-batch per batch is the ordinary step; more go through the data-parallel path.
  const microBatches = Math.ceil(batchSize / microBatchSize);
  const parallel = microBatches > 1;
  return {
    epochs,
    batchSize,
    nTrain,
    trainX: x.subarray(0, nTrain * per),
    trainY: y.subarray(0, nTrain),
    validation,
    checkpoint: checkpoint && { dir: checkpoint.dir, every },
    resume: config.resume === true,
    microBatchSize,
    parallel,
    // This thread computes one run of micro-batches itself; the others go to workers − 1 threads.
    threads: parallel ? Math.min(workers, microBatches) : 1,
    workers,
    shuffle: config.shuffle !== false,
    callbacks: new CallbackList([
      ...(verbose > 0 ? [progressLogger(verbose, epochs, Math.ceil(nTrain / batchSize))] : []),
      ...(config.callbacks === undefined ? [] : [config.callbacks].flat()),
    ]),
    yieldEvery: config.yieldEvery ?? 50,
    curvatureSamples,
  };
}

/**
 * @internal
 * Trains `host` on x and y. Resolves to the per-epoch history once done (or once a callback sets
 * `stopTraining`). A loss that becomes NaN or infinite stops training with an error naming the step.
 */
export async function fit(host: FitHost, x: Inputs, y: Labels, config: FitConfig): Promise<History> {
  const p = plan(host, x, y, config);
  const { wasm: model } = host;
  const callbacks = p.callbacks;
  callbacks.setModel(host.callbackModel);
  const call = <T>(fn: () => T): T => host.call('fit()', fn);
  let history = emptyHistory();
  let start = { epoch: 0, batch: 0, order: null as Uint32Array | null, sums: { lossSum: 0, correct: 0, seen: 0 } as EpochSums };
  const geometry = { epochs: p.epochs, batchSize: p.batchSize, trainCount: p.nTrain, shuffle: p.shuffle, ...(p.parallel ? { microBatchSize: p.microBatchSize } : {}) };
  const saver = p.checkpoint && (await Checkpointer.open(p.checkpoint.dir, geometry, host));
  const every = p.checkpoint?.every ?? 'epoch';
  let haveCheckpoint = false;
  let callbackStates: (CallbackState | null)[] | undefined;
  if (saver && p.resume) {
    const resumed = await saver.resume((states) => callbacks.mismatch(states));
    haveCheckpoint = resumed !== undefined;
    if (resumed) {
      callbackStates = resumed.callbacks;
      history = resumed.history;
      start = { epoch: resumed.position.epoch, batch: resumed.position.batch, order: resumed.order, sums: resumed.sums };
    }
  }
  const pool = p.threads > 1 ? await WorkerPool.start(p.threads - 1, host.spec) : undefined;
  const step = async (bx: Inputs, by: Uint32Array): Promise<number> => {
    if (pool) return pool.step(model, bx, by, p.microBatchSize, call);
    if (p.parallel) return call(() => model.train_step_micro(bx, by, p.microBatchSize));
    return call(() => model.train_step(bx, by));
  };
  const sdlm = host.optimizer.type === 'sdlm';
  try {
    host.clearStop();
    let lastYield = performance.now();
    // Each step's batch is copied into the last one's buffers.
    let batchData: Batch | undefined;
    await callbacks.trainBegin();
    // A resumed run's callbacks go on from their saved state (Keras's reset it in onTrainBegin).
    if (callbackStates) callbacks.restore(callbackStates);
    for (let epoch = start.epoch; epoch < p.epochs && !host.stopRequested(); epoch++) {
      await callbacks.epochBegin(epoch);
      // Going on in the middle of an epoch: its shuffle order, curvature and sums are restored.
      const midEpoch = epoch === start.epoch && start.batch > 0;
      const order = midEpoch ? (p.shuffle ? start.order : null) : p.shuffle ? new Uint32Array(call(() => model.permutation(p.nTrain))) : null;
      if (sdlm && !midEpoch) {
        const { bx, by } = host.gather(p.trainX, p.trainY, order, 0, p.curvatureSamples);
        call(() => model.estimate_curvature(bx, by));
      }
      let { lossSum, correct, seen } = midEpoch ? start.sums : { lossSum: 0, correct: 0, seen: 0 };
      const batches = Math.ceil(p.nTrain / p.batchSize);
      for (let batch = midEpoch ? start.batch : 0, from = batch * p.batchSize; from < p.nTrain && !host.stopRequested(); batch++, from += p.batchSize) {
        const to = Math.min(from + p.batchSize, p.nTrain);
        if (host.disposed()) {
          throw new ConvnetError('DISPOSED', `${host.name}.fit(): the model was disposed during training, before epoch ${epoch + 1}, batch ${batch + 1}`);
        }
        await callbacks.batchBegin(batch);
        batchData = host.gather(p.trainX, p.trainY, order, from, to, batchData);
        const loss = await step(batchData.bx, batchData.by);
        if (!Number.isFinite(loss)) {
          // The wasm left the weights as they were before this step (or, when the update itself
          // overflowed, says so); no checkpoint is written after it.
          const why = model.divergence() ?? `the loss is ${loss}`;
          throw new ConvnetError(
            'TRAINING_DIVERGED',
            `${host.name}.fit(): training diverged at epoch ${epoch + 1}, batch ${batch + 1}: ${why}. Try a lower learning rate` +
              (haveCheckpoint ? `; the last good checkpoint is in ${p.checkpoint!.dir}` : ''),
          );
        }
        const size = to - from;
        const batchCorrect = model.last_correct();
        lossSum += loss * size;
        correct += batchCorrect;
        seen += size;
        await callbacks.batchEnd(batch, makeLogs({ loss, accuracy: batchCorrect / size, size }));
        if (saver && typeof every === 'number' && model.iterations() % every === 0 && batch + 1 < batches) {
          await saver.save({ epoch, batch: batch + 1 }, order, { lossSum, correct, seen }, history, callbacks.states());
          haveCheckpoint = true;
        }
        if (performance.now() - lastYield >= p.yieldEvery) {
          await yieldToEventLoop();
          lastYield = performance.now();
        }
      }
      const v = p.validation && (await host.evaluate(p.validation[0], p.validation[1], p.threads > 1 ? p.workers : 1));
      const logs: Logs = makeLogs({ loss: lossSum / seen, accuracy: correct / seen, ...(v ? { val_loss: v.loss, val_accuracy: v.accuracy } : {}) });
      recordEpoch(history, epoch, logs);
      await callbacks.epochEnd(epoch, logs);
      if (saver && seen === p.nTrain && (every === 'epoch' || model.iterations() % every === 0)) {
        await saver.save({ epoch: epoch + 1, batch: 0 }, null, { lossSum: 0, correct: 0, seen: 0 }, history, callbacks.states());
        haveCheckpoint = true;
      }
    }
    await callbacks.trainEnd(history);
    return history;
  } finally {
    pool?.close();
  }
}

export type { Callbacks };
