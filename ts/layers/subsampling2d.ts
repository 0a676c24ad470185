/**
 * LeNet-5's subsampling: one trainable coefficient and bias per map.
 * @module
 */
import { Layer, ACTIVATIONS, INITIALIZERS, snake, pair, oneOf, extent, type BaseLayerConfig, type Shape3, type ActivationName, type InitializerName } from './base.js';

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

export class Subsampling2D extends Layer {
  readonly className = 'Subsampling2D';
  readonly type = 'subsampling2d';
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  constructor(c: Subsampling2DConfig) {
    super(c, 'subsampling2d', ['poolSize', 'strides', 'activation', 'kernelInitializer', 'biasInitializer']);
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
