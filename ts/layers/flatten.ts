/**
 * Flatten (Keras's): [h, w, c] to [h·w·c].
 * @module
 */
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

export class Flatten extends Layer {
  readonly className = 'Flatten';
  readonly type = 'flatten';
  constructor(c: BaseLayerConfig) {
    super(c, 'flatten', []);
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    return [1, 1, h * w * c];
  }
  config() {
    return {};
  }
  spec() {
    return { type: 'flatten' };
  }
}
