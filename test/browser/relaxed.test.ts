// The relaxed-SIMD build in Chromium (which has relaxed SIMD): init({ simd: 'relaxed' }) loads
// it beside the bundle, its Web Worker runs the same module, and the Fashion ConvNet's first
// training steps (the network identity test's case, test/shared/network-case.ts, on 2 workers)
// give the bytes that Node gives with the same build on the same machine (both are
// V8, which lowers f32x4.relaxed_madd the same way for a given CPU: a fused multiply-add where
// the CPU has one). Across CPUs, the relaxed build promises no identity (docs/relaxed-simd.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';
import { openBundledPage, type BrowserHarness } from './harness.js';
import { RELAXED_FLAG, runRelaxedChild } from '../shared/relaxed-child.js';

let harness: BrowserHarness;
let fashion: api.Dataset;

beforeAll(async () => {
  await api.init();
  fashion = await api.datasets.fashionMnist();
  harness = await openBundledPage('test/browser/relaxed-page.ts');
}, 60_000);

afterAll(() => harness?.close());

describe("init({ simd: 'relaxed' }) in Chromium", () => {
  it('trains the Fashion ConvNet on 2 workers to the bytes of the relaxed build in Node', async () => {
    const b64 = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
    const data = { train: b64(fashion.train.images.subarray(0, 96 * 784)), labels: b64(fashion.train.labels.subarray(0, 96)), test: b64(fashion.test.images.subarray(0, 100 * 784)) };
    const loaded = await harness.page.evaluate(() => window.initRelaxed());
    expect(loaded.supported).toBe(true);
    expect(loaded.buildInfo).toMatch(/\+simd128\+relaxed-simd$/);
    const page = await harness.page.evaluate(([t, l, x]) => window.runNetworkCase('fashion', { train: t, labels: l, test: x }, 2), [data.train, data.labels, data.test] as const);

    const node = runRelaxedChild('relaxed', 1, api.relaxedSimdSupported() ? [] : [RELAXED_FLAG]);
    expect(page.losses).toEqual(node.losses);
    const weights = Buffer.from(page.weights, 'base64');
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(weights).digest('hex')).toBe(node.weights);
    // The case's predict bytes come first (then its test-time views', which the child does not compute).
    const predictions = new Float32Array(new Uint8Array(Buffer.from(page.predictions, 'base64')).buffer);
    expect(predictions.length).toBe(2 * 100 * 10);
    expect(Array.from(predictions.subarray(0, 100 * 10))).toEqual(node.probabilities);
    expect(harness.pageErrors).toEqual([]);
  }, 120_000);
});
