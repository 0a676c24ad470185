/**
 * Keras's element-wise merge layers — Add, Subtract, Multiply, Average, Maximum, Minimum — over two
 * or more inputs of one shape (Subtract: exactly two), folded in the inputs' order as Keras does.
 * They join a graph model's branches, so they are applied to a list of tensors,
 * `layers.add().apply([a, b])`, and cannot be a {@link Sequential}'s layers.
 * @module
 */
import { Layer, type BaseLayerConfig, type Shape3 } from './base.js';

/** The merges, by factory name, with Keras's class names. */
export const MERGES = { add: 'Add', subtract: 'Subtract', multiply: 'Multiply', average: 'Average', maximum: 'Maximum', minimum: 'Minimum' } as const;
export type MergeName = keyof typeof MERGES;

export class Merge extends Layer {
  readonly className: (typeof MERGES)[MergeName];
  readonly type: MergeName;
  constructor(type: MergeName, c: BaseLayerConfig) {
    super(c, type, []);
    this.type = type;
    this.className = MERGES[type];
  }
  outputShape(input: Shape3): Shape3 {
    return this.mergedShape([input]);
  }
  override mergedShape(inputs: readonly Shape3[]): Shape3 {
    const exact = this.type === 'subtract';
    if (inputs.length < 2 || (exact && inputs.length !== 2)) {
      const want = exact ? 'exactly two inputs' : 'two or more inputs';
      throw new Error(`${this.type} merges ${want}, got ${inputs.length}; apply it to a list of tensors in a graph model (layers.${this.type}().apply([a, b]), see model())`);
    }
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
    return { type: this.type };
  }
}
