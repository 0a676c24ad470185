// In-browser persistence: a model saved to indexeddb:// in Chromium loads back — in the same page
// and after a reload — and predicts the same bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';
import { openBundledPage, type BrowserHarness } from './harness.js';

let harness: BrowserHarness;
let mnist: api.Dataset;
beforeAll(async () => {
  await api.init();
  mnist = await api.datasets.mnist();
  harness = await openBundledPage('test/browser/indexeddb-page.ts');
}, 60_000);
afterAll(() => harness?.close());

const b64 = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

describe('indexeddb:// in Chromium', () => {
  it('saves, loads, and loads again after a reload, with the same predict bytes', async () => {
    const train = b64(mnist.train.images.subarray(0, 320 * 784));
    const labels = b64(mnist.train.labels.subarray(0, 320));
    const test = b64(mnist.test.images.subarray(0, 50 * 784));
    const { before, after } = await harness.page.evaluate(([a, b, c]) => window.trainAndSave(a, b, c), [train, labels, test] as const);
    expect(after).toBe(before);
    await harness.page.reload();
    const reloaded = await harness.page.evaluate((c) => window.loadAndPredict(c), test);
    expect(reloaded).toBe(before);
    expect(await harness.page.evaluate(() => window.loadMissing())).toBe('MODEL_NOT_FOUND: indexeddb://no-such-model: no model of that name is stored');
    expect(harness.pageErrors).toEqual([]);
  }, 60_000);

  it('refuses indexeddb:// in Node with a clear message', async () => {
    const model = api.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam' });
    await expect(model.save('indexeddb://x')).rejects.toMatchObject({ code: 'UNSUPPORTED_PLATFORM', message: expect.stringContaining('use file:// in Node') });
    model.dispose();
  });
});
