// Node and Chromium train the reference networks from the same seeds on the same real images
// (Fashion ConvNet: 3 steps of batch 32; faithful LeNet-5: 50 SDLM steps of batch 1; modern
// LeNet-5: 50 Adam steps of batch 8; two nets of the later layers and augmentation: 4 Adam
// steps of batch 32; the faithful LeNet-5 with distortions: 30 SDLM steps; a residual graph model:
// 4 Adam steps of batch 32), then predict 100
// test images. The loss after every step,
// every weight byte and every predict byte must be equal, whatever the number of data-parallel
// workers on either side (Web Workers in the page, worker_threads in Node).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';
import { networkCase } from '../shared/network-case.js';
import { firstDifference, openBundledPage, type BrowserHarness } from './harness.js';

let harness: BrowserHarness;
let fashion: api.Dataset;
let mnist: api.Dataset;

beforeAll(async () => {
  await api.init();
  [fashion, mnist] = await Promise.all([api.datasets.fashionMnist(), api.datasets.mnist()]);
  harness = await openBundledPage('test/browser/network-page.ts');
}, 60_000);

afterAll(() => harness?.close());

describe('whole networks in Chromium and in Node', () => {
  // Node uses its default workers (one per core), the page computes every micro-batch itself;
  // then the page trains with workers: 2 (itself and a Web Worker), Node with workers: 4 (itself
  // and 3 worker threads).
  const cases = [
    { network: 'fashion', page: undefined, node: undefined },
    { network: 'lenet5', page: undefined, node: undefined },
    { network: 'lenet5-modern', page: undefined, node: undefined },
    { network: 'fashion', page: 2, node: 4 },
    { network: 'lenet5-modern', page: 2, node: 4 },
    { network: 'normalised', page: undefined, node: undefined },
    { network: 'normalised', page: 2, node: 4 },
    { network: 'keras3', page: 2, node: 4 },
    { network: 'lenet5-distorted', page: undefined, node: undefined },
    { network: 'residual', page: 2, node: 4 },
  ] as const;
  for (const { network, page, node: nodeWorkers } of cases) {
    const workers = page === undefined ? '' : ` (workers: ${page} in the page, ${nodeWorkers} in Node)`;
    it(`${network}${workers}: the same loss at every step, weight bytes and predict bytes`, async () => {
      const d = network === 'fashion' || network === 'normalised' || network === 'keras3' || network === 'residual' ? fashion : mnist;
      const data = { trainImages: d.train.images.subarray(0, 400 * 784), trainLabels: d.train.labels.subarray(0, 400), testImages: d.test.images.subarray(0, 100 * 784) };
      const b64 = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
      const browser = await harness.page.evaluate(([n, t, l, x, w]) => window.runNetworkCase(n, { train: t, labels: l, test: x }, w ?? undefined), [
        network,
        b64(data.trainImages),
        b64(data.trainLabels),
        b64(data.testImages),
        page ?? null,
      ] as const);
      const node = await networkCase(api, network, data, nodeWorkers);
      expect(browser.losses).toEqual(node.losses);
      const weights = new Uint8Array(Buffer.from(browser.weights, 'base64'));
      const predictions = new Uint8Array(Buffer.from(browser.predictions, 'base64'));
      expect(firstDifference(weights, node.weights), `weights: ${node.weights.length} bytes`).toBe(-1);
      expect(firstDifference(predictions, node.predictions), `predictions: ${node.predictions.length} bytes`).toBe(-1);
      expect(harness.pageErrors).toEqual([]);
    }, 120_000);
  }
});
