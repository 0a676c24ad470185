/**
 * `Sequential`: a stack of layers, compiled into one wasm model. TypeScript owns the
 * description, validation, the fit loop and callbacks; every number is computed in the wasm,
 * one call per training step and one per prediction batch.
 * @module
 */
import { GradientPool, defaultWorkers } from './parallel.js';
import { WasmModel } from './wasm/convnet_wasm.js';
import { ConvnetError, InvalidArgumentError, ShapeMismatchError } from './errors.js';
import type { Layer, Shape3 } from './layers.js';
import { callWasm } from './wasm-call.js';
import { FORMAT_VERSION } from './format.js';
import { WasmPanicError } from './errors.js';

/** Optimisers, with Keras's semantics and defaults. */
export type OptimizerConfig =
  | { type: 'sgd'; momentum?: number; nesterov?: boolean }
  /** LeNet-5's stochastic diagonal Levenberg–Marquardt: step η/(μ + h) per parameter; μ default 0.02. */
  | { type: 'sdlm'; mu?: number }
  | { type: 'adam'; beta1?: number; beta2?: number; epsilon?: number }
  | { type: 'nadam'; beta1?: number; beta2?: number; epsilon?: number };

/** A loss: see {@link CompileConfig.loss}. */
export type LossConfig = 'sparseCategoricalCrossentropy' | 'rbfMaxLikelihood' | 'rbfCrossEntropy' | { type: 'rbfMap'; j: number };

/** A learning rate: a constant, or Keras's PiecewiseConstantDecay over optimiser steps. */
export type LearningRate = number | { boundaries: number[]; values: number[] };

/** Options of {@link Sequential.compile}. */
export interface CompileConfig {
  /** `'sgd'`, `'adam'`, `'nadam'` or a config object. Default `'adam'`. */
  optimizer?: OptimizerConfig['type'] | OptimizerConfig;
  /**
   * With a softmax output: `'sparseCategoricalCrossentropy'` (the default). With an RBF output
   * (LeNet-5), one of LeCun et al.'s losses over the distances y: `'rbfMaxLikelihood'` (eq. 8,
   * the mean y of the correct class), `{ type: 'rbfMap', j }` (eq. 9, the default with j = 1:
   * the paper's value of j is not known), or `'rbfCrossEntropy'` (softmax cross-entropy over −y).
   */
  loss?: LossConfig;
  /** Default 0.001 (Keras's default for Adam and Nadam; use 0.01 for SGD). */
  learningRate?: LearningRate;
  /** Seeds initialisation, shuffling and dropout. Default 0. */
  seed?: number;
}

/** Per-epoch and per-batch numbers passed to callbacks and kept in {@link History}. */
export interface Logs {
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
}

/** Hooks called during {@link Sequential.fit}; each may be async. */
export interface Callbacks {
  onTrainBegin?(): void | Promise<void>;
  onTrainEnd?(history: History): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onBatchBegin?(batch: number): void | Promise<void>;
  /** `logs` holds the batch's loss and accuracy. */
  onBatchEnd?(batch: number, logs: Logs & { size: number }): void | Promise<void>;
}

/** Inputs: N·H·W·C floats, or N·H·W·C 8-bit pixels mapped by the model's preprocessing. */
export type Inputs = Float32Array | Uint8Array;
/** Labels: class indices. */
export type Labels = Uint8Array | Int32Array | Uint32Array;

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
  callbacks?: Callbacks;
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
}

/** What {@link Sequential.fit} returns: one entry per epoch. */
export interface History {
  epoch: number[];
  history: { loss: number[]; accuracy: number[]; valLoss: number[]; valAccuracy: number[] };
}

/** What {@link Sequential.evaluate} returns. */
export interface Evaluation {
  loss: number;
  accuracy: number;
  /** `confusionMatrix[actual][predicted]` counts. */
  confusionMatrix: number[][];
}

/** How 8-bit inputs become floats: `offset + scale·pixel`. */
export interface Preprocessing {
  scale: number;
  offset: number;
}

/** Options of the {@link Sequential} constructor. */
export interface SequentialConfig {
  layers?: Layer[];
  /** The input shape, if the first layer does not give it. */
  inputShape?: Shape3;
  name?: string;
  /** How `Uint8Array` inputs map to floats; default identity (scale 1, offset 0). */
  preprocessing?: Preprocessing;
}

interface Compiled {
  wasm: WasmModel;
  /** The model spec the wasm was built from (gradient workers build theirs from it). */
  spec: string;
  config: Required<Omit<CompileConfig, 'optimizer' | 'learningRate' | 'loss'>> & { optimizer: OptimizerConfig; learningRate: LearningRate; loss: LossConfig };
}

/** The running sums of an epoch in progress. */
interface EpochSums {
  lossSum: number;
  correct: number;
  seen: number;
}

/** The loss as the wasm runtime reads it. */
function lossSpec(loss: LossConfig): Record<string, unknown> {
  if (typeof loss === 'object') return { type: 'rbf_map', j: loss.j };
  return { type: { sparseCategoricalCrossentropy: 'sparse_categorical_crossentropy', rbfMaxLikelihood: 'rbf_max_likelihood', rbfCrossEntropy: 'rbf_cross_entropy' }[loss] };
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

/** A linear stack of layers. */
export class Sequential {
  readonly name: string;
  readonly preprocessing: Preprocessing;
  /** Set to true in a callback to stop {@link Sequential.fit} after the current batch. */
  stopTraining = false;
  private readonly stack: Layer[] = [];
  private readonly shapes: Shape3[] = [];
  private modelInputShape: Shape3 | undefined;
  private compiled: Compiled | undefined;
  private disposed = false;
  /** Workers kept for predictAsync(), and the worker count and spec they were built for. */
  private predictPool: Promise<GradientPool> | undefined;
  private predictPoolKey = '';
  /** Set when a call into the wasm panicked: the message. */
  private broken: string | undefined;

  constructor(config: SequentialConfig = {}) {
    this.name = config.name ?? 'sequential';
    this.preprocessing = config.preprocessing ?? { scale: 1, offset: 0 };
    if (!Number.isFinite(this.preprocessing.scale) || !Number.isFinite(this.preprocessing.offset)) {
      throw new InvalidArgumentError('preprocessing: scale and offset must be finite numbers');
    }
    this.modelInputShape = config.inputShape;
    for (const layer of config.layers ?? []) this.add(layer);
  }

  /** The layers, in order. */
  get layers(): readonly Layer[] {
    return this.stack;
  }

  /** [height, width, channels] of one example. */
  get inputShape(): Shape3 {
    if (this.modelInputShape === undefined) throw new ConvnetError('NO_INPUT_SHAPE', `${this.name}: it has no layers and no input shape yet`);
    return this.modelInputShape;
  }

  /** The output shape of the last layer. */
  get outputShape(): Shape3 {
    const last = this.shapes[this.shapes.length - 1];
    if (last === undefined) throw new ConvnetError('NO_LAYERS', `${this.name}: it has no layers`);
    return last;
  }

  private check(what: string): void {
    if (this.disposed) throw new ConvnetError('DISPOSED', `${this.name}.${what}: the model was disposed`);
    if (this.broken !== undefined) {
      throw new ConvnetError('BROKEN', `${this.name}.${what}: the model is broken since a call panicked (${this.broken}); dispose it and load or build it again`);
    }
  }

  /** A call into this model's wasm: a panic inside it marks the model broken, since its state may be half-updated. */
  private call<T>(what: string, fn: () => T): T {
    try {
      return callWasm(what, fn);
    } catch (error) {
      if (error instanceof WasmPanicError) this.broken = error.message;
      throw error;
    }
  }

  /** Appends a layer, inferring its output shape; errors name the layer's index, type and shapes. */
  add(layer: Layer): this {
    this.check('add()');
    if (this.compiled) throw new ConvnetError('ALREADY_COMPILED', `${this.name}.add(): layers cannot be added after compile()`);
    const index = this.stack.length;
    if (index === 0) this.modelInputShape ??= layer.inputShape;
    const input = index === 0 ? this.modelInputShape : this.shapes[index - 1];
    if (input === undefined) {
      throw new InvalidArgumentError(`layer 0 (${layer.type}) needs an inputShape, e.g. ${layer.type}({ ..., inputShape: [28, 28, 1] })`);
    }
    const same = this.stack.filter((l) => l.type === layer.type).length;
    layer.name ??= same === 0 ? layer.type : `${layer.type}_${same}`;
    if (this.stack.some((l) => l.name === layer.name)) {
      throw new InvalidArgumentError(`layer ${index} (${layer.type}): the name ${JSON.stringify(layer.name)} is already used`);
    }
    let output: Shape3;
    try {
      output = layer.outputShape(input);
    } catch (error) {
      throw new ShapeMismatchError(
        `layer ${index} (${layer.type} ${JSON.stringify(layer.name)}): input [${input.join(', ')}]: ${(error as Error).message}`,
      );
    }
    this.stack.push(layer);
    this.shapes.push(output);
    return this;
  }

  /** The spec the wasm runtime reads. */
  private spec(config: Compiled['config']): string {
    const lr = config.learningRate;
    const { type, ...rest } = config.optimizer;
    return JSON.stringify({
      input_shape: this.inputShape,
      input_scale: this.preprocessing.scale,
      input_offset: this.preprocessing.offset,
      layers: this.stack.map((l) => l.spec()),
      loss: lossSpec(config.loss),
      optimizer: { type, ...rest },
      learning_rate: typeof lr === 'number' ? { type: 'constant', value: lr } : { type: 'piecewise', ...lr },
    });
  }

  /**
   * Builds the model in the wasm with the optimiser and loss: parameters are initialised from
   * the seed. Needs `await init()` first. Compiling again starts afresh.
   */
  compile(config: CompileConfig = {}): this {
    this.check('compile()');
    if (this.stack.length === 0) throw new ConvnetError('NO_LAYERS', `${this.name}.compile(): add layers first`);
    const last = this.stack[this.stack.length - 1]!;
    const where = `the last layer (layer ${this.stack.length - 1}, ${last.type})`;
    const loss: LossConfig = config.loss ?? (last.isRbf() ? { type: 'rbfMap', j: 1 } : 'sparseCategoricalCrossentropy');
    if (loss === 'sparseCategoricalCrossentropy') {
      if (!last.endsInSoftmax()) throw new InvalidArgumentError(`${this.name}.compile(): sparseCategoricalCrossentropy needs a softmax on ${where}`);
    } else if (loss === 'rbfMaxLikelihood' || loss === 'rbfCrossEntropy' || (typeof loss === 'object' && loss !== null && loss.type === 'rbfMap')) {
      if (!last.isRbf()) throw new InvalidArgumentError(`${this.name}.compile(): the loss ${JSON.stringify(loss)} needs an rbf output on ${where}`);
      if (typeof loss === 'object' && !(typeof loss.j === 'number' && Number.isFinite(loss.j) && loss.j > 0)) {
        throw new InvalidArgumentError(`${this.name}.compile(): rbfMap needs a constant j > 0, got ${String(loss.j)}`);
      }
    } else {
      throw new InvalidArgumentError(`${this.name}.compile(): unknown loss ${JSON.stringify(loss)}`);
    }
    const optimizer: OptimizerConfig =
      typeof config.optimizer === 'string' ? ({ type: config.optimizer } as OptimizerConfig) : (config.optimizer ?? { type: 'adam' });
    if (!['sgd', 'adam', 'nadam', 'sdlm'].includes(optimizer.type)) {
      throw new InvalidArgumentError(`${this.name}.compile(): unknown optimizer ${JSON.stringify(optimizer.type)}`);
    }
    if (optimizer.type === 'sdlm') {
      const i = this.stack.findIndex((l) => l.type === 'averagePool2d');
      if (i >= 0) {
        throw new InvalidArgumentError(
          `${this.name}.compile(): the sdlm optimizer has no curvature rule for layer ${i} (averagePool2d ${JSON.stringify(this.stack[i]!.name)}); use subsampling2d or maxPool2d`,
        );
      }
    }
    const seed = config.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidArgumentError(`${this.name}.compile(): seed must be a non-negative integer, got ${seed}`);
    const full: Compiled['config'] = { optimizer, loss, learningRate: config.learningRate ?? 0.001, seed };
    const spec = this.spec(full);
    const wasm = this.call('compile', () => new WasmModel(spec, BigInt(seed)));
    this.compiled?.wasm.free();
    this.compiled = { wasm, spec, config: full };
    return this;
  }

  /** The compile settings, once compiled. */
  get compileConfig(): Compiled['config'] | undefined {
    return this.compiled?.config;
  }

  private model(what: string): WasmModel {
    this.check(what);
    if (!this.compiled) throw new ConvnetError('NOT_COMPILED', `${this.name}.${what}: call compile() first`);
    return this.compiled.wasm;
  }

  /** Values per example. */
  private get exampleLength(): number {
    return this.inputShape[0] * this.inputShape[1] * this.inputShape[2];
  }

  /** Checks inputs (and labels): types, lengths, finite values, label range. Returns N. */
  private checkData(what: string, x: Inputs, y?: Labels): number {
    if (!(x instanceof Float32Array) && !(x instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${this.name}.${what}: x must be a Float32Array or a Uint8Array, got ${describe(x)}`);
    }
    const per = this.exampleLength;
    if (x.length === 0 || x.length % per !== 0) {
      throw new ShapeMismatchError(
        `${this.name}.${what}: x has ${x.length} values, not a whole number of examples of [${this.inputShape.join(', ')}] = ${per} values`,
      );
    }
    const n = x.length / per;
    if (x instanceof Float32Array) {
      for (let i = 0; i < x.length; i++) {
        if (!Number.isFinite(x[i]!)) {
          throw new InvalidArgumentError(`${this.name}.${what}: x[${i}] (example ${Math.floor(i / per)}) is ${x[i]}`);
        }
      }
    }
    if (y !== undefined) {
      if (!(y instanceof Uint8Array || y instanceof Int32Array || y instanceof Uint32Array)) {
        throw new InvalidArgumentError(`${this.name}.${what}: y must be a Uint8Array, Int32Array or Uint32Array of class indices, got ${describe(y)}`);
      }
      if (y.length !== n) throw new ShapeMismatchError(`${this.name}.${what}: x holds ${n} examples but y has ${y.length} labels`);
      const classes = this.outputShape[2];
      for (let i = 0; i < y.length; i++) {
        if (!(y[i]! >= 0 && y[i]! < classes)) {
          throw new InvalidArgumentError(`${this.name}.${what}: label ${y[i]} at index ${i} is not a class index in [0, ${classes})`);
        }
      }
    }
    return n;
  }

  /** Copies examples `order[from..to]` of x (and y) into batch buffers. */
  private gather(x: Inputs, y: Labels | undefined, order: Uint32Array | null, from: number, to: number) {
    const per = this.exampleLength;
    const bx = x instanceof Uint8Array ? new Uint8Array((to - from) * per) : new Float32Array((to - from) * per);
    const by = new Uint32Array(to - from);
    for (let i = from; i < to; i++) {
      const j = order ? order[i]! : i;
      bx.set(x.subarray(j * per, (j + 1) * per), (i - from) * per);
      if (y) by[i - from] = y[j]!;
    }
    return { bx, by };
  }

  /**
   * Trains the model. Resolves to the per-epoch history once done (or once a callback sets
   * {@link Sequential.stopTraining}). A loss that becomes NaN or infinite stops training with an
   * error naming the step.
   */
  async fit(x: Inputs, y: Labels, config: FitConfig = {}): Promise<History> {
    const model = this.model('fit()');
    const total = this.checkData('fit()', x, y);
    const epochs = config.epochs ?? 1;
    const batchSize = config.batchSize ?? 32;
    if (!Number.isInteger(epochs) || epochs < 1) throw new InvalidArgumentError(`${this.name}.fit(): epochs must be an integer ≥ 1, got ${epochs}`);
    const split = config.validationSplit ?? 0;
    if (!(split >= 0 && split < 1)) throw new InvalidArgumentError(`${this.name}.fit(): validationSplit must be in [0, 1), got ${split}`);
    if (split > 0 && config.validationData) throw new InvalidArgumentError(`${this.name}.fit(): give validationData or validationSplit, not both`);
    const nTrain = total - Math.floor(total * split);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > nTrain) {
      throw new InvalidArgumentError(`${this.name}.fit(): batchSize must be an integer in [1, ${nTrain}] (the training examples), got ${batchSize}`);
    }
    const per = this.exampleLength;
    const trainX = x.subarray(0, nTrain * per);
    const trainY = y.subarray(0, nTrain);
    const validation: [Inputs, Labels] | undefined =
      split > 0 ? [x.subarray(nTrain * per), y.subarray(nTrain)] : config.validationData;
    if (validation) this.checkData('fit() validationData', validation[0], validation[1]);

    const checkpoint = config.checkpoint;
    if (checkpoint !== undefined) {
      if (typeof checkpoint.dir !== 'string' || checkpoint.dir === '') throw new InvalidArgumentError(`${this.name}.fit(): checkpoint.dir must be a directory path`);
      const every = checkpoint.every ?? 'epoch';
      if (every !== 'epoch' && !(Number.isInteger(every) && every >= 1)) {
        throw new InvalidArgumentError(`${this.name}.fit(): checkpoint.every must be 'epoch' or a number of steps ≥ 1, got ${JSON.stringify(every)}`);
      }
    }
    if (config.resume && checkpoint === undefined) throw new InvalidArgumentError(`${this.name}.fit(): resume needs checkpoint.dir`);
    const microBatchSize = config.microBatchSize ?? Math.ceil(batchSize / 4);
    if (!Number.isInteger(microBatchSize) || microBatchSize < 1 || microBatchSize > batchSize) {
      throw new InvalidArgumentError(`${this.name}.fit(): microBatchSize must be an integer in [1, ${batchSize}] (the batch size), got ${config.microBatchSize}`);
    }
    const workers = config.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
      throw new InvalidArgumentError(`${this.name}.fit(): workers must be an integer in [1, 256], got ${config.workers}`);
    }
    // One micro-batch per batch is the ordinary step; more go through the data-parallel path.
    const microBatches = Math.ceil(batchSize / microBatchSize);
    const parallel = microBatches > 1;
    const shuffle = config.shuffle !== false;
    const callbacks = config.callbacks ?? {};
    const yieldEvery = config.yieldEvery ?? 50;
    const sdlm = this.compiled!.config.optimizer.type === 'sdlm';
    const curvatureSamples = Math.min(config.curvatureSamples ?? 500, nTrain);
    if (!Number.isInteger(curvatureSamples) || curvatureSamples < 1) {
      throw new InvalidArgumentError(`${this.name}.fit(): curvatureSamples must be an integer ≥ 1, got ${config.curvatureSamples}`);
    }
    let history: History = { epoch: [], history: { loss: [], accuracy: [], valLoss: [], valAccuracy: [] } };
    let start = { epoch: 0, batch: 0, order: null as Uint32Array | null, sums: { lossSum: 0, correct: 0, seen: 0 } };
    const geometry = { epochs, batchSize, trainCount: nTrain, shuffle, ...(parallel ? { microBatchSize } : {}) };
    const saver = checkpoint && (await this.checkpointer(checkpoint.dir, geometry));
    let haveCheckpoint = false;
    if (saver && config.resume) {
      const resumed = await saver.resume();
      haveCheckpoint = resumed !== undefined;
      if (resumed) {
        history = resumed.history;
        start = { epoch: resumed.position.epoch, batch: resumed.position.batch, order: resumed.order, sums: resumed.sums };
      }
    }
    const every = checkpoint?.every ?? 'epoch';
    // This thread computes one run of micro-batches itself; the others go to workers − 1 threads.
    const threads = parallel ? Math.min(workers, microBatches) : 1;
    const pool = threads > 1 ? await GradientPool.start(threads - 1, this.compiled!.spec) : undefined;
    const step = async (bx: Inputs, by: Uint32Array): Promise<number> => {
      if (pool) return pool.step(model, bx, by, microBatchSize, (fn) => this.call('fit()', fn));
      if (parallel) return this.call('fit()', () => (bx instanceof Uint8Array ? model.train_step_micro_u8(bx, by, microBatchSize) : model.train_step_micro(bx, by, microBatchSize)));
      return this.call('fit()', () => (bx instanceof Uint8Array ? model.train_step_u8(bx, by) : model.train_step(bx, by)));
    };
    try {
      this.stopTraining = false;
      let lastYield = performance.now();
      await callbacks.onTrainBegin?.();
      for (let epoch = start.epoch; epoch < epochs && !this.stopTraining; epoch++) {
        await callbacks.onEpochBegin?.(epoch);
        // Going on in the middle of an epoch: its shuffle order, curvature and sums are restored.
        const midEpoch = epoch === start.epoch && start.batch > 0;
        const order = midEpoch ? (shuffle ? start.order : null) : shuffle ? new Uint32Array(this.call('fit()', () => model.permutation(nTrain))) : null;
        if (sdlm && !midEpoch) {
          const { bx, by } = this.gather(trainX, trainY, order, 0, curvatureSamples);
          this.call('fit()', () => (bx instanceof Uint8Array ? model.estimate_curvature_u8(bx, by) : model.estimate_curvature(bx, by)));
        }
        let { lossSum, correct, seen } = midEpoch ? start.sums : { lossSum: 0, correct: 0, seen: 0 };
        const batches = Math.ceil(nTrain / batchSize);
        for (let batch = midEpoch ? start.batch : 0, from = batch * batchSize; from < nTrain && !this.stopTraining; batch++, from += batchSize) {
          const to = Math.min(from + batchSize, nTrain);
          await callbacks.onBatchBegin?.(batch);
          const { bx, by } = this.gather(trainX, trainY, order, from, to);
          const loss = await step(bx, by);
          if (!Number.isFinite(loss)) {
            // The wasm left the weights as they were before this step (or, when the update itself
            // overflowed, says so); no checkpoint is written after it.
            const why = model.divergence() ?? `the loss is ${loss}`;
            throw new ConvnetError(
              'TRAINING_DIVERGED',
              `${this.name}.fit(): training diverged at epoch ${epoch + 1}, batch ${batch + 1}: ${why}. Try a lower learning rate` +
                (haveCheckpoint ? `; the last good checkpoint is in ${checkpoint!.dir}` : ''),
            );
          }
          const size = to - from;
          const batchCorrect = model.last_correct();
          lossSum += loss * size;
          correct += batchCorrect;
          seen += size;
          await callbacks.onBatchEnd?.(batch, { loss, accuracy: batchCorrect / size, size });
          if (saver && typeof every === 'number' && model.iterations() % every === 0 && batch + 1 < batches) {
            await saver.save({ epoch, batch: batch + 1 }, order, { lossSum, correct, seen }, history);
            haveCheckpoint = true;
          }
          if (performance.now() - lastYield >= yieldEvery) {
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
        const logs: Logs = { loss: lossSum / seen, accuracy: correct / seen };
        if (validation) {
          const v = this.evaluate(validation[0], validation[1]);
          logs.valLoss = v.loss;
          logs.valAccuracy = v.accuracy;
          history.history.valLoss.push(v.loss);
          history.history.valAccuracy.push(v.accuracy);
        }
        history.epoch.push(epoch);
        history.history.loss.push(logs.loss);
        history.history.accuracy.push(logs.accuracy);
        await callbacks.onEpochEnd?.(epoch, logs);
        if (saver && seen === nTrain && (every === 'epoch' || model.iterations() % every === 0)) {
          await saver.save({ epoch: epoch + 1, batch: 0 }, null, { lossSum: 0, correct: 0, seen: 0 }, history);
          haveCheckpoint = true;
        }
      }
      await callbacks.onTrainEnd?.(history);
      return history;
    } finally {
      pool?.close();
    }
  }

  /** Saves and restores checkpoints for one fit() in `dir`. */
  private async checkpointer(dir: string, geometry: { epochs: number; batchSize: number; trainCount: number; shuffle: boolean; microBatchSize?: number }) {
    const { readCheckpoint, writeCheckpoint, removeStaleTemporaries, CheckpointError } = await import('./checkpoint.js');
    // A run killed while writing leaves a temporary file; the checkpoint itself is whole.
    await removeStaleTemporaries(dir);
    const { describeModel } = await import('./io.js');
    const model = this.model('fit()');
    const description = describeModel(this);
    const sameModel = (other: typeof description) => {
      const strip = (d: typeof description) => JSON.stringify({ ...d, compileConfig: d.compileConfig && { ...d.compileConfig, seed: undefined } });
      return strip(other) === strip(description);
    };
    return {
      save: async (at: { epoch: number; batch: number }, order: Uint32Array | null, sums: EpochSums, history: History) => {
        await writeCheckpoint(dir, {
          model: description,
          position: { ...at, ...geometry },
          sums,
          history,
          weights: this.getWeights(),
          trainingState: this.call('fit() checkpoint', () => model.training_state()),
          order: order ?? new Uint32Array(0),
          step: Number(model.iterations()),
        });
      },
      resume: async () => {
        const c = await readCheckpoint(dir);
        if (c === undefined) return undefined;
        const where = `${dir}/checkpoint.bin`;
        if (!sameModel(c.model)) throw new CheckpointError(`${where}: it was written for another model or compile settings than ${this.name}'s`);
        const p = c.position;
        if (p.batchSize !== geometry.batchSize || p.trainCount !== geometry.trainCount || p.shuffle !== geometry.shuffle) {
          throw new CheckpointError(
            `${where}: it was written for ${p.trainCount} training examples in batches of ${p.batchSize}` +
              ` (shuffle ${p.shuffle}); this fit() has ${geometry.trainCount} in batches of ${geometry.batchSize} (shuffle ${geometry.shuffle})`,
          );
        }
        if ((p.microBatchSize ?? p.batchSize) !== (geometry.microBatchSize ?? geometry.batchSize)) {
          throw new CheckpointError(
            `${where}: it was written with micro-batches of ${p.microBatchSize ?? p.batchSize}; this fit() uses ${geometry.microBatchSize ?? geometry.batchSize} (set microBatchSize to match)`,
          );
        }
        if (c.weights.length !== this.countParams()) throw new CheckpointError(`${where}: ${c.weights.length} weights; the model has ${this.countParams()}`);
        if (p.batch > 0 && p.shuffle && c.order.length !== geometry.trainCount) {
          throw new CheckpointError(`${where}: its shuffle order has ${c.order.length} entries, expected ${geometry.trainCount}`);
        }
        if (c.order.some((i) => i >= geometry.trainCount)) throw new CheckpointError(`${where}: its shuffle order points past the ${geometry.trainCount} examples`);
        this.setWeights(c.weights);
        try {
          this.call('fit() resume', () => model.set_training_state(c.trainingState));
        } catch (error) {
          throw new CheckpointError(`${where}: ${(error as Error).message}`);
        }
        return c;
      },
    };
  }

  /** Loss, accuracy and confusion matrix on labelled data, in batches of `batchSize` (default 256). */
  evaluate(x: Inputs, y: Labels, config: { batchSize?: number } = {}): Evaluation {
    const model = this.model('evaluate()');
    const n = this.checkData('evaluate()', x, y);
    const batchSize = config.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`${this.name}.evaluate(): batchSize must be an integer ≥ 1, got ${batchSize}`);
    const classes = this.outputShape[2];
    const confusionMatrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    let lossSum = 0;
    let correct = 0;
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(from + batchSize, n);
      const { bx, by } = this.gather(x, y, null, from, to);
      const out = this.call('evaluate()', () => (bx instanceof Uint8Array ? model.evaluate_u8(bx, by) : model.evaluate(bx, by)));
      lossSum += out[0]! * (to - from);
      correct += out[1]!;
      for (let i = 0; i < to - from; i++) {
        confusionMatrix[by[i]!]![argmax(out, 2 + i * classes, classes)]! += 1;
      }
    }
    return { loss: lossSum / n, accuracy: correct / n, confusionMatrix };
  }

  /** Class probabilities: N·classes values, in batches of `batchSize` (default 256). */
  predict(x: Inputs, config: { batchSize?: number } = {}): Float32Array {
    const model = this.model('predict()');
    const n = this.checkData('predict()', x);
    const batchSize = config.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`${this.name}.predict(): batchSize must be an integer ≥ 1, got ${batchSize}`);
    const classes = this.outputShape[2];
    const out = new Float32Array(n * classes);
    const per = this.exampleLength;
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(from + batchSize, n);
      const bx = x.subarray(from * per, to * per);
      out.set(this.call('predict()', () => (bx instanceof Uint8Array ? model.predict_u8(bx) : model.predict(bx))), from * classes);
    }
    return out;
  }

  /**
   * The outputs of inner layers, like a Keras `Model(inputs, [layer.output, …])` or TF.js's
   * `model.execute(x, names)`: one inference pass, one wasm call. `layers` are names or indices;
   * each result holds N·h·w·c values in NHWC order, with the layer's output shape.
   */
  layerOutputs(x: Inputs, layers: readonly (string | number)[]): { name: string; shape: Shape3; values: Float32Array }[] {
    const model = this.model('layerOutputs()');
    const n = this.checkData('layerOutputs()', x);
    const indices = layers.map((ref) => {
      const i = typeof ref === 'number' ? ref : this.stack.findIndex((l) => l.name === ref);
      if (!Number.isInteger(i) || i < 0 || i >= this.stack.length) {
        const names = this.stack.map((l) => l.name).join(', ');
        throw new InvalidArgumentError(`${this.name}.layerOutputs(): no layer ${JSON.stringify(ref)}; the layers are ${names} (indices 0–${this.stack.length - 1})`);
      }
      return i;
    });
    const ids = Uint32Array.from(indices);
    const all = this.call('layerOutputs()', () => (x instanceof Uint8Array ? model.layer_outputs_u8(x, ids) : model.layer_outputs(x, ids)));
    let at = 0;
    return indices.map((i) => {
      const shape = this.shapes[i]!;
      const len = n * shape[0] * shape[1] * shape[2];
      const values = all.subarray(at, at + len);
      at += len;
      return { name: this.stack[i]!.name!, shape, values };
    });
  }

  /**
   * `predict` spread over `workers` (default: the cores in Node, 1 in browsers) worker threads
   * or Web Workers, each with its own wasm instance and a copy of the current weights; the
   * results are `predict`'s, byte for byte. The workers stay up for later calls (without keeping
   * Node running) until `dispose()`.
   */
  async predictAsync(x: Inputs, config: { batchSize?: number; workers?: number } = {}): Promise<Float32Array> {
    const model = this.model('predictAsync()');
    const n = this.checkData('predictAsync()', x);
    const batchSize = config.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`${this.name}.predictAsync(): batchSize must be an integer ≥ 1, got ${batchSize}`);
    const workers = Math.min(config.workers ?? defaultWorkers(), n);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
      throw new InvalidArgumentError(`${this.name}.predictAsync(): workers must be an integer in [1, 256], got ${config.workers}`);
    }
    if (workers === 1) return this.predict(x, { batchSize });
    const spec = this.compiled!.spec;
    if (this.predictPool === undefined || this.predictPoolKey !== `${workers}:${spec}`) {
      this.predictPool?.then((pool) => pool.close(), () => {});
      this.predictPoolKey = `${workers}:${spec}`;
      this.predictPool = GradientPool.start(workers, spec);
    }
    const pool = await this.predictPool;
    return pool.predict(this.call('predictAsync()', () => model.weights()), x, n, batchSize);
  }

  /** Trainable parameters. */
  countParams(): number {
    return this.stack.reduce((sum, layer, i) => sum + layer.paramCount(this.layerInput(i)), 0);
  }

  private layerInput(i: number): Shape3 {
    return i === 0 ? this.inputShape : this.shapes[i - 1]!;
  }

  /** Per layer: name, class, output shape, parameters and connections. */
  layerSummaries(): { name: string; className: string; outputShape: Shape3; params: number; connections: number }[] {
    return this.stack.map((layer, i) => ({
      name: layer.name!,
      className: layer.className,
      outputShape: this.shapes[i]!,
      params: layer.paramCount(this.layerInput(i)),
      connections: layer.connections(this.layerInput(i)),
    }));
  }

  /** A table of the layers with output shapes, parameters and connections, and the totals. */
  summary(): string {
    const rows = this.layerSummaries().map((l) => [
      `${l.name} (${l.className})`,
      `[${l.outputShape.join(', ')}]`,
      l.params.toLocaleString('en-US'),
      l.connections.toLocaleString('en-US'),
    ]);
    const header = ['Layer (type)', 'Output shape', 'Params', 'Connections'];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (cells: string[]) => cells.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ');
    const rule = '─'.repeat(line(header).length);
    const connections = this.layerSummaries().reduce((s, l) => s + l.connections, 0);
    return [
      `Model: ${this.name}   input [${this.inputShape.join(', ')}]   (format convnet-wasm/layers-model v${FORMAT_VERSION})`,
      rule,
      line(header),
      rule,
      ...rows.map(line),
      rule,
      `Trainable params: ${this.countParams().toLocaleString('en-US')}   Connections: ${connections.toLocaleString('en-US')}`,
    ].join('\n');
  }

  /** Every parameter, each layer's kernel then bias, in Keras's layouts. */
  getWeights(): Float32Array {
    return this.call('getWeights()', () => this.model('getWeights()').weights());
  }

  /** Replaces every parameter (the layout of {@link Sequential.getWeights}). */
  setWeights(values: Float32Array): void {
    const model = this.model('setWeights()');
    if (!(values instanceof Float32Array) || values.length !== this.countParams()) {
      throw new ShapeMismatchError(`${this.name}.setWeights(): expected a Float32Array of ${this.countParams()} values, got ${describe(values)}`);
    }
    this.call('setWeights()', () => model.set_weights(values));
  }

  /** The weight tensors' names and shapes, in the order of {@link Sequential.getWeights}. */
  weightSpecs(): { name: string; shape: number[] }[] {
    return this.stack.flatMap((layer, i) => layer.weightShapes(this.layerInput(i)).map((w) => ({ name: `${layer.name}/${w.name}`, shape: w.shape })));
  }

  /** Optimiser steps taken so far. */
  get iterations(): number {
    return this.compiled ? this.compiled.wasm.iterations() : 0;
  }

  /**
   * Saves the model: `file://<dir>` (Node) writes model.json and its weights file atomically;
   * `indexeddb://<name>` (browsers) stores both in one IndexedDB transaction.
   */
  async save(url: string): Promise<{ modelJson: string; weights: string }> {
    this.check('save()');
    const { saveModel } = await import('./io.js');
    return saveModel(this, url);
  }

  /** Frees the wasm model. Using the model afterwards throws. */
  dispose(): void {
    if (this.disposed) return;
    this.predictPool?.then((pool) => pool.close(), () => {});
    this.predictPool = undefined;
    try {
      this.compiled?.wasm.free();
    } catch (error) {
      // A model broken by a panic may still be marked as in use by the wasm-bindgen glue; its
      // memory is then lost, which is all that can be done.
      if (this.broken === undefined) throw error;
    }
    this.compiled = undefined;
    this.disposed = true;
  }
}

function argmax(values: Float32Array, start: number, count: number): number {
  let best = 0;
  for (let j = 1; j < count; j++) if (values[start + j]! > values[start + best]!) best = j;
  return best;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as unknown as ArrayLike<number>).length} values`;
  if (typeof v === 'object') return `a ${v?.constructor?.name ?? 'object'}`;
  return String(v);
}
