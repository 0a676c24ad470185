/**
 * Max and average pooling (Keras's MaxPooling2D and AveragePooling2D).
 * @module
 */
import { Layer, pair, oneOf, extent, type BaseLayerConfig, type Shape3, type PaddingName } from './base.js';

/** Configuration of {@link layers.maxPool2d} and {@link layers.averagePool2d}. */
export interface Pool2DConfig extends BaseLayerConfig {
  /** Window height and width; default 2. */
  poolSize?: number | [number, number];
  /** Default: the pool size. */
  strides?: number | [number, number];
  /** Default `valid` (a window that does not fit is dropped: 7 → 3 with a 2×2 pool). */
  padding?: PaddingName;
}

export class Pool2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: PaddingName;

  constructor(
    readonly type: 'maxPool2d' | 'averagePool2d',
    c: Pool2DConfig,
  ) {
    super(c, type, ['poolSize', 'strides', 'padding']);
    this.poolSize = pair(`${type}: poolSize`, c.poolSize, [2, 2]);
    this.strides = pair(`${type}: strides`, c.strides, this.poolSize);
    this.padding = oneOf(`${type}: padding`, c.padding, ['valid', 'same'], 'valid');
  }
  get className() {
    return this.type === 'maxPool2d' ? 'MaxPooling2D' : 'AveragePooling2D';
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    const oh = extent(h, this.poolSize[0], this.strides[0], this.padding);
    const ow = extent(w, this.poolSize[1], this.strides[1], this.padding);
    if (oh === 0 || ow === 0) {
      throw new Error(`a ${this.poolSize[0]}×${this.poolSize[1]} pool with '${this.padding}' padding does not fit a ${h}×${w} input`);
    }
    return [oh, ow, c];
  }
  override connections(input: Shape3): number {
    const [oh, ow, c] = this.outputShape(input);
    return oh * ow * c * this.poolSize[0] * this.poolSize[1];
  }
  config() {
    return { poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
  spec() {
    return {
      type: this.type === 'maxPool2d' ? 'max_pool2d' : 'average_pool2d',
      pool_size: this.poolSize,
      strides: this.strides,
      padding: this.padding,
    };
  }
}
