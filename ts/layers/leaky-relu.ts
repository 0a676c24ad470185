/**
 * LeakyReLU (Keras's layer).
 * @module
 */
import { Layer, nonNegative, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.leakyReLU}. */
export interface LeakyReLUConfig extends BaseLayerConfig {
  /** The slope below zero, ≥ 0; default 0.3 (Keras's and TF.js's layer default). Keras 3 calls it `negative_slope`, TF.js `alpha`. */
  alpha?: number;
}

/** x where x ≥ 0, else alpha·x. */
export class LeakyReLU extends Layer {
  readonly className = 'LeakyReLU';
  readonly type = 'leakyReLU';
  readonly alpha: number;
  constructor(c: LeakyReLUConfig) {
    super(c, 'leakyReLU', ['alpha']);
    this.alpha = nonNegative('leakyReLU: alpha', c.alpha, 0.3);
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  config() {
    return { alpha: this.alpha };
  }
  spec() {
    return { type: 'leaky_relu', negative_slope: this.alpha };
  }
}
