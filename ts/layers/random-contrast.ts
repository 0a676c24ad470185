/**
 * RandomContrast (Keras 3's).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, valueRange, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.randomContrast}. */
export interface RandomContrastConfig extends BaseLayerConfig {
  /** `f` or `[lower, upper]`: each image's factor is drawn from [1 − lower, 1 + upper]. */
  factor: number | [number, number];
  /** Outputs are clipped to it; default [0, 255] (Keras's). With inputs scaled to [0, 1], use [0, 1]. */
  valueRange?: [number, number];
}

/** Scales each image's channels about their mean by a random factor in training; the identity in inference. */
export class RandomContrast extends Layer {
  readonly className = 'RandomContrast';
  readonly type = 'randomContrast';
  readonly factor: [number, number];
  readonly valueRange: [number, number];
  constructor(c: RandomContrastConfig) {
    super(c, 'randomContrast', ['factor', 'valueRange']);
    const f: unknown[] = typeof c.factor === 'number' ? [c.factor, c.factor] : c.factor;
    const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (!Array.isArray(f) || f.length !== 2 || !ok(f[0]) || !ok(f[1]) || f[0] > 1) {
      throw new InvalidArgumentError(`randomContrast: factor must be a number or [lower, upper], lower in [0, 1] and upper ≥ 0, got ${JSON.stringify(c.factor)}`);
    }
    this.factor = [f[0] as number, f[1] as number];
    this.valueRange = valueRange('randomContrast: valueRange', c.valueRange);
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  config() {
    return { factor: this.factor, valueRange: this.valueRange };
  }
  spec() {
    return { type: 'random_contrast', factor: this.factor, value_range: this.valueRange };
  }
}
