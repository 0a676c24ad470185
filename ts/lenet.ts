/**
 * LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998), as the paper describes it, and a modern
 * variant. See {@link leNet5}.
 * @module
 */
import { layers } from './layers/index.js';
import { Sequential } from './sequential.js';
import { InvalidArgumentError } from './errors.js';

/**
 * Table I of the paper: `C3_CONNECTIONS[f]` lists the S2 maps C3 map `f` reads. Maps 0–5 read
 * contiguous triples, 6–11 contiguous quadruples, 12–14 the non-contiguous quadruples, and 15 all
 * six: 6·(3·25+1) + 9·(4·25+1) + (6·25+1) = 1,516 parameters.
 */
export const C3_CONNECTIONS: readonly (readonly number[])[] = [
  [0, 1, 2],
  [1, 2, 3],
  [2, 3, 4],
  [3, 4, 5],
  [0, 4, 5],
  [0, 1, 5],
  [0, 1, 2, 3],
  [1, 2, 3, 4],
  [2, 3, 4, 5],
  [0, 3, 4, 5],
  [0, 1, 4, 5],
  [0, 1, 2, 5],
  [0, 1, 3, 4],
  [1, 2, 4, 5],
  [0, 2, 3, 5],
  [0, 1, 2, 3, 4, 5],
];

/**
 * The RBF prototypes: stylised 7×12 bitmaps of the digits 0–9, one string per row, `#` = +1
 * (ink) and `.` = −1. The paper prints its own only as a picture (Fig. 3), so these are drawn
 * here in its style: the glyph fills the upper 11 rows, the last row is blank. The smallest
 * Hamming distance between two of them is reported by `test/lenet.test.ts` and the README.
 */
export const DIGIT_BITMAPS: readonly (readonly string[])[] = [
  ['..###..', '.#...#.', '#.....#', '#.....#', '#.....#', '#.....#', '#.....#', '#.....#', '#.....#', '.#...#.', '..###..', '.......'],
  ['...#...', '..##...', '.#.#...', '...#...', '...#...', '...#...', '...#...', '...#...', '...#...', '...#...', '.#####.', '.......'],
  ['.#####.', '#.....#', '......#', '......#', '.....#.', '....#..', '...#...', '..#....', '.#.....', '#......', '#######', '.......'],
  ['.#####.', '#.....#', '......#', '......#', '..####.', '......#', '......#', '......#', '......#', '#.....#', '.#####.', '.......'],
  ['....##.', '...#.#.', '..#..#.', '.#...#.', '#....#.', '#######', '.....#.', '.....#.', '.....#.', '.....#.', '.....#.', '.......'],
  ['#######', '#......', '#......', '#......', '######.', '......#', '......#', '......#', '......#', '#.....#', '.#####.', '.......'],
  ['..####.', '.#.....', '#......', '#......', '######.', '#.....#', '#.....#', '#.....#', '#.....#', '#.....#', '.#####.', '.......'],
  ['#######', '......#', '.....#.', '.....#.', '....#..', '....#..', '...#...', '...#...', '..#....', '..#....', '..#....', '.......'],
  ['.#####.', '#.....#', '#.....#', '.#...#.', '..###..', '.#...#.', '#.....#', '#.....#', '#.....#', '#.....#', '.#####.', '.......'],
  ['.#####.', '#.....#', '#.....#', '#.....#', '#.....#', '.######', '......#', '......#', '......#', '.....#.', '.####..', '.......'],
];

/** The prototypes as RBF weights: 10 rows of 84 values ±1 (row-major bitmaps). */
export function rbfPrototypes(): Float32Array {
  const out = new Float32Array(10 * 84);
  DIGIT_BITMAPS.forEach((rows, digit) => {
    rows.forEach((row, r) => {
      for (let c = 0; c < 7; c++) out[digit * 84 + r * 7 + c] = row[c] === '#' ? 1 : -1;
    });
  });
  return out;
}

/** The paper's η for its five stages of passes: 1–2, 3–5, 6–8, 9–12, 13 and after. */
export const PAPER_ETAS: readonly number[] = [0.0005, 0.0002, 0.0001, 0.00005, 0.00001];

/**
 * η for the same five stages, chosen on validation data (docs/lenet5.md): a tenth of the paper's
 * first η held for eight passes, then the paper's × 0.4 and its last. The paper's own values
 * diverge in the first pass here: with the paper's initialisation the curvature starts far below
 * μ, so every step is η/μ.
 */
export const CONVNET_ETAS: readonly number[] = [0.00005, 0.00005, 0.00005, 0.00002, 0.00001];

/**
 * The paper's learning-rate schedule for its 20 passes of SDLM, as optimiser steps for
 * `compile({ learningRate })`: five stages, passes 1–2, 3–5, 6–8, 9–12 and 13 on, with η
 * `values` (by default the paper's, {@link PAPER_ETAS}). `stepsPerEpoch` is the number of updates
 * in one pass (the training examples with the paper's batch of 1).
 */
export function leNet5Schedule(stepsPerEpoch: number, values: readonly number[] = PAPER_ETAS): { boundaries: number[]; values: number[] } {
  if (!Number.isInteger(stepsPerEpoch) || stepsPerEpoch < 1) {
    throw new InvalidArgumentError(`leNet5Schedule: stepsPerEpoch must be a positive integer, got ${stepsPerEpoch}`);
  }
  if (values.length !== 5 || !values.every((v) => Number.isFinite(v) && v > 0)) {
    throw new InvalidArgumentError(`leNet5Schedule: values must be 5 positive numbers (one per stage), got ${JSON.stringify(values)}`);
  }
  // Piecewise values hold while step ≤ boundary, steps counted from 0: pass p ends at step p·S − 1.
  return { boundaries: [2, 5, 8, 12].map((pass) => pass * stepsPerEpoch - 1), values: [...values] };
}

/** Options of {@link leNet5}. */
export interface LeNet5Options {
  /**
   * `'faithful'` (default): the 1998 network. `'modern'`: ReLU (or tanh), max-pooling, a full
   * C3, a softmax output; compile it with Adam.
   */
  variant?: 'faithful' | 'modern';
  /** The modern variant's activation; default `relu`. */
  activation?: 'relu' | 'tanh';
  /**
   * The paper's distortions in training (§III-C: random planar affine maps — horizontal and
   * vertical translation, scaling, squeezing, horizontal shearing — resampled bilinearly), as a
   * leading {@link layers.randomAffine} filling with the background level: `true` for bounds of
   * 2 pixels, 0.1, 0.1 and 0.2, or the bounds themselves. The paper does not give its ranges;
   * these did as well as larger ones on validation data (docs/lenet5.md). Inference is unchanged.
   */
  distortions?: boolean | { translation?: number; scale?: number; squeeze?: number; shear?: number };
}

/**
 * LeNet-5. Inputs are 28×28×1 8-bit digits (MNIST).
 *
 * Faithful (the default), layer by layer (REFERENCE.md §2):
 * - input: pixels p ∈ [0, 255] become −0.1 + 1.275·p/255 (background −0.1, full ink 1.175),
 *   then the image is padded to 32×32 with the background level −0.1 (the paper's 28×28 digits sit
 *   in a 32×32 field);
 * - C1: 6 maps 5×5; S2: subsampling (sum of 2×2 × a trainable coefficient + a trainable bias per
 *   map); C3: 16 maps 5×5 reading S2 through Table I ({@link C3_CONNECTIONS}); S4: subsampling;
 *   C5: 120 maps 5×5 (1×1 outputs); F6: 84 units; each followed by LeCun's scaled tanh
 *   1.7159·tanh(2/3·a);
 * - output: 10 Euclidean RBF units with fixed ±1 prototypes ({@link DIGIT_BITMAPS});
 * - initialisation uniform in ±2.4/Fᵢ, Fᵢ the unit's fan-in (`lenetUniform`), biases included.
 *
 * 60,000 trainable parameters and 340,908 connections, as `summary()` shows. Compile it with an
 * RBF loss: `{ type: 'rbfMap', j }` (eq. 9, the default), `'rbfMaxLikelihood'` (eq. 8) or
 * `'rbfCrossEntropy'`.
 */
export function leNet5(options: LeNet5Options = {}): Sequential {
  const model = network(options);
  const d = options.distortions;
  if (d === undefined || d === false) return model;
  if (d !== true && (typeof d !== 'object' || d === null)) throw new InvalidArgumentError(`leNet5: distortions must be true, false or { translation, scale, squeeze, shear }, got ${JSON.stringify(d)}`);
  const bounds = { translation: 2, scale: 0.1, squeeze: 0.1, shear: 0.2, ...(d === true ? {} : d) };
  // Filled with what the preprocessing maps a blank pixel to (the faithful net's −0.1, 0 otherwise).
  const background = model.preprocessing.offset;
  const distort = layers.randomAffine({ name: 'distortions', ...bounds, fillMode: 'constant', fillValue: background });
  return new Sequential({ name: model.name, inputShape: model.inputShape, preprocessing: model.preprocessing, layers: [distort, ...model.layers] });
}

function network(options: LeNet5Options): Sequential {
  const variant = options.variant ?? 'faithful';
  if (variant === 'modern') return modern(options.activation ?? 'relu');
  if (variant !== 'faithful') throw new InvalidArgumentError(`leNet5: variant must be 'faithful' or 'modern', got ${JSON.stringify(variant)}`);
  if (options.activation !== undefined) throw new InvalidArgumentError("leNet5: activation applies to the 'modern' variant only");
  const init = { kernelInitializer: 'lenetUniform', biasInitializer: 'lenetUniform' } as const;
  const tanh = { activation: 'lecunTanh', ...init } as const;
  return new Sequential({
    name: 'lenet5',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1.275 / 255, offset: -0.1 },
    layers: [
      layers.zeroPad2d({ name: 'pad', padding: 2, value: -0.1 }),
      layers.conv2d({ name: 'C1', filters: 6, kernelSize: 5, ...tanh }),
      layers.subsampling2d({ name: 'S2', poolSize: 2, ...tanh }),
      layers.conv2d({ name: 'C3', filters: 16, kernelSize: 5, connections: C3_CONNECTIONS.map((r) => [...r]), ...tanh }),
      layers.subsampling2d({ name: 'S4', poolSize: 2, ...tanh }),
      layers.conv2d({ name: 'C5', filters: 120, kernelSize: 5, ...tanh }),
      layers.flatten({ name: 'flatten' }),
      layers.dense({ name: 'F6', units: 84, ...tanh }),
      layers.rbf({ name: 'output', units: 10, prototypes: rbfPrototypes() }),
    ],
  });
}

function modern(activation: 'relu' | 'tanh'): Sequential {
  if (activation !== 'relu' && activation !== 'tanh') throw new InvalidArgumentError(`leNet5: activation must be 'relu' or 'tanh', got ${JSON.stringify(activation)}`);
  const init = activation === 'relu' ? 'heNormal' : 'glorotUniform';
  const act = { activation, kernelInitializer: init } as const;
  return new Sequential({
    name: 'lenet5_modern',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      layers.zeroPad2d({ name: 'pad', padding: 2 }),
      layers.conv2d({ name: 'C1', filters: 6, kernelSize: 5, ...act }),
      layers.maxPool2d({ name: 'S2', poolSize: 2 }),
      layers.conv2d({ name: 'C3', filters: 16, kernelSize: 5, ...act }),
      layers.maxPool2d({ name: 'S4', poolSize: 2 }),
      layers.conv2d({ name: 'C5', filters: 120, kernelSize: 5, ...act }),
      layers.flatten({ name: 'flatten' }),
      layers.dense({ name: 'F6', units: 84, ...act }),
      layers.dense({ name: 'output', units: 10, activation: 'softmax' }),
    ],
  });
}
