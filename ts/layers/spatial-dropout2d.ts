/**
 * SpatialDropout2D (Keras's), seeded inside the wasm.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.spatialDropout2d}. */
export interface SpatialDropout2DConfig extends BaseLayerConfig {
  /** The fraction of feature maps dropped in training, in [0, 1). */
  rate: number;
}

/** Drops whole feature maps (channels) of each example in training; the identity in inference. */
export class SpatialDropout2D extends Layer {
  readonly className = 'SpatialDropout2D';
  readonly type = 'spatialDropout2d';
  readonly rate: number;
  constructor(c: SpatialDropout2DConfig) {
    super(c, 'spatialDropout2d', ['rate']);
    if (typeof c.rate !== 'number' || !(c.rate >= 0 && c.rate < 1)) {
      throw new InvalidArgumentError(`spatialDropout2d: rate must be in [0, 1), got ${String(c.rate)}`);
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
    return { type: 'spatial_dropout2d', rate: this.rate };
  }
}
