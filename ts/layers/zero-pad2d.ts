/**
 * ZeroPadding2D (Keras's), with any fill value.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, checkInt, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.zeroPad2d}. */
export interface ZeroPad2DConfig extends BaseLayerConfig {
  /** Cells added: `n` on every side, `[rows, cols]` symmetric, or `[[top, bottom], [left, right]]`. */
  padding: number | [number, number] | [[number, number], [number, number]];
  /** The value of the added cells; default 0 (Keras's ZeroPadding2D). LeNet-5 uses its background, −0.1. */
  value?: number;
}

export class ZeroPadding2D extends Layer {
  readonly className = 'ZeroPadding2D';
  readonly type = 'zeroPad2d';
  readonly padding: [[number, number], [number, number]];
  readonly value: number;
  constructor(c: ZeroPad2DConfig) {
    super(c, 'zeroPad2d', ['padding', 'value']);
    const p = c.padding;
    const side = (what: string, v: unknown) => checkInt(what, v, 0);
    if (typeof p === 'number') this.padding = [[side('zeroPad2d: padding', p), p], [p, p]];
    else if (Array.isArray(p) && p.length === 2 && typeof p[0] === 'number') {
      const [r, k] = [side('zeroPad2d: padding[0]', p[0]), side('zeroPad2d: padding[1]', p[1])];
      this.padding = [[r, r], [k, k]];
    } else if (Array.isArray(p) && p.length === 2 && Array.isArray(p[0]) && Array.isArray(p[1]) && p[0].length === 2 && p[1].length === 2) {
      this.padding = [
        [side('zeroPad2d: top', p[0][0]), side('zeroPad2d: bottom', p[0][1])],
        [side('zeroPad2d: left', p[1][0]), side('zeroPad2d: right', p[1][1])],
      ];
    } else {
      throw new InvalidArgumentError(`zeroPad2d: padding must be n, [rows, cols] or [[top, bottom], [left, right]], got ${JSON.stringify(p)}`);
    }
    this.value = c.value ?? 0;
    if (typeof this.value !== 'number' || !Number.isFinite(this.value)) throw new InvalidArgumentError(`zeroPad2d: value must be a finite number, got ${String(c.value)}`);
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    const [[t, b], [l, r]] = this.padding;
    return [h + t + b, w + l + r, c];
  }
  config() {
    return { padding: this.padding, value: this.value };
  }
  spec() {
    return { type: 'zero_padding2d', padding: this.padding, value: this.value };
  }
}
