// A worker thread that fails in the middle of a step, by throwing or by dying, rejects fit() with
// WORKER_FAILED within a second instead of hanging, and the model trains again after. (BUSY and
// DISPOSED, the other misuses, are in test/habits/.)
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
