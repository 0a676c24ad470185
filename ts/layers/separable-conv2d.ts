/**
 * Separable 2-D convolution (Keras's SeparableConv2D).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { checkRegularizer, type Regularizer } from '../regularizers.js';
import { Layer, ACTIVATIONS, INITIALIZERS, snake, checkInt, pair, oneOf, windows, type BaseLayerConfig, type Shape3, type ActivationName, type InitializerName, type PaddingName } from './base.js';

/** Configuration of {@link layers.separableConv2d}. */
export interface SeparableConv2DConfig extends BaseLayerConfig {
  /** Output channels of the pointwise (1×1) convolution. */
  filters: number;
  /** The depthwise kernel's height and width. */
  kernelSize: number | [number, number];
  /** Default 1. */
  strides?: number | [number, number];
  /** Default `valid`. */
  padding?: PaddingName;
  /** Depthwise filters per input channel; default 1. */
  depthMultiplier?: number;
  /** Default `linear`. */
  activation?: ActivationName;
  /** Default `glorotUniform`. */
  depthwiseInitializer?: InitializerName;
  /** Default `glorotUniform`. */
  pointwiseInitializer?: InitializerName;
  /** Default `zeros`. */
  biasInitializer?: InitializerName;
  /** Default true. */
  useBias?: boolean;
  /** A penalty on the depthwise kernel, added to the loss (Keras's `depthwise_regularizer`). */
  depthwiseRegularizer?: Regularizer | 'l1' | 'l2';
  /** A penalty on the pointwise kernel, added to the loss (Keras's `pointwise_regularizer`). */
  pointwiseRegularizer?: Regularizer | 'l1' | 'l2';
}

/** A depthwise convolution (no bias) then a 1×1 convolution with a bias, then the activation. */
export class SeparableConv2D extends Layer {
  readonly className = 'SeparableConv2D';
  readonly type = 'separableConv2d';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingName;
  readonly depthMultiplier: number;
  readonly activation: ActivationName;
  readonly depthwiseInitializer: InitializerName;
  readonly pointwiseInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  readonly useBias: boolean;
  readonly depthwiseRegularizer: { l1: number; l2: number } | undefined;
  readonly pointwiseRegularizer: { l1: number; l2: number } | undefined;
  constructor(c: SeparableConv2DConfig) {
    super(c, 'separableConv2d', ['filters', 'kernelSize', 'strides', 'padding', 'depthMultiplier', 'activation', 'depthwiseInitializer', 'pointwiseInitializer', 'biasInitializer', 'useBias', 'depthwiseRegularizer', 'pointwiseRegularizer']);
    this.filters = checkInt('separableConv2d: filters', c.filters);
    this.kernelSize = pair('separableConv2d: kernelSize', c.kernelSize, [0, 0]);
    this.strides = pair('separableConv2d: strides', c.strides, [1, 1]);
    this.padding = oneOf('separableConv2d: padding', c.padding, ['valid', 'same'], 'valid');
    this.depthMultiplier = c.depthMultiplier === undefined ? 1 : checkInt('separableConv2d: depthMultiplier', c.depthMultiplier);
    this.activation = oneOf('separableConv2d: activation', c.activation, ACTIVATIONS, 'linear');
    this.depthwiseInitializer = oneOf('separableConv2d: depthwiseInitializer', c.depthwiseInitializer, INITIALIZERS, 'glorotUniform');
    this.pointwiseInitializer = oneOf('separableConv2d: pointwiseInitializer', c.pointwiseInitializer, INITIALIZERS, 'glorotUniform');
    this.biasInitializer = oneOf('separableConv2d: biasInitializer', c.biasInitializer, INITIALIZERS, 'zeros');
    if (c.useBias !== undefined && typeof c.useBias !== 'boolean') throw new InvalidArgumentError(`separableConv2d: useBias must be true or false, got ${String(c.useBias)}`);
    this.useBias = c.useBias ?? true;
    this.depthwiseRegularizer = checkRegularizer('separableConv2d: depthwiseRegularizer', c.depthwiseRegularizer);
    this.pointwiseRegularizer = checkRegularizer('separableConv2d: pointwiseRegularizer', c.pointwiseRegularizer);
  }
  outputShape([h, w]: Shape3): Shape3 {
    return [...windows(h, w, this.kernelSize, this.strides, this.padding), this.filters];
  }
  override paramCount([, , c]: Shape3): number {
    const mid = c * this.depthMultiplier;
    return this.kernelSize[0] * this.kernelSize[1] * mid + mid * this.filters + (this.useBias ? this.filters : 0);
  }
  override connections(input: Shape3): number {
    const [oh, ow] = this.outputShape(input);
    return oh * ow * this.paramCount(input);
  }
  override weightShapes([, , c]: Shape3) {
    return [
      { name: 'depthwise_kernel', shape: [this.kernelSize[0], this.kernelSize[1], c, this.depthMultiplier] },
      { name: 'pointwise_kernel', shape: [1, 1, c * this.depthMultiplier, this.filters] },
      ...(this.useBias ? [{ name: 'bias', shape: [this.filters] }] : []),
    ];
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    const { filters, kernelSize, strides, padding, depthMultiplier, activation, depthwiseInitializer, pointwiseInitializer, biasInitializer, useBias, depthwiseRegularizer, pointwiseRegularizer } = this;
    return {
      ...{ filters, kernelSize, strides, padding, depthMultiplier, activation, depthwiseInitializer, pointwiseInitializer, biasInitializer, useBias },
      ...(depthwiseRegularizer ? { depthwiseRegularizer } : {}),
      ...(pointwiseRegularizer ? { pointwiseRegularizer } : {}),
    };
  }
  spec() {
    return {
      type: 'separable_conv2d',
      filters: this.filters,
      kernel_size: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
      depth_multiplier: this.depthMultiplier,
      activation: snake(this.activation),
      depthwise_initializer: snake(this.depthwiseInitializer),
      pointwise_initializer: snake(this.pointwiseInitializer),
      bias_initializer: snake(this.biasInitializer),
      use_bias: this.useBias,
      ...(this.depthwiseRegularizer ? { depthwise_regularizer: this.depthwiseRegularizer } : {}),
      ...(this.pointwiseRegularizer ? { pointwise_regularizer: this.pointwiseRegularizer } : {}),
    };
  }
}
