/**
 * Dense (Keras's): a fully connected layer, kernel [inputs, units].
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { checkRegularizer, type Regularizer } from '../regularizers.js';
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
  /** Whether the layer adds a bias; default true. Keras models often leave it out before a batch normalisation. */
  useBias?: boolean;
  /** A penalty on the kernel added to the loss: `regularizers.l2(0.01)`, `regularizers.l1(…)`, `regularizers.l1l2({ l1, l2 })`, or `'l1'` / `'l2'`. */
  kernelRegularizer?: Regularizer | 'l1' | 'l2';
}

export class Dense extends Layer {
  readonly className = 'Dense';
  readonly type = 'dense';
  readonly units: number;
  readonly activation: ActivationName;
  readonly kernelInitializer: InitializerName;
  readonly biasInitializer: InitializerName;
  readonly useBias: boolean;
  /** The kernel's penalty, if any. */
  readonly kernelRegularizer: { l1: number; l2: number } | undefined;
  constructor(c: DenseConfig) {
    super(c, 'dense', ['units', 'activation', 'kernelInitializer', 'biasInitializer', 'useBias', 'kernelRegularizer']);
    this.units = checkInt('dense: units', c.units);
    this.activation = oneOf('dense: activation', c.activation, ACTIVATIONS, 'linear');
    this.kernelInitializer = oneOf('dense: kernelInitializer', c.kernelInitializer, INITIALIZERS, 'glorotUniform');
    this.biasInitializer = oneOf('dense: biasInitializer', c.biasInitializer, INITIALIZERS, 'zeros');
    if (c.useBias !== undefined && typeof c.useBias !== 'boolean') throw new InvalidArgumentError(`dense: useBias must be true or false, got ${String(c.useBias)}`);
    this.useBias = c.useBias ?? true;
    this.kernelRegularizer = checkRegularizer('dense: kernelRegularizer', c.kernelRegularizer);
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    if (h !== 1 || w !== 1) throw new Error(`its input is ${h}×${w}×${c}; add a flatten layer before it`);
    return [1, 1, this.units];
  }
  override paramCount([, , c]: Shape3): number {
    return c * this.units + (this.useBias ? this.units : 0);
  }
  override connections(input: Shape3): number {
    return this.paramCount(input);
  }
  override weightShapes([, , c]: Shape3) {
    return [
      { name: 'kernel', shape: [c, this.units] },
      ...(this.useBias ? [{ name: 'bias', shape: [this.units] }] : []),
    ];
  }
  override endsInSoftmax() {
    return this.activation === 'softmax';
  }
  config() {
    const { units, activation, kernelInitializer, biasInitializer } = this;
    return { units, activation, kernelInitializer, biasInitializer, ...(this.useBias ? {} : { useBias: false }), ...(this.kernelRegularizer ? { kernelRegularizer: this.kernelRegularizer } : {}) };
  }
  spec() {
    return {
      type: 'dense',
      units: this.units,
      activation: snake(this.activation),
      kernel_initializer: snake(this.kernelInitializer),
      bias_initializer: snake(this.biasInitializer),
      use_bias: this.useBias,
      ...(this.kernelRegularizer ? { kernel_regularizer: this.kernelRegularizer } : {}),
    };
  }
}
