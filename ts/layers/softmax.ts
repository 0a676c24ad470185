/**
 * Softmax (Keras's layer, over the last axis).
 * @module
 */
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

/** A softmax over each position's channels; as the last layer, the model's output probabilities. */
export class Softmax extends Layer {
  readonly className = 'Softmax';
  readonly type = 'softmax';
  constructor(c: BaseLayerConfig) {
    super(c, 'softmax', []);
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  override endsInSoftmax() {
    return true;
  }
  config() {
    return {};
  }
  spec() {
    return { type: 'softmax' };
  }
}
