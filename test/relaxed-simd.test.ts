// The opt-in relaxed-SIMD build (init({ simd: 'relaxed' }), dist/convnet_wasm_relaxed_bg.wasm),
// in child processes so that each has its own module and V8 flags: it loads where the engine has
// relaxed SIMD (Node 20: with --experimental-wasm-relaxed-simd), is refused with a typed error
// where it has not, gives the same bits for any worker count, and stays close to the default
// build (its multiply-adds may round once instead of twice).
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';
import { RELAXED_FLAG as FLAG, runRelaxedChild as run, type RelaxedRun as Run } from './shared/relaxed-child.js';

const shipped = api.relaxedSimdSupported();
const flags = shipped ? [] : [FLAG];

describe("init({ simd: 'relaxed' })", () => {
  it('is refused with a WasmLoadError naming the flag where the engine has no relaxed SIMD, and loads where it has', () => {
    const r = run('relaxed', 1);
    if (shipped) {
      expect(r.buildInfo).toMatch(/\+simd128\+relaxed-simd$/);
    } else {
      expect(r.error).toMatchObject({ name: 'WasmLoadError', code: 'WASM_LOAD' });
      expect(r.error!.message).toContain(FLAG);
    }
  });

  describe('on an engine with relaxed SIMD', () => {
    let relaxed: Run;
    let standard: Run;
    beforeAll(() => {
      relaxed = run('relaxed', 1, flags);
      standard = run('default', 1, flags);
    }, 120_000);

    it('loads the relaxed build; the default build stays the default', () => {
      expect(relaxed.error).toBeUndefined();
      expect(relaxed.buildInfo).toMatch(/^\d+\.\d+\.\d+\+simd128\+relaxed-simd$/);
      expect(standard.buildInfo).toMatch(/^\d+\.\d+\.\d+\+simd128$/);
    });

    it('trains to the same bits with 1 and 2 workers (the workers get the same module)', () => {
      const two = run('relaxed', 2, flags);
      expect(two.losses).toEqual(relaxed.losses);
      expect(two.weights).toBe(relaxed.weights);
      expect(two.probabilities).toEqual(relaxed.probabilities);
    }, 120_000);

    it("stays within 1e-5 of the default build's forward pass, from the same weights", () => {
      // The first loss and the first prediction come from the initial weights (the same bits in
      // both builds); later steps train from weights that differ in their last bits, and the
      // Fashion ConvNet's first Nadam steps amplify that, so they are only compared within a build.
      expect(Math.abs(relaxed.losses![0]! - standard.losses![0]!)).toBeLessThan(1e-5 * standard.losses![0]!);
      expect(relaxed.initial).toHaveLength(1000);
      const diff = Math.max(...relaxed.initial!.map((p, i) => Math.abs(p - standard.initial![i]!)));
      expect(diff).toBeLessThan(1e-5);
    });
  });
});
