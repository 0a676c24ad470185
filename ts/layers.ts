/**
 * Layer factories, Keras-style: `layers.conv2d({ filters: 64, kernelSize: 7, padding: 'same' })`.
 * A layer is a description (config, shape inference, parameter count); the numbers live in the
 * wasm once a `Sequential` holding it is compiled.
 * @module
 */
import { InvalidArgumentError } from './errors.js';

/** Height, width, channels (NHWC without the batch). */
export type Shape3 = [number, number, number];
/** Activation functions. `lecunTanh` is LeCun's 1.7159·tanh(2/3·a). */
export type ActivationName = 'linear' | 'relu' | 'tanh' | 'lecunTanh' | 'sigmoid' | 'softmax';
/**
 * Initialisers. `heNormal` is Keras's truncated normal, `glorotUniform` and `lecunUniform` are
 * Keras's (±√(6/(fan-in + fan-out)), ±√(3/fan-in)), and `lenetUniform` is LeNet-5's ±2.4/fan-in.
 */
export type InitializerName = 'heNormal' | 'glorotUniform' | 'lecunUniform' | 'lenetUniform' | 'zeros';
/** Keras padding: `valid` (none) or `same` (output = ceil(input / stride)). */
export type PaddingName = 'valid' | 'same';

const ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'tanh', 'lecunTanh', 'sigmoid', 'softmax'];
const INITIALIZERS: readonly InitializerName[] = ['heNormal', 'glorotUniform', 'lecunUniform', 'lenetUniform', 'zeros'];
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Options every layer accepts. */
export interface BaseLayerConfig {
  /** The layer's name, unique in its model; by default the type plus a counter (`conv2d_1`). */
  name?: string;
  /** The input shape [height, width, channels]; needed on the first layer unless the model has one. */
  inputShape?: Shape3;
}

/** A layer: its configuration and how it transforms shapes. Create layers with {@link layers}. */
export abstract class Layer {
  /** Keras's class name, e.g. `Conv2D`. */
  abstract readonly className: string;
  /** The factory name, e.g. `conv2d`, which also prefixes default names. */
  abstract readonly type: string;
  name: string | undefined;
  readonly inputShape: Shape3 | undefined;

  protected constructor(config: BaseLayerConfig) {
    this.name = config.name;
    this.inputShape = config.inputShape === undefined ? undefined : checkShape('inputShape', config.inputShape);
  }

  /** The output shape for an input shape; throws a message naming the sizes when it cannot work. */
  abstract outputShape(input: Shape3): Shape3;
  /** Trainable parameters. */
  paramCount(_input: Shape3): number {
    return 0;
  }
  /** Connections (multiply-adds and bias additions per example), as LeCun et al. count them. */
  connections(_input: Shape3): number {
    return 0;
  }
  /** The parameter tensors, in order, with their shapes (Keras's layouts). */
  weightShapes(_input: Shape3): { name: string; shape: number[] }[] {
    return [];
  }
  /** The camelCase config saved in model.json. */
  abstract config(): Record<string, unknown>;
  /** The spec the wasm runtime reads. */
  abstract spec(): Record<string, unknown>;
  /** Whether the layer ends in a softmax. */
  endsInSoftmax(): boolean {
    return false;
  }
  /** Whether the layer outputs RBF distances (LeNet-5's output). */
  isRbf(): boolean {
    return false;
  }
}

function checkInt(what: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 1 << 24) {
    throw new InvalidArgumentError(`${what} must be an integer ≥ ${min}, got ${String(v)}`);
  }
  return v;
}

function checkShape(what: string, s: unknown): Shape3 {
  if (!Array.isArray(s) || s.length !== 3) {
    throw new InvalidArgumentError(`${what} must be [height, width, channels], got ${JSON.stringify(s)}`);
  }
  return [checkInt(`${what}[0]`, s[0]), checkInt(`${what}[1]`, s[1]), checkInt(`${what}[2]`, s[2])];
}

function pair(what: string, v: number | [number, number] | undefined, fallback: [number, number]): [number, number] {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return [checkInt(what, v), checkInt(what, v)];
  if (!Array.isArray(v) || v.length !== 2) throw new InvalidArgumentError(`${what} must be a number or [h, w], got ${JSON.stringify(v)}`);
  return [checkInt(`${what}[0]`, v[0]), checkInt(`${what}[1]`, v[1])];
}

function oneOf<T extends string>(what: string, v: T | undefined, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v)) throw new InvalidArgumentError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

/** Output length along one axis, as TensorFlow computes it. */
function extent(input: number, kernel: number, stride: number, padding: PaddingName): number {
  return padding === 'same' ? Math.ceil(input / stride) : input >= kernel ? Math.floor((input - kernel) / stride) + 1 : 0;
}

/** Configuration of {@link layers.conv2d}. */
export interface Conv2DConfig extends BaseLayerConfig {
  /** Output channels. */
  filters: number;
  /** Kernel height and width (one number for a square kernel). */
  kernelSize: number | [number, number];
  /** Step between windows; default 1. */
  strides?: number | [number, number];
  /** Default `valid`. */
  padding?: PaddingName;
  /** Default `linear`. */
  activation?: ActivationName;
  /** Default `glorotUniform` (Keras's default). */
  kernelInitializer?: InitializerName;
  /** Default `zeros`. */
  biasInitializer?: InitializerName;
  /**
   * A connection table, as LeNet-5's C3 has: `connections[f]` lists, ascending, the input maps
   * filter `f` reads. The kernel then holds only those weights: for each filter in turn,
   * `[kh, kw, connections[f].length]`, and its saved shape is their total count.
   */
  connections?: number[][];
}

class Conv2D extends Layer {
  readonly className = 'Conv2D';
  readonly type = 'conv2d';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingName;
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  /** The connection table, if any (the config's `connections`). */
  readonly table: number[][] | undefined;

  constructor(c: Conv2DConfig) {
    super(c);
    this.filters = checkInt('conv2d: filters', c.filters);
    if (c.connections !== undefined) {
      const t = c.connections;
      if (!Array.isArray(t) || t.length !== this.filters) {
        throw new InvalidArgumentError(`conv2d: connections must list the input maps of each of the ${this.filters} filters`);
      }
      this.table = t.map((row, f) => {
        if (!Array.isArray(row) || row.length === 0) throw new InvalidArgumentError(`conv2d: connections[${f}] must be a non-empty list of input maps`);
        return row.map((m, j) => {
          const v = checkInt(`conv2d: connections[${f}][${j}]`, m, 0);
          if (j > 0 && v <= (row[j - 1] as number)) throw new InvalidArgumentError(`conv2d: connections[${f}] must be strictly ascending, got ${JSON.stringify(row)}`);
          return v;
        });
      });
    }
    this.kernelSize = pair('conv2d: kernelSize', c.kernelSize, [0, 0]);
    this.strides = pair('conv2d: strides', c.strides, [1, 1]);
    this.padding = oneOf('conv2d: padding', c.padding, ['valid', 'same'], 'valid');
    this.activation = oneOf('conv2d: activation', c.activation, ACTIVATIONS, 'linear');
    this.kernelInitializer = oneOf('conv2d: kernelInitializer', c.kernelInitializer, INITIALIZERS, 'glorotUniform');
    this.biasInitializer = oneOf('conv2d: biasInitializer', c.biasInitializer, INITIALIZERS, 'zeros');
  }

  outputShape([h, w, c]: Shape3): Shape3 {
    const [kh, kw] = this.kernelSize;
    const oh = extent(h, kh, this.strides[0], this.padding);
    const ow = extent(w, kw, this.strides[1], this.padding);
    if (oh === 0 || ow === 0) {
      throw new Error(`a ${kh}×${kw} kernel with '${this.padding}' padding does not fit a ${h}×${w} input`);
    }
    const bad = this.table?.flat().find((m) => m >= c);
    if (bad !== undefined) throw new Error(`the connection table reads input map ${bad}, but the input has ${c} maps`);
    return [oh, ow, this.filters];
  }
  /** Kernel weights: k·c per filter, or k·|connections[f]| with a table. */
  private kernelWeights(c: number): number {
    const k = this.kernelSize[0] * this.kernelSize[1];
    return this.table ? k * this.table.reduce((s, row) => s + row.length, 0) : k * c * this.filters;
  }
  override paramCount([, , c]: Shape3): number {
    return this.kernelWeights(c) + this.filters;
  }
  override connections(input: Shape3): number {
    const [oh, ow] = this.outputShape(input);
    return oh * ow * this.paramCount(input);
  }
  override weightShapes([, , c]: Shape3) {
    return [
      { name: 'kernel', shape: this.table ? [this.kernelWeights(c)] : [this.kernelSize[0], this.kernelSize[1], c, this.filters] },
      { name: 'bias', shape: [this.filters] },
    ];
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    const { filters, kernelSize, strides, padding, activation, kernelInitializer, biasInitializer, table } = this;
    return { filters, kernelSize, strides, padding, activation, kernelInitializer, biasInitializer, ...(table ? { connections: table } : {}) };
  }
  spec() {
    return {
      type: 'conv2d',
      filters: this.filters,
      kernel_size: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      activation: snake(this.activation),
      kernel_initializer: snake(this.kernelInitializer),
      bias_initializer: snake(this.biasInitializer),
      ...(this.table ? { connections: this.table } : {}),
    };
  }
}

/** Configuration of {@link layers.maxPool2d} and {@link layers.averagePool2d}. */
export interface Pool2DConfig extends BaseLayerConfig {
  /** Window height and width; default 2. */
  poolSize?: number | [number, number];
  /** Default: the pool size. */
  strides?: number | [number, number];
  /** Default `valid` (a window that does not fit is dropped: 7 → 3 with a 2×2 pool). */
  padding?: PaddingName;
}

class Pool2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingName;

  constructor(
    readonly type: 'maxPool2d' | 'averagePool2d',
    c: Pool2DConfig,
  ) {
    super(c);
    this.poolSize = pair(`${type}: poolSize`, c.poolSize, [2, 2]);
    this.strides = pair(`${type}: strides`, c.strides, this.poolSize);
    this.padding = oneOf(`${type}: padding`, c.padding, ['valid', 'same'], 'valid');
  }
  get className() {
    return this.type === 'maxPool2d' ? 'MaxPooling2D' : 'AveragePooling2D';
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    const oh = extent(h, this.poolSize[0], this.strides[0], this.padding);
    const ow = extent(w, this.poolSize[1], this.strides[1], this.padding);
    if (oh === 0 || ow === 0) {
      throw new Error(`a ${this.poolSize[0]}×${this.poolSize[1]} pool with '${this.padding}' padding does not fit a ${h}×${w} input`);
    }
    return [oh, ow, c];
  }
  override connections(input: Shape3): number {
    const [oh, ow, c] = this.outputShape(input);
    return oh * ow * c * this.poolSize[0] * this.poolSize[1];
  }
  config() {
    return { poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
  spec() {
    return {
      type: this.type === 'maxPool2d' ? 'max_pool2d' : 'average_pool2d',
      pool_size: this.poolSize,
      strides: this.strides,
      padding: this.padding,
    };
  }
}

class Flatten extends Layer {
  readonly className = 'Flatten';
  readonly type = 'flatten';
  constructor(c: BaseLayerConfig) {
    super(c);
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    return [1, 1, h * w * c];
  }
  config() {
    return {};
  }
  spec() {
    return { type: 'flatten' };
  }
}

/** Configuration of {@link layers.dense}. */
export interface DenseConfig extends BaseLayerConfig {
  /** Outputs. */
  units: number;
  /** Default `linear`. */
  activation?: ActivationName;
  /** Default `glorotUniform`. */
  kernelInitializer?: InitializerName;
  /** Default `zeros`. */
  biasInitializer?: InitializerName;
}

class Dense extends Layer {
  readonly className = 'Dense';
  readonly type = 'dense';
  readonly units: number;
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  constructor(c: DenseConfig) {
    super(c);
    this.units = checkInt('dense: units', c.units);
    this.activation = oneOf('dense: activation', c.activation, ACTIVATIONS, 'linear');
    this.kernelInitializer = oneOf('dense: kernelInitializer', c.kernelInitializer, INITIALIZERS, 'glorotUniform');
    this.biasInitializer = oneOf('dense: biasInitializer', c.biasInitializer, INITIALIZERS, 'zeros');
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    if (h !== 1 || w !== 1) throw new Error(`its input is ${h}×${w}×${c}; add a flatten layer before it`);
    return [1, 1, this.units];
  }
  override paramCount([, , c]: Shape3): number {
    return c * this.units + this.units;
  }
  override connections(input: Shape3): number {
    return this.paramCount(input);
  }
  override weightShapes([, , c]: Shape3) {
    return [
      { name: 'kernel', shape: [c, this.units] },
      { name: 'bias', shape: [this.units] },
    ];
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    const { units, activation, kernelInitializer, biasInitializer } = this;
    return { units, activation, kernelInitializer, biasInitializer };
  }
  spec() {
    return {
      type: 'dense',
      units: this.units,
      activation: snake(this.activation),
      kernel_initializer: snake(this.kernelInitializer),
      bias_initializer: snake(this.biasInitializer),
    };
  }
}

/** Configuration of {@link layers.dropout}. */
export interface DropoutConfig extends BaseLayerConfig {
  /** The fraction of values dropped in training, in [0, 1). */
  rate: number;
}

class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly type = 'dropout';
  readonly rate: number;
  constructor(c: DropoutConfig) {
    super(c);
    if (typeof c.rate !== 'number' || !(c.rate >= 0 && c.rate < 1)) {
      throw new InvalidArgumentError(`dropout: rate must be in [0, 1), got ${String(c.rate)}`);
    }
    this.rate = c.rate;
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  config() {
    return { rate: this.rate };
  }
  spec() {
    return { type: 'dropout', rate: this.rate };
  }
}

/** Configuration of {@link layers.activation}. */
export interface ActivationConfig extends BaseLayerConfig {
  activation: ActivationName;
}

class ActivationLayer extends Layer {
  readonly className = 'Activation';
  readonly type = 'activation';
  readonly activation: ActivationName;
  constructor(c: ActivationConfig) {
    super(c);
    this.activation = oneOf('activation: activation', c.activation, ACTIVATIONS, 'linear');
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    return { activation: this.activation };
  }
  spec() {
    return { type: 'activation', activation: snake(this.activation) };
  }
}

/** Configuration of {@link layers.zeroPad2d}. */
export interface ZeroPad2DConfig extends BaseLayerConfig {
  /** Cells added: `n` on every side, `[rows, cols]` symmetric, or `[[top, bottom], [left, right]]`. */
  padding: number | [number, number] | [[number, number], [number, number]];
  /** The value of the added cells; default 0 (Keras's ZeroPadding2D). LeNet-5 uses its background, −0.1. */
  value?: number;
}

class ZeroPadding2D extends Layer {
  readonly className = 'ZeroPadding2D';
  readonly type = 'zeroPad2d';
  readonly padding: [[number, number], [number, number]];
  readonly value: number;
  constructor(c: ZeroPad2DConfig) {
    super(c);
    const p = c.padding;
    const side = (what: string, v: unknown) => checkInt(what, v, 0);
    if (typeof p === 'number') this.padding = [[side('zeroPad2d: padding', p), p], [p, p]];
    else if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'number') {
      const [r, k] = [side('zeroPad2d: padding[0]', p[0]), side('zeroPad2d: padding[1]', p[1])];
      this.padding = [[r, r], [k, k]];
    } else if (Array.isArray(p) && p.length === 2 && Array.isArray(p[0]) && Array.isArray(p[1]) && p[0].length === 2 && p[1].length === 2) {
      this.padding = [
        [side('zeroPad2d: top', p[0][0]), side('zeroPad2d: bottom', p[0][1])],
        [side('zeroPad2d: left', p[1][0]), side('zeroPad2d: right', p[1][1])],
      ];
    } else {
      throw new InvalidArgumentError(`zeroPad2d: padding must be n, [rows, cols] or [[top, bottom], [left, right]], got ${JSON.stringify(p)}`);
    }
    this.value = c.value ?? 0;
    if (typeof this.value !== 'number' || !Number.isFinite(this.value)) throw new InvalidArgumentError(`zeroPad2d: value must be a finite number, got ${String(c.value)}`);
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    const [[t, b], [l, r]] = this.padding;
    return [h + t + b, w + l + r, c];
  }
  config() {
    return { padding: this.padding, value: this.value };
  }
  spec() {
    return { type: 'zero_padding2d', padding: this.padding, value: this.value };
  }
}

/** Configuration of {@link layers.subsampling2d}. */
export interface Subsampling2DConfig extends BaseLayerConfig {
  /** Window; default 2. */
  poolSize?: number | [number, number];
  /** Default: the pool size. */
  strides?: number | [number, number];
  /** Applied after the coefficient and bias; default `linear`. LeNet-5 uses `lecunTanh`. */
  activation?: ActivationName;
  /** For the per-map coefficients (fan-in: the window size); default `glorotUniform`. */
  kernelInitializer?: InitializerName;
  /** Default `zeros`. */
  biasInitializer?: InitializerName;
}

class Subsampling2D extends Layer {
  readonly className = 'Subsampling2D';
  readonly type = 'subsampling2d';
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  constructor(c: Subsampling2DConfig) {
    super(c);
    this.poolSize = pair('subsampling2d: poolSize', c.poolSize, [2, 2]);
    this.strides = pair('subsampling2d: strides', c.strides, this.poolSize);
    this.activation = oneOf('subsampling2d: activation', c.activation, ACTIVATIONS, 'linear');
    this.kernelInitializer = oneOf('subsampling2d: kernelInitializer', c.kernelInitializer, INITIALIZERS, 'glorotUniform');
    this.biasInitializer = oneOf('subsampling2d: biasInitializer', c.biasInitializer, INITIALIZERS, 'zeros');
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    const oh = extent(h, this.poolSize[0], this.strides[0], 'valid');
    const ow = extent(w, this.poolSize[1], this.strides[1], 'valid');
    if (oh === 0 || ow === 0) throw new Error(`a ${this.poolSize[0]}×${this.poolSize[1]} window does not fit a ${h}×${w} input`);
    return [oh, ow, c];
  }
  override paramCount([, , c]: Shape3): number {
    return 2 * c;
  }
  override connections(input: Shape3): number {
    const [oh, ow, c] = this.outputShape(input);
    return oh * ow * c * (this.poolSize[0] * this.poolSize[1] + 1);
  }
  override weightShapes([, , c]: Shape3) {
    return [
      { name: 'coefficient', shape: [c] },
      { name: 'bias', shape: [c] },
    ];
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    const { poolSize, strides, activation, kernelInitializer, biasInitializer } = this;
    return { poolSize, strides, activation, kernelInitializer, biasInitializer };
  }
  spec() {
    return {
      type: 'subsampling2d',
      pool_size: this.poolSize,
      strides: this.strides,
      activation: snake(this.activation),
      kernel_initializer: snake(this.kernelInitializer),
      bias_initializer: snake(this.biasInitializer),
    };
  }
}

/** Configuration of {@link layers.rbf}. */
export interface RbfConfig extends BaseLayerConfig {
  /** Output units (classes). */
  units: number;
  /** The fixed prototypes, `[units, inputs]` row-major; they are not trained. */
  prototypes: ArrayLike<number>;
}

class Rbf extends Layer {
  readonly className = 'RBF';
  readonly type = 'rbf';
  readonly units: number;
  readonly prototypes: number[];
  constructor(c: RbfConfig) {
    super(c);
    this.units = checkInt('rbf: units', c.units);
    if (c.prototypes === null || typeof c.prototypes !== 'object' || typeof c.prototypes.length !== 'number') {
      throw new InvalidArgumentError('rbf: prototypes must be an array of units·inputs numbers');
    }
    this.prototypes = Array.from(c.prototypes, (v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`rbf: prototypes[${i}] must be a finite number, got ${String(v)}`);
      return v;
    });
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    if (h !== 1 || w !== 1) throw new Error(`its input is ${h}×${w}×${c}; add a flatten layer before it`);
    if (this.prototypes.length !== this.units * c) {
      throw new Error(`${this.prototypes.length} prototype values given, expected units·inputs = ${this.units}·${c} = ${this.units * c}`);
    }
    return [1, 1, this.units];
  }
  override connections([, , c]: Shape3): number {
    return this.units * c;
  }
  override isRbf() {
    return true;
  }
  config() {
    return { units: this.units, prototypes: this.prototypes };
  }
  spec() {
    return { type: 'rbf', units: this.units, prototypes: this.prototypes };
  }
}

/** The layer factories. */
export const layers = {
  /** 2-D convolution over NHWC images, HWIO kernel (Keras's Conv2D). */
  conv2d: (config: Conv2DConfig): Layer => new Conv2D(config),
  /** Max pooling (Keras's MaxPooling2D). */
  maxPool2d: (config: Pool2DConfig = {}): Layer => new Pool2D('maxPool2d', config),
  /** Average pooling (Keras's AveragePooling2D); `same` windows average only the cells inside. */
  averagePool2d: (config: Pool2DConfig = {}): Layer => new Pool2D('averagePool2d', config),
  /** Flattens [h, w, c] to [h·w·c]. */
  flatten: (config: BaseLayerConfig = {}): Layer => new Flatten(config),
  /** Fully connected layer, kernel [inputs, units] (Keras's Dense). */
  dense: (config: DenseConfig): Layer => new Dense(config),
  /** Dropout in training, identity in inference (Keras's Dropout, seeded inside the wasm). */
  dropout: (config: DropoutConfig): Layer => new Dropout(config),
  /** An activation on its own. */
  activation: (config: ActivationConfig): Layer => new ActivationLayer(config),
  /** Pads the image with a constant (Keras's ZeroPadding2D; any value). */
  zeroPad2d: (config: ZeroPad2DConfig): Layer => new ZeroPadding2D(config),
  /** LeNet-5's subsampling: `activation(coef[c]·Σwindow + bias[c])`, one trainable coefficient and bias per map. */
  subsampling2d: (config: Subsampling2DConfig = {}): Layer => new Subsampling2D(config),
  /** LeNet-5's output: Euclidean RBF units, `y_i = Σ_j (x_j − w_ij)²`, with fixed prototypes. */
  rbf: (config: RbfConfig): Layer => new Rbf(config),
};

/** Rebuilds a layer from its saved class name and config (model.json). */
export function layerFromConfig(className: string, config: Record<string, unknown>, name: string): Layer {
  const c = { ...config, name } as never;
  switch (className) {
    case 'Conv2D':
      return layers.conv2d(c);
    case 'MaxPooling2D':
      return layers.maxPool2d(c);
    case 'AveragePooling2D':
      return layers.averagePool2d(c);
    case 'Flatten':
      return layers.flatten(c);
    case 'Dense':
      return layers.dense(c);
    case 'Dropout':
      return layers.dropout(c);
    case 'Activation':
      return layers.activation(c);
    case 'ZeroPadding2D':
      return layers.zeroPad2d(c);
    case 'Subsampling2D':
      return layers.subsampling2d(c);
    case 'RBF':
      return layers.rbf(c);
    default:
      throw new InvalidArgumentError(`unknown layer class ${JSON.stringify(className)}`);
  }
}
