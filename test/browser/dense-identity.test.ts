// Node and Chromium run the same Dense forward+backward, with the same seed, inside the same
// .wasm; every byte of the results must be equal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';
import { denseCaseBytes } from '../shared/dense-case.js';
import { firstDifference, openBundledPage, type BrowserHarness } from './harness.js';

let harness: BrowserHarness;

beforeAll(async () => {
  await api.init();
  harness = await openBundledPage('test/browser/dense-page.ts');
});

afterAll(() => harness?.close());

describe('Dense forward+backward in Chromium and in Node', () => {
  for (const seed of [7, 1234]) {
    it(`gives identical bytes (seed ${seed})`, async () => {
      const fromBrowser = await harness.page.evaluate((s) => window.runDenseCase(s), seed);
      expect(fromBrowser.buildInfo).toBe(api.buildInfo());
      const browserBytes = new Uint8Array(Buffer.from(fromBrowser.base64, 'base64'));
      const nodeBytes = denseCaseBytes(api, seed);
      expect(nodeBytes.length).toBe(4 * (9 * 37 + 37 * 21 + 21 + 9 * 21 + 9 * 21 + 9 * 37 + 37 * 21 + 21));
      const at = firstDifference(browserBytes, nodeBytes);
      expect(at, `first differing byte at ${at} of ${nodeBytes.length}`).toBe(-1);
      expect(harness.pageErrors).toEqual([]);
    });
  }
});
