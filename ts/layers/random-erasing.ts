/**
 * RandomErasing (Keras 3's).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, valueRange, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.randomErasing}. */
export interface RandomErasingConfig extends BaseLayerConfig {
  /**
   * Each image's erasing probability is drawn from `[low, high]`; a number `p` is `[0, p]`, so
   * on average `p / 2` of the images are erased. Default 1 (half of them), as in Keras.
   */
  factor?: number | [number, number];
  /**
   * The rectangle's width and height are the image's times the square roots of two draws from
   * `[low, high]` (a number `s` is `[0, s]`); default `[0.02, 0.33]`, as in Keras.
   */
  scale?: number | [number, number];
  /** The value erased positions take, clipped to `valueRange`; default `null`: a standard normal draw times `valueRange[1]`, clipped. */
  fillValue?: number | null;
  /** The range of the layer's inputs; default [0, 255] (Keras's). With inputs scaled to [0, 1], use [0, 1]. */
  valueRange?: [number, number];
}

/** `[low, high]` within [0, 1] from a number `v` (`[0, v]`) or a pair (sorted, as Keras does). */
function unitRange(name: string, value: unknown, given: unknown): [number, number] {
  const pair: unknown[] = typeof value === 'number' ? [0, value] : (value as unknown[]);
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
  if (!Array.isArray(pair) || pair.length !== 2 || !ok(pair[0]) || !ok(pair[1])) {
    throw new InvalidArgumentError(`randomErasing: ${name} must be a number in [0, 1] or [low, high] within [0, 1], got ${JSON.stringify(given)}`);
  }
  const [a, b] = pair as [number, number];
  return a <= b ? [a, b] : [b, a];
}

/** Replaces a random rectangle of some images with a fill value or noise in training; the identity in inference. */
export class RandomErasing extends Layer {
  readonly className = 'RandomErasing';
  readonly type = 'randomErasing';
  readonly factor: [number, number];
  readonly scale: [number, number];
  readonly fillValue: number | null;
  readonly valueRange: [number, number];
  constructor(c: RandomErasingConfig = {}) {
    super(c, 'randomErasing', ['factor', 'scale', 'fillValue', 'valueRange']);
    this.factor = unitRange('factor', c.factor ?? 1, c.factor);
    this.scale = unitRange('scale', c.scale ?? [0.02, 0.33], c.scale);
    const fill = c.fillValue ?? null;
    if (fill !== null && !(typeof fill === 'number' && Number.isFinite(fill))) {
      throw new InvalidArgumentError(`randomErasing: fillValue must be a finite number or null, got ${JSON.stringify(c.fillValue)}`);
    }
    this.fillValue = fill;
    this.valueRange = valueRange('randomErasing: valueRange', c.valueRange);
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  config() {
    return { factor: this.factor, scale: this.scale, fillValue: this.fillValue, valueRange: this.valueRange };
  }
  spec() {
    return { type: 'random_erasing', factor: this.factor, scale: this.scale, fill_value: this.fillValue, value_range: this.valueRange };
  }
}
