/**
 * Add (Keras's): the element-wise sum of two or more inputs of one shape, added in their order.
 * A merge layer: it joins the branches of a graph model (a residual connection), so it is applied
 * to a list of tensors, `layers.add().apply([a, b])`, and cannot be a {@link Sequential}'s layer.
 * @module
 */
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

export class Add extends Layer {
  readonly className = 'Add';
  readonly type = 'add';
  constructor(c: BaseLayerConfig) {
    super(c, 'add', []);
  }
  outputShape(input: Shape3): Shape3 {
    return this.mergedShape([input]);
  }
  override mergedShape(inputs: readonly Shape3[]): Shape3 {
    if (inputs.length < 2) throw new Error(`add merges two or more inputs, got ${inputs.length}; apply it to a list of tensors in a graph model (layers.add().apply([a, b]), see model())`);
    const first = inputs[0]!;
    inputs.forEach((s, k) => {
      if (s.some((d, j) => d !== first[j])) throw new Error(`its inputs must have one shape: input 0 is [${first.join(', ')}], input ${k} is [${s.join(', ')}]`);
    });
    return [...first];
  }
  config() {
    return {};
  }
  spec() {
    return { type: 'add' };
  }
}
