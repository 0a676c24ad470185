// The package in a Vite app with no configuration: a page that imports 'convnet-wasm' and calls
// `init()` with no arguments is built with `vite build`, served, and run in Chromium. Vite
// copies the .wasm that the browser entry names with `new URL(…, import.meta.url)` into its
// assets by itself, and the gradient workers' script too; the page's predictions, and its weights
// after training with workers: 2 (the page and a Web Worker), equal Node's (1 thread) byte for byte.
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'vite';
import * as api from 'convnet-wasm';
import { firstDifference, openServedDirectory, type BrowserHarness } from './harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let app: string;
let harness: BrowserHarness;

beforeAll(async () => {
  await api.init();
  // An app beside the repo's node_modules (for the package's own dependencies), with the package
  // installed the way npm installs it: its package.json and dist/.
  await mkdir(join(root, 'test-results'), { recursive: true });
  app = await mkdtemp(join(root, 'test-results', 'vite-app-'));
  const installed = join(app, 'node_modules', 'convnet-wasm');
  await mkdir(installed, { recursive: true });
  await cp(join(root, 'package.json'), join(installed, 'package.json'));
  await cp(join(root, 'dist'), join(installed, 'dist'), { recursive: true });
  await writeFile(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/main.js"></script>\n');
  await writeFile(
    join(app, 'main.js'),
    `import { init, models, ops } from 'convnet-wasm';
window.result = (async () => {
  await init();
  const model = models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 7 });
  const probs = model.predict(ops.randomUniform(3, 4 * 784, 0, 1));
  // Data-parallel training with workers: 2: the page and a Web Worker, whose script Vite must have found and bundled.
  await model.fit(ops.randomUniform(4, 64 * 784, 0, 1), Uint8Array.from({ length: 64 }, (_, i) => i % 10), { batchSize: 32, workers: 2 });
  return { probs: Array.from(probs), weights: Array.from(model.getWeightsFlat()) };
})();
`,
  );
  await build({ root: app, logLevel: 'warn', build: { outDir: join(app, 'dist') } });
  harness = await openServedDirectory(join(app, 'dist'));
}, 120_000);
afterAll(async () => {
  await harness?.close();
  if (app) await rm(app, { recursive: true, force: true });
});

describe('Vite, no configuration', () => {
  it('emits the wasm and the worker script as assets; the page predicts and trains (workers: 2) to Node\'s bytes', async () => {
    const assets = await readdir(join(app, 'dist', 'assets'));
    expect(assets.some((f) => /^convnet_wasm_bg-[\w-]+\.wasm$/.test(f))).toBe(true);
    const page = await harness.page.evaluate(() => (window as unknown as { result: Promise<{ probs: number[]; weights: number[] }> }).result);
    const model = api.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 7 });
    const node = model.predict(api.ops.randomUniform(3, 4 * 784, 0, 1));
    expect(firstDifference(new Uint8Array(Float32Array.from(page.probs).buffer), new Uint8Array(node.buffer))).toBe(-1);
    await model.fit(api.ops.randomUniform(4, 64 * 784, 0, 1), Uint8Array.from({ length: 64 }, (_, i) => i % 10), { batchSize: 32, workers: 1 });
    expect(firstDifference(new Uint8Array(Float32Array.from(page.weights).buffer), new Uint8Array(model.getWeightsFlat().buffer))).toBe(-1);
    expect(assets.some((f) => /^worker\.browser-[\w-]+\.js$/.test(f))).toBe(true);
    expect(harness.pageErrors).toEqual([]);
    model.dispose();
  }, 60_000);
});
