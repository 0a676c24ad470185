// The package in a Vite app with no configuration: a page that imports 'convnet-wasm' and calls
// `init()` with no arguments is built with `vite build`, served, and run in Chromium. Vite
// copies the .wasm that the browser entry names with `new URL(…, import.meta.url)` into its
// assets by itself; the page's predictions equal Node's byte for byte.
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
  return Array.from(probs);
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
  it('emits the wasm as an asset, and the built page predicts the same bytes as Node', async () => {
    const assets = await readdir(join(app, 'dist', 'assets'));
    expect(assets.some((f) => /^convnet_wasm_bg-[\w-]+\.wasm$/.test(f))).toBe(true);
    const page = await harness.page.evaluate(() => (window as unknown as { result: Promise<number[]> }).result);
    const model = api.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 7 });
    const node = model.predict(api.ops.randomUniform(3, 4 * 784, 0, 1));
    expect(firstDifference(new Uint8Array(Float32Array.from(page).buffer), new Uint8Array(node.buffer))).toBe(-1);
    expect(harness.pageErrors).toEqual([]);
    model.dispose();
  }, 60_000);
});
