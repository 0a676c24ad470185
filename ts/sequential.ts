/**
 * The models: `LayersModel`, layers compiled into one wasm model, and `Sequential`, a stack of
 * them; graph models (TF.js's `tf.model({ inputs, outputs })`) are built in functional.ts.
 * TypeScript owns the description, validation, the fit loop and callbacks; every number is
 * computed in the wasm, one call per training step and one per prediction batch.
 * @module
 */
import { WorkerPool, defaultWorkers } from './worker-pool.js';
import { WasmModel } from './wasm/convnet_wasm.js';
import { ConvnetError, InvalidArgumentError, ShapeMismatchError, WasmPanicError } from './errors.js';
import type { Layer, Shape3 } from './layers/index.js';
import { callWasm } from './wasm-call.js';
import { FORMAT_VERSION } from './format.js';
import type { CompileConfig, Evaluation, Inputs, Labels, LearningRate, LossConfig, OptimizerConfig, Preprocessing } from './config.js';
import type { CallbackModel, History } from './callbacks/base.js';
import { fit, type Batch, type FitConfig, type FitHost } from './training.js';
import { checkKeys, describe, isObject } from './validate.js';
import { modelArtifacts, writeArtifacts, type ModelDescription } from './io.js';
import { encodeViews, type View } from './views.js';

/** One weight tensor, as {@link LayersModel.getWeights} gives it. */
export interface WeightTensor {
  /** `<layer>/<kernel|bias|…>`. */
  name: string;
  shape: number[];
  values: Float32Array;
}

/** Options of the {@link Sequential} constructor. */
export interface SequentialConfig {
  layers?: Layer[];
  /** The input shape, if the first layer does not give it. */
  inputShape?: Shape3;
  name?: string;
  /**
   * How `Uint8Array` inputs map to floats inside the wasm, e.g. `{ scale: 1 / 255, offset: 0 }`.
   * Without it they are used as they are (0–255), and the model warns once when it first gets
   * one; `'none'` says that is meant.
   */
  preprocessing?: Preprocessing | 'none';
}

/** The compile settings with every default filled in, as {@link LayersModel.compileConfig} gives them. */
export interface ResolvedCompileConfig {
  optimizer: OptimizerConfig;
  loss: LossConfig;
  learningRate: LearningRate;
  seed: number;
}

interface Compiled {
  wasm: WasmModel;
  /** The model spec the wasm was built from (gradient workers build theirs from it). */
  spec: string;
  config: ResolvedCompileConfig;
}

/** The loss as the wasm runtime reads it. */
function lossSpec(loss: LossConfig): Record<string, unknown> {
  if (typeof loss === 'object') {
    if (loss.type === 'rbfMap') return { type: 'rbf_map', j: loss.j };
    return { type: 'sparse_categorical_crossentropy', label_smoothing: loss.labelSmoothing ?? 0 };
  }
  return { type: { sparseCategoricalCrossentropy: 'sparse_categorical_crossentropy', rbfMaxLikelihood: 'rbf_max_likelihood', rbfCrossEntropy: 'rbf_cross_entropy' }[loss] };
}

/** What every model's constructor sets: the name, the input shape if known, the preprocessing. */
interface ModelBase {
  name: string;
  inputShape: Shape3 | undefined;
  preprocessing: Preprocessing | 'none' | undefined;
  /** A graph model's input's name (a layer may not take it). */
  inputName?: string;
}

/**
 * A model of layers compiled into one wasm model: a {@link Sequential} stack, or a graph made by
 * {@link model} (whose layers may read any earlier layer's output, and merge branches with
 * {@link layers.add}). Everything but building it is the same for both.
 */
export class LayersModel implements CallbackModel {
  readonly name: string;
  readonly preprocessing: Preprocessing;
  /** Set to true in a callback to stop {@link LayersModel.fit} after the current batch. */
  stopTraining = false;
  private readonly stack: Layer[] = [];
  private readonly shapes: Shape3[] = [];
  /** For each layer, the tensors it reads: 0 the input, `j + 1` layer j's output. */
  private readonly wiring: number[][] = [];
  /** A graph model's input's name, which its layers may not take; undefined for a stack. */
  private readonly graphInputName: string | undefined;
  private modelInputShape: Shape3 | undefined;
  private compiled: Compiled | undefined;
  private disposed = false;
  /** Workers kept for predictAsync(), and the worker count and spec they were built for. */
  private predictPool: Promise<WorkerPool> | undefined;
  private predictPoolKey = '';
  /** The asynchronous call running on this model's wasm (`fit()`, `predictAsync()`), if any. */
  private running: string | undefined;
  /** Set when a call into the wasm panicked: the message. */
  private broken: string | undefined;

  /** Whether 8-bit inputs without a preprocessing still deserve the warning. */
  private warnRawPixels: boolean;

  /** Models are made by `new Sequential()` and {@link model}. */
  protected constructor(config: ModelBase) {
    this.name = config.name;
    this.warnRawPixels = config.preprocessing === undefined;
    this.preprocessing = config.preprocessing === undefined || config.preprocessing === 'none' ? { scale: 1, offset: 0 } : config.preprocessing;
    if (!isObject(this.preprocessing) || !Number.isFinite(this.preprocessing.scale) || !Number.isFinite(this.preprocessing.offset)) {
      throw new InvalidArgumentError('preprocessing: scale and offset must be finite numbers');
    }
    this.modelInputShape = config.inputShape;
    this.graphInputName = config.inputName;
  }

  /** The layers, in order (a graph's in the order they were applied, each after the layers it reads). */
  get layers(): readonly Layer[] {
    return this.stack;
  }

  /** The input's name, as model.json, the summary and the exports name it: `'input'` but for a graph given another. */
  get inputName(): string {
    return this.graphInputName ?? 'input';
  }

  /** Whether some layer reads other than the layer before it. */
  get isGraph(): boolean {
    return this.wiring.some((inputs, i) => inputs.length !== 1 || inputs[0] !== i);
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
      return callWasm(what, fn, (i) => {
        const layer = this.stack[i];
        return layer && `${layer.type} ${JSON.stringify(layer.name)}`;
      });
    } catch (error) {
      if (error instanceof WasmPanicError) this.broken = error.message;
      throw error;
    }
  }

  /**
   * Appends a layer that reads the tensors `inputs` (0 the input, `j + 1` layer j's output),
   * inferring its output shape; errors name the layer's index, type and shapes.
   */
  protected addNode(layer: Layer, inputs: readonly number[]): void {
    this.check('add()');
    if (this.compiled) throw new ConvnetError('ALREADY_COMPILED', `${this.name}.add(): layers cannot be added after compile()`);
    const index = this.stack.length;
    if (index === 0) this.modelInputShape ??= layer.inputShape;
    const shapes = inputs.map((t) => (t === 0 ? this.modelInputShape : this.shapes[t - 1]));
    if (shapes[0] === undefined) {
      throw new InvalidArgumentError(`layer 0 (${layer.type}) needs an inputShape, e.g. ${layer.type}({ ..., inputShape: [28, 28, 1] })`);
    }
    const same = this.stack.filter((l) => l.type === layer.type).length;
    layer.name ??= same === 0 ? layer.type : `${layer.type}_${same}`;
    if (this.stack.some((l) => l.name === layer.name) || layer.name === this.graphInputName) {
      throw new InvalidArgumentError(`layer ${index} (${layer.type}): the name ${JSON.stringify(layer.name)} is already used`);
    }
    let output: Shape3;
    try {
      output = layer.mergedShape(shapes as Shape3[]);
    } catch (error) {
      const given = shapes.map((s) => `[${s!.join(', ')}]`).join(', ');
      throw new ShapeMismatchError(`layer ${index} (${layer.type} ${JSON.stringify(layer.name)}): input${shapes.length > 1 ? 's' : ''} ${given}: ${(error as Error).message}`);
    }
    this.stack.push(layer);
    this.shapes.push(output);
    this.wiring.push([...inputs]);
  }

  /** The names of the tensors layer `i` reads: the input's, or the layers'. */
  inboundNames(i: number): string[] {
    return (this.wiring[i] ?? []).map((t) => (t === 0 ? this.inputName : this.stack[t - 1]!.name!));
  }

  /** The spec the wasm runtime reads. */
  private spec(config: ResolvedCompileConfig): string {
    const lr = config.learningRate;
    return JSON.stringify({
      input_shape: this.inputShape,
      input_scale: this.preprocessing.scale,
      input_offset: this.preprocessing.offset,
      layers: this.stack.map((l) => l.spec()),
      ...(this.isGraph ? { inputs: this.wiring } : {}),
      loss: lossSpec(config.loss),
      optimizer: optimizerSpec(config.optimizer),
      learning_rate: typeof lr === 'number' ? { type: 'constant', value: lr } : { type: 'piecewise', ...lr },
    });
  }

  /**
   * Builds the model in the wasm with the optimiser and loss: parameters are initialised from
   * the seed. Needs `await init()` first. Compiling again starts afresh.
   */
  compile(config: CompileConfig = {}): this {
    this.check('compile()');
    checkKeys(`${this.name}.compile()`, config, ['optimizer', 'loss', 'learningRate', 'seed', 'metrics']);
    if (this.stack.length === 0) throw new ConvnetError('NO_LAYERS', `${this.name}.compile(): add layers first`);
    // Which losses fit which outputs, and which layers SDLM can train, the wasm decides when it
    // builds the model (its errors name the layer); here only the form of the options.
    const last = this.stack[this.stack.length - 1]!;
    const loss: LossConfig = config.loss ?? (last.isRbf() ? { type: 'rbfMap', j: 1 } : 'sparseCategoricalCrossentropy');
    if (typeof loss === 'object' && loss !== null && loss.type === 'rbfMap') {
      checkKeys(`${this.name}.compile(): loss`, loss, ['type', 'j']);
      if (typeof loss.j !== 'number' || !Number.isFinite(loss.j)) throw new InvalidArgumentError(`${this.name}.compile(): rbfMap's j must be a finite number, got ${String(loss.j)}`);
    } else if (typeof loss === 'object' && loss !== null && loss.type === 'sparseCategoricalCrossentropy') {
      checkKeys(`${this.name}.compile(): loss`, loss, ['type', 'labelSmoothing']);
      const s = loss.labelSmoothing;
      if (s !== undefined && !(typeof s === 'number' && s >= 0 && s <= 1)) {
        throw new InvalidArgumentError(`${this.name}.compile(): sparseCategoricalCrossentropy's labelSmoothing must be a number in [0, 1], got ${String(s)}`);
      }
    } else if (!(loss === 'sparseCategoricalCrossentropy' || loss === 'rbfMaxLikelihood' || loss === 'rbfCrossEntropy')) {
      throw new InvalidArgumentError(`${this.name}.compile(): unknown loss ${JSON.stringify(loss)}`);
    }
    const { optimizer, learningRate } = parseOptimizer(`${this.name}.compile()`, config.optimizer, config.learningRate);
    checkMetrics(`${this.name}.compile()`, config.metrics);
    if (last.isRbf() && optimizer.type !== 'sdlm' && loss !== 'rbfCrossEntropy') {
      // Measured on MNIST (test/lenet.test.ts): eq. 8 and 9 over RBF distances do not train with
      // these optimisers, where they train with SDLM, and cross-entropy over −y trains with Adam.
      console.warn(
        `${this.name}.compile(): an RBF output with the loss ${JSON.stringify(typeof loss === 'object' ? loss.type : loss)} stays at chance accuracy with optimizer ${JSON.stringify(optimizer.type)}; ` +
          `train it with optimizer 'sdlm' (LeNet-5's), or with loss 'rbfCrossEntropy', or use models.leNet5({ variant: 'modern' }) with Adam`,
      );
    }
    const seed = config.seed ?? 0;
    if (!Number.isSafeInteger(seed) || seed < 0) throw new InvalidArgumentError(`${this.name}.compile(): seed must be a non-negative integer, got ${seed}`);
    const full: ResolvedCompileConfig = { optimizer, loss, learningRate, seed };
    const spec = this.spec(full);
    const wasm = this.call(`${this.name}.compile()`, () => new WasmModel(spec, BigInt(seed)));
    this.compiled?.wasm.free();
    this.compiled = { wasm, spec, config: full };
    return this;
  }

  /** The compile settings, once compiled. */
  get compileConfig(): ResolvedCompileConfig | undefined {
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
      const hint = Array.isArray(x) ? '; convert it with Float32Array.from(x) (or Uint8Array.from for 8-bit pixels)' : '';
      throw new InvalidArgumentError(`${this.name}.${what}: x must be a Float32Array or a Uint8Array, got ${describe(x)}${hint}`);
    }
    if (x instanceof Uint8Array && this.warnRawPixels) {
      this.warnRawPixels = false;
      console.warn(
        `${this.name}.${what}: Uint8Array pixels go in as 0–255, since the model has no preprocessing; ` +
          `give ${this.isGraph ? 'model({ inputs, outputs, preprocessing: { scale: 1 / 255, offset: 0 } })' : 'new Sequential({ preprocessing: { scale: 1 / 255, offset: 0 } })'} to scale them, or preprocessing: 'none' if 0–255 is meant`,
      );
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
        const hint = Array.isArray(y) ? '; convert it with Int32Array.from(y)' : '';
        throw new InvalidArgumentError(`${this.name}.${what}: y must be a Uint8Array, Int32Array or Uint32Array of class indices, got ${describe(y)}${hint}`);
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

  /**
   * Examples `order[from..to]` of x (and y) as a batch: without an order, x's own slice; shuffled,
   * a copy, into `reuse` when it is of x's type and big enough (the training loop hands back its
   * last batch, sparing an allocation and its page faults each step: docs/performance.md). The
   * wasm copies its inputs, so nothing holds a batch past its step.
   */
  private gather(x: Inputs, y: Labels | undefined, order: Uint32Array | null, from: number, to: number, reuse?: Batch): Batch {
    const per = this.exampleLength;
    const count = to - from;
    const Typed = x instanceof Uint8Array ? Uint8Array : Float32Array;
    // An ordered batch is a view of x: never a buffer to copy into.
    const fits = reuse !== undefined && reuse.bx instanceof Typed && reuse.bx.buffer !== x.buffer && reuse.bx.buffer.byteLength >= count * per * x.BYTES_PER_ELEMENT && reuse.by.buffer.byteLength >= count * 4;
    const by = fits ? new Uint32Array(reuse.by.buffer, 0, count) : new Uint32Array(count);
    if (y) for (let i = from; i < to; i++) by[i - from] = y[order ? order[i]! : i]!;
    if (order === null) return { bx: x.subarray(from * per, to * per), by };
    const bx = fits ? new Typed(reuse.bx.buffer as ArrayBuffer, 0, count * per) : new Typed(count * per);
    for (let i = from; i < to; i++) {
      const j = order[i]!;
      bx.set(x.subarray(j * per, (j + 1) * per), (i - from) * per);
    }
    return { bx, by };
  }

  /**
   * Trains the model. Resolves to the per-epoch history once done (or once a callback sets
   * {@link LayersModel.stopTraining}). A loss that becomes NaN or infinite stops training with an
   * error naming the step. See {@link FitConfig} for the options.
   */
  async fit(x: Inputs, y: Labels, config: FitConfig = {}): Promise<History> {
    const wasm = this.model('fit()');
    this.begin('fit()');
    try {
      return await this.fitWith(wasm, x, y, config);
    } finally {
      this.end();
    }
  }

  private fitWith(wasm: WasmModel, x: Inputs, y: Labels, config: FitConfig): Promise<History> {
    const compiled = this.compiled!;
    // The training loop sees the model through this narrow view (training.ts).
    const host: FitHost = {
      name: this.name,
      wasm,
      spec: compiled.spec,
      optimizer: compiled.config.optimizer,
      exampleLength: this.exampleLength,
      stopRequested: () => this.stopTraining,
      disposed: () => this.disposed,
      callbackModel: this,
      clearStop: () => {
        this.stopTraining = false;
      },
      call: (what, fn) => this.call(what, fn),
      checkData: (what, x, y) => this.checkData(what, x, y),
      gather: (x, y, order, from, to, reuse) => this.gather(x, y, order, from, to, reuse),
      // With workers, validation runs on them too, with the same numbers.
      evaluate: (x, y, workers) => (workers > 1 ? this.evaluateOnWorkers('fit() validation', x, y, { workers }) : Promise.resolve(this.evaluate(x, y))),
      describe: () => this.describe(),
      countParams: () => this.countParams(),
      getWeightsFlat: () => this.getWeightsFlat(),
      setWeights: (values) => this.setWeights(values),
      trainingState: () => this.call('fit() checkpoint', () => wasm.training_state()),
      setTrainingState: (bytes) => this.call('fit() resume', () => wasm.set_training_state(bytes)),
      iterations: () => wasm.iterations(),
    };
    return fit(host, x, y, config);
  }

  /**
   * Loss, accuracy and confusion matrix on labelled data, in batches of `batchSize` (default
   * 256). With `views` (test-time augmentation, e.g. {@link testTimeViews}), on the class
   * probabilities averaged over the views of each image: the loss is then the cross-entropy of
   * those probabilities (label smoothing as compiled, clipped to [1e-7, 1 − 1e-7] as Keras clips
   * probabilities) plus the weight penalties.
   */
  evaluate(x: Inputs, y: Labels, config: { batchSize?: number; views?: readonly View[] } = {}): Evaluation {
    const model = this.model('evaluate()');
    checkKeys(`${this.name}.evaluate()`, config, ['batchSize', 'views']);
    const n = this.checkData('evaluate()', x, y);
    const batchSize = this.evaluationBatch('evaluate()', config.batchSize);
    const views = encodeViews(`${this.name}.evaluate()`, config.views, this.inputShape);
    const labels = Uint32Array.from(y);
    const outputs: Float32Array[] = [];
    for (let from = 0; from < n; from += batchSize) {
      const { bx, by } = this.gather(x, y, null, from, Math.min(from + batchSize, n));
      outputs.push(this.call('evaluate()', () => (views ? model.evaluate_views(bx, by, views) : model.evaluate(bx, by))));
    }
    return this.evaluation(outputs, labels, batchSize);
  }

  /**
   * {@link LayersModel.evaluate} spread over `workers` (default: the cores in Node, 1 in browsers),
   * whole batches to each, with the current weights; the numbers are `evaluate`'s, since each
   * batch is the same computation wherever it runs and the sums are taken here in batch order.
   * The workers stay up for later calls, like {@link LayersModel.predictAsync}'s. `views` as
   * for `evaluate`.
   */
  async evaluateAsync(x: Inputs, y: Labels, config: { batchSize?: number; workers?: number; views?: readonly View[] } = {}): Promise<Evaluation> {
    this.model('evaluateAsync()');
    checkKeys(`${this.name}.evaluateAsync()`, config, ['batchSize', 'workers', 'views']);
    this.begin('evaluateAsync()');
    try {
      return await this.evaluateOnWorkers('evaluateAsync()', x, y, config);
    } finally {
      this.end();
    }
  }

  /** Evaluation on the worker pool; also fit()'s validation when it trains on workers. */
  private async evaluateOnWorkers(what: string, x: Inputs, y: Labels, config: { batchSize?: number; workers?: number; views?: readonly View[] }): Promise<Evaluation> {
    const model = this.model(what);
    const n = this.checkData(what, x, y);
    const batchSize = this.evaluationBatch(what, config.batchSize);
    const views = encodeViews(`${this.name}.${what}`, config.views, this.inputShape);
    const workers = Math.min(this.workerCount(what, config.workers), Math.ceil(n / batchSize));
    if (workers === 1) return this.evaluate(x, y, { batchSize, ...(config.views ? { views: config.views } : {}) });
    const pool = await this.workerPool(workers);
    const labels = Uint32Array.from(y);
    const parts = await pool.evaluate(this.call(what, () => model.weights()), x, labels, batchSize, views);
    // Each batch's [loss, correct, probabilities…], in batch order.
    const classes = this.outputShape[2];
    const outputs: Float32Array[] = [];
    for (let from = 0, at = 0; from < n; from += batchSize) {
      const size = 2 + (Math.min(from + batchSize, n) - from) * classes;
      outputs.push(parts.subarray(at, at + size));
      at += size;
    }
    return this.evaluation(outputs, labels, batchSize);
  }

  private evaluationBatch(what: string, batchSize = 256): number {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`${this.name}.${what}: batchSize must be an integer ≥ 1, got ${batchSize}`);
    return batchSize;
  }

  /** Loss, accuracy and confusion matrix from each batch's `[loss, correct, probabilities…]`, summed in batch order. */
  private evaluation(outputs: readonly Float32Array[], labels: Uint32Array, batchSize: number): Evaluation {
    const n = labels.length;
    const classes = this.outputShape[2];
    const confusionMatrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
    let lossSum = 0;
    let correct = 0;
    outputs.forEach((out, b) => {
      const from = b * batchSize;
      const size = Math.min(from + batchSize, n) - from;
      lossSum += out[0]! * size;
      correct += out[1]!;
      for (let i = 0; i < size; i++) {
        confusionMatrix[labels[from + i]!]![argmax(out, 2 + i * classes, classes)]! += 1;
      }
    });
    return { loss: lossSum / n, accuracy: correct / n, confusionMatrix };
  }

  /**
   * Class probabilities: N·classes values, in batches of `batchSize` (default 256). With `views`
   * (test-time augmentation, e.g. {@link testTimeViews}), each image's probabilities averaged
   * over its views, computed in the wasm.
   */
  predict(x: Inputs, config: { batchSize?: number; views?: readonly View[] } = {}): Float32Array {
    const model = this.model('predict()');
    checkKeys(`${this.name}.predict()`, config, ['batchSize', 'views']);
    const n = this.checkData('predict()', x);
    const batchSize = config.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`${this.name}.predict(): batchSize must be an integer ≥ 1, got ${batchSize}`);
    const views = encodeViews(`${this.name}.predict()`, config.views, this.inputShape);
    const classes = this.outputShape[2];
    const out = new Float32Array(n * classes);
    const per = this.exampleLength;
    for (let from = 0; from < n; from += batchSize) {
      const to = Math.min(from + batchSize, n);
      const bx = x.subarray(from * per, to * per);
      out.set(this.call('predict()', () => (views ? model.predict_views(bx, views) : model.predict(bx))), from * classes);
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
    const all = this.call('layerOutputs()', () => model.layer_outputs(x, ids));
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
   * Node running) until `dispose()`. `views` as for `predict`.
   */
  async predictAsync(x: Inputs, config: { batchSize?: number; workers?: number; views?: readonly View[] } = {}): Promise<Float32Array> {
    this.model('predictAsync()');
    this.begin('predictAsync()');
    try {
      return await this.predictOnWorkers(x, config);
    } finally {
      this.end();
    }
  }

  private async predictOnWorkers(x: Inputs, config: { batchSize?: number; workers?: number; views?: readonly View[] }): Promise<Float32Array> {
    const model = this.model('predictAsync()');
    checkKeys(`${this.name}.predictAsync()`, config, ['batchSize', 'workers', 'views']);
    const n = this.checkData('predictAsync()', x);
    const batchSize = config.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError(`${this.name}.predictAsync(): batchSize must be an integer ≥ 1, got ${batchSize}`);
    const views = encodeViews(`${this.name}.predictAsync()`, config.views, this.inputShape);
    const workers = Math.min(this.workerCount('predictAsync()', config.workers), n);
    if (workers === 1) return this.predict(x, { batchSize, ...(config.views ? { views: config.views } : {}) });
    const pool = await this.workerPool(workers);
    return pool.predict(this.call('predictAsync()', () => model.weights()), x, n, batchSize, views);
  }

  /**
   * A factor on the compiled learning rate or schedule: 1 after `compile`; 0.5 halves every later
   * rate. `callbacks.reduceLROnPlateau` lowers it, and saves it in fit()'s checkpoints.
   */
  get learningRateScale(): number {
    return this.model('learningRateScale').learning_rate_scale();
  }

  set learningRateScale(scale: number) {
    const model = this.model('learningRateScale');
    this.call('learningRateScale', () => model.set_learning_rate_scale(scale));
  }

  /** The learning rate the next training step uses: the compiled rate (or the schedule's, at this step) times {@link LayersModel.learningRateScale}. */
  currentLearningRate(): number {
    return this.model('currentLearningRate()').learning_rate();
  }

  /** All parameters, trainable or not, as Keras's `count_params()` counts them: the length of {@link LayersModel.getWeightsFlat}. */
  countParams(): number {
    return this.stack.reduce((sum, layer, i) => sum + layer.paramCount(this.layerInput(i)), 0);
  }

  /** Parameters that training does not step: batch normalisation's moving statistics. */
  countNonTrainableParams(): number {
    return this.stack.reduce((sum, layer, i) => sum + layer.nonTrainableCount(this.layerInput(i)), 0);
  }

  /** Layer i's (first) input shape. */
  private layerInput(i: number): Shape3 {
    const t = this.wiring[i]![0]!;
    return t === 0 ? this.inputShape : this.shapes[t - 1]!;
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

  /**
   * A table of the layers with output shapes, parameters and connections, and the totals; for a
   * graph, also what each layer reads (Keras's "Connected to").
   */
  summary(): string {
    const graph = this.isGraph;
    const rows = this.layerSummaries().map((l, i) => [
      `${l.name} (${l.className})`,
      `[${l.outputShape.join(', ')}]`,
      l.params.toLocaleString('en-US'),
      l.connections.toLocaleString('en-US'),
      ...(graph ? [this.inboundNames(i).join(', ')] : []),
    ]);
    const header = ['Layer (type)', 'Output shape', 'Params', 'Connections', ...(graph ? ['Connected to'] : [])];
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (cells: string[]) => cells.map((cell, c) => (c < 2 || c === 4 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ').trimEnd();
    const rule = '─'.repeat(widths.reduce((sum, w) => sum + w, 0) + 3 * (widths.length - 1));
    const connections = this.layerSummaries().reduce((s, l) => s + l.connections, 0);
    const frozen = this.countNonTrainableParams();
    return [
      `Model: ${this.name}   input [${this.inputShape.join(', ')}]   (format convnet-wasm/layers-model v${FORMAT_VERSION})`,
      rule,
      line(header),
      rule,
      ...rows.map(line),
      rule,
      `Trainable params: ${(this.countParams() - frozen).toLocaleString('en-US')}   Connections: ${connections.toLocaleString('en-US')}`,
      ...(frozen > 0 ? [`Non-trainable params: ${frozen.toLocaleString('en-US')}   Total params: ${this.countParams().toLocaleString('en-US')}`] : []),
    ].join('\n');
  }

  /**
   * The weights as Keras's `get_weights()` and TF.js's `getWeights()` give them: one entry per
   * weight tensor, in order (each layer's kernel, then its bias), with its name, shape (Keras's
   * layouts: HWIO conv kernels, `[inputs, units]` dense kernels) and values.
   */
  getWeights(): WeightTensor[] {
    const flat = this.getWeightsFlat();
    let at = 0;
    return this.weightSpecs().map(({ name, shape }) => {
      const size = shape.reduce((p, d) => p * d, 1);
      const values = flat.slice(at, at + size);
      at += size;
      return { name, shape, values };
    });
  }

  /** Every parameter in one array: the tensors of {@link LayersModel.getWeights}, one after another. */
  getWeightsFlat(): Float32Array {
    return this.call('getWeightsFlat()', () => this.model('getWeightsFlat()').weights());
  }

  /**
   * Replaces every parameter: from the tensors {@link LayersModel.getWeights} gives (each with
   * its shape, or as bare `Float32Array`s in that order, as Keras's `set_weights` takes them), or
   * from one array in the layout of {@link LayersModel.getWeightsFlat}.
   */
  setWeights(weights: Float32Array | readonly (WeightTensor | Float32Array)[]): void {
    const model = this.model('setWeights()');
    const values = Array.isArray(weights) ? this.joinTensors(weights as readonly (WeightTensor | Float32Array)[]) : weights;
    if (!(values instanceof Float32Array) || values.length !== this.countParams()) {
      throw new ShapeMismatchError(`${this.name}.setWeights(): expected a Float32Array of ${this.countParams()} values, or a list of its weight tensors, got ${describe(values)}`);
    }
    this.call('setWeights()', () => model.set_weights(values));
  }

  /** The tensors of a `setWeights` list, checked against the model's, as one array. */
  private joinTensors(list: readonly (WeightTensor | Float32Array)[]): Float32Array {
    const specs = this.weightSpecs();
    const what = `${this.name}.setWeights()`;
    if (list.length !== specs.length) {
      throw new ShapeMismatchError(`${what}: ${list.length} weight tensors given, the model has ${specs.length} (${specs.map((w) => `${w.name} [${w.shape.join(', ')}]`).join(', ')})`);
    }
    const out = new Float32Array(this.countParams());
    let at = 0;
    specs.forEach((spec, i) => {
      const given = list[i]!;
      const values = given instanceof Float32Array ? given : given?.values;
      const size = spec.shape.reduce((p, d) => p * d, 1);
      if (!(given instanceof Float32Array) && given?.shape !== undefined && JSON.stringify(given.shape) !== JSON.stringify(spec.shape)) {
        throw new ShapeMismatchError(`${what}: tensor ${i} (${spec.name}) has shape [${given.shape.join(', ')}], the model's is [${spec.shape.join(', ')}]`);
      }
      if (!(values instanceof Float32Array) || values.length !== size) {
        throw new ShapeMismatchError(`${what}: tensor ${i} (${spec.name} [${spec.shape.join(', ')}]) needs a Float32Array of ${size} values, got ${describe(values)}`);
      }
      out.set(values, at);
      at += size;
    });
    return out;
  }

  /** The weight tensors' names and shapes, in the order of {@link LayersModel.getWeights}. */
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
    return writeArtifacts(modelArtifacts(this.describe(), this.weightSpecs(), this.getWeightsFlat()), url);
  }

  /** The model's topology and compile settings, as `model.json` and checkpoints record them. */
  describe(): ModelDescription {
    const compile = this.compileConfig;
    const layers = this.stack.map((l) => ({ className: l.className, name: l.name!, config: l.config() }));
    const base = { name: this.name, inputShape: this.inputShape, preprocessing: this.preprocessing };
    return {
      modelTopology: this.isGraph
        ? { className: 'Model', config: { ...base, inputName: this.inputName, layers: layers.map((l, i) => ({ ...l, inbound: this.inboundNames(i) })) } }
        : { className: 'Sequential', config: { ...base, layers } },
      compileConfig: compile ? { optimizer: compile.optimizer, loss: compile.loss, learningRate: compile.learningRate, seed: compile.seed } : null,
    };
  }

  /** `workers` checked, or the default: the cores in Node, 1 in browsers. */
  private workerCount(what: string, workers: number | undefined): number {
    const count = workers ?? defaultWorkers();
    if (!Number.isInteger(count) || count < 1 || count > 256) {
      throw new InvalidArgumentError(`${this.name}.${what}: workers must be an integer in [1, 256], got ${workers}`);
    }
    return count;
  }

  /** The pool that predictAsync() and evaluateAsync() share: `workers` workers with this model's spec, kept up. */
  private workerPool(workers: number): Promise<WorkerPool> {
    const spec = this.compiled!.spec;
    if (this.predictPool === undefined || this.predictPoolKey !== `${workers}:${spec}`) {
      this.predictPool?.then((pool) => pool.close(), () => {});
      this.predictPoolKey = `${workers}:${spec}`;
      this.predictPool = WorkerPool.start(workers, spec);
    }
    return this.predictPool;
  }

  /**
   * Starts an asynchronous call on this model's wasm: one at a time (`BUSY` otherwise), since
   * their steps would interleave. `predict` and `evaluate` may run meanwhile, on the weights as
   * they are between steps.
   */
  private begin(what: string): void {
    if (this.running !== undefined) {
      throw new ConvnetError(
        'BUSY',
        `${this.name}.${what}: ${this.name}.${this.running} is running; await it first (predict() and evaluate() may run meanwhile, on the current weights)`,
      );
    }
    this.running = what;
  }

  /** Ends the call begun by {@link begin}; frees the wasm if the model was disposed meanwhile. */
  private end(): void {
    this.running = undefined;
    if (this.disposed) this.free();
  }

  /**
   * Frees the wasm model. Using the model afterwards throws `DISPOSED`. During `fit()`, training
   * stops at the next step and `fit()` rejects with `DISPOSED`; during `predictAsync()`, its
   * workers stop and it rejects with `DISPOSED`. The memory is freed once they have.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const pool = this.predictPool;
    this.predictPool = undefined;
    void pool?.then(
      (p) => p.close(new ConvnetError('DISPOSED', `${this.name}.predictAsync(): the model was disposed`)),
      () => {},
    );
    if (this.running === undefined) this.free();
  }

  private free(): void {
    try {
      this.compiled?.wasm.free();
    } catch (error) {
      // A model broken by a panic may still be marked as in use by the wasm-bindgen glue; its
      // memory is then lost, which is all that can be done.
      if (this.broken === undefined) throw error;
    }
    this.compiled = undefined;
  }
}

/** A linear stack of layers: each reads the one before. */
export class Sequential extends LayersModel {
  constructor(config: SequentialConfig = {}) {
    checkKeys('Sequential', config, ['layers', 'inputShape', 'name', 'preprocessing']);
    super({ name: config.name ?? 'sequential', inputShape: config.inputShape, preprocessing: config.preprocessing });
    for (const layer of config.layers ?? []) this.add(layer);
  }

  /** Appends a layer, inferring its output shape; errors name the layer's index, type and shapes. */
  add(layer: Layer): this {
    this.addNode(layer, [this.layers.length]);
    return this;
  }
}

function argmax(values: Float32Array, start: number, count: number): number {
  let best = 0;
  for (let j = 1; j < count; j++) if (values[start + j]! > values[start + best]!) best = j;
  return best;
}

const OPTIMIZER_KEYS: Record<OptimizerConfig['type'], readonly string[]> = {
  sgd: ['momentum', 'nesterov', 'weightDecay'],
  adam: ['beta1', 'beta2', 'epsilon', 'weightDecay'],
  adamw: ['beta1', 'beta2', 'epsilon', 'weightDecay'],
  nadam: ['beta1', 'beta2', 'epsilon', 'weightDecay'],
  rmsprop: ['rho', 'momentum', 'epsilon', 'centered', 'weightDecay'],
  sdlm: ['mu'],
};

/** Keras's `AdamW` default. */
const ADAMW_WEIGHT_DECAY = 0.004;

/** The optimiser as the wasm's spec names it: AdamW is Adam with a weight decay. */
function optimizerSpec(config: OptimizerConfig): Record<string, unknown> {
  const { type, ...rest } = config;
  const { weightDecay, ...others } = rest as { weightDecay?: number };
  const decay = weightDecay ?? (type === 'adamw' ? ADAMW_WEIGHT_DECAY : undefined);
  return { type: type === 'adamw' ? 'adam' : type, ...others, ...(decay === undefined ? {} : { weight_decay: decay }) };
}

/**
 * compile()'s optimizer: a name or `{ type, learningRate?, …its hyper-parameters }`. A learning
 * rate given in the object is the model's learning rate (it must then not differ from
 * `learningRate`). Another library's optimizer object is refused with what to write instead.
 */
function parseOptimizer(what: string, given: CompileConfig['optimizer'], learningRate: LearningRate | undefined): { optimizer: OptimizerConfig; learningRate: LearningRate } {
  const names = Object.keys(OPTIMIZER_KEYS);
  const raw: unknown = typeof given === 'string' ? { type: given } : (given ?? { type: 'adam' });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError(`${what}: optimizer must be one of ${names.join(', ')} or { type, learningRate, … }, got ${describe(raw)}`);
  }
  const o = raw as Record<string, unknown>;
  if (typeof o.type !== 'string') {
    const from = raw.constructor?.name && raw.constructor !== Object ? ` (a ${raw.constructor.name}: another library's optimizer cannot run here)` : '';
    throw new InvalidArgumentError(`${what}: optimizer must be one of ${names.join(', ')} or { type: 'adam', learningRate: 0.001, … }${from}`);
  }
  if (!Object.hasOwn(OPTIMIZER_KEYS, o.type)) {
    throw new InvalidArgumentError(`${what}: unknown optimizer ${JSON.stringify(o.type)}; the optimizers are ${names.join(', ')}`);
  }
  const type = o.type as OptimizerConfig['type'];
  checkKeys(`${what} optimizer ${JSON.stringify(type)}`, o, ['type', 'learningRate', ...OPTIMIZER_KEYS[type]]);
  // The forms here; the ranges (beta1 in [0, 1), …) the wasm checks, naming the option.
  for (const key of OPTIMIZER_KEYS[type]) {
    const value = o[key];
    if (value === undefined) continue;
    const flag = key === 'nesterov' || key === 'centered';
    const ok = flag ? typeof value === 'boolean' : typeof value === 'number' && Number.isFinite(value) && (key !== 'weightDecay' || value >= 0);
    if (!ok) {
      const wanted = flag ? 'true or false' : key === 'weightDecay' ? 'a finite number ≥ 0' : 'a finite number';
      throw new InvalidArgumentError(`${what}: optimizer ${JSON.stringify(type)}'s ${key} must be ${wanted}, got ${describe(value)}`);
    }
  }
  const { learningRate: own, ...optimizer } = o;
  if (own !== undefined && learningRate !== undefined && JSON.stringify(own) !== JSON.stringify(learningRate)) {
    throw new InvalidArgumentError(`${what}: the optimizer's learningRate (${JSON.stringify(own)}) and learningRate (${JSON.stringify(learningRate)}) differ; give one`);
  }
  return { optimizer: optimizer as OptimizerConfig, learningRate: (own as LearningRate | undefined) ?? learningRate ?? 0.001 };
}

/** compile()'s metrics: accuracy is always computed, so it is the one metric there is. */
function checkMetrics(what: string, metrics: unknown): void {
  if (metrics === undefined) return;
  const list = Array.isArray(metrics) ? metrics : [metrics];
  for (const m of list) {
    if (m !== 'accuracy' && m !== 'acc') {
      throw new InvalidArgumentError(`${what}: the metric ${JSON.stringify(m)} is not computed; fit() and evaluate() report 'accuracy' (also called 'acc') and the loss`);
    }
  }
}
