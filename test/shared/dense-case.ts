// One Dense forward+backward case, computed the same way in Node and in the browser tests.
// The shape is awkward on purpose: 21 units exercise the 8-wide, 4-wide and scalar column
// paths of the SIMD GEMM, 9 rows its 4-row tiles and single-row remainder.
import type * as Api from 'convnet-wasm';

export const DENSE_CASE = { batch: 9, inputs: 37, units: 21 } as const;

/** Every input and output of the case, concatenated as raw float32 bytes. */
export function denseCaseBytes(api: typeof Api, seed: number): Uint8Array {
  const { batch, inputs, units } = DENSE_CASE;
  const x = api.ops.randomUniform(seed, batch * inputs, -1, 1);
  const w = api.ops.randomUniform(seed + 1, inputs * units, -0.5, 0.5);
  const b = api.ops.randomUniform(seed + 2, units, -0.1, 0.1);
  const dy = api.ops.randomUniform(seed + 3, batch * units, -1, 1);
  const y = api.ops.denseForward(DENSE_CASE, x, w, b);
  const { dx, dw, db } = api.ops.denseBackward(DENSE_CASE, x, w, dy);
  const parts = [x, w, b, dy, y, dx, dw, db];
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return new Uint8Array(out.buffer);
}
