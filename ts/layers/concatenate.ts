/**
 * Concatenate (Keras's) on the channel axis: inputs of one height and width, their channels one
 * after another, in the inputs' order. A merge layer, applied to a list of tensors in a graph
 * model: `layers.concatenate().apply([a, b])`.
 * @module
 */
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';
import { InvalidArgumentError } from '../errors.js';

export interface ConcatenateConfig extends BaseLayerConfig {
  /** The axis, counting the batch; only the channels (-1, the default, or 3) are concatenated. */
  axis?: number;
}

export class Concatenate extends Layer {
  readonly className = 'Concatenate';
  readonly type = 'concatenate';
  readonly axis: number;
  constructor(c: ConcatenateConfig) {
    super(c, 'concatenate', ['axis']);
    const axis = c.axis ?? -1;
    if (axis !== -1 && axis !== 3) throw new InvalidArgumentError(`concatenate: axis must be -1 (the channels; 3 is the same), got ${JSON.stringify(c.axis)}`);
    this.axis = axis;
  }
  outputShape(input: Shape3): Shape3 {
    return this.mergedShape([input]);
  }
  override mergedShape(inputs: readonly Shape3[]): Shape3 {
    if (inputs.length < 2) throw new Error(`concatenate merges two or more inputs, got ${inputs.length}; apply it to a list of tensors in a graph model (layers.concatenate().apply([a, b]), see model())`);
    const [h, w] = inputs[0]!;
    inputs.forEach((s, k) => {
      if (s[0] !== h || s[1] !== w) throw new Error(`its inputs must have one height and width: input 0 is [${inputs[0]!.join(', ')}], input ${k} is [${s.join(', ')}]`);
    });
    return [h, w, inputs.reduce((sum, s) => sum + s[2], 0)];
  }
  config() {
    return { axis: this.axis };
  }
  spec() {
    return { type: 'concatenate', axis: this.axis };
  }
}
