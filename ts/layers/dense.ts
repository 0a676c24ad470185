/**
 * Dense (Keras's): a fully connected layer, kernel [inputs, units].
 * @module
 */
import { Layer, ACTIVATIONS, INITIALIZERS, snake, checkInt, oneOf, type BaseLayerConfig, type Shape3, type ActivationName, type InitializerName } from './base.js';

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

export class Dense extends Layer {
  readonly className = 'Dense';
  readonly type = 'dense';
  readonly units: number;
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  constructor(c: DenseConfig) {
    super(c, 'dense', ['units', 'activation', 'kernelInitializer', 'biasInitializer']);
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
