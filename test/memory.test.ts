// Memory stability: long training keeps the wasm memory and the process's RSS flat after
// warm-up, and models that are created and disposed give their memory back. The figures are
// printed.
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import type { Dataset } from 'convnet-wasm';

let mnist: Dataset;
beforeAll(async () => {
  await cw.init();
  mnist = await cw.datasets.mnist();
});

const MiB = (b: number) => (b / 2 ** 20).toFixed(1);

describe('memory', () => {
  it('10,000 training steps of LeNet-5 keep wasm memory and RSS flat after warm-up', async () => {
    const model = cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 1 });
    const n = 10_000;
    const x = mnist.train.images.subarray(0, n * 784);
    const y = mnist.train.labels.subarray(0, n);
    // Warm-up on the path measured (batch 1: one micro-batch, steps in this thread): the first
    // steps size every buffer.
    await model.fit(x.subarray(0, 320 * 784), y.subarray(0, 320), { batchSize: 1 });
    globalThis.gc?.();
    const before = { wasm: cw.memory().wasmBytes, rss: process.memoryUsage().rss };
    // 10,000 steps: 32 epochs of the first 10,000 images in batches of 32 would be more than
    // needed; 10,000 steps of batch 1 exercise the per-step path the most.
    let steps = 0;
    await model.fit(x, y, { epochs: 1, batchSize: 1, callbacks: { onBatchEnd: () => void steps++ } });
    globalThis.gc?.();
    const after = { wasm: cw.memory().wasmBytes, rss: process.memoryUsage().rss };
    console.log(
      `memory over ${steps} LeNet-5 steps: wasm ${MiB(before.wasm)} → ${MiB(after.wasm)} MiB, RSS ${MiB(before.rss)} → ${MiB(after.rss)} MiB`,
    );
    expect(steps).toBe(10_000);
    expect(after.wasm).toBe(before.wasm);
    // RSS: the JS side allocates a little per step (batch copies) that the GC returns; allow 32 MiB of noise.
    expect(after.rss - before.rss).toBeLessThan(32 * 2 ** 20);
    // Data-parallel steps (batch 32, micro-batches of 8, 2 worker threads): flat after warm-up too.
    const parallel = { batchSize: 32, workers: 2 };
    await model.fit(x.subarray(0, 320 * 784), y.subarray(0, 320), parallel);
    const warm = cw.memory().wasmBytes;
    await model.fit(x, y, { ...parallel, epochs: 2 });
    console.log(`memory over ${2 * Math.ceil(n / 32)} data-parallel steps: wasm ${MiB(warm)} → ${MiB(cw.memory().wasmBytes)} MiB`);
    expect(cw.memory().wasmBytes).toBe(warm);
    model.dispose();
  }, 120_000);

  it('predict on a large batch works in chunks: 2,560 images in one call take only their input and output more than 64', async () => {
    const fashion = await cw.datasets.fashionMnist();
    const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 1 });
    const few = model.predict(fashion.test.images.subarray(0, 64 * 784), { batchSize: 64 });
    const after64 = cw.memory().wasmBytes;
    const many = model.predict(fashion.test.images.subarray(0, 2560 * 784), { batchSize: 2560 });
    console.log(`wasm memory: ${MiB(after64)} MiB after predicting 64 images; ${MiB(cw.memory().wasmBytes)} MiB after 2,560 in one call`);
    // The call copies its 2 MB of pixels into the wasm and returns 0.1 MB of probabilities; the
    // activations of 2,560 images in one pass would be some 1.5 GB (16 at a time: 10 MB).
    expect(cw.memory().wasmBytes - after64).toBeLessThan(16 * 2 ** 20);
    // The same bytes for the images both calls saw (the committed hashes of test/bits.test.ts
    // check the chunked bytes against the single pass this build replaced).
    expect(Buffer.from(many.buffer, 0, few.byteLength).equals(Buffer.from(few.buffer))).toBe(true);
    model.dispose();
  }, 60_000);

  it('creating and disposing 1,000 models gives the memory back', () => {
    const make = () => cw.models.leNet5().compile({ optimizer: 'sdlm', seed: 1 });
    const x = mnist.test.images.subarray(0, 8 * 784);
    // Warm-up, so that the allocator has its working set.
    for (let i = 0; i < 20; i++) {
      const m = make();
      m.predict(x);
      m.dispose();
    }
    const before = cw.memory().wasmBytes;
    for (let i = 0; i < 1000; i++) {
      const m = make();
      m.predict(x);
      m.dispose();
    }
    const after = cw.memory().wasmBytes;
    console.log(`memory over 1,000 models created and disposed: wasm ${MiB(before)} → ${MiB(after)} MiB`);
    expect(after).toBe(before);
    // Without dispose(), the same loop would hold 1,000 × 60,000 weights (240 MB) and more.
  });
});
