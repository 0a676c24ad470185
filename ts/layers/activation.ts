/**
 * Activation (Keras's): an activation as a layer of its own.
 * @module
 */
import { Layer, ACTIVATIONS, snake, oneOf, type BaseLayerConfig, type Shape3, type ActivationName } from './base.js';

/** Configuration of {@link layers.activation}. */
export interface ActivationConfig extends BaseLayerConfig {
  activation: ActivationName;
}

export class ActivationLayer extends Layer {
  readonly className = 'Activation';
  readonly type = 'activation';
  readonly activation: ActivationName;
  constructor(c: ActivationConfig) {
    super(c, 'activation', ['activation']);
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
