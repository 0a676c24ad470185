/**
 * Single kernels, one wasm call each, for tests, tools and experiments. Models train through
 * `Sequential`, which runs whole steps inside the wasm instead.
 * @module
 */
import * as wasm from './wasm/convnet_wasm.js';
import { InvalidArgumentError } from './errors.js';
import { checkCount, checkFinite, checkFloat32 } from './validate.js';
import { callWasm } from './wasm-call.js';

/** The shape of a dense layer applied to a batch. */
export interface DenseShape {
  /** Rows of `x`: how many examples. */
  batch: number;
  /** Features per example: columns of `x`, rows of the kernel. */
  inputs: number;
  /** Outputs per example: columns of the kernel, length of the bias. */
  units: number;
}

/** The gradients of a dense layer. */
export interface DenseGradients {
  /** ∂L/∂x, `batch·inputs` values. */
  dx: Float32Array;
  /** ∂L/∂kernel, `inputs·units` values. */
  dw: Float32Array;
  /** ∂L/∂bias, `units` values. */
  db: Float32Array;
}

function checkDenseShape(fn: string, shape: DenseShape): DenseShape {
  return {
    batch: checkCount(`${fn}: shape.batch`, shape.batch),
    inputs: checkCount(`${fn}: shape.inputs`, shape.inputs),
    units: checkCount(`${fn}: shape.units`, shape.units),
  };
}

/**
 * `y = x·kernel + bias`, as Keras's Dense computes it.
 * @param x - `[batch, inputs]`, row-major.
 * @param kernel - `[inputs, units]`, row-major (Keras's layout).
 * @param bias - `[units]`.
 * @returns `[batch, units]`, row-major.
 */
export function denseForward(shape: DenseShape, x: Float32Array, kernel: Float32Array, bias: Float32Array): Float32Array {
  const fn = 'denseForward';
  const { batch, inputs, units } = checkDenseShape(fn, shape);
  checkFloat32(`${fn}: x`, x, batch * inputs, `batch·inputs = ${batch}·${inputs}`);
  checkFloat32(`${fn}: kernel`, kernel, inputs * units, `inputs·units = ${inputs}·${units}`);
  checkFloat32(`${fn}: bias`, bias, units, 'units');
  return callWasm(fn, () => wasm.dense_forward(batch, inputs, units, x, kernel, bias));
}

/**
 * The gradients of {@link denseForward} for an upstream gradient `dy`.
 * @param dy - ∂L/∂y, `[batch, units]`.
 */
export function denseBackward(shape: DenseShape, x: Float32Array, kernel: Float32Array, dy: Float32Array): DenseGradients {
  const fn = 'denseBackward';
  const { batch, inputs, units } = checkDenseShape(fn, shape);
  checkFloat32(`${fn}: x`, x, batch * inputs, `batch·inputs = ${batch}·${inputs}`);
  checkFloat32(`${fn}: kernel`, kernel, inputs * units, `inputs·units = ${inputs}·${units}`);
  checkFloat32(`${fn}: dy`, dy, batch * units, `batch·units = ${batch}·${units}`);
  const all = callWasm(fn, () => wasm.dense_backward(batch, inputs, units, x, kernel, dy));
  const dxEnd = batch * inputs;
  const dwEnd = dxEnd + inputs * units;
  return { dx: all.subarray(0, dxEnd), dw: all.subarray(dxEnd, dwEnd), db: all.subarray(dwEnd) };
}

/**
 * `count` values uniform in [low, high), from the library's seeded generator (xoshiro256**,
 * inside the wasm): the same seed gives the same values on every platform.
 * @param seed - A non-negative safe integer.
 */
export function randomUniform(seed: number, count: number, low = 0, high = 1): Float32Array {
  const fn = 'randomUniform';
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new InvalidArgumentError(`${fn}: seed must be a non-negative safe integer, got ${String(seed)}`);
  }
  checkCount(`${fn}: count`, count, 0);
  checkFinite(`${fn}: low`, low);
  checkFinite(`${fn}: high`, high);
  if (!(low < high)) throw new InvalidArgumentError(`${fn}: low (${low}) must be less than high (${high})`);
  return callWasm(fn, () => wasm.random_uniform(BigInt(seed), count, low, high));
}
