/**
 * The TensorFlow.js Layers format: `model.json` (`format: 'layers-model'`, a Keras-style
 * Sequential topology, or a functional `Model` for a graph) plus one weights shard, which
 * `tf.loadLayersModel` reads, and back; Keras 3's own `Functional` topology JSON is read too.
 *
 * Our preprocessing becomes a leading `Rescaling` layer, so the TF.js model takes the raw values
 * (pixels 0–255 as floats) and computes exactly what `predict` on 8-bit pixels computes here.
 * Layers TF.js has no equivalent for (LeNet-5's subsampling, a connection-table conv, RBF
 * outputs, LeCun's tanh, padding with a non-zero value) make an error that names the layer.
 * @module
 */
import { TfjsFormatError } from './errors.js';

import { layers as make, type Layer, type Shape3 } from './layers/index.js';
import { fileSystem } from './platform.js';
import { directoryOf } from './io.js';
import { isObject, isPlainFileName } from './validate.js';
import { Sequential, type LayersModel } from './sequential.js';
import { graphModel } from './functional.js';

/** A model in TF.js's Layers format, in memory: what `tf.io.fromMemory` takes. */
export interface TfjsArtifacts {
  /**
   * A `Sequential`'s layers in order, or a graph's (`Model`, TF.js's functional models): each
   * layer with its `name` and `inbound_nodes`, and the `input_layers` and `output_layers`.
   */
  modelTopology: {
    class_name: 'Sequential' | 'Model';
    config: { name: string; layers: KerasLayer[]; input_layers?: [string, number, number][]; output_layers?: [string, number, number][] };
    keras_version: string;
    backend: string;
  };
  weightSpecs: { name: string; shape: number[]; dtype: 'float32' }[];
  weightData: ArrayBuffer;
}

/** One layer of a TF.js Layers topology: its Keras class name and config (and in a graph its name and inbound tensors). */
export interface KerasLayer {
  class_name: string;
  config: Record<string, unknown>;
  name?: string;
  /** Keras 2's and TF.js's form: one node, the list of `[layer name, node index, tensor index, kwargs]` it reads. */
  inbound_nodes?: unknown[];
}


/**
 * Activations both sides define alike, by their Keras/TF.js names. TF.js's `hard_sigmoid` is
 * Keras 2's 0.2·x + 0.5 where ours is Keras 3's relu6(x + 3)/6, and TF.js has no `leaky_relu`
 * activation (only the LeakyReLU layer), so neither is mapped.
 */
const ACTIVATIONS: Record<string, string> = { linear: 'linear', relu: 'relu', tanh: 'tanh', sigmoid: 'sigmoid', softmax: 'softmax', elu: 'elu', gelu: 'gelu', swish: 'swish' };
const SHARD = 'group1-shard1of1.bin';
/** A kernel regularizer as TF.js writes it (its `L1L2` class covers `l1` and `l2`). */
const regularizer = (r: unknown) => (r === undefined ? null : { class_name: 'L1L2', config: r });
/** Keras's config fields for what convnet-wasm does not have. */
const NO_REGULARIZERS = { kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null };

function initializer(name: string, fanIn: number) {
  switch (name) {
    case 'zeros':
      return { class_name: 'Zeros', config: {} };
    case 'heNormal':
      return { class_name: 'VarianceScaling', config: { scale: 2, mode: 'fan_in', distribution: 'truncated_normal', seed: null } };
    case 'lecunUniform':
      return { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_in', distribution: 'uniform', seed: null } };
    case 'lenetUniform':
      return { class_name: 'RandomUniform', config: { minval: -2.4 / fanIn, maxval: 2.4 / fanIn, seed: null } };
    default:
      return { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: null } };
  }
}

/** The model in TF.js's Layers format; errors name the first layer TF.js cannot express. */
export function toTfjsLayers(model: LayersModel): TfjsArtifacts {
  const refuse = (i: number, layer: Layer, why: string) =>
    new TfjsFormatError(`toTfjsLayers(): layer ${i} (${layer.className} ${JSON.stringify(layer.name)}) ${why}; export it with exportOnnx() instead`);
  const activation = (i: number, layer: Layer, a: string) => {
    const mapped = ACTIVATIONS[a];
    if (mapped === undefined) throw refuse(i, layer, `uses the activation ${a}, which TF.js does not have`);
    return mapped;
  };
  const base = (name: string) => ({ name, trainable: true, dtype: 'float32' });
  const { scale, offset } = model.preprocessing;
  const { inputName } = model;
  // TF.js refuses two layers of one name: the Rescaling takes the first free of rescaling,
  // rescaling_1, … (a user's layer may be called rescaling).
  const taken = new Set([inputName, ...model.layers.map((l) => l.name!)]);
  let rescalingName = 'rescaling';
  for (let k = 1; taken.has(rescalingName); k++) rescalingName = `rescaling_${k}`;
  const keras: KerasLayer[] = [
    { class_name: 'Rescaling', config: { ...base(rescalingName), batch_input_shape: [null, ...model.inputShape], scale, offset } },
  ];
  // Each tensor's shape, and the layer TF.js reads it from (layers left out in inference, the
  // augmentation, stand for their input; the input is the Rescaling's output).
  const shapes = new Map<string, Shape3>([[inputName, model.inputShape]]);
  const source = new Map<string, string>([[inputName, rescalingName]]);
  const inbound: string[][] = [[inputName]];
  const summaries = model.layerSummaries();
  model.layers.forEach((layer, i) => {
    const c = layer.config() as { [key: string]: unknown; kernelSize: number[]; activation: string; kernelInitializer: string; biasInitializer: string };
    const reads = model.inboundNames(i);
    const input = shapes.get(reads[0]!)!;
    shapes.set(layer.name!, summaries[i]!.outputShape);
    const emitted = keras.length;
    const common = { ...base(layer.name!), data_format: 'channels_last' };
    switch (layer.className) {
      case 'Conv2D': {
        if (c.connections) throw refuse(i, layer, 'has a connection table');
        const fanIn = c.kernelSize[0]! * c.kernelSize[1]! * input[2];
        keras.push({
          class_name: 'Conv2D',
          config: {
            ...common,
            filters: c.filters,
            kernel_size: c.kernelSize,
            strides: c.strides,
            padding: c.padding,
            dilation_rate: [1, 1],
            activation: activation(i, layer, c.activation),
            use_bias: c.useBias !== false,
            kernel_initializer: initializer(c.kernelInitializer, fanIn),
            bias_initializer: initializer(c.biasInitializer, fanIn),
            ...NO_REGULARIZERS,
            kernel_regularizer: regularizer(c.kernelRegularizer),
          },
        });
        break;
      }
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        const k = c.kernelSize[0]! * c.kernelSize[1]!;
        const depthwise = layer.className === 'DepthwiseConv2D';
        keras.push({
          class_name: layer.className,
          config: {
            ...common,
            ...(depthwise ? {} : { filters: c.filters }),
            kernel_size: c.kernelSize,
            strides: c.strides,
            padding: c.padding,
            dilation_rate: [1, 1],
            depth_multiplier: c.depthMultiplier,
            activation: activation(i, layer, c.activation),
            use_bias: c.useBias !== false,
            depthwise_initializer: initializer(c.depthwiseInitializer as string, k * input[2]),
            ...(depthwise ? {} : { pointwise_initializer: initializer(c.pointwiseInitializer as string, input[2] * (c.depthMultiplier as number)) }),
            bias_initializer: initializer(c.biasInitializer, k * input[2]),
            depthwise_regularizer: regularizer(c.depthwiseRegularizer),
            ...(depthwise ? {} : { pointwise_regularizer: regularizer(c.pointwiseRegularizer) }),
            bias_regularizer: null,
            activity_regularizer: null,
            depthwise_constraint: null,
            ...(depthwise ? {} : { pointwise_constraint: null }),
            bias_constraint: null,
          },
        });
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        keras.push({ class_name: layer.className, config: { ...common, pool_size: c.poolSize, strides: c.strides, padding: c.padding } });
        break;
      case 'Flatten':
        keras.push({ class_name: 'Flatten', config: common });
        break;
      case 'Dense':
        keras.push({
          class_name: 'Dense',
          config: {
            ...base(layer.name!),
            units: c.units,
            activation: activation(i, layer, c.activation),
            use_bias: c.useBias !== false,
            kernel_initializer: initializer(c.kernelInitializer, input[2]),
            bias_initializer: initializer(c.biasInitializer, input[2]),
            ...NO_REGULARIZERS,
            kernel_regularizer: regularizer(c.kernelRegularizer),
          },
        });
        break;
      case 'Dropout':
        keras.push({ class_name: 'Dropout', config: { ...base(layer.name!), rate: c.rate, noise_shape: null, seed: null } });
        break;
      case 'RandomTranslation':
      case 'RandomRotation':
      case 'RandomZoom':
      case 'RandomFlip':
      case 'RandomAffine':
      case 'RandomContrast':
      case 'RandomErasing':
        // Augmentation is the identity in inference, which is what a TF.js model is for.
        break;
      case 'Add':
      case 'Multiply':
      case 'Average':
      case 'Maximum':
      case 'Minimum':
        keras.push({ class_name: layer.className, config: base(layer.name!) });
        break;
      case 'Subtract':
        throw refuse(i, layer, 'is a Subtract, which TF.js does not have');
      case 'Concatenate':
        keras.push({ class_name: 'Concatenate', config: { ...base(layer.name!), axis: -1 } });
        break;
      case 'SpatialDropout2D':
        // TF.js has no SpatialDropout2D; its Dropout with Keras's noise shape for it is the same layer.
        keras.push({ class_name: 'Dropout', config: { ...base(layer.name!), rate: c.rate, noise_shape: [null, 1, 1, input[2]], seed: null } });
        break;
      case 'Activation':
        keras.push({ class_name: 'Activation', config: { ...base(layer.name!), activation: activation(i, layer, c.activation) } });
        break;
      case 'ZeroPadding2D':
        if (c.value !== 0) throw refuse(i, layer, `pads with ${String(c.value)}, and TF.js pads only with zeros`);
        keras.push({ class_name: 'ZeroPadding2D', config: { ...common, padding: c.padding } });
        break;
      case 'BatchNormalization': {
        const init = (class_name: 'Zeros' | 'Ones') => ({ class_name, config: {} });
        keras.push({
          class_name: 'BatchNormalization',
          config: {
            ...base(layer.name!),
            axis: -1,
            momentum: c.momentum,
            epsilon: c.epsilon,
            center: c.center,
            scale: c.scale,
            beta_initializer: init('Zeros'),
            gamma_initializer: init('Ones'),
            moving_mean_initializer: init('Zeros'),
            moving_variance_initializer: init('Ones'),
            beta_regularizer: null,
            gamma_regularizer: null,
            beta_constraint: null,
            gamma_constraint: null,
          },
        });
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        keras.push({ class_name: layer.className, config: common });
        break;
      case 'Softmax':
        keras.push({ class_name: 'Softmax', config: { ...base(layer.name!), axis: -1 } });
        break;
      case 'LeakyReLU':
      case 'ELU':
        if (layer.className === 'ELU' && c.alpha !== 1) throw refuse(i, layer, `has alpha ${String(c.alpha)}, and TF.js's ELU layer takes only 1`);
        keras.push({ class_name: layer.className, config: { ...base(layer.name!), alpha: c.alpha } });
        break;
      default:
        throw refuse(i, layer, 'has no TF.js Layers equivalent');
    }
    if (keras.length > emitted) inbound.push(reads.map((name) => source.get(name)!));
    source.set(layer.name!, keras.length > emitted ? layer.name! : source.get(reads[0]!)!);
  });
  const weights = model.getWeightsFlat();
  const bytes = new Uint8Array(weights.length * 4);
  const view = new DataView(bytes.buffer);
  weights.forEach((v, i) => view.setFloat32(4 * i, v, true));
  const versions = { keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' };
  let modelTopology: TfjsArtifacts['modelTopology'] = { class_name: 'Sequential', config: { name: model.name, layers: keras }, ...versions };
  if (model.isGraph) {
    // TF.js's functional form: an InputLayer, then each layer with its name and inbound node.
    const { batch_input_shape, ...rescaling } = keras[0]!.config;
    const nodes = (names: string[]) => [names.map((name) => [name, 0, 0, {}])];
    const input: KerasLayer = { class_name: 'InputLayer', name: inputName, config: { batch_input_shape, dtype: 'float32', sparse: false, name: inputName }, inbound_nodes: [] };
    const graph = [{ ...keras[0]!, config: rescaling }, ...keras.slice(1)].map((l, k) => ({ ...l, name: String(l.config.name), inbound_nodes: nodes(inbound[k]!) }));
    const output = source.get(model.layers[model.layers.length - 1]!.name!)!;
    modelTopology = {
      class_name: 'Model',
      config: { name: model.name, layers: [input, ...graph], input_layers: [[inputName, 0, 0]], output_layers: [[output, 0, 0]] },
      ...versions,
    };
  }
  return {
    modelTopology,
    weightSpecs: model.weightSpecs().map((w) => ({ ...w, dtype: 'float32' as const })),
    weightData: bytes.buffer,
  };
}

/** Saves the model in TF.js's Layers format to `file://<dir>` (Node): `model.json` and one shard. */
export async function saveTfjsLayers(model: LayersModel, url: string): Promise<{ modelJson: string }> {
  const dir = directoryOf(url, 'file://<directory>');
  const fs = fileSystem('saveTfjsLayers(file://…)');
  const a = toTfjsLayers(model);
  await fs.mkdir(dir);
  await fs.writeFileAtomic(fs.join(dir, SHARD), new Uint8Array(a.weightData));
  const json = {
    format: 'layers-model',
    generatedBy: 'convnet-wasm',
    convertedBy: null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [SHARD], weights: a.weightSpecs }],
  };
  const path = fs.join(dir, 'model.json');
  await fs.writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(json)}\n`));
  return { modelJson: path };
}


/**
 * The names of the layers a graph's layer reads, from its `inbound_nodes`: Keras 2's and TF.js's
 * form (`[[[name, 0, 0, {}], …]]`) or Keras 3's (`[{ args: [tensor or [tensors]] }]`, each tensor's
 * `keras_history` naming its layer). One node: a layer used twice (shared) is refused.
 */
function inboundOf(l: Record<string, unknown>, fail: (why: string) => Error, what: string): string[] {
  const nodes = l.inbound_nodes;
  if (!Array.isArray(nodes) || nodes.length !== 1) throw fail(`${what} has ${Array.isArray(nodes) ? nodes.length : 'no'} inbound nodes; a layer applied once has 1 (shared layers are not read)`);
  const node = nodes[0] as unknown;
  if (Array.isArray(node)) {
    return node.map((t) => {
      if (!Array.isArray(t) || typeof t[0] !== 'string' || (t[1] ?? 0) !== 0 || (t[2] ?? 0) !== 0) throw fail(`${what} reads ${JSON.stringify(t)}; only [layer name, 0, 0] is read`);
      return t[0];
    });
  }
  const args = isObject(node) && Array.isArray(node.args) ? (node.args as unknown[]) : undefined;
  const tensors = args?.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  const names = tensors?.map((t) => {
    const history = isObject(t) && isObject(t.config) ? t.config.keras_history : undefined;
    return Array.isArray(history) && typeof history[0] === 'string' && history[1] === 0 && history[2] === 0 ? history[0] : undefined;
  });
  if (names === undefined || names.length === 0 || names.some((n) => n === undefined)) throw fail(`${what} has an inbound node convnet-wasm does not read: ${JSON.stringify(node)}`);
  return names as string[];
}

/**
 * Builds a compiled model from a TF.js Layers model (topology and weights): a {@link Sequential}
 * from a `Sequential`, a graph model from a `Model` or Keras 3's `Functional` (one input, one
 * output, the output the last layer; a leading `Rescaling` on the input becomes the
 * preprocessing).
 */
export function fromTfjsLayers(artifacts: TfjsArtifacts, where = 'TF.js model'): LayersModel {
  const fail = (why: string) => new TfjsFormatError(`${where}: ${why}`);
  const topology = artifacts.modelTopology as unknown;
  const kinds = ['Sequential', 'Model', 'Functional'];
  if (!isObject(topology) || !kinds.includes(String(topology.class_name)) || !isObject(topology.config) || !Array.isArray(topology.config.layers)) {
    throw fail('only Sequential and functional (Model) topologies are read');
  }
  const graph = topology.class_name !== 'Sequential';
  let inputShape: Shape3 | undefined;
  let preprocessing = { scale: 1, offset: 0 };
  const built: Layer[] = [];
  // A graph's wiring: what each built layer reads, by name; the input's name and what stands for it.
  const inbound: string[][] = [];
  let inputName: string | undefined;
  const alias = new Map<string, string>();
  topology.config.layers.forEach((l: unknown, i: number) => {
    if (!isObject(l) || typeof l.class_name !== 'string' || !isObject(l.config)) throw fail(`layer ${i} has no class_name and config`);
    const c = l.config;
    const shape = c.batch_input_shape ?? c.batchInputShape ?? (l.class_name === 'InputLayer' ? c.batch_shape : undefined);
    if (Array.isArray(shape) && inputShape === undefined) inputShape = shape.slice(1) as Shape3;
    if (graph) {
      const name = typeof l.name === 'string' ? l.name : c.name;
      if (typeof name !== 'string') throw fail(`layer ${i} (${l.class_name}) has no name`);
      if (l.class_name === 'InputLayer') {
        if (inputName !== undefined) throw fail(`layer ${i} (InputLayer): a model has one input`);
        inputName = name;
        return;
      }
      const reads = inboundOf(l, fail, `layer ${i} (${l.class_name} ${JSON.stringify(name)})`).map((n) => alias.get(n) ?? n);
      if (l.class_name === 'Rescaling') {
        if (reads.length !== 1 || reads[0] !== inputName) throw fail(`layer ${i} (Rescaling) is only read on the input`);
        alias.set(name, inputName!);
      } else {
        inbound.push(reads);
      }
    }
    const named = typeof c.name === 'string' ? { name: c.name } : {};
    const act = (a: unknown) => {
      const known = typeof a === 'string' ? ACTIVATIONS[a] : undefined;
      if (known === undefined) throw fail(`layer ${i} (${l.class_name}) uses the activation ${JSON.stringify(a)}, which convnet-wasm does not read`);
      return known as 'linear';
    };
    // Keras 3 writes L1, L2 or L1L2 (with a module name); TF.js L1L2. Their configs hold l1 and l2.
    const penalty = (r: unknown) => {
      if (r === null || r === undefined) return {};
      if (!isObject(r) || !['L1', 'L2', 'L1L2'].includes(String(r.class_name)) || !isObject(r.config)) {
        throw fail(`layer ${i} (${l.class_name}) has a kernel regularizer convnet-wasm does not read: ${JSON.stringify(r)}`);
      }
      const { l1, l2 } = r.config;
      return { kernelRegularizer: { ...(l1 === undefined ? {} : { l1: Number(l1) }), ...(l2 === undefined ? {} : { l2: Number(l2) }) } };
    };
    const pairOf = (v: unknown) => (Array.isArray(v) ? (v as [number, number]) : typeof v === 'number' ? ([v, v] as [number, number]) : undefined);
    const channelsLast = () => {
      if (c.data_format !== undefined && c.data_format !== 'channels_last') throw fail(`layer ${i} (${l.class_name}) is channels_first`);
    };
    switch (l.class_name) {
      case 'InputLayer':
        return;
      case 'Rescaling':
        if (built.length > 0) throw fail(`layer ${i} (Rescaling) is only read as the first layer`);
        preprocessing = { scale: Number(c.scale), offset: Number(c.offset ?? 0) };
        return;
      case 'Add':
      case 'Subtract':
      case 'Multiply':
      case 'Average':
      case 'Maximum':
      case 'Minimum': {
        const merge = { Add: make.add, Subtract: make.subtract, Multiply: make.multiply, Average: make.average, Maximum: make.maximum, Minimum: make.minimum }[l.class_name];
        built.push(merge(named));
        return;
      }
      case 'Concatenate': {
        const axis = c.axis ?? -1;
        if (axis !== -1 && axis !== 3) throw fail(`layer ${i} (Concatenate) joins axis ${JSON.stringify(c.axis)}; only the channels (-1) are read`);
        built.push(make.concatenate({ ...named, axis: axis as number }));
        return;
      }
      case 'Conv2D':
        channelsLast();
        if (pairOf(c.dilation_rate)?.some((d) => d !== 1)) throw fail(`layer ${i} (Conv2D) is dilated`);
        built.push(make.conv2d({ ...named, filters: Number(c.filters), kernelSize: pairOf(c.kernel_size)!, strides: pairOf(c.strides) ?? 1, padding: c.padding as 'same', activation: act(c.activation ?? 'linear'), useBias: c.use_bias !== false, ...penalty(c.kernel_regularizer) }));
        return;
      case 'DepthwiseConv2D':
      case 'SeparableConv2D': {
        channelsLast();
        if (pairOf(c.dilation_rate)?.some((d) => d !== 1)) throw fail(`layer ${i} (${l.class_name}) is dilated`);
        const common = {
          ...named,
          kernelSize: pairOf(c.kernel_size)!,
          strides: pairOf(c.strides) ?? 1,
          padding: c.padding as 'same',
          depthMultiplier: Number(c.depth_multiplier ?? 1),
          activation: act(c.activation ?? 'linear'),
          useBias: c.use_bias !== false,
        };
        const { kernelRegularizer: depthwiseRegularizer } = penalty(c.depthwise_regularizer) as { kernelRegularizer?: { l1?: number; l2?: number } };
        const depthwisePenalty = depthwiseRegularizer ? { depthwiseRegularizer } : {};
        if (l.class_name === 'SeparableConv2D') {
          const { kernelRegularizer: pointwiseRegularizer } = penalty(c.pointwise_regularizer) as { kernelRegularizer?: { l1?: number; l2?: number } };
          built.push(make.separableConv2d({ ...common, filters: Number(c.filters), ...depthwisePenalty, ...(pointwiseRegularizer ? { pointwiseRegularizer } : {}) }));
        } else {
          built.push(make.depthwiseConv2d({ ...common, ...depthwisePenalty }));
        }
        return;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        channelsLast();
        const poolSize = pairOf(c.pool_size) ?? [2, 2];
        const config = { ...named, poolSize, strides: pairOf(c.strides) ?? poolSize, padding: c.padding as 'same' };
        built.push(l.class_name === 'MaxPooling2D' ? make.maxPool2d(config) : make.averagePool2d(config));
        return;
      }
      case 'Flatten':
        channelsLast();
        built.push(make.flatten(named));
        return;
      case 'Dense':
        built.push(make.dense({ ...named, units: Number(c.units), activation: act(c.activation ?? 'linear'), useBias: c.use_bias !== false, ...penalty(c.kernel_regularizer) }));
        return;
      case 'Dropout': {
        // A noise shape of [batch, 1, 1, channels] is spatial dropout; any other is refused.
        const shape = c.noise_shape ?? c.noiseShape;
        const spatial = Array.isArray(shape) && shape.length === 4 && shape[1] === 1 && shape[2] === 1;
        if (shape !== null && shape !== undefined && !spatial) throw fail(`layer ${i} (Dropout) has the noise shape ${JSON.stringify(shape)}; only none or [batch, 1, 1, channels] is read`);
        built.push(spatial ? make.spatialDropout2d({ ...named, rate: Number(c.rate) }) : make.dropout({ ...named, rate: Number(c.rate) }));
        return;
      }
      case 'SpatialDropout2D':
        built.push(make.spatialDropout2d({ ...named, rate: Number(c.rate) }));
        return;
      case 'RandomTranslation':
      case 'RandomRotation':
      case 'RandomZoom':
      case 'RandomFlip':
      case 'RandomContrast':
      case 'RandomErasing': {
        // Keras's augmentation layers, with their snake_case options.
        if (c.interpolation !== undefined && c.interpolation !== 'bilinear') throw fail(`layer ${i} (${l.class_name}) interpolates ${JSON.stringify(c.interpolation)}; only bilinear is read`);
        const keys: Record<string, string> = { height_factor: 'heightFactor', width_factor: 'widthFactor', factor: 'factor', fill_mode: 'fillMode', fill_value: 'fillValue', mode: 'mode', value_range: 'valueRange', scale: 'scale' };
        const config = Object.fromEntries(Object.entries(c).filter(([k, v]) => keys[k] !== undefined && v !== null).map(([k, v]) => [keys[k], v]));
        const factory = { RandomTranslation: make.randomTranslation, RandomRotation: make.randomRotation, RandomZoom: make.randomZoom, RandomFlip: make.randomFlip, RandomContrast: make.randomContrast, RandomErasing: make.randomErasing }[l.class_name];
        built.push(factory({ ...named, ...config } as never));
        return;
      }
      case 'Activation':
        built.push(make.activation({ ...named, activation: act(c.activation) }));
        return;
      case 'ZeroPadding2D': {
        channelsLast();
        built.push(make.zeroPad2d({ ...named, padding: c.padding as [[number, number], [number, number]] }));
        return;
      }
      case 'BatchNormalization': {
        const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis;
        if (axis !== undefined && axis !== -1 && axis !== 3) throw fail(`layer ${i} (BatchNormalization) normalises axis ${JSON.stringify(c.axis)}; only the channels (-1) are read`);
        const given = Object.fromEntries((['momentum', 'epsilon', 'center', 'scale'] as const).filter((k) => c[k] !== undefined).map((k) => [k, c[k]]));
        built.push(make.batchNormalization({ ...named, ...given }));
        return;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D':
        channelsLast();
        if (c.keepdims === true) throw fail(`layer ${i} (${l.class_name}) keeps its dimensions; only keepdims: false is read`);
        built.push(l.class_name === 'GlobalAveragePooling2D' ? make.globalAveragePooling2d(named) : make.globalMaxPooling2d(named));
        return;
      case 'Softmax': {
        const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis;
        if (axis !== undefined && axis !== -1) throw fail(`layer ${i} (Softmax) is over axis ${JSON.stringify(c.axis)}; only the last (-1) is read`);
        built.push(make.softmax(named));
        return;
      }
      case 'LeakyReLU':
      case 'ELU': {
        // TF.js and Keras 2 call LeakyReLU's slope alpha, Keras 3 negative_slope.
        const alpha = c.alpha ?? c.negative_slope;
        const config = { ...named, ...(alpha === undefined ? {} : { alpha: Number(alpha) }) };
        built.push(l.class_name === 'ELU' ? make.elu(config) : make.leakyReLU(config));
        return;
      }
      default:
        throw fail(`layer ${i} (${l.class_name}) is not a layer convnet-wasm reads`);
    }
  });
  if (inputShape === undefined) throw fail('the first layer has no batch_input_shape');
  let model: LayersModel;
  try {
    if (graph) {
      const ends = (key: string) => {
        // Keras 3 writes one end as [name, 0, 0], TF.js and Keras 2 a list of them.
        const list = (topology.config as Record<string, unknown>)[key];
        const all = Array.isArray(list) && typeof list[0] === 'string' ? [list] : list;
        return Array.isArray(all) ? all.map((e) => (Array.isArray(e) ? e[0] : e)) : [];
      };
      const outputs = ends('output_layers');
      const last = built[built.length - 1]?.name;
      if (inputName === undefined || ends('input_layers').length !== 1) throw fail('a functional model is read with one input (an InputLayer)');
      if (outputs.length !== 1 || outputs[0] !== last) throw fail(`a functional model is read with one output, its last layer's (${JSON.stringify(last)}); output_layers names ${JSON.stringify(outputs)}`);
      model = graphModel({ name: String(topology.config.name ?? 'model'), inputShape, preprocessing, inputName }, built, inbound);
    } else {
      model = new Sequential({ name: String(topology.config.name ?? 'sequential'), inputShape, preprocessing, layers: built });
    }
  } catch (error) {
    if (error instanceof TfjsFormatError) throw error;
    throw fail((error as Error).message);
  }
  const expected = model.weightSpecs();
  const given = artifacts.weightSpecs;
  if (!Array.isArray(given) || given.length !== expected.length) {
    throw fail(`the weights do not match the layers (expected ${expected.length} tensors: ${expected.map((w) => `[${w.shape}]`).join(', ')} in float32)`);
  }
  // TF.js writes a model's trainable weights before its non-trainable ones (batch
  // normalisation's moving statistics); Keras writes each layer's in turn, as we do. Tensors are
  // matched by name when every name matches, by position otherwise.
  const offsets = new Map<string, number>();
  given.reduce((at, s) => (offsets.set(s.name, at), at + 4 * (Array.isArray(s.shape) ? s.shape.reduce((p: number, d: number) => p * d, 1) : 0)), 0);
  const byName = new Set(given.map((s) => s.name)).size === given.length && expected.every((w) => offsets.has(w.name));
  const order = byName ? expected.map((w) => given.find((s) => s.name === w.name)!) : given;
  if (order.some((s, i) => JSON.stringify(s.shape) !== JSON.stringify(expected[i]!.shape) || s.dtype !== 'float32')) {
    throw fail(`the weights do not match the layers (expected ${expected.map((w) => `[${w.shape}]`).join(', ')} in float32)`);
  }
  const count = model.countParams();
  if (artifacts.weightData.byteLength !== 4 * count) throw fail(`the weights have ${artifacts.weightData.byteLength} bytes; the layers need ${4 * count}`);
  model.compile({});
  const view = new DataView(artifacts.weightData);
  const values = new Float32Array(count);
  let k = 0;
  for (const s of order) {
    const start = byName ? offsets.get(s.name)! : 4 * k;
    const size = s.shape.reduce((p, d) => p * d, 1);
    for (let i = 0; i < size; i++) values[k + i] = view.getFloat32(start + 4 * i, true);
    k += size;
  }
  model.setWeights(values);
  return model;
}

/** Loads a TF.js Layers model from `file://<dir>` (Node): `model.json` and its shards, in order. */
export async function loadTfjsLayers(url: string): Promise<LayersModel> {
  const dir = directoryOf(url, 'file://<directory>');
  const fs = fileSystem('loadTfjsLayers(file://…)');
  const path = fs.join(dir, 'model.json');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(await fs.readFile(path))) as Record<string, unknown>;
  } catch (error) {
    throw new TfjsFormatError(`${path}: ${(error as Error).message}`);
  }
  const groups = Array.isArray(json.weightsManifest) ? (json.weightsManifest as { paths: unknown; weights: unknown }[]) : [];
  const paths = groups.flatMap((g) => (Array.isArray(g.paths) ? g.paths : []));
  if (!paths.every(isPlainFileName)) {
    throw new TfjsFormatError(`${path}: weight paths must be file names in the model's directory`);
  }
  const parts = await Promise.all(paths.map((p) => fs.readFile(fs.join(dir, p as string))));
  const data = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
  return fromTfjsLayers(
    {
      modelTopology: json.modelTopology as TfjsArtifacts['modelTopology'],
      weightSpecs: groups.flatMap((g) => (Array.isArray(g.weights) ? g.weights : [])),
      weightData: data.buffer,
    },
    path,
  );
}
