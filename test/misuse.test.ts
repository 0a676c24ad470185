// A worker thread that fails in the middle of a step, by throwing or by dying, rejects fit() with
// WORKER_FAILED within a second instead of hanging, and the model trains again after. (BUSY and
// DISPOSED, the other misuses, are in test/habits/.)
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { setWorkerPlatform, workerPlatform, type WorkerPort } from '../dist/worker-pool.js';

let mnist: cw.Dataset;
beforeAll(async () => {
  await cw.init();
  mnist = await cw.datasets.mnist();
});

const model = () => cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 4 });
const n = 256;
const x = () => mnist.train.images.subarray(0, n * 784);
const y = () => mnist.train.labels.subarray(0, n);

type StepMessage = Parameters<WorkerPort['post']>[0];
type Post = WorkerPort['post'];

/**
 * Trains a fresh model with 2 workers while the third step's request to a worker goes through
 * `third` (the pool is internal: the platform's ports are wrapped), and expects fit() to reject
 * with WORKER_FAILED and a message matching `message` within a second of that request. Then the
 * same model trains again: the failed step left no reduction half done.
 */
async function failThirdStep(third: (post: Post, message: StepMessage, transfer: Parameters<Post>[1]) => void, message: RegExp): Promise<void> {
  const platform = workerPlatform()!;
  let steps = 0;
  let failedAt = 0;
  setWorkerPlatform({
    defaultWorkers: () => platform.defaultWorkers(),
    spawn: () => {
      const port = platform.spawn();
      const post = port.post.bind(port);
      port.post = (m, transfer) => {
        if (m.type !== 'step' || ++steps !== 3) return post(m, transfer);
        failedAt = performance.now();
        third(post, m, transfer);
      };
      return port;
    },
  });
  const m = model();
  try {
    await expect(m.fit(x(), y(), { batchSize: 32, workers: 2 })).rejects.toThrowError(expect.objectContaining({ code: 'WORKER_FAILED', message: expect.stringMatching(message) }));
    expect(performance.now() - failedAt).toBeLessThan(1000);
  } finally {
    setWorkerPlatform(platform);
  }
  const history = await m.fit(x(), y(), { batchSize: 32, workers: 2 });
  expect(Number.isFinite(history.history.loss[0])).toBe(true);
  m.dispose();
}

describe('a worker that fails mid-step', () => {
  it('rejects fit() with WORKER_FAILED within a second, naming the worker, and the model trains again after', async () => {
    // A request the worker must refuse (its labels cut short), as a worker that throws would.
    await failThirdStep(
      (post, m, transfer) => post(m.type === 'step' ? { ...m, labels: m.labels.subarray(0, 1) } : m, transfer),
      /^gradient worker 0: gradient worker: .*labels need/,
    );
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
    try {
      await failThirdStep((post, m, transfer) => {
        post(m, transfer);
        void started.at(-1)!.terminate();
      }, /^gradient worker 0: the worker thread exited/);
    } finally {
      threads.Worker = Original;
    }
  });
});
