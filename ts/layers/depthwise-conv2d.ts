/**
 * Depthwise 2-D convolution (Keras's DepthwiseConv2D).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { checkRegularizer, type Regularizer } from '../regularizers.js';
import { Layer, ACTIVATIONS, INITIALIZERS, snake, checkInt, pair, oneOf, windows, type BaseLayerConfig, type Shape3, type ActivationName, type InitializerName, type PaddingName } from './base.js';

/** Configuration of {@link layers.depthwiseConv2d}. */
export interface DepthwiseConv2DConfig extends BaseLayerConfig {
  /** Kernel height and width (one number for a square kernel). */
  kernelSize: number | [number, number];
  /** Step between windows; default 1. */
  strides?: number | [number, number];
  /** Default `valid`. */
  padding?: PaddingName;
  /** Filters per input channel; default 1. Output channel `c·depthMultiplier + m` is input channel `c`'s filter `m`. */
  depthMultiplier?: number;
  /** Default `linear`. */
  activation?: ActivationName;
  /** Default `glorotUniform`. */
  depthwiseInitializer?: InitializerName;
  /** Default `zeros`. */
  biasInitializer?: InitializerName;
  /** Default true. */
  useBias?: boolean;
  /** A penalty on the kernel added to the loss (see `regularizers`). */
  depthwiseRegularizer?: Regularizer | 'l1' | 'l2';
}

/** Each input channel convolved with its own filters; the kernel is `[kh, kw, channels, depthMultiplier]`. */
export class DepthwiseConv2D extends Layer {
  readonly className = 'DepthwiseConv2D';
  readonly type = 'depthwiseConv2d';
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingName;
  readonly depthMultiplier: number;
  readonly activation: ActivationName;
  readonly depthwiseInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  readonly useBias: boolean;
  readonly depthwiseRegularizer: { l1: number; l2: number } | undefined;
  constructor(c: DepthwiseConv2DConfig) {
    super(c, 'depthwiseConv2d', ['kernelSize', 'strides', 'padding', 'depthMultiplier', 'activation', 'depthwiseInitializer', 'biasInitializer', 'useBias', 'depthwiseRegularizer']);
    this.kernelSize = pair('depthwiseConv2d: kernelSize', c.kernelSize, [0, 0]);
    this.strides = pair('depthwiseConv2d: strides', c.strides, [1, 1]);
    this.padding = oneOf('depthwiseConv2d: padding', c.padding, ['valid', 'same'], 'valid');
    this.depthMultiplier = c.depthMultiplier === undefined ? 1 : checkInt('depthwiseConv2d: depthMultiplier', c.depthMultiplier);
    this.activation = oneOf('depthwiseConv2d: activation', c.activation, ACTIVATIONS, 'linear');
    this.depthwiseInitializer = oneOf('depthwiseConv2d: depthwiseInitializer', c.depthwiseInitializer, INITIALIZERS, 'glorotUniform');
    this.biasInitializer = oneOf('depthwiseConv2d: biasInitializer', c.biasInitializer, INITIALIZERS, 'zeros');
    if (c.useBias !== undefined && typeof c.useBias !== 'boolean') throw new InvalidArgumentError(`depthwiseConv2d: useBias must be true or false, got ${String(c.useBias)}`);
    this.useBias = c.useBias ?? true;
    this.depthwiseRegularizer = checkRegularizer('depthwiseConv2d: depthwiseRegularizer', c.depthwiseRegularizer);
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    return [...windows(h, w, this.kernelSize, this.strides, this.padding), c * this.depthMultiplier];
  }
  override paramCount([, , c]: Shape3): number {
    const out = c * this.depthMultiplier;
    return this.kernelSize[0] * this.kernelSize[1] * out + (this.useBias ? out : 0);
  }
  override connections(input: Shape3): number {
    const [oh, ow] = this.outputShape(input);
    return oh * ow * this.paramCount(input);
  }
  override weightShapes([, , c]: Shape3) {
    return [
      { name: 'depthwise_kernel', shape: [this.kernelSize[0], this.kernelSize[1], c, this.depthMultiplier] },
      ...(this.useBias ? [{ name: 'bias', shape: [c * this.depthMultiplier] }] : []),
    ];
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    const { kernelSize, strides, padding, depthMultiplier, activation, depthwiseInitializer, biasInitializer, useBias, depthwiseRegularizer } = this;
    return { kernelSize, strides, padding, depthMultiplier, activation, depthwiseInitializer, biasInitializer, useBias, ...(depthwiseRegularizer ? { depthwiseRegularizer } : {}) };
  }
  spec() {
    return {
      type: 'depthwise_conv2d',
      kernel_size: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      depth_multiplier: this.depthMultiplier,
      activation: snake(this.activation),
      depthwise_initializer: snake(this.depthwiseInitializer),
      bias_initializer: snake(this.biasInitializer),
      use_bias: this.useBias,
      ...(this.depthwiseRegularizer ? { depthwise_regularizer: this.depthwiseRegularizer } : {}),
    };
  }
}
