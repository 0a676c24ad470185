/**
 * ELU (Keras's layer).
 * @module
 */
import { Layer, nonNegative, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.elu}. */
export interface ELUConfig extends BaseLayerConfig {
  /** `alpha·(e^x − 1)` below zero, ≥ 0; default 1. */
  alpha?: number;
}

/** x where x > 0, else alpha·(e^x − 1). */
export class ELU extends Layer {
  readonly className = 'ELU';
  readonly type = 'elu';
  readonly alpha: number;
  constructor(c: ELUConfig) {
    super(c, 'elu', ['alpha']);
    this.alpha = nonNegative('elu: alpha', c.alpha, 1);
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  config() {
    return { alpha: this.alpha };
  }
  spec() {
    return { type: 'elu', alpha: this.alpha };
  }
}
