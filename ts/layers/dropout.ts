/**
 * Dropout (Keras's), seeded inside the wasm.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.dropout}. */
export interface DropoutConfig extends BaseLayerConfig {
  /** The fraction of values dropped in training, in [0, 1). */
  rate: number;
}

export class Dropout extends Layer {
  readonly className = 'Dropout';
  readonly type = 'dropout';
  readonly rate: number;
  constructor(c: DropoutConfig) {
    super(c, 'dropout', ['rate']);
    if (typeof c.rate !== 'number' || !(c.rate >= 0 && c.rate < 1)) {
      throw new InvalidArgumentError(`dropout: rate must be in [0, 1), got ${String(c.rate)}`);
    }
    this.rate = c.rate;
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  config() {
    return { rate: this.rate };
  }
  spec() {
    return { type: 'dropout', rate: this.rate };
  }
}
