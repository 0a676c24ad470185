/**
 * Graph models, built as in TF.js: {@link input} makes the model's input tensor, each layer's
 * `apply()` the next tensor, and {@link model} the model. One input and one output; a layer may
 * read any tensor made before it, and {@link layers.add} merges branches (a residual connection).
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import { SymbolicTensor, checkShape, nextTensorId, type Layer, type Shape3 } from './layers/base.js';
import { LayersModel } from './sequential.js';
import type { Preprocessing } from './config.js';
import { checkKeys, describe } from './validate.js';

/** Options of {@link input}. */
export interface InputConfig {
  /** [height, width, channels] of one example. */
  shape: Shape3;
  /** The input's name (the summary's and model.json's); default `'input'`. */
  name?: string;
}

/** A graph model's input tensor (TF.js's `tf.input`). */
export function input(config: InputConfig): SymbolicTensor {
  checkKeys('input()', config, ['shape', 'name']);
  const shape = checkShape('input(): shape', config.shape);
  const name = config.name ?? 'input';
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError(`input(): name must be a non-empty string, got ${describe(name)}`);
  return new SymbolicTensor(shape, undefined, [], name, nextTensorId());
}

/** Options of {@link model}. */
export interface ModelConfig {
  /** The tensor from {@link input} (or a list holding it: a model has one input). */
  inputs: SymbolicTensor | readonly SymbolicTensor[];
  /** The output tensor, a layer's (or a list holding it: a model has one output). */
  outputs: SymbolicTensor | readonly SymbolicTensor[];
  /** The model's name; default `'model'`. */
  name?: string;
  /** How `Uint8Array` inputs map to floats, as {@link SequentialConfig.preprocessing}. */
  preprocessing?: Preprocessing | 'none';
}

/** A model built from its layers in order, each with the tensors it reads. */
class GraphModel extends LayersModel {
  constructor(base: { name: string; inputShape: Shape3; preprocessing: Preprocessing | 'none' | undefined; inputName: string }, nodes: readonly { layer: Layer; inputs: number[] }[]) {
    super(base);
    for (const { layer, inputs } of nodes) this.addNode(layer, inputs);
  }
}

/** The one tensor of `inputs` or `outputs`. */
function one(what: string, v: unknown): SymbolicTensor {
  const list = Array.isArray(v) ? v : [v];
  if (list.length !== 1 || !(list[0] instanceof SymbolicTensor)) {
    throw new InvalidArgumentError(`model(): ${what} must be one tensor (a model has one input and one output), got ${describe(v)}`);
  }
  return list[0];
}

/**
 * A graph model from its input and output tensors (TF.js's `tf.model`, Keras's functional
 * `Model`): the layers between them, in the order they were applied. Everything else (compile,
 * fit, predict, save, load) is as for a {@link Sequential}.
 *
 * ```ts
 * const x = input({ shape: [28, 28, 1] });
 * const a = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x);
 * const b = layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }).apply(a);
 * const y = layers.activation({ activation: 'relu' }).apply(layers.add().apply([a, b]));
 * const out = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.globalAveragePooling2d().apply(y));
 * const net = model({ inputs: x, outputs: out, preprocessing: { scale: 1 / 255, offset: 0 } });
 * ```
 */
export function model(config: ModelConfig): LayersModel {
  checkKeys('model()', config, ['inputs', 'outputs', 'name', 'preprocessing']);
  const inputTensor = one('inputs', config.inputs);
  const output = one('outputs', config.outputs);
  if (inputTensor.sourceLayer !== undefined) throw new InvalidArgumentError('model(): inputs must be a tensor from input(), not a layer\'s output');
  if (output.sourceLayer === undefined) throw new InvalidArgumentError('model(): outputs must be a layer\'s output, not an input');
  // Every tensor the output depends on; creation order is an order in which each layer comes
  // after the layers it reads.
  const reached = new Set<SymbolicTensor>();
  const pending = [output];
  while (pending.length > 0) {
    const t = pending.pop()!;
    if (reached.has(t)) continue;
    reached.add(t);
    if (t.sourceLayer === undefined && t !== inputTensor) {
      throw new InvalidArgumentError(`model(): the output depends on the input ${JSON.stringify(t.inputName)}, which is not the model's input (${JSON.stringify(inputTensor.inputName)})`);
    }
    pending.push(...t.inputs);
  }
  if (!reached.has(inputTensor)) throw new InvalidArgumentError('model(): the output does not depend on the input');
  const order = [...reached].filter((t) => t !== inputTensor).sort((a, b) => a.id - b.id);
  const index = new Map<SymbolicTensor, number>([[inputTensor, 0]]);
  order.forEach((t, k) => index.set(t, k + 1));
  const nodes = order.map((t) => ({ layer: t.sourceLayer!, inputs: t.inputs.map((i) => index.get(i)!) }));
  const name = config.name ?? 'model';
  return new GraphModel({ name, inputShape: inputTensor.shape, preprocessing: config.preprocessing, inputName: inputTensor.inputName! }, nodes);
}

/**
 * @internal A graph model from saved layers and what each reads, by name (model.json's `Model`
 * topology): each name the input's or an earlier layer's.
 */
export function graphModel(
  base: { name: string; inputShape: Shape3; preprocessing: Preprocessing | 'none' | undefined; inputName: string },
  layers: readonly Layer[],
  inbound: readonly string[][],
): LayersModel {
  const index = new Map<string, number>([[base.inputName, 0]]);
  const nodes = layers.map((layer, i) => {
    const inputs = inbound[i]!.map((name) => {
      const t = index.get(name);
      if (t === undefined) throw new InvalidArgumentError(`layer ${i} (${JSON.stringify(layer.name)}) reads ${JSON.stringify(name)}, which is neither the input nor an earlier layer`);
      return t;
    });
    if (layer.name !== undefined) index.set(layer.name, i + 1);
    return { layer, inputs };
  });
  return new GraphModel(base, nodes);
}
