/**
 * ONNX export (opset 17), encoded with pbf. The graph takes the
 * model's raw input, NHWC (`input`: [N, H, W, C] float, pixels 0–255 for 8-bit data), applies the
 * preprocessing, transposes to NCHW once, and ends in `probabilities` [N, classes] — what
 * {@link Sequential.predict} returns.
 *
 * Every layer has a mapping, LeNet-5's included: a connection-table conv becomes, for each output
 * map, a Gather of its input maps and a one-filter Conv, joined by a Concat; subsampling is a
 * depthwise Conv with a ones kernel (the window sum) times the coefficient plus the bias; the RBF
 * output is Sub plus ReduceSumSquare, and its probabilities the softmax of the negative distances;
 * LeCun's tanh is Mul, Tanh, Mul. Before Flatten the data goes back to NHWC, so that dense
 * kernels keep their layout.
 * @module
 */
import type { PbfWriter as Pbf } from 'pbf';
import type { Layer, Shape3 } from './layers/index.js';
import type { LayersModel } from './sequential.js';

// The parts of onnx.proto (onnx/onnx, IR version 8) that the export writes, encoded with pbf's
// low-level writer: pbf is 0.1 MB where a schema-driven library (protobufjs) is 22 MB, and the
// export writes only nine message types. Fields go in field-number order, as protobuf encoders
// write them, so the file is what a generated encoder would give for the same graph.
const FLOAT = 1; // TensorProto.DataType
const INT64 = 7;
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const; // AttributeProto.AttributeType

interface Tensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  int64Data?: number[];
}
interface Attribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  ints?: number[];
}
interface Node {
  opType: string;
  input: string[];
  output: string[];
  name: string;
  attribute: Attribute[];
}
interface ValueInfo {
  name: string;
  elemType: number;
  dims: (number | string)[];
}

function writeTensor(t: Tensor, pbf: Pbf): void {
  pbf.writePackedVarint(1, t.dims);
  pbf.writeVarintField(2, t.dataType);
  if (t.int64Data) pbf.writePackedVarint(7, t.int64Data);
  pbf.writeStringField(8, t.name);
  if (t.rawData) pbf.writeBytesField(9, t.rawData);
}

function writeAttribute(a: Attribute, pbf: Pbf): void {
  pbf.writeStringField(1, a.name);
  if (a.f !== undefined) pbf.writeFloatField(2, a.f);
  if (a.i !== undefined) pbf.writeVarintField(3, a.i);
  if (a.s !== undefined) pbf.writeBytesField(4, a.s);
  if (a.ints) pbf.writePackedVarint(8, a.ints);
  pbf.writeVarintField(20, a.type);
}

function writeNode(n: Node, pbf: Pbf): void {
  for (const s of n.input) pbf.writeStringField(1, s);
  for (const s of n.output) pbf.writeStringField(2, s);
  pbf.writeStringField(3, n.name);
  pbf.writeStringField(4, n.opType);
  for (const a of n.attribute) pbf.writeMessage(5, writeAttribute, a);
}

function writeDimension(d: number | string, pbf: Pbf): void {
  if (typeof d === 'string') pbf.writeStringField(2, d);
  else pbf.writeVarintField(1, d);
}

// ValueInfoProto { name = 1; type = 2: TypeProto { tensor_type = 1: { elem_type = 1; shape = 2: { dim = 1 } } } }
function writeValueInfo(v: ValueInfo, pbf: Pbf): void {
  pbf.writeStringField(1, v.name);
  pbf.writeMessage(2, (tensor: ValueInfo, p: Pbf) => {
    p.writeMessage(1, (t: ValueInfo, q: Pbf) => {
      q.writeVarintField(1, t.elemType);
      q.writeMessage(2, (s: ValueInfo, r: Pbf) => s.dims.forEach((d) => r.writeMessage(1, writeDimension, d)), t);
    }, tensor);
  }, v);
}

interface GraphProto {
  name: string;
  node: Node[];
  initializer: Tensor[];
  input: ValueInfo[];
  output: ValueInfo[];
}

function writeGraph(g: GraphProto, pbf: Pbf): void {
  for (const n of g.node) pbf.writeMessage(1, writeNode, n);
  pbf.writeStringField(2, g.name);
  for (const t of g.initializer) pbf.writeMessage(5, writeTensor, t);
  for (const v of g.input) pbf.writeMessage(11, writeValueInfo, v);
  for (const v of g.output) pbf.writeMessage(12, writeValueInfo, v);
}

/** ModelProto: IR version 8, opset 17 of the default domain. */
async function encodeModel(graph: GraphProto): Promise<Uint8Array> {
  // Loaded on the first export, so that importing convnet-wasm stays quick.
  const { PbfWriter } = await import('pbf');
  const pbf = new PbfWriter();
  pbf.writeVarintField(1, 8);
  pbf.writeStringField(2, 'convnet-wasm');
  pbf.writeMessage(7, writeGraph, graph);
  pbf.writeMessage(8, (_: null, p: Pbf) => {
    p.writeStringField(1, '');
    p.writeVarintField(2, 17);
  }, null);
  return pbf.finish();
}

type Attr = number | number[] | string;
/** Attributes ONNX types as floats even when their value is whole (an ELU's alpha of 1). */
const FLOAT_ATTRIBUTES = new Set(['alpha', 'beta', 'epsilon']);

/** Builds the graph: nodes, initialisers, fresh names. */
class Graph {
  nodes: Node[] = [];
  inits: Tensor[] = [];
  private n = 0;

  name(hint: string): string {
    return `${hint}_${this.n++}`;
  }

  floats(hint: string, dims: number[], values: ArrayLike<number>): string {
    const name = this.name(hint);
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
    this.inits.push({ name, dims, dataType: FLOAT, rawData: bytes });
    return name;
  }

  ints(hint: string, values: number[]): string {
    const name = this.name(hint);
    this.inits.push({ name, dims: [values.length], dataType: INT64, int64Data: values });
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const out = this.name(opType.toLowerCase());
    const attribute = Object.entries(attrs).map(([name, v]): Attribute =>
      typeof v === 'string'
        ? { name, type: ATTR.STRING, s: new TextEncoder().encode(v) }
        : Array.isArray(v)
          ? { name, type: ATTR.INTS, ints: v }
          : Number.isInteger(v) && !FLOAT_ATTRIBUTES.has(name)
            ? { name, type: ATTR.INT, i: v }
            : { name, type: ATTR.FLOAT, f: v },
    );
    this.nodes.push({ opType, input: inputs, output: [out], name: out, attribute });
    return out;
  }
}

/** TensorFlow's `same` padding along one axis: [before, after]. */
function samePads(input: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(input / stride);
  const total = Math.max((out - 1) * stride + kernel - input, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function activation(g: Graph, x: string, a: string, last: boolean): string {
  switch (a) {
    case 'linear':
      return x;
    case 'relu':
      return g.op('Relu', [x]);
    case 'tanh':
      return g.op('Tanh', [x]);
    case 'sigmoid':
      return g.op('Sigmoid', [x]);
    case 'lecunTanh':
      return g.op('Mul', [g.op('Tanh', [g.op('Mul', [x, g.floats('two_thirds', [], [2 / 3])])]), g.floats('a', [], [1.7159])]);
    case 'softmax':
      if (!last) throw new Error('softmax is only supported as the last activation');
      return g.op('Softmax', [x], { axis: -1 });
    case 'leakyRelu':
      return g.op('LeakyRelu', [x], { alpha: 0.2 });
    case 'elu':
      return g.op('Elu', [x], { alpha: 1 });
    case 'gelu': {
      // Opset 17 has no Gelu (opset 20 does): x·(1 + erf(x/√2))/2.
      const cdf = g.op('Add', [g.op('Erf', [g.op('Mul', [x, g.floats('inv_sqrt2', [], [Math.SQRT1_2])])]), g.floats('one', [], [1])]);
      return g.op('Mul', [g.op('Mul', [x, cdf]), g.floats('half', [], [0.5])]);
    }
    case 'swish':
      return g.op('Mul', [x, g.op('Sigmoid', [x])]);
    case 'hardSigmoid':
      // max(0, min(1, x/6 + 1/2)) is relu6(x + 3)/6.
      return g.op('HardSigmoid', [x], { alpha: 1 / 6, beta: 0.5 });
    default:
      throw new Error(`no ONNX mapping for the activation ${a}`);
  }
}

/** HWIO → OIHW. */
function oihw(w: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let h = 0; h < kh; h++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[((o * ci + i) * kh + h) * kw + x] = w[((h * kw + x) * ci + i) * co + o]!;
  return out;
}

/**
 * The model as an ONNX file (opset 17). Inputs are NHWC and raw (the preprocessing is in the
 * graph); the output is the class probabilities.
 */
export async function exportOnnx(model: LayersModel): Promise<Uint8Array> {
  const g = new Graph();
  const weights = model.getWeightsFlat();
  const summaries = model.layerSummaries();
  const [h0, w0, c0] = model.inputShape;
  let x = g.op('Add', [g.op('Mul', ['input', g.floats('scale', [], [model.preprocessing.scale])]), g.floats('offset', [], [model.preprocessing.offset])]);
  x = g.op('Transpose', [x], { perm: [0, 3, 1, 2] });
  let nchw = true;
  let at = 0;
  const take = (n: number) => weights.subarray(at, (at += n));
  const layers = model.layers;
  // Each tensor's node output and layout (NCHW maps, or vectors after a flatten or global
  // pooling), by name: a graph's layers read any earlier one.
  const tensors = new Map<string, { x: string; nchw: boolean; shape: Shape3 }>([[model.inputName, { x, nchw, shape: [h0, w0, c0] }]]);
  layers.forEach((layer: Layer, i: number) => {
    const inbound = model.inboundNames(i).map((name) => tensors.get(name)!);
    ({ x, nchw } = inbound[0]!);
    const input: Shape3 = inbound[0]!.shape;
    const [ih, iw, ic] = input;
    const c = layer.config() as Record<string, unknown> & { activation: string };
    const last = i === layers.length - 1;
    const where = `exportOnnx(): layer ${i} (${layer.className} ${JSON.stringify(layer.name)})`;
    try {
      switch (layer.className) {
        case 'Conv2D': {
          const [kh, kw] = c.kernelSize as [number, number];
          const [sh, sw] = c.strides as [number, number];
          const co = c.filters as number;
          const [pt, pb] = c.padding === 'same' ? samePads(ih, kh, sh) : [0, 0];
          const [pl, pr] = c.padding === 'same' ? samePads(iw, kw, sw) : [0, 0];
          const attrs = { kernel_shape: [kh, kw], strides: [sh, sw], pads: [pt, pl, pb, pr] };
          const table = c.connections as number[][] | undefined;
          if (table) {
            // C3: for each output map, gather its input maps and convolve them with its weights.
            const k = take(table.reduce((s, r) => s + kh * kw * r.length, 0));
            const bias = take(co);
            let off = 0;
            const maps = table.map((inputs, f) => {
              const n = kh * kw * inputs.length;
              const w = oihw(k.subarray(off, (off += n)), kh, kw, inputs.length, 1);
              const picked = g.op('Gather', [x, g.ints('maps', inputs)], { axis: 1 });
              return g.op('Conv', [picked, g.floats('w', [1, inputs.length, kh, kw], w), g.floats('b', [1], [bias[f]!])], attrs);
            });
            x = g.op('Concat', maps, { axis: 1 });
          } else {
            const w = oihw(take(kh * kw * ic * co), kh, kw, ic, co);
            const bias = c.useBias === false ? [] : [g.floats('b', [co], take(co))];
            x = g.op('Conv', [x, g.floats('w', [co, ic, kh, kw], w), ...bias], attrs);
          }
          x = activation(g, x, c.activation, last);
          break;
        }
        case 'DepthwiseConv2D':
        case 'SeparableConv2D': {
          // A grouped Conv, one group per input channel: output channel c·m + k reads channel c.
          const [kh, kw] = c.kernelSize as [number, number];
          const [sh, sw] = c.strides as [number, number];
          const mult = c.depthMultiplier as number;
          const [pt, pb] = c.padding === 'same' ? samePads(ih, kh, sh) : [0, 0];
          const [pl, pr] = c.padding === 'same' ? samePads(iw, kw, sw) : [0, 0];
          const attrs = { kernel_shape: [kh, kw], strides: [sh, sw], pads: [pt, pl, pb, pr], group: ic };
          // [kh, kw, ic, mult] is HWIO with in = 1 per group and out = ic·mult.
          const w = oihw(take(kh * kw * ic * mult), kh, kw, 1, ic * mult);
          const depthwise = layer.className === 'DepthwiseConv2D';
          const bias = depthwise && c.useBias !== false ? [g.floats('b', [ic * mult], take(ic * mult))] : [];
          x = g.op('Conv', [x, g.floats('w', [ic * mult, 1, kh, kw], w), ...bias], attrs);
          if (!depthwise) {
            const co = c.filters as number;
            const pw = oihw(take(ic * mult * co), 1, 1, ic * mult, co);
            const b = c.useBias !== false ? [g.floats('b', [co], take(co))] : [];
            x = g.op('Conv', [x, g.floats('w', [co, ic * mult, 1, 1], pw), ...b], { kernel_shape: [1, 1] });
          }
          x = activation(g, x, c.activation, last);
          break;
        }
        case 'MaxPooling2D':
        case 'AveragePooling2D': {
          const [kh, kw] = c.poolSize as [number, number];
          const [sh, sw] = c.strides as [number, number];
          const [pt, pb] = c.padding === 'same' ? samePads(ih, kh, sh) : [0, 0];
          const [pl, pr] = c.padding === 'same' ? samePads(iw, kw, sw) : [0, 0];
          const attrs = { kernel_shape: [kh, kw], strides: [sh, sw], pads: [pt, pl, pb, pr] };
          x = layer.className === 'MaxPooling2D' ? g.op('MaxPool', [x], attrs) : g.op('AveragePool', [x], { ...attrs, count_include_pad: 0 });
          break;
        }
        case 'Subsampling2D': {
          const [kh, kw] = c.poolSize as [number, number];
          const [sh, sw] = c.strides as [number, number];
          const sum = g.op('Conv', [x, g.floats('ones', [ic, 1, kh, kw], new Float32Array(ic * kh * kw).fill(1))], { kernel_shape: [kh, kw], strides: [sh, sw], group: ic });
          const coef = g.floats('coef', [1, ic, 1, 1], take(ic));
          const bias = g.floats('bias', [1, ic, 1, 1], take(ic));
          x = activation(g, g.op('Add', [g.op('Mul', [sum, coef]), bias]), c.activation, last);
          break;
        }
        case 'ZeroPadding2D': {
          const [[t, b], [l, r]] = c.padding as [[number, number], [number, number]];
          x = g.op('Pad', [x, g.ints('pads', [0, 0, t, l, 0, 0, b, r]), g.floats('value', [], [c.value as number])], { mode: 'constant' });
          break;
        }
        case 'Flatten':
          if (nchw) x = g.op('Transpose', [x], { perm: [0, 2, 3, 1] });
          nchw = false;
          x = g.op('Flatten', [x], { axis: 1 });
          break;
        case 'Dense': {
          const units = c.units as number;
          const w = g.floats('w', [ic, units], take(ic * units));
          x = g.op('MatMul', [x, w]);
          if (c.useBias !== false) x = g.op('Add', [x, g.floats('b', [units], take(units))]);
          x = activation(g, x, c.activation, last);
          break;
        }
        case 'Dropout':
        case 'SpatialDropout2D':
        case 'RandomTranslation':
        case 'RandomRotation':
        case 'RandomZoom':
        case 'RandomFlip':
        case 'RandomAffine':
        case 'RandomContrast':
        case 'RandomErasing':
          // Training-only layers: the identity in inference.
          break;
        case 'BatchNormalization': {
          // Inference: the moving statistics, in Keras's order after γ and β (absent ones are 1 and 0).
          const gamma = c.scale ? take(ic) : new Float32Array(ic).fill(1);
          const beta = c.center ? take(ic) : new Float32Array(ic);
          const [mean, variance] = [take(ic), take(ic)];
          const inputs = [gamma, beta, mean, variance].map((v, k) => g.floats(['gamma', 'beta', 'mean', 'var'][k]!, [ic], v));
          // Channels are axis 1 both in NCHW and after a flatten.
          x = g.op('BatchNormalization', [x, ...inputs], { epsilon: c.epsilon as number });
          break;
        }
        case 'GlobalAveragePooling2D':
        case 'GlobalMaxPooling2D':
          x = g.op(layer.className === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x]);
          // [N, C, 1, 1] → [N, C]: 1×1 maps have the same order in NCHW and NHWC.
          x = g.op('Flatten', [x], { axis: 1 });
          nchw = false;
          break;
        case 'Softmax':
          x = g.op('Softmax', [x], { axis: nchw ? 1 : -1 });
          break;
        case 'LeakyReLU':
          x = g.op('LeakyRelu', [x], { alpha: c.alpha as number });
          break;
        case 'ELU':
          x = g.op('Elu', [x], { alpha: c.alpha as number });
          break;
        case 'Activation':
          x = activation(g, x, c.activation, last);
          break;
        case 'Add':
        case 'Subtract':
        case 'Multiply':
        case 'Average':
        case 'Maximum':
        case 'Minimum':
        case 'Concatenate': {
          // Vectors and 1×1 maps hold their values in the same order; make them all vectors.
          // Either way the channels are axis 1.
          const flat = inbound.some((t) => !t.nchw);
          const xs = inbound.map((t) => (flat && t.nchw ? g.op('Flatten', [t.x], { axis: 1 }) : t.x));
          // Folded pairwise in the inputs' order, as the wasm computes them.
          const fold = (op: string) => xs.slice(1).reduce((acc, t) => g.op(op, [acc, t]), xs[0]!);
          const ops: Record<string, () => string> = {
            Add: () => fold('Add'),
            Subtract: () => fold('Sub'),
            Multiply: () => fold('Mul'),
            Average: () => g.op('Div', [fold('Add'), g.floats('count', [], [xs.length])]),
            Maximum: () => fold('Max'),
            Minimum: () => fold('Min'),
            Concatenate: () => g.op('Concat', xs, { axis: 1 }),
          };
          x = ops[layer.className]!();
          nchw = !flat;
          break;
        }
        case 'RBF': {
          const units = c.units as number;
          const diff = g.op('Sub', [g.op('Unsqueeze', [x, g.ints('axis', [1])]), g.floats('prototypes', [units, ic], c.prototypes as number[])]);
          // Opset 17: the reduce ops other than ReduceSum take their axes as an attribute.
          const distances = g.op('ReduceSumSquare', [diff], { axes: [2], keepdims: 0 });
          x = g.op('Softmax', [g.op('Neg', [distances])], { axis: -1 });
          break;
        }
        default:
          throw new Error('has no ONNX mapping');
      }
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
    }
    tensors.set(layer.name!, { x, nchw, shape: summaries[i]!.outputShape });
  });
  const classes = summaries[summaries.length - 1]!.outputShape[2];
  g.nodes.push({ opType: 'Identity', input: [x], output: ['probabilities'], name: 'probabilities', attribute: [] });
  return encodeModel({
    name: model.name,
    node: g.nodes,
    initializer: g.inits,
    input: [{ name: 'input', elemType: FLOAT, dims: ['N', h0, w0, c0] }],
    output: [{ name: 'probabilities', elemType: FLOAT, dims: ['N', classes] }],
  });
}
