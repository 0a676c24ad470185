/**
 * Geometric augmentation (Keras's RandomTranslation, RandomRotation, RandomZoom, RandomFlip, and
 * LeNet-5's random affine distortions): one warp layer in the wasm, drawn per image from the
 * model's seeded generator in training, the identity in inference.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, oneOf, type BaseLayerConfig, type Shape3 } from './base.js';

/** How pixels outside the image are filled (Keras's `fill_mode`); `constant` uses `fillValue`. */
export type FillMode = 'reflect' | 'wrap' | 'nearest' | 'constant';
/** A factor: `f` for the range [−f, f], or `[low, high]`. */
export type Factor = number | [number, number];

/** Options the warps share. */
export interface FillConfig extends BaseLayerConfig {
  /** Default `reflect` (Keras's). */
  fillMode?: FillMode;
  /** With `fillMode: 'constant'`; default 0. */
  fillValue?: number;
}

/** Configuration of {@link layers.randomTranslation}. */
export interface RandomTranslationConfig extends FillConfig {
  /** Fraction of the height to shift by, drawn per image. */
  heightFactor: Factor;
  /** Fraction of the width. */
  widthFactor: Factor;
}

/** Configuration of {@link layers.randomRotation}. */
export interface RandomRotationConfig extends FillConfig {
  /** Fraction of a full turn (0.1 is ±36°). */
  factor: Factor;
}

/** Configuration of {@link layers.randomZoom}. */
export interface RandomZoomConfig extends FillConfig {
  /** The zoom is `1 + factor` (positive zooms out). */
  heightFactor: Factor;
  /** Default: the width zooms as the height. */
  widthFactor?: Factor;
}

/** Configuration of {@link layers.randomFlip}. */
export interface RandomFlipConfig extends BaseLayerConfig {
  /** Default `horizontal_and_vertical` (Keras's: both at once, half the time). */
  mode?: 'horizontal' | 'vertical' | 'horizontal_and_vertical';
}

/** Configuration of {@link layers.randomAffine}: each parameter uniform in ±its bound per image. */
export interface RandomAffineConfig extends FillConfig {
  /** Pixels, horizontal and vertical. */
  translation?: number;
  /** Relative scaling (0.1: 0.9–1.1). */
  scale?: number;
  /** Squeezing: horizontal scale `1 + q` with vertical `1/(1 + q)`. */
  squeeze?: number;
  /** Horizontal shearing: x moves by `shear·y`. */
  shear?: number;
}

type WarpType = 'randomTranslation' | 'randomRotation' | 'randomZoom' | 'randomFlip' | 'randomAffine';
const CLASS_NAMES: Record<WarpType, string> = {
  randomTranslation: 'RandomTranslation',
  randomRotation: 'RandomRotation',
  randomZoom: 'RandomZoom',
  randomFlip: 'RandomFlip',
  randomAffine: 'RandomAffine',
};
const KEYS: Record<WarpType, readonly string[]> = {
  randomTranslation: ['heightFactor', 'widthFactor', 'fillMode', 'fillValue'],
  randomRotation: ['factor', 'fillMode', 'fillValue'],
  randomZoom: ['heightFactor', 'widthFactor', 'fillMode', 'fillValue'],
  randomFlip: ['mode'],
  randomAffine: ['translation', 'scale', 'squeeze', 'shear', 'fillMode', 'fillValue'],
};

/** A factor as `[low, high]` within ±limit. */
function span(what: string, v: unknown, limit: number): [number, number] {
  const pair = typeof v === 'number' ? [-v, v] : v;
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((x) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= limit) || pair[0] > pair[1]) {
    throw new InvalidArgumentError(`${what} must be a number in [0, ${limit}] or [low, high] within ±${limit}, got ${JSON.stringify(v)}`);
  }
  return [pair[0], pair[1]];
}

function bound(what: string, v: unknown, limit: number): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > limit) throw new InvalidArgumentError(`${what} must be a number in [0, ${limit}], got ${String(v)}`);
  return v;
}

/** An augmentation warp: the identity in inference, a random transform per image in training. */
export class RandomWarp extends Layer {
  readonly settings: Record<string, unknown>;
  constructor(
    readonly type: WarpType,
    c: Record<string, unknown> & BaseLayerConfig,
  ) {
    super(c, type, KEYS[type]);
    const fill = type === 'randomFlip' ? {} : { fillMode: oneOf(`${type}: fillMode`, c.fillMode as FillMode | undefined, ['reflect', 'wrap', 'nearest', 'constant'], 'reflect'), fillValue: fillValue(type, c.fillValue) };
    switch (type) {
      case 'randomTranslation':
        this.settings = { heightFactor: span(`${type}: heightFactor`, c.heightFactor, 1), widthFactor: span(`${type}: widthFactor`, c.widthFactor, 1), ...fill };
        break;
      case 'randomRotation':
        this.settings = { factor: span(`${type}: factor`, c.factor, 1), ...fill };
        break;
      case 'randomZoom':
        this.settings = { heightFactor: span(`${type}: heightFactor`, c.heightFactor, 1), ...(c.widthFactor === undefined ? {} : { widthFactor: span(`${type}: widthFactor`, c.widthFactor, 1) }), ...fill };
        break;
      case 'randomFlip':
        this.settings = { mode: oneOf(`${type}: mode`, c.mode as 'horizontal' | undefined, ['horizontal', 'vertical', 'horizontal_and_vertical'], 'horizontal_and_vertical') };
        break;
      case 'randomAffine':
        this.settings = {
          translation: bound(`${type}: translation`, c.translation, 1e4),
          scale: bound(`${type}: scale`, c.scale, 0.9),
          squeeze: bound(`${type}: squeeze`, c.squeeze, 0.9),
          shear: bound(`${type}: shear`, c.shear, 1),
          ...fill,
        };
        break;
    }
  }
  get className() {
    return CLASS_NAMES[this.type];
  }
  outputShape(input: Shape3): Shape3 {
    return input;
  }
  config() {
    return { ...this.settings };
  }
  spec() {
    const snakeKeys = Object.entries(this.settings).map(([k, v]) => [k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), v]);
    const type = this.type.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
    return { type, ...Object.fromEntries(snakeKeys) };
  }
}

function fillValue(type: string, v: unknown): number {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`${type}: fillValue must be a finite number, got ${String(v)}`);
  return v;
}
