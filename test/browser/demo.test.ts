// End-to-end tests of the demo page (examples/browser), built the way `npm run demo` builds it and
// opened in headless Debian Chromium: draw a 7 with mouse events, pick a Fashion-MNIST test image
// and compare the page's probabilities with Node's, and train in the Web Worker (curve moves,
// stop, resume, save to IndexedDB, use the saved model). Screenshots of each view go to
// test-results/demo-screenshots/ (CI artifacts; not committed).
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';
// @ts-expect-error: a plain .mjs script without types
import { buildDemo, SAMPLES } from '../../examples/browser/build.mjs';
import { firstDifference, openServedDirectory, type BrowserHarness } from './harness.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const shots = join(root, 'test-results', 'demo-screenshots');
let harness: BrowserHarness;
let fashion: api.Dataset;

beforeAll(async () => {
  await api.init();
  fashion = await api.datasets.fashionMnist();
  const dir = await mkdtemp(join(tmpdir(), 'convnet-demo-'));
  await (buildDemo as (out: string) => Promise<void>)(dir);
  await mkdir(shots, { recursive: true });
  harness = await openServedDirectory(dir, { path: '#draw', removeAfter: true });
  await harness.page.waitForFunction(() => window.demo?.timings.firstPrediction !== undefined || window.demo?.errors.length > 0, null, { timeout: 60_000 });
}, 120_000);
afterAll(() => harness?.close());

const bytes = (values: ArrayLike<number>) => new Uint8Array(Float32Array.from(values).buffer);

describe('demo page in Chromium', () => {
  it('loads the wasm, both models and the data, and makes its first prediction', async () => {
    const state = await harness.page.evaluate(() => ({ timings: window.demo.timings, errors: window.demo.errors }));
    expect(state.errors).toEqual([]);
    const { wasmReady, modelsReady, firstPrediction } = state.timings;
    console.log(`demo: wasm ready ${wasmReady!.toFixed(0)} ms, models and data ${modelsReady!.toFixed(0)} ms, first prediction ${firstPrediction!.toFixed(0)} ms after navigation`);
    expect(firstPrediction).toBeGreaterThan(0);
    expect(await harness.page.locator('#status').textContent()).toMatch(/^Ready: .*first prediction \d+ ms/);
  });

  it('classifies a 7 drawn with the mouse, showing the 32×32 input and the C1 and C3 maps', async () => {
    const { page } = harness;
    const box = (await page.locator('#pad').boundingBox())!;
    const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
    await page.mouse.move(...at(0.28, 0.22));
    await page.mouse.down();
    await page.mouse.move(...at(0.72, 0.22), { steps: 12 });
    await page.mouse.move(...at(0.45, 0.82), { steps: 16 });
    await page.mouse.up();
    await expect.poll(() => page.evaluate(() => window.demo.digit?.predicted), { timeout: 5_000 }).toBe(7);
    expect(await page.locator('#digit-prediction').getAttribute('data-predicted')).toBe('7');
    expect(await page.locator('#c1-maps canvas').count()).toBe(6);
    expect(await page.locator('#c3-maps canvas').count()).toBe(16);
    const best = await page.locator('#digit-bars .bar.best .label').textContent();
    expect(best).toBe('7');
    await page.screenshot({ path: join(shots, 'draw.png'), fullPage: true });
    // Clearing empties the views.
    await page.click('#pad-clear');
    await expect.poll(() => page.evaluate(() => window.demo.digit)).toBeNull();
  });

  it('shows a Fashion-MNIST test image with the same probabilities, byte for byte, as Node', async () => {
    const { page } = harness;
    await page.click('#tab-fashion');
    await page.fill('#fashion-index', '42');
    await page.press('#fashion-index', 'Enter');
    await expect.poll(() => page.evaluate(() => window.demo.fashion?.index)).toBe(42);
    const shown = (await page.evaluate(() => window.demo.fashion))!;
    expect(shown.label).toBe(fashion.test.labels[42]);

    const model = await api.loadModel(`file://${join(root, 'examples/browser/models/fashion')}`);
    const node = model.predict(fashion.test.images.subarray(42 * 784, 43 * 784));
    expect(firstDifference(bytes(shown.probabilities), new Uint8Array(node.buffer))).toBe(-1);
    const top = [...node.keys()].sort((a, b) => node[b]! - node[a]!)[0]!;
    expect(await page.locator('#fashion-top3 li').first().textContent()).toContain(fashion.classNames[top]!);
    expect(await page.locator('#fashion-top3 li').count()).toBe(3);

    // The confusion matrix over the page's sample: the same accuracy as Node's evaluate.
    await expect.poll(() => page.evaluate(() => window.demo.confusion.accuracy), { timeout: 60_000 }).toBeDefined();
    const n = SAMPLES.fashionTest as number;
    const expected = model.evaluate(fashion.test.images.subarray(0, n * 784), fashion.test.labels.subarray(0, n));
    expect(await page.evaluate(() => window.demo.confusion.accuracy)).toBe(expected.accuracy);
    expect(await page.locator('#confusion tbody tr').count()).toBe(10);
    await page.click('#fashion-shuffle');
    expect(await page.locator('#fashion-grid canvas').count()).toBe(24);
    await page.screenshot({ path: join(shots, 'fashion.png'), fullPage: true });
    model.dispose();
  }, 90_000);

  it('trains LeNet-5 in a worker: the curve moves, the page stays responsive, stop and resume work', async () => {
    const { page } = harness;
    await page.click('#tab-train');
    await expect.poll(() => page.evaluate(() => window.demo.train.state), { timeout: 30_000 }).toBe('idle');
    await page.click('#train-start');
    await expect.poll(() => page.evaluate(() => window.demo.train.progress.length), { timeout: 30_000 }).toBeGreaterThanOrEqual(8);
    // While the worker trains, a timer on the page's main thread still fires promptly.
    const lag = await page.evaluate(() => new Promise<number>((resolve) => {
      const t = performance.now();
      setTimeout(() => resolve(performance.now() - t), 0);
    }));
    expect(lag).toBeLessThan(100);
    const line = await page.locator('#train-curve polyline.loss').getAttribute('points');
    expect(line!.split(' ').length).toBeGreaterThanOrEqual(8);

    await page.click('#train-stop');
    await expect.poll(() => page.evaluate(() => window.demo.train.state)).toBe('stopped');
    const stoppedAt = await page.evaluate(() => window.demo.train.progress.length);
    await page.waitForTimeout(500);
    expect(await page.evaluate(() => window.demo.train.progress.length)).toBe(stoppedAt);
    const progress = await page.evaluate(() => window.demo.train.progress);
    expect(progress[progress.length - 1]!.loss).toBeLessThan(progress[0]!.loss);

    await page.click('#train-resume');
    await expect.poll(() => page.evaluate(() => window.demo.train.progress.length), { timeout: 30_000 }).toBeGreaterThan(stoppedAt + 4);
    const steps = await page.evaluate(() => window.demo.train.progress.map((p) => p.step));
    expect(steps.every((s, i) => i === 0 || s > steps[i - 1]!)).toBe(true);
    await page.click('#train-stop');
    await expect.poll(() => page.evaluate(() => window.demo.train.state)).toBe('stopped');
    await page.screenshot({ path: join(shots, 'train.png'), fullPage: true });

    // Save to IndexedDB from the worker, then load it on the page for the drawing pad.
    await page.click('#train-save');
    await expect.poll(() => page.locator('#train-saved').textContent()).toContain('indexeddb://');
    await page.click('#tab-draw');
    await page.click('#draw-saved');
    await expect.poll(() => page.locator('#draw-model').textContent()).toContain('from IndexedDB');
    expect(harness.pageErrors).toEqual([]);
    expect(await page.evaluate(() => window.demo.errors)).toEqual([]);
  }, 120_000);
});
