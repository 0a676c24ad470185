/**
 * Global average and max pooling (Keras's GlobalAveragePooling2D and GlobalMaxPooling2D).
 * @module
 */
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

/** The mean or the largest value of each channel over the whole image: [h, w, c] to [c]. */
export class GlobalPool2D extends Layer {
  constructor(
    readonly type: 'globalAveragePooling2d' | 'globalMaxPooling2d',
    c: BaseLayerConfig,
  ) {
    super(c, type, []);
  }
  get className() {
    return this.type === 'globalAveragePooling2d' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D';
  }
  outputShape([, , c]: Shape3): Shape3 {
    return [1, 1, c];
  }
  override connections([h, w, c]: Shape3): number {
    return h * w * c;
  }
  config() {
    return {};
  }
  spec() {
    return { type: this.type === 'globalAveragePooling2d' ? 'global_average_pool2d' : 'global_max_pool2d' };
  }
}
