/**
 * 2-D convolution (Keras's Conv2D), with an optional connection table (LeNet-5's C3).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { checkRegularizer, type Regularizer } from '../regularizers.js';
import { Layer, ACTIVATIONS, INITIALIZERS, snake, checkInt, pair, oneOf, windows, type BaseLayerConfig, type Shape3, type ActivationName, type InitializerName, type PaddingName } from './base.js';

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
  /** Whether the layer adds a bias; default true. Keras models often leave it out before a batch normalisation. */
  useBias?: boolean;
  /** A penalty on the kernel added to the loss: `regularizers.l2(0.01)`, `regularizers.l1(…)`, `regularizers.l1l2({ l1, l2 })`, or `'l1'` / `'l2'`. */
  kernelRegularizer?: Regularizer | 'l1' | 'l2';
  /**
   * A connection table, as LeNet-5's C3 has: `connections[f]` lists, ascending, the input maps
   * filter `f` reads. The kernel then holds only those weights: for each filter in turn,
   * `[kh, kw, connections[f].length]`, and its saved shape is their total count.
   */
  connections?: number[][];
}

export class Conv2D extends Layer {
  readonly className = 'Conv2D';
  readonly type = 'conv2d';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingName;
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  readonly useBias: boolean;
  /** The kernel's penalty, if any. */
  readonly kernelRegularizer: { l1: number; l2: number } | undefined;
  /** The connection table, if any (the config's `connections`). */
  readonly table: number[][] | undefined;

  constructor(c: Conv2DConfig) {
    super(c, 'conv2d', ['filters', 'kernelSize', 'strides', 'padding', 'activation', 'kernelInitializer', 'biasInitializer', 'useBias', 'kernelRegularizer', 'connections']);
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
    if (c.useBias !== undefined && typeof c.useBias !== 'boolean') throw new InvalidArgumentError(`conv2d: useBias must be true or false, got ${String(c.useBias)}`);
    this.useBias = c.useBias ?? true;
    this.kernelRegularizer = checkRegularizer('conv2d: kernelRegularizer', c.kernelRegularizer);
    if (!this.useBias && this.table) throw new InvalidArgumentError('conv2d: a conv with a connection table always has a bias (useBias must be true)');
  }

  outputShape([h, w, c]: Shape3): Shape3 {
    const [oh, ow] = windows(h, w, this.kernelSize, this.strides, this.padding);
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
    return this.kernelWeights(c) + (this.useBias ? this.filters : 0);
  }
  override connections(input: Shape3): number {
    const [oh, ow] = this.outputShape(input);
    return oh * ow * this.paramCount(input);
  }
  override weightShapes([, , c]: Shape3) {
    return [
      { name: 'kernel', shape: this.table ? [this.kernelWeights(c)] : [this.kernelSize[0], this.kernelSize[1], c, this.filters] },
      ...(this.useBias ? [{ name: 'bias', shape: [this.filters] }] : []),
    ];
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    const { filters, kernelSize, strides, padding, activation, kernelInitializer, biasInitializer, table } = this;
    return { filters, kernelSize, strides, padding, activation, kernelInitializer, biasInitializer, ...(this.useBias ? {} : { useBias: false }), ...(this.kernelRegularizer ? { kernelRegularizer: this.kernelRegularizer } : {}), ...(table ? { connections: table } : {}) };
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
      use_bias: this.useBias,
      ...(this.kernelRegularizer ? { kernel_regularizer: this.kernelRegularizer } : {}),
      ...(this.table ? { connections: this.table } : {}),
    };
  }
}
