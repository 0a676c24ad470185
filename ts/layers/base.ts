/**
 * What every layer shares: the shape and name types, the {@link Layer} base class and the
 * checks of layer configs. A layer is a description (config, shape inference, parameter count);
 * the numbers live in the wasm once a model holding it is compiled.
 * @module
 */
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { checkKeys } from '../validate.js';

/** Height, width, channels (NHWC without the batch). */
export type Shape3 = [number, number, number];
/**
 * Activation functions, as Keras 3 defines them. `lecunTanh` is LeCun's 1.7159·tanh(2/3·a);
 * `leakyRelu` has slope 0.2 below zero and `elu` alpha 1 (Keras's `leaky_relu` and `elu`; the
 * {@link layers.leakyReLU} and {@link layers.elu} layers take other values); `gelu` is the exact
 * x·Φ(x); `swish` is x·sigmoid(x); `hardSigmoid` is Keras 3's relu6(x + 3)/6 (TF.js's and Keras 2's
 * is 0.2·x + 0.5, clipped). `softmax` only ends a model (use {@link layers.softmax} elsewhere).
 */
export type ActivationName = 'linear' | 'relu' | 'tanh' | 'lecunTanh' | 'sigmoid' | 'softmax' | 'leakyRelu' | 'elu' | 'gelu' | 'swish' | 'hardSigmoid';
/**
 * Initialisers. `heNormal` is Keras's truncated normal, `glorotUniform` and `lecunUniform` are
 * Keras's (±√(6/(fan-in + fan-out)), ±√(3/fan-in)), and `lenetUniform` is LeNet-5's ±2.4/fan-in.
 */
export type InitializerName = 'heNormal' | 'glorotUniform' | 'lecunUniform' | 'lenetUniform' | 'zeros';
/** Keras padding: `valid` (none) or `same` (output = ceil(input / stride)). */
export type PaddingName = 'valid' | 'same';

export const ACTIVATIONS: readonly ActivationName[] = ['linear', 'relu', 'tanh', 'lecunTanh', 'sigmoid', 'softmax', 'leakyRelu', 'elu', 'gelu', 'swish', 'hardSigmoid'];
export const INITIALIZERS: readonly InitializerName[] = ['heNormal', 'glorotUniform', 'lecunUniform', 'lenetUniform', 'zeros'];
export const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Options every layer accepts. */
export interface BaseLayerConfig {
  /** The layer's name, unique in its model; by default the type plus a counter (`conv2d_1`). */
  name?: string;
  /** The input shape [height, width, channels]; needed on the first layer unless the model has one. */
  inputShape?: Shape3;
}

/**
 * A tensor of a graph model being built (TF.js's `SymbolicTensor`): its shape per example, and the
 * layer and input tensors that make it. {@link input} makes the first; {@link Layer.apply} the
 * rest; {@link model} turns them into a model.
 */
export class SymbolicTensor {
  /** Made by {@link input} and {@link Layer.apply}, not directly. */
  constructor(
    /** [height, width, channels] of one example. */
    readonly shape: Shape3,
    /** The layer that makes it; undefined for a model's input. */
    readonly sourceLayer: Layer | undefined,
    /** The tensors that layer reads. */
    readonly inputs: readonly SymbolicTensor[],
    /** The input's name, for an input; the layer's otherwise (once the model names it). */
    readonly inputName: string | undefined,
    /** Creation order: layers applied later come later in the model. */
    readonly id: number,
  ) {}
}

let tensorIds = 0;

/** A new tensor's creation number (not exported from the package). */
export function nextTensorId(): number {
  return ++tensorIds;
}

/** A layer: its configuration and how it transforms shapes. Create layers with the `layers` factories. */
export abstract class Layer {
  /** Keras's class name, e.g. `Conv2D`. */
  abstract readonly className: string;
  /** The factory name, e.g. `conv2d`, which also prefixes default names. */
  abstract readonly type: string;
  name: string | undefined;
  readonly inputShape: Shape3 | undefined;

  /** `type` is the factory's name, `keys` the options its config takes besides the common ones. */
  protected constructor(config: BaseLayerConfig, type: string, keys: readonly string[]) {
    checkKeys(type, config, ['name', 'inputShape', ...keys]);
    this.name = config.name;
    this.inputShape = config.inputShape === undefined ? undefined : checkShape('inputShape', config.inputShape);
  }

  /** The tensor this layer made when it was applied in a graph; a layer is applied once. */
  private applied: SymbolicTensor | undefined;

  /** The output shape for an input shape; throws a message naming the sizes when it cannot work. */
  abstract outputShape(input: Shape3): Shape3;

  /** The output shape for its inputs' shapes: one input but for a merge layer ({@link layers.add}). */
  mergedShape(inputs: readonly Shape3[]): Shape3 {
    if (inputs.length !== 1) throw new Error(`${this.type} takes one input, given ${inputs.length}`);
    return this.outputShape(inputs[0]!);
  }

  /**
   * Applies the layer to a tensor (a list of them for a merge layer) of a graph model being
   * built, as TF.js's `layer.apply(symbolicTensor)`: returns its output tensor, whose shape is
   * inferred now (a mismatch throws `SHAPE_MISMATCH`, naming the layer and the shapes). A layer is
   * applied once: shared layers (one layer's weights used twice) are not supported.
   */
  apply(inputs: SymbolicTensor | readonly SymbolicTensor[]): SymbolicTensor {
    const list = Array.isArray(inputs) ? (inputs as readonly SymbolicTensor[]) : [inputs as SymbolicTensor];
    const what = `${this.type}${this.name === undefined ? '' : ` ${JSON.stringify(this.name)}`}.apply()`;
    if (list.length === 0 || !list.every((t) => t instanceof SymbolicTensor)) {
      throw new InvalidArgumentError(`${what}: needs a tensor from input() or another layer's apply(), or a list of them`);
    }
    if (this.applied !== undefined) {
      throw new InvalidArgumentError(`${what}: the layer was applied already; make a new layer (shared layers are not supported)`);
    }
    let shape: Shape3;
    try {
      shape = this.mergedShape(list.map((t) => t.shape));
    } catch (error) {
      throw new ShapeMismatchError(`${what}: input${list.length > 1 ? 's' : ''} ${list.map((t) => `[${t.shape.join(', ')}]`).join(', ')}: ${(error as Error).message}`);
    }
    this.applied = new SymbolicTensor(shape, this, list, undefined, nextTensorId());
    return this.applied;
  }
  /** Parameters, trainable or not (Keras's `count_params()`). */
  paramCount(_input: Shape3): number {
    return 0;
  }
  /** Of {@link Layer.paramCount}, those that training does not step (batch normalisation's moving statistics). */
  nonTrainableCount(_input: Shape3): number {
    return 0;
  }
  /** Connections (multiply-adds and bias additions per example), as LeCun et al. count them. */
  connections(_input: Shape3): number {
    return 0;
  }
  /** The parameter tensors, in order, with their shapes (Keras's layouts). */
  weightShapes(_input: Shape3): { name: string; shape: number[] }[] {
    return [];
  }
  /** The camelCase config saved in model.json. */
  abstract config(): Record<string, unknown>;
  /** The spec the wasm runtime reads. */
  abstract spec(): Record<string, unknown>;
  /** Whether the layer ends in a softmax. */
  endsInSoftmax(): boolean {
    return false;
  }
  /** Whether the layer outputs RBF distances (LeNet-5's output). */
  isRbf(): boolean {
    return false;
  }
}

export function checkInt(what: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 1 << 24) {
    throw new InvalidArgumentError(`${what} must be an integer ≥ ${min}, got ${String(v)}`);
  }
  return v;
}

export function nonNegative(what: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InvalidArgumentError(`${what} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}

export function checkShape(what: string, s: unknown): Shape3 {
  if (!Array.isArray(s) || s.length !== 3) {
    throw new InvalidArgumentError(`${what} must be [height, width, channels], got ${JSON.stringify(s)}`);
  }
  return [checkInt(`${what}[0]`, s[0]), checkInt(`${what}[1]`, s[1]), checkInt(`${what}[2]`, s[2])];
}

export function pair(what: string, v: number | [number, number] | undefined, fallback: [number, number]): [number, number] {
  if (v === undefined) return fallback;
  if (typeof v === 'number') return [checkInt(what, v), checkInt(what, v)];
  if (!Array.isArray(v) || v.length !== 2) throw new InvalidArgumentError(`${what} must be a number or [h, w], got ${JSON.stringify(v)}`);
  return [checkInt(`${what}[0]`, v[0]), checkInt(`${what}[1]`, v[1])];
}

/** An augmentation layer's `valueRange`: `[low, high]` with low < high, Keras's [0, 255] by default. */
export function valueRange(what: string, v: unknown): [number, number] {
  const r = v ?? [0, 255];
  if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => typeof x === 'number' && Number.isFinite(x)) || !(r[0] < r[1])) {
    throw new InvalidArgumentError(`${what} must be [low, high] with low < high, got ${JSON.stringify(v)}`);
  }
  return [r[0] as number, r[1] as number];
}

export function oneOf<T extends string>(what: string, v: T | undefined, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v)) throw new InvalidArgumentError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v;
}

/** Output length along one axis, as TensorFlow computes it. */
export function extent(input: number, kernel: number, stride: number, padding: PaddingName): number {
  return padding === 'same' ? Math.ceil(input / stride) : input >= kernel ? Math.floor((input - kernel) / stride) + 1 : 0;
}

/** The output's height and width, or an error naming the sizes when the kernel does not fit. */
export function windows(h: number, w: number, [kh, kw]: [number, number], [sh, sw]: [number, number], padding: PaddingName): [number, number] {
  const oh = extent(h, kh, sh, padding);
  const ow = extent(w, kw, sw, padding);
  if (oh === 0 || ow === 0) throw new Error(`a ${kh}×${kw} kernel with '${padding}' padding does not fit a ${h}×${w} input`);
  return [oh, ow];
}
