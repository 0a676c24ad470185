// Property-based tests (fast-check) of the two readers that take files from elsewhere: the IDX
// parser and the model loader. Random and mutated real inputs must give either a correct result
// or a typed ConvnetError — never another exception, a hang or a huge allocation — and must not
// pollute Object.prototype. The case counts are printed.
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { runtimeShapes } from './shared/internals.js';

const FASHION = '/usr/share/datasets/fashion-mnist';
const RUNS = 1000;

/** A small real IDX file: the first `n` Fashion-MNIST test images, with the count patched to n. */
function realImages(n: number): Uint8Array {
  const raw = gunzipSync(readFileSync(`${FASHION}/t10k-images-idx3-ubyte.gz`));
  const out = Uint8Array.from(raw.subarray(0, 16 + n * 784));
  new DataView(out.buffer).setUint32(4, n, false);
  return out;
}

/** A byte-level mutation of `base`: flips, overwrites, truncation, insertion, or a random header. */
const mutated = (base: Uint8Array) =>
  fc.oneof(
    fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }).map((edits) => {
      const b = Uint8Array.from(base);
      for (const [i, v] of edits) b[i] = v;
      return b;
    }),
    fc.nat(base.length).map((n) => base.subarray(0, n)),
    fc.tuple(fc.nat(base.length), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, extra]) => {
      const b = new Uint8Array(base.length + extra.length);
      b.set(base.subarray(0, at));
      b.set(extra, at);
      b.set(base.subarray(at), at + extra.length);
      return b;
    }),
    fc.uint8Array({ minLength: 0, maxLength: 64 }).map((head) => {
      const b = Uint8Array.from(base);
      b.set(head.subarray(0, Math.min(head.length, b.length)));
      return b;
    }),
    fc.uint8Array({ minLength: 0, maxLength: 4096 }),
  );

beforeAll(async () => {
  await cw.init();
});

describe('property: the IDX parser', () => {
  const base = realImages(40);
  it(`gives a consistent result or a DatasetError for ${RUNS} mutated raw files and ${RUNS} mutated gzip files`, () => {
    const check = (bytes: Uint8Array) => {
      let idx: cw.Idx;
      try {
        idx = cw.parseIdx(bytes, 'mutated.idx');
      } catch (error) {
        expect(error).toBeInstanceOf(cw.DatasetError);
        expect((error as Error).message).toMatch(/^mutated\.idx: /);
        return;
      }
      // Accepted: the declared shape accounts for every byte.
      expect(idx.data.length).toBe(idx.dims.reduce((a, b) => a * b, 1));
    };
    fc.assert(fc.property(mutated(base), check), { numRuns: RUNS, seed: 1 });
    const gz = new Uint8Array(gzipSync(base));
    fc.assert(fc.property(mutated(gz), check), { numRuns: RUNS, seed: 2 });
    // The unmutated file parses to its 40 real images.
    expect(cw.parseIdx(base, 'real').dims).toEqual([40, 28, 28]);
    console.log(`IDX property test: ${2 * RUNS} cases`);
  });
});

describe('property: the model loader', () => {
  let good: cw.ModelArtifacts;
  beforeAll(() => {
    const m = cw.models.leNet5();
    m.compile({ optimizer: 'sdlm', seed: 1 });
    good = cw.toArtifacts(m);
    m.dispose();
  });

  /** A JSON value to put somewhere: hostile keys and odd types included. */
  const jsonValue = fc.oneof(
    fc.constantFrom(null, true, -1, 0, 1e9, 1e308, Number.NaN, '', 'Conv2D', 'RBF', '__proto__', [], {}),
    fc.constantFrom({ __proto__: { polluted: true } }, JSON.parse('{"__proto__": {"polluted": true}}'), { constructor: { prototype: { polluted: true } } }),
    fc.integer(),
    fc.string({ maxLength: 8 }),
    fc.array(fc.integer({ min: -3, max: 100 }), { maxLength: 4 }),
  );

  /** Every path to a value inside a JSON document. */
  function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
    if (v === null || typeof v !== 'object') return [at];
    const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    return [at, ...keys.flatMap((k) => paths((v as Record<string | number, unknown>)[k], [...at, k]))];
  }

  it(`loads or refuses with a ConvnetError, for ${RUNS} mutated model.json and weights`, () => {
    const base = JSON.parse(JSON.stringify(good.modelJson));
    const all = paths(base).filter((p) => p.length > 0);
    const edit = fc.tuple(fc.constantFrom(...all), jsonValue, fc.constantFrom('set', 'delete', 'proto'));
    let loaded = 0;
    fc.assert(
      fc.property(
        fc.array(edit, { minLength: 1, maxLength: 3 }),
        // Mostly the right byte count, so that the JSON edits are what is tested.
        fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.integer({ min: -8, max: 8 }), weight: 1 }),
        (edits, weightDelta) => {
        const doc = JSON.parse(JSON.stringify(base));
        for (const [path, value, how] of edits) {
          let node = doc;
          for (const k of path.slice(0, -1)) node = node?.[k];
          if (node === null || typeof node !== 'object') continue;
          const last = path[path.length - 1]!;
          if (how === 'delete') delete node[last];
          else if (how === 'proto') Object.defineProperty(node, '__proto__', { value, enumerable: true, configurable: true, writable: true });
          else node[last] = value;
        }
        // Round-trip through text, as a file would be read.
        const modelJson = JSON.parse(JSON.stringify(doc));
        const n = Math.max(0, good.weights.length + 4 * weightDelta);
        const weights = new Uint8Array(n);
        weights.set(good.weights.subarray(0, Math.min(n, good.weights.length)));
        try {
          cw.fromArtifacts({ modelJson, weights }).dispose();
          loaded++;
        } catch (error) {
          expect(error).toBeInstanceOf(cw.ConvnetError);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: RUNS, seed: 3 },
    );
    console.log(`model loader property test: ${RUNS} cases, ${loaded} loaded, ${RUNS - loaded} refused with a ConvnetError`);
  });
});

describe('property: TypeScript and the wasm agree on shapes and parameters', () => {
  const act = fc.constantFrom('linear', 'relu', 'tanh', 'lecunTanh', 'sigmoid') as fc.Arbitrary<cw.ActivationName>;
  const size = fc.integer({ min: 1, max: 5 });
  // Image layers (conv, pools, padding, subsampling, activations, dropout), then flatten and
  // dense layers: any stack of them the TypeScript checks accept must build in the wasm with
  // the same output sizes and parameter counts, layer by layer.
  const imageLayer = fc.oneof(
    fc.record({ filters: size, kernelSize: fc.tuple(size, size), strides: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), padding: fc.constantFrom('valid', 'same'), activation: act }).map((c) => () => cw.layers.conv2d(c as cw.Conv2DConfig)),
    fc.record({ poolSize: fc.tuple(size, size), padding: fc.constantFrom('valid', 'same') }).map((c) => () => cw.layers.maxPool2d(c as cw.Pool2DConfig)),
    fc.record({ poolSize: fc.tuple(size, size), padding: fc.constantFrom('valid', 'same') }).map((c) => () => cw.layers.averagePool2d(c as cw.Pool2DConfig)),
    fc.record({ poolSize: fc.tuple(size, size), activation: act }).map((c) => () => cw.layers.subsampling2d(c)),
    fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)).map(([t, b, l, r]) => () => cw.layers.zeroPad2d({ padding: [[t, b], [l, r]] })),
    act.map((activation) => () => cw.layers.activation({ activation })),
    fc.double({ min: 0, max: 0.9, noNaN: true }).map((rate) => () => cw.layers.dropout({ rate })),
  );
  const stack = fc.record({
    input: fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 4 })),
    image: fc.array(imageLayer, { maxLength: 5 }),
    dense: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 2 }),
    classes: fc.integer({ min: 2, max: 10 }),
  });

  it('for random valid stacks', () => {
    let built = 0;
    fc.assert(
      fc.property(stack, ({ input, image, dense, classes }) => {
        const model = new cw.Sequential({ inputShape: input as cw.Shape3 });
        try {
          for (const make of image) model.add(make());
          model.add(cw.layers.flatten());
          for (const units of dense) model.add(cw.layers.dense({ units, activation: 'relu' }));
          model.add(cw.layers.dense({ units: classes, activation: 'softmax' }));
        } catch (error) {
          // A stack whose shapes do not work (a kernel larger than its input, say) is refused
          // before the wasm sees it.
          expect(error).toBeInstanceOf(cw.ShapeMismatchError);
          return;
        }
        model.compile({ seed: 1 });
        built++;
        const summaries = model.layerSummaries();
        const runtime = runtimeShapes(model);
        expect(runtime.outputLens).toEqual(summaries.map((l) => l.outputShape[0] * l.outputShape[1] * l.outputShape[2]));
        expect(runtime.paramCounts).toEqual(summaries.map((l) => l.params));
        expect(runtime.paramShapes.flat()).toEqual(model.weightSpecs().map((w) => w.shape));
        expect(model.getWeightsFlat().length).toBe(model.countParams());
        model.dispose();
      }),
      { numRuns: 300, seed: 19 },
    );
    console.log(`shapes and parameters: ${built} of 300 random stacks built and compared`);
    expect(built).toBeGreaterThan(100);
  });
});

describe('TypeScript and the wasm agree on the reference networks', () => {
  it('Fashion ConvNet, faithful LeNet-5 (connection table, subsampling, RBF) and modern LeNet-5', () => {
    for (const model of [cw.models.fashionConvNet(), cw.models.leNet5(), cw.models.leNet5({ variant: 'modern' })]) {
      model.compile({ optimizer: model.layers.at(-1)!.isRbf() ? 'sdlm' : 'adam' });
      const runtime = runtimeShapes(model);
      const summaries = model.layerSummaries();
      expect(runtime.outputLens).toEqual(summaries.map((l) => l.outputShape[0] * l.outputShape[1] * l.outputShape[2]));
      expect(runtime.paramCounts).toEqual(summaries.map((l) => l.params));
      expect(runtime.paramShapes.flat()).toEqual(model.weightSpecs().map((w) => w.shape));
      model.dispose();
    }
  });
});
