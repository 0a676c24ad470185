// Data-parallel training (fit({ workers, microBatchSize })) on real data: the weights, losses and
// predictions are the same bits for 1, 2 and 4 workers (worker_threads, each with its own wasm
// instance), a checkpoint written with one worker count resumes with another to the same result,
// and the options are checked.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

let fashion: cw.Dataset;
let mnist: cw.Dataset;
let dir: string;
beforeAll(async () => {
  await cw.init();
  [fashion, mnist] = await Promise.all([cw.datasets.fashionMnist(), cw.datasets.mnist()]);
  dir = await mkdtemp(join(tmpdir(), 'convnet-parallel-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const hex = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

async function run(build: () => cw.Sequential, d: cw.Dataset, n: number, config: cw.FitConfig) {
  const model = build();
  const losses: number[] = [];
  const history = await model.fit(d.train.images.subarray(0, n * 784), d.train.labels.subarray(0, n), {
    ...config,
    callbacks: { onBatchEnd: (_b, logs) => void losses.push(logs.loss) },
  });
  const result = { losses, history, weights: hex(model.getWeightsFlat()), predictions: hex(model.predict(d.test.images.subarray(0, 50 * 784))) };
  model.dispose();
  return result;
}

describe('data-parallel training', () => {
  it('Fashion ConvNet (dropout, Nadam): the same bits for 1, 2 and 4 workers', async () => {
    const build = () => cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 });
    // 4 steps of 32 and a last step of 16: micro-batches of 8, the last step has two.
    const results = [];
    for (const workers of [1, 2, 4]) results.push(await run(build, fashion, 144, { batchSize: 32, workers }));
    expect(results[0]!.losses).toHaveLength(5);
    for (const r of results.slice(1)) {
      expect(r.losses).toEqual(results[0]!.losses);
      expect(r.weights === results[0]!.weights).toBe(true);
      expect(r.predictions === results[0]!.predictions).toBe(true);
    }
    // The micro-batch size is part of the computation: the whole batch in one step differs.
    const whole = await run(build, fashion, 144, { batchSize: 32, microBatchSize: 32 });
    expect(whole.weights === results[0]!.weights).toBe(false);
  }, 120_000);

  it('modern LeNet-5: a checkpoint written with 2 workers resumes with 1 to the bits of an uninterrupted 4-worker run', async () => {
    const build = () => cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 3 });
    const n = 320;
    const fit = { epochs: 2, batchSize: 32, microBatchSize: 4 };
    const straight = await run(build, mnist, n, { ...fit, workers: 4 });
    const checkpoint = { dir: join(dir, 'lenet'), every: 3 };
    const first = build();
    await first.fit(mnist.train.images.subarray(0, n * 784), mnist.train.labels.subarray(0, n), {
      ...fit,
      workers: 2,
      checkpoint,
      callbacks: {
        onBatchEnd: (batch) => {
          if (batch === 6) first.stopTraining = true; // after step 7; the checkpoint holds step 6
        },
      },
    });
    first.dispose();
    const resumed = await run(build, mnist, n, { ...fit, workers: 1, checkpoint, resume: true });
    expect(resumed.weights === straight.weights).toBe(true);
    expect(resumed.history.history).toEqual(straight.history.history);
    // A different micro-batch size would change the result: the checkpoint refuses it.
    const other = build();
    await expect(
      other.fit(mnist.train.images.subarray(0, n * 784), mnist.train.labels.subarray(0, n), { ...fit, microBatchSize: 8, checkpoint, resume: true }),
    ).rejects.toThrow('it was written with micro-batches of 4; this fit() uses 8 (set microBatchSize to match)');
    other.dispose();
  }, 120_000);

  it('predictAsync over 2 workers gives predict\'s bytes, and idle workers do not keep Node running', async () => {
    const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 5 });
    const x = fashion.test.images.subarray(0, 37 * 784);
    const expected = hex(model.predict(x, { batchSize: 16 }));
    expect(hex(await model.predictAsync(x, { workers: 2, batchSize: 16 }))).toBe(expected);
    expect(hex(await model.predictAsync(x, { workers: 2 }))).toBe(expected);
    model.dispose();
    // A script that never disposes its model still exits.
    const script = `import * as cw from 'convnet-wasm'; await cw.init();
      const m = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam' });
      const p = await m.predictAsync(new Uint8Array(8 * 784), { workers: 2 }); console.log(p.length);`;
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 30_000, encoding: 'utf8' });
    expect(out.trim()).toBe('80');
    // Process-wide flags, which Node refuses in a worker's execArgv, do not stop the workers.
    const flags = ['--max-old-space-size=2048', '--expose-gc', '--stack-trace-limit=20'];
    const withFlags = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { cwd: process.cwd(), timeout: 30_000, encoding: 'utf8' });
    expect(withFlags.trim()).toBe('80');
  }, 60_000);

  it('a worker that fails is reported with its index and message, and the pool shuts down', async () => {
    // The pool is internal; a spec its workers cannot build stands for a worker that fails.
    const { WorkerPool } = await import('../dist/worker-pool.js');
    await expect(WorkerPool.start(2, '{"input_shape": [0, 0, 0]}')).rejects.toMatchObject({
      code: 'WORKER_FAILED',
      message: expect.stringMatching(/^gradient worker [01]: gradient worker: /),
    });
  });

  it('checks workers and microBatchSize', async () => {
    const model = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam' });
    const x = mnist.train.images.subarray(0, 64 * 784);
    const y = mnist.train.labels.subarray(0, 64);
    await expect(model.fit(x, y, { workers: 0 })).rejects.toThrow('lenet5_modern.fit(): workers must be an integer in [1, 256], got 0');
    await expect(model.fit(x, y, { workers: 1.5 })).rejects.toThrow('workers must be an integer in [1, 256], got 1.5');
    await expect(model.fit(x, y, { batchSize: 16, microBatchSize: 17 })).rejects.toThrow(
      'microBatchSize must be an integer in [1, 16] (the batch size), got 17',
    );
    model.dispose();
  });
});

describe('evaluation on workers', () => {
  it('evaluateAsync gives evaluate’s numbers, and fit’s validation on workers gives the history of one thread', async () => {
    const model = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 8 });
    await model.fit(mnist.train.images.subarray(0, 256 * 784), mnist.train.labels.subarray(0, 256), { batchSize: 32, workers: 1 });
    const x = mnist.test.images.subarray(0, 1000 * 784);
    const y = mnist.test.labels.subarray(0, 1000);
    for (const batchSize of [256, 100, 7]) {
      const here = model.evaluate(x, y, { batchSize });
      expect(await model.evaluateAsync(x, y, { batchSize, workers: 2 })).toEqual(here);
    }
    model.dispose();
    const histories = [];
    for (const workers of [1, 2]) {
      const m = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 8 });
      const h = await m.fit(mnist.train.images.subarray(0, 320 * 784), mnist.train.labels.subarray(0, 320), { epochs: 2, batchSize: 32, validationSplit: 0.5, workers });
      histories.push(h.history);
      m.dispose();
    }
    expect(histories[1]).toEqual(histories[0]);
    expect(histories[0]!.val_loss).toHaveLength(2);
  }, 60_000);
});
