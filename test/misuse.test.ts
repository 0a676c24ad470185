// A model that cannot be misused into the wasm's internals: a second fit() or predictAsync()
// while one runs is refused with BUSY; predict() and evaluate() may run meanwhile; dispose()
// during fit() stops it at the next step with DISPOSED and frees the model's memory once it has.
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

let mnist: cw.Dataset;
beforeAll(async () => {
  await cw.init();
  mnist = await cw.datasets.mnist();
});

const model = () => cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 4 });
const n = 256;
const x = () => mnist.train.images.subarray(0, n * 784);
const y = () => mnist.train.labels.subarray(0, n);

describe('one asynchronous call at a time', () => {
  it('a second fit() or predictAsync() while fit() runs is BUSY, naming what runs; the first goes on', async () => {
    const m = model();
    const first = m.fit(x(), y(), { batchSize: 32, workers: 2 });
    await expect(m.fit(x(), y())).rejects.toThrowError(
      expect.objectContaining({ code: 'BUSY', message: 'lenet5_modern.fit(): lenet5_modern.fit() is running; await it first (predict() and evaluate() may run meanwhile, on the current weights)' }),
    );
    await expect(m.predictAsync(x(), { workers: 2 })).rejects.toThrowError(expect.objectContaining({ code: 'BUSY', message: expect.stringContaining('lenet5_modern.fit() is running') }));
    const history = await first;
    expect(history.epoch).toEqual([0]);
    // Once it is done, the model takes the next call.
    await m.fit(x(), y(), { batchSize: 32, workers: 2 });
    expect((await m.predictAsync(x(), { workers: 2 })).length).toBe(n * 10);
    m.dispose();
  });

  it('predict() and evaluate() during fit() work on the weights of the last step', async () => {
    const m = model();
    const seen: number[] = [];
    await m.fit(x(), y(), {
      batchSize: 32,
      workers: 2,
      callbacks: {
        onBatchEnd: () => {
          const p = m.predict(x().subarray(0, 784));
          seen.push(p.reduce((s, v) => s + v, 0));
          expect(m.evaluate(x(), y()).accuracy).toBeGreaterThanOrEqual(0);
        },
      },
    });
    expect(seen).toHaveLength(n / 32);
    for (const s of seen) expect(s).toBeCloseTo(1, 5);
    m.dispose();
  });
});

describe('dispose() during fit()', () => {
  it('stops training at the next step with DISPOSED, and frees the memory once it has', async () => {
    const run = async () => {
      const m = model();
      let batches = 0;
      const fit = m.fit(x(), y(), {
        batchSize: 32,
        workers: 2,
        callbacks: {
          onBatchEnd: (batch) => {
            batches++;
            if (batch === 2) m.dispose();
          },
        },
      });
      await expect(fit).rejects.toThrowError(
        expect.objectContaining({ code: 'DISPOSED', message: 'lenet5_modern.fit(): the model was disposed during training, before epoch 1, batch 4' }),
      );
      expect(batches).toBe(3);
      expect(() => m.predict(x())).toThrowError(expect.objectContaining({ code: 'DISPOSED' }));
    };
    await run();
    const after = cw.memory().wasmBytes;
    for (let i = 0; i < 20; i++) await run();
    // Each run's model, gradients and buffers are freed: 20 more runs take no more memory.
    expect(cw.memory().wasmBytes).toBe(after);
  }, 60_000);

  it('stops predictAsync() with DISPOSED, whether its workers are still starting or predicting', async () => {
    const big = mnist.train.images.subarray(0, 20_000 * 784);
    for (const wait of [0, 300]) {
      const m = model();
      const pending = m.predictAsync(big, { workers: 2, batchSize: 64 });
      await new Promise((resolve) => setTimeout(resolve, wait));
      m.dispose();
      await expect(pending).rejects.toThrowError(expect.objectContaining({ code: 'DISPOSED', message: 'lenet5_modern.predictAsync(): the model was disposed' }));
    }
  }, 60_000);
});

describe('a worker that fails mid-step', () => {
  it('rejects fit() with WORKER_FAILED within a second, naming the worker, and the model trains again after', async () => {
    // The pool is internal: wrap the platform so that one worker gets a request it must refuse
    // (its labels cut short) at the third step, as a worker that throws would.
    const { setWorkerPlatform, workerPlatform } = await import('../dist/worker-pool.js');
    const platform = workerPlatform()!;
    let steps = 0;
    let sentAt = 0;
    setWorkerPlatform({
      defaultWorkers: () => platform.defaultWorkers(),
      spawn: () => {
        const port = platform.spawn();
        const post = port.post.bind(port);
        port.post = (message, transfer) => {
          if (message.type === 'step' && ++steps === 3) {
            sentAt = performance.now();
            return post({ ...message, labels: message.labels.subarray(0, 1) }, transfer);
          }
          post(message, transfer);
        };
        return port;
      },
    });
    const m = model();
    try {
      await expect(m.fit(x(), y(), { batchSize: 32, workers: 2 })).rejects.toThrowError(
        expect.objectContaining({ code: 'WORKER_FAILED', message: expect.stringMatching(/^gradient worker 0: gradient worker: .*labels need/) }),
      );
      expect(performance.now() - sentAt).toBeLessThan(1000);
    } finally {
      setWorkerPlatform(platform);
    }
    // The failed step left no reduction half done: the next fit trains.
    const history = await m.fit(x(), y(), { batchSize: 32, workers: 2 });
    expect(Number.isFinite(history.history.loss[0])).toBe(true);
    m.dispose();
  });
  it('a worker thread that dies mid-step (its thread exits) rejects fit() with WORKER_FAILED within a second', async () => {
    // The Node entry makes its workers with worker_threads.Worker, looked up when a pool starts:
    // this subclass keeps them, so that the test can end one's thread as a crash would, without
    // the pool being told (its own terminate() is what a pool calls on purpose).
    const threads = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    const Original = threads.Worker;
    const started: InstanceType<typeof Original>[] = [];
    threads.Worker = class extends Original {
      constructor(...args: ConstructorParameters<typeof Original>) {
        super(...args);
        started.push(this);
      }
    };
    const { setWorkerPlatform, workerPlatform } = await import('../dist/worker-pool.js');
    const platform = workerPlatform()!;
    let steps = 0;
    let killedAt = 0;
    setWorkerPlatform({
      defaultWorkers: () => platform.defaultWorkers(),
      spawn: () => {
        const port = platform.spawn();
        const post = port.post.bind(port);
        port.post = (message, transfer) => {
          post(message, transfer);
          if (message.type === 'step' && ++steps === 3) {
            killedAt = performance.now();
            void started.at(-1)!.terminate();
          }
        };
        return port;
      },
    });
    const m = model();
    try {
      await expect(m.fit(x(), y(), { batchSize: 32, workers: 2 })).rejects.toThrowError(
        expect.objectContaining({ code: 'WORKER_FAILED', message: expect.stringMatching(/^gradient worker 0: the worker thread exited/) }),
      );
      expect(performance.now() - killedAt).toBeLessThan(1000);
    } finally {
      setWorkerPlatform(platform);
      threads.Worker = Original;
    }
    const history = await m.fit(x(), y(), { batchSize: 32, workers: 2 });
    expect(Number.isFinite(history.history.loss[0])).toBe(true);
    m.dispose();
  });
});
