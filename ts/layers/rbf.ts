/**
 * LeNet-5's RBF output units with fixed prototypes.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { Layer, checkInt, type BaseLayerConfig, type Shape3 } from './base.js';

/** Configuration of {@link layers.rbf}. */
export interface RbfConfig extends BaseLayerConfig {
  /** Output units (classes). */
  units: number;
  /** The fixed prototypes, `[units, inputs]` row-major; they are not trained. */
  prototypes: ArrayLike<number>;
}

export class Rbf extends Layer {
  readonly className = 'RBF';
  readonly type = 'rbf';
  readonly units: number;
  readonly prototypes: number[];
  constructor(c: RbfConfig) {
    super(c, 'rbf', ['units', 'prototypes']);
    this.units = checkInt('rbf: units', c.units);
    if (c.prototypes === null || typeof c.prototypes !== 'object' || typeof c.prototypes.length !== 'number') {
      throw new InvalidArgumentError('rbf: prototypes must be an array of units·inputs numbers');
    }
    this.prototypes = Array.from(c.prototypes, (v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`rbf: prototypes[${i}] must be a finite number, got ${String(v)}`);
      return v;
    });
  }
  outputShape([h, w, c]: Shape3): Shape3 {
    if (h !== 1 || w !== 1) throw new Error(`its input is ${h}×${w}×${c}; add a flatten layer before it`);
    if (this.prototypes.length !== this.units * c) {
      throw new Error(`${this.prototypes.length} prototype values given, expected units·inputs = ${this.units}·${c} = ${this.units * c}`);
    }
    return [1, 1, this.units];
  }
  override connections([, , c]: Shape3): number {
    return this.units * c;
  }
  override isRbf() {
    return true;
  }
  config() {
    return { units: this.units, prototypes: this.prototypes };
  }
  spec() {
    return { type: 'rbf', units: this.units, prototypes: this.prototypes };
  }
}
