import { beforeAll, describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';
import { DENSE_CASE, denseCaseBytes } from './shared/dense-case.js';
import { panicInWasm } from './shared/internals.js';

const { ops } = api;

beforeAll(() => api.init());

/** y[n,o] = Σ_i x[n,i]·w[i,o] + b[o], in float64: an independent reference for the wasm. */
function denseReference(x: Float32Array, w: Float32Array, b: Float32Array, batch: number, inputs: number, units: number) {
  const y = new Float64Array(batch * units);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < units; o++) {
      let acc = 0;
      for (let i = 0; i < inputs; i++) acc += x[n * inputs + i]! * w[i * units + o]!;
      y[n * units + o] = acc + b[o]!;
    }
  return y;
}

function expectClose(got: Float32Array, want: Float64Array, tolerance: number) {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (Math.abs(got[i]! - want[i]!) > tolerance * Math.max(1, Math.abs(want[i]!))) {
      throw new Error(`index ${i}: got ${got[i]}, want ${want[i]}`);
    }
  }
}

describe('ops.denseForward / ops.denseBackward', () => {
  it('reports a simd128 build', () => {
    expect(api.buildInfo()).toMatch(/^\d+\.\d+\.\d+\+simd128$/);
  });

  it('computes y = x·W + b like a float64 reference', () => {
    const { batch, inputs, units } = DENSE_CASE;
    const x = ops.randomUniform(1, batch * inputs, -1, 1);
    const w = ops.randomUniform(2, inputs * units, -1, 1);
    const b = ops.randomUniform(3, units, -1, 1);
    const y = ops.denseForward(DENSE_CASE, x, w, b);
    expectClose(y, denseReference(x, w, b, batch, inputs, units), 1e-5);
  });

  it('computes the three gradients like a float64 reference', () => {
    const { batch, inputs, units } = DENSE_CASE;
    const x = ops.randomUniform(4, batch * inputs, -1, 1);
    const w = ops.randomUniform(5, inputs * units, -1, 1);
    const dy = ops.randomUniform(6, batch * units, -1, 1);
    const { dx, dw, db } = ops.denseBackward(DENSE_CASE, x, w, dy);
    const wantDx = new Float64Array(batch * inputs);
    const wantDw = new Float64Array(inputs * units);
    const wantDb = new Float64Array(units);
    for (let n = 0; n < batch; n++)
      for (let i = 0; i < inputs; i++)
        for (let o = 0; o < units; o++) {
          wantDx[n * inputs + i]! += dy[n * units + o]! * w[i * units + o]!;
          wantDw[i * units + o]! += x[n * inputs + i]! * dy[n * units + o]!;
        }
    for (let n = 0; n < batch; n++) for (let o = 0; o < units; o++) wantDb[o]! += dy[n * units + o]!;
    expectClose(dx, wantDx, 1e-5);
    expectClose(dw, wantDw, 1e-5);
    expectClose(db, wantDb, 1e-5);
  });

  it('gives the same bytes on every run (the browser test compares against these)', () => {
    const a = denseCaseBytes(api, 7);
    const b = denseCaseBytes(api, 7);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(denseCaseBytes(api, 8)).equals(Buffer.from(a))).toBe(false);
  });

  it('rejects wrong lengths before calling the wasm, naming the operand and sizes', () => {
    const shape = { batch: 2, inputs: 3, units: 4 };
    const x = new Float32Array(6);
    const w = new Float32Array(12);
    expect(() => ops.denseForward(shape, x, w, new Float32Array(5))).toThrowError(
      expect.objectContaining({
        name: 'ShapeMismatchError',
        code: 'SHAPE_MISMATCH',
        message: 'denseForward: bias has 5 values, expected units = 4',
      }),
    );
    expect(() => ops.denseBackward(shape, new Float32Array(7), w, new Float32Array(8))).toThrow(
      'denseBackward: x has 7 values, expected batch·inputs = 2·3 = 6',
    );
    expect(() => ops.denseForward({ ...shape, units: 0 }, x, w, new Float32Array(4))).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'denseForward: shape.units must be an integer ≥ 1, got 0' }),
    );
    const asArray = [0, 0, 0, 0, 0, 0] as unknown as Float32Array;
    expect(() => ops.denseForward(shape, asArray, w, new Float32Array(4))).toThrow(
      'denseForward: x must be a Float32Array, got an array of 6 values; convert it with Float32Array.from(x)',
    );
  });

  it('turns a Rust panic into a WasmPanicError carrying the message, and keeps working', () => {
    let caught: unknown;
    try {
      panicInWasm('panicForTest', 'deliberate panic 42');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(api.WasmPanicError);
    expect(caught).toBeInstanceOf(api.ConvnetError);
    const error = caught as api.WasmPanicError;
    expect(error.code).toBe('WASM_PANIC');
    expect(error.message).toMatch(/^panicForTest: panicked at .*lib\.rs.*\ndeliberate panic 42$/s);
    expect(error.cause).toBeInstanceOf(WebAssembly.RuntimeError);
    const y = ops.denseForward({ batch: 1, inputs: 2, units: 3 }, new Float32Array([1, 2]), new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([0.5, -1, 0]));
    expect(Array.from(y)).toEqual([9.5, 11, 15]);
  });
});

describe('ops.randomUniform', () => {
  it('is seeded, in range and validated', () => {
    const a = ops.randomUniform(42, 1000, -2, 3);
    expect(Array.from(a)).toEqual(Array.from(ops.randomUniform(42, 1000, -2, 3)));
    expect(a.every((v) => v >= -2 && v < 3)).toBe(true);
    expect(ops.randomUniform(0, 0)).toHaveLength(0);
    expect(() => ops.randomUniform(-1, 3)).toThrow('randomUniform: seed must be a non-negative safe integer, got -1');
    expect(() => ops.randomUniform(1, 3, 1, 1)).toThrow('randomUniform: low (1) must be less than high (1)');
  });
});
