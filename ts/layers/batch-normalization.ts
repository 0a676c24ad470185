/**
 * BatchNormalization (Keras's, over the last axis).
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.batchNormalization}. Defaults are Keras's. */
export interface BatchNormalizationConfig extends BaseLayerConfig {
  /** The moving statistics' momentum: `moving = moving·momentum + batch·(1 − momentum)`; default 0.99. */
  momentum?: number;
  /** Added to the variance; default 0.001. */
  epsilon?: number;
  /** Whether the layer has β (an offset); default true. */
  center?: boolean;
  /** Whether the layer has γ (a scale); default true. */
  scale?: boolean;
}

/**
 * Normalises each channel: in training by the batch's mean and (biased) variance, in inference
 * by the moving ones, then scales by γ and shifts by β. In data-parallel training each
 * micro-batch is normalised by its own statistics (like Keras's `virtual_batch_size`), so results
 * depend on `microBatchSize`, never on the number of workers.
 */
export class BatchNormalization extends Layer {
  readonly className = 'BatchNormalization';
  readonly type = 'batchNormalization';
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  constructor(c: BatchNormalizationConfig) {
    super(c, 'batchNormalization', ['momentum', 'epsilon', 'center', 'scale']);
    const num = (what: string, v: unknown, fallback: number, ok: (v: number) => boolean, rule: string) => {
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !ok(v)) throw new InvalidArgumentError(`batchNormalization: ${what} must be ${rule}, got ${String(v)}`);
      return v;
    };
    const flag = (what: string, v: unknown) => {
      if (v === undefined) return true;
      if (typeof v !== 'boolean') throw new InvalidArgumentError(`batchNormalization: ${what} must be true or false, got ${String(v)}`);
      return v;
    };
    this.momentum = num('momentum', c.momentum, 0.99, (v) => v >= 0 && v <= 1, 'in [0, 1]');
    this.epsilon = num('epsilon', c.epsilon, 1e-3, (v) => Number.isFinite(v) && v > 0, 'a finite number > 0');
    this.center = flag('center', c.center);
    this.scale = flag('scale', c.scale);
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  override paramCount([, , c]: Shape3): number {
    return c * (Number(this.scale) + Number(this.center) + 2);
  }
  override nonTrainableCount([, , c]: Shape3): number {
    return 2 * c;
  }
  /** A multiply-add per value (inference's `x·scale + shift`). */
  override connections([h, w, c]: Shape3): number {
    return 2 * h * w * c;
  }
  override weightShapes([, , c]: Shape3) {
    return [
      ...(this.scale ? [{ name: 'gamma', shape: [c] }] : []),
      ...(this.center ? [{ name: 'beta', shape: [c] }] : []),
      { name: 'moving_mean', shape: [c] },
      { name: 'moving_variance', shape: [c] },
    ];
  }
  config() {
    const { momentum, epsilon, center, scale } = this;
    return { momentum, epsilon, center, scale };
  }
  spec() {
    const { momentum, epsilon, center, scale } = this;
    return { type: 'batch_normalization', momentum, epsilon, center, scale };
  }
}
