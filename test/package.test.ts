// The package as a user gets it: `npm pack`, installed from the tarball into a scratch project
// with `npm ci --offline` (test/shared/packed.ts), then used the ways the README says:
//   - the install: runtime dependencies ≤ 3 MB, no install scripts, no @types/* for consumers;
//   - `import` (ESM) and `require()` (CommonJS) in Node, predicting on real test images with the
//     same bytes as this checkout;
//   - the declarations under `tsc --strict` without skipLibCheck: Node (ES2022 + @types/node), a
//     browser (DOM, `types: []`), and a `.cts` file with `module: nodenext`;
//   - the README's esbuild commands as written, and a Vite build, each a page that predicts in
//     Chromium (Debian's, through playwright-core);
//   - the CLI: `convnet-wasm train --epochs 1 --train-limit 512`, then evaluate, predict, export.
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { openServedDirectory } from './browser/harness.js';
import { installPacked, root, run, type Installed } from './shared/packed.js';

let pkg: Installed;
let app: string;
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
/** The predictions this checkout makes: the Fashion ConvNet, seed 7, on the first 4 test images. */
let expected: number[];

const PREDICT = `const model = models.fashionConvNet().compile({ optimizer: 'nadam', seed: 7 });
const data = await datasets.fashionMnist(DATA);
const probabilities = Array.from(model.predict(data.test.images.subarray(0, 4 * 784)));
model.dispose();`;

beforeAll(async () => {
  pkg = await installPacked(['@types/node']);
  app = pkg.dir;
  await cw.init();
  const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 7 });
  const data = await cw.datasets.fashionMnist();
  expected = Array.from(model.predict(data.test.images.subarray(0, 4 * 784)));
  model.dispose();
}, 180_000);

async function dirSize(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    total += entry.isDirectory() ? await dirSize(p) : (await stat(p)).size;
  }
  return total;
}

describe('the packed package, installed from its tarball', () => {
  it('adds at most 3 MB of runtime dependencies, with no install scripts and no @types', async () => {
    let bytes = 0;
    for (const path of pkg.runtime) bytes += await dirSize(join(app, path));
    console.log(`runtime dependencies: ${pkg.runtime.map((p) => p.replace(/^.*node_modules\//, '')).join(', ')}; ${(bytes / 1e6).toFixed(2)} MB installed`);
    expect(bytes).toBeLessThanOrEqual(3e6);
    expect(pkg.runtime.filter((p) => pkg.entries[p]!.hasInstallScript)).toEqual([]);
    expect(pkg.runtime.filter((p) => p.includes('@types/'))).toEqual([]);
    const manifest = JSON.parse(await readFile(join(app, 'node_modules', 'convnet-wasm', 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(Object.keys(manifest.scripts ?? {}).filter((s) => /install|prepare/.test(s))).toEqual([]);
  });

  it('imports as ESM and predicts the same bytes as this checkout', async () => {
    await writeFile(join(app, 'esm.mjs'), `import { init, models, datasets } from 'convnet-wasm';\nconst DATA = {};\nawait init();\n${PREDICT}\nconsole.log(JSON.stringify(probabilities));\n`);
    const { stdout } = await run('node', ['esm.mjs'], { cwd: app });
    expect(JSON.parse(stdout)).toEqual(expected);
  }, 60_000);

  it('loads with require() from CommonJS', async () => {
    await writeFile(
      join(app, 'cjs.cjs'),
      `const { init, models, datasets } = require('convnet-wasm');\nconst DATA = {};\n(async () => {\nawait init();\n${PREDICT}\nconsole.log(JSON.stringify(probabilities));\n})();\n`,
    );
    const { stdout } = await run('node', ['cjs.cjs'], { cwd: app });
    expect(JSON.parse(stdout)).toEqual(expected);
  }, 60_000);

  const USE = `await init();
const model = models.fashionConvNet().compile({ optimizer: 'nadam' });
const history = await model.fit(new Uint8Array(784), new Uint8Array(1), { epochs: 1, callbacks: [{ onEpochEnd: (_e, logs) => console.log(logs.val_loss ?? logs.loss) }] });
const p: Float32Array = model.predict(new Uint8Array(784));
const w: WeightTensor[] = model.getWeights();
console.log(p.length, w[0]!.shape, history.history.loss);
try { await loadModel('file://nowhere'); } catch (e) { if (e instanceof ConvnetError) console.log(e.code satisfies ErrorCode); }
const f: FitConfig = { verbose: 0 };
void f;
`;
  const strict = { strict: true, skipLibCheck: false, noEmit: true, target: 'ES2022' };
  const setups: [string, string, string, Record<string, unknown>][] = [
    ['Node: lib ES2022 + @types/node', 'node', 'main.ts', { ...strict, lib: ['ES2022'], module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] }],
    ['browser: lib DOM, types: []', 'browser', 'main.ts', { ...strict, lib: ['ES2022', 'DOM'], module: 'esnext', moduleResolution: 'bundler', types: [] }],
    ['CommonJS .cts, module nodenext', 'cjs', 'main.cts', { ...strict, lib: ['ES2022'], module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] }],
  ];
  for (const [title, dir, file, options] of setups) {
    it(`its declarations compile with tsc --strict, skipLibCheck false: ${title}`, async () => {
      const where = join(app, `tsc-${dir}`);
      await mkdir(where, { recursive: true });
      const names = 'init, models, loadModel, ConvnetError, type ErrorCode, type FitConfig, type WeightTensor';
      const source =
        file === 'main.cts'
          ? `import cw = require('convnet-wasm');\nconst { init, models, loadModel, ConvnetError } = cw;\ntype ErrorCode = cw.ErrorCode;\ntype FitConfig = cw.FitConfig;\ntype WeightTensor = cw.WeightTensor;\nasync function main(): Promise<void> {\n${USE}}\nvoid main();\n`
          : `import { ${names} } from 'convnet-wasm';\n${USE}export {};\n`;
      await writeFile(join(where, file), source);
      if (file !== 'main.cts') await writeFile(join(where, 'package.json'), '{ "type": "module" }\n');
      await writeFile(join(where, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: [file] }, null, 2));
      const result = await run(bin('tsc'), ['-p', where], { cwd: app }).catch((e: { stdout: string }) => e);
      expect(result.stdout).toBe('');
    }, 60_000);
  }
});

describe('the packed package in a browser', () => {
  const page = (data: string) => `import { init, models, datasets } from 'convnet-wasm';
window.result = (async () => {
  const DATA = { bytes: ${data} };
  await init();
  ${PREDICT.replace(/\n/g, '\n  ')}
  // fit({ workers: 2 }) starts a Web Worker from the worker script beside the page.
  const m = models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 1 });
  await m.fit(new Uint8Array(64 * 784), new Uint8Array(64), { batchSize: 32, workers: 2 });
  m.dispose();
  return probabilities;
})();
`;
  // The four IDX files, fetched by the page from beside it.
  const fetched = `Object.fromEntries(await Promise.all(['trainImages', 'trainLabels', 'testImages', 'testLabels'].map(async (k) => [k, new Uint8Array(await (await fetch('./' + k)).arrayBuffer())])))`;

  async function addData(dir: string): Promise<void> {
    const source = '/usr/share/datasets/fashion-mnist';
    const files = await readdir(source);
    const pick = (re: RegExp) => files.find((f) => re.test(f))!;
    const names: Record<string, string> = {
      trainImages: pick(/^train-images/),
      trainLabels: pick(/^train-labels/),
      testImages: pick(/^t10k-images/),
      testLabels: pick(/^t10k-labels/),
    };
    for (const [k, f] of Object.entries(names)) await writeFile(join(dir, k), await readFile(join(source, f)));
  }

  async function predictions(dir: string): Promise<number[]> {
    const harness = await openServedDirectory(dir);
    try {
      const result = await harness.page.evaluate(() => (window as unknown as { result: Promise<number[]> }).result);
      expect(harness.pageErrors).toEqual([]);
      return result;
    } finally {
      await harness.close();
    }
  }

  it("the README's esbuild commands, as written: the page predicts this checkout's bytes and trains on a worker", async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const block = /<!-- the commands below are run as written by test\/package\.test\.ts -->\s*```sh\n([\s\S]*?)```/.exec(readme);
    expect(block).not.toBeNull();
    const commands = block![1]!.split('\n').map((l) => l.trim()).filter(Boolean);
    // The scratch project is the user's: app.js at its root, the page in public/.
    const where = app;
    await mkdir(join(where, 'public'), { recursive: true });
    await writeFile(join(where, 'app.js'), page(fetched));
    await writeFile(join(where, 'public', 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="app.js"></script>\n');
    await addData(join(where, 'public'));
    // esbuild is this checkout's (a user installs their own); everything else is the README's.
    const script = `set -e\nnpx() { "${join(root, 'node_modules', '.bin')}/$1" "\${@:2}"; }\n${commands.join('\n')}\n`;
    await run('bash', ['-c', script], { cwd: where });
    expect(await predictions(join(where, 'public'))).toEqual(expected);
  }, 120_000);

  it('a Vite build with no configuration: the page predicts the same bytes', async () => {
    const where = join(app, 'vite-app');
    await mkdir(join(where, 'public'), { recursive: true });
    await writeFile(join(where, 'main.js'), page(fetched));
    await writeFile(join(where, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="/main.js"></script>\n');
    await addData(join(where, 'public'));
    const { build } = await import('vite');
    await build({ root: where, logLevel: 'warn', build: { outDir: join(where, 'dist') } });
    expect(await predictions(join(where, 'dist'))).toEqual(expected);
  }, 120_000);
});

describe('the CLI of the packed package', () => {
  const cli = (...args: string[]) => run(join(app, 'node_modules', '.bin', 'convnet-wasm'), args, { cwd: app, maxBuffer: 1 << 24 });
  // The CLI's saved model against the library's model trained the same way: the same bytes out
  // for 8 test images. Disposes both.
  const expectSavedPredictsAs = async (dir: string, model: cw.LayersModel, images: Uint8Array) => {
    const saved = await cw.loadModel(`file://${join(app, dir)}`);
    const some = images.subarray(0, 8 * 784);
    expect(Buffer.from(saved.predict(some).buffer).equals(Buffer.from(model.predict(some).buffer))).toBe(true);
    model.dispose();
    saved.dispose();
  };

  it('train --epochs 1 --train-limit 512, then evaluate, predict and export the saved model', async () => {
    const trained = await cli('train', '--epochs', '1', '--train-limit', '512', '--out', 'out/fashion');
    const accuracy = Number(/test accuracy (\d\.\d+)/.exec(trained.stdout)?.[1]);
    // 16 steps: well above chance (0.1), far from a trained model.
    expect(accuracy).toBeGreaterThan(0.15);
    expect(trained.stdout).toContain('Model saved to out/fashion/model.json');
    const svg = await readFile(join(app, 'out', 'fashion', 'curve.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);

    const evaluated = JSON.parse((await cli('evaluate', 'out/fashion', '--json')).stdout) as cw.Evaluation & { images: number };
    expect(evaluated.images).toBe(10_000);
    expect(evaluated.accuracy.toFixed(4)).toBe(accuracy.toFixed(4));
    // --views: the library's evaluate over testTimeViews(), on the saved model.
    const viewed = JSON.parse((await cli('evaluate', 'out/fashion', '--views', '--count', '300', '--json')).stdout) as cw.Evaluation & { images: number; views: number };
    const saved = await cw.loadModel(`file://${join(app, 'out', 'fashion')}`);
    const data = await cw.datasets.fashionMnist();
    const want = saved.evaluate(data.test.images.subarray(0, 300 * 784), data.test.labels.subarray(0, 300), { views: cw.testTimeViews() });
    saved.dispose();
    expect(viewed).toEqual({ images: 300, views: 10, ...want });

    const predicted = (await cli('predict', 'out/fashion/model.json', '--count', '3', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { index: number; predicted: number; probabilities: number[] });
    expect(predicted.map((p) => p.index)).toEqual([0, 1, 2]);
    for (const p of predicted) expect(p.probabilities.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);

    await cli('export', 'out/fashion', '--format', 'onnx');
    const onnx = await readFile(join(app, 'out', 'fashion', 'model.onnx'));
    expect(onnx.length).toBeGreaterThan(5_000_000);
    await cli('export', 'file://out/fashion', '--format', 'tfjs', '--out', 'out/tfjs');
    expect(JSON.parse(await readFile(join(app, 'out', 'tfjs', 'model.json'), 'utf8'))).toHaveProperty('modelTopology');
  }, 300_000);

  it('train --model fashion-bn runs the documented recipe: Adam with a cosine decay per epoch, batch 64 in micro-batches of 32', async () => {
    const trained = await cli('train', '--model', 'fashion-bn', '--epochs', '2', '--train-limit', '256', '--test-limit', '100', '--seed', '1', '--out', 'out/bn');
    expect(trained.stdout).toContain('batch 64, adam, learning rate 0.001 decayed per epoch along a cosine to 0.00001');
    expect(trained.stdout).toContain('micro-batches of 32');
    const data = await cw.datasets.fashionMnist();
    const x = data.train.images.subarray(0, 256 * 784);
    const y = data.train.labels.subarray(0, 256);
    const { validation } = cw.trainValidationSplit(data.train);
    const model = cw.models.fashionConvNetBN().compile({
      optimizer: 'adam',
      learningRate: cw.cosineDecayPerEpoch({ initialLearningRate: 0.001, epochs: 2, stepsPerEpoch: 4, alpha: 0.01 }),
      seed: 1,
    });
    await model.fit(x, y, { epochs: 2, batchSize: 64, microBatchSize: 32, validationData: [validation.images, validation.labels] });
    await expectSavedPredictsAs('out/bn', model, data.test.images);
  }, 120_000);

  it('train --model fashion-resnet --views: the residual network by the same recipe, its test accuracy also over the ten views', async () => {
    const trained = await cli('train', '--model', 'fashion-resnet', '--views', '--epochs', '1', '--train-limit', '128', '--test-limit', '100', '--seed', '2', '--out', 'out/resnet');
    expect(trained.stdout).toContain('batch 64, adam, learning rate 0.001 decayed per epoch along a cosine to 0.00001');
    const data = await cw.datasets.fashionMnist();
    const { validation } = cw.trainValidationSplit(data.train);
    const model = cw.models.fashionResNet().compile({
      optimizer: 'adam',
      learningRate: cw.cosineDecayPerEpoch({ initialLearningRate: 0.001, epochs: 1, stepsPerEpoch: 2, alpha: 0.01 }),
      seed: 2,
    });
    await model.fit(data.train.images.subarray(0, 128 * 784), data.train.labels.subarray(0, 128), { epochs: 1, batchSize: 64, microBatchSize: 32, validationData: [validation.images, validation.labels] });
    const [x, y] = [data.test.images.subarray(0, 100 * 784), data.test.labels.subarray(0, 100)];
    const viewed = model.evaluate(x, y, { views: cw.testTimeViews() });
    expect(trained.stdout).toContain(`test accuracy of the image alone ${model.evaluate(x, y).accuracy.toFixed(4)}`);
    expect(trained.stdout).toContain(`test accuracy averaged over 10 views ${viewed.accuracy.toFixed(4)}, test loss ${viewed.loss.toFixed(4)}`);
    await expectSavedPredictsAs('out/resnet', model, data.test.images);
  }, 120_000);

  it('train --label-smoothing trains against smoothed labels and saves the setting with the model', async () => {
    const trained = await cli('train', '--model', 'fashion-bn', '--label-smoothing', '0.1', '--epochs', '1', '--train-limit', '128', '--test-limit', '100', '--out', 'out/ls');
    expect(trained.stdout).toContain('to 0.00001, label smoothing 0.1, seed 42');
    const saved = JSON.parse(await readFile(join(app, 'out', 'ls', 'model.json'), 'utf8'));
    expect(saved.compileConfig.loss).toEqual({ type: 'sparseCategoricalCrossentropy', labelSmoothing: 0.1 });
  }, 120_000);

  it('train --optimizer adamw --weight-decay trains with AdamW and saves the setting with the model', async () => {
    const trained = await cli('train', '--model', 'fashion-bn', '--optimizer', 'adamw', '--weight-decay', '0.05', '--epochs', '1', '--train-limit', '128', '--test-limit', '100', '--out', 'out/adamw');
    expect(trained.stdout).toContain('adamw, learning rate 0.001 decayed per epoch along a cosine to 0.00001, weight decay 0.05, seed 42');
    const saved = JSON.parse(await readFile(join(app, 'out', 'adamw', 'model.json'), 'utf8'));
    expect(saved.compileConfig.optimizer).toEqual({ type: 'adamw', weightDecay: 0.05 });
  }, 120_000);

  it("train --model lenet5 --distortions --j 2 --eta …: the help's recipe, as the library trains it", async () => {
    const etas = [0.00002, 0.00005, 0.00005, 0.00002, 0.00001];
    const trained = await cli(
      'train', '--model', 'lenet5', '--distortions', '--j', '2', '--eta', etas.join(','),
      '--epochs', '1', '--train-limit', '64', '--test-limit', '100', '--seed', '3', '--out', 'out/lenet',
    );
    expect(trained.stdout).toContain('loss eq. 9 (j = 2), distortions "default"');
    expect(trained.stdout).toContain(`η ${etas.join(', ')} for passes 1–2`);
    const data = await cw.datasets.mnist();
    const model = cw.models.leNet5({ distortions: true }).compile({
      optimizer: { type: 'sdlm', mu: 0.02 },
      loss: { type: 'rbfMap', j: 2 },
      learningRate: cw.leNet5Schedule(64, etas),
      seed: 3,
    });
    await model.fit(data.train.images.subarray(0, 64 * 784), data.train.labels.subarray(0, 64), { epochs: 1, batchSize: 1 });
    await expectSavedPredictsAs('out/lenet', model, data.test.images);
  }, 120_000);

  it('--help for every command; a bad option names itself', async () => {
    for (const command of [[], ['train'], ['evaluate'], ['predict'], ['export']]) {
      const { stdout } = await cli(...command, '--help');
      expect(stdout).toMatch(/^Usage: convnet-wasm/);
    }
    const bad = await cli('train', '--epochs', 'two').catch((e: { code: number; stderr: string }) => e);
    expect('code' in bad && bad.code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain("--epochs must be an integer ≥ 1, got \"two\"");
    for (const [args, message] of [
      [['--distortions'], '--distortions applies to --model lenet5 (faithful) only'],
      [['--model', 'lenet5', '--distortions', '2,0.1'], "--distortions takes four bounds 'translation,scale,squeeze,shear' (numbers ≥ 0), got '2,0.1'"],
      [['--model', 'lenet5', '--schedule', 'cosine'], "--schedule is for sgd, adam, adamw, nadam and rmsprop; sdlm follows the paper's stages (--eta)"],
      [['--model', 'lenet5', '--weight-decay', '0.1'], '--weight-decay is for sgd, adam, adamw, nadam and rmsprop, not sdlm'],
      [['--weight-decay', '-1'], '--weight-decay must be a number ≥ 0, got "-1"'],
      // The CLI runs without Node's flags, so Node 20 refuses the relaxed build in its words.
      ...(cw.relaxedSimdSupported() ? [] : ([[['--simd', 'relaxed'], 'error: --simd relaxed: this Node.js has no WebAssembly relaxed SIMD'] as const])),
      [['--j', '2'], '--j applies to --model lenet5 (faithful) only'],
      [['--model', 'lenet5', '--j', '0'], '--j must be a positive number, got "0"'],
      [['--label-smoothing', '2'], '--label-smoothing must be a number in [0, 1], got "2"'],
      [['--model', 'lenet5', '--label-smoothing', '0.1'], '--label-smoothing applies to the softmax networks, not lenet5 (faithful)'],
    ] as const) {
      const wrong = await cli('train', ...args).catch((e: { code: number; stderr: string }) => e);
      expect((wrong as { stderr: string }).stderr).toContain(message);
    }
    const missing = await cli('evaluate', 'no/such/model').catch((e: { code: number; stderr: string }) => e);
    expect((missing as { stderr: string }).stderr).toMatch(/^error: MODEL_NOT_FOUND: no\/such\/model\/model\.json: ENOENT/);
  }, 60_000);
});

