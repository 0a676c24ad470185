// The habit: model.dispose() from a callback during fit: WASM_ERROR: null pointer passed to rust.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { data, model, n, x, y } from './setup.js';

describe('dispose-during-fit', () => {
  it('stops training at the next step with DISPOSED, and frees the memory once it has', async () => {
    const run = async () => {
      const m = model();
      let batches = 0;
      const fit = m.fit(x(n), y(n), {
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
      expect(() => m.predict(x(n))).toThrowError(expect.objectContaining({ code: 'DISPOSED' }));
    };
    await run();
    const after = cw.memory().wasmBytes;
    for (let i = 0; i < 20; i++) await run();
    // Each run's model, gradients and buffers are freed: 20 more runs take no more memory.
    expect(cw.memory().wasmBytes).toBe(after);
  }, 60_000);

  it('stops predictAsync() with DISPOSED, whether its workers are still starting or predicting', async () => {
    const big = data().train.images.subarray(0, 20_000 * 784);
    for (const wait of [0, 300]) {
      const m = model();
      const pending = m.predictAsync(big, { workers: 2, batchSize: 64 });
      await new Promise((resolve) => setTimeout(resolve, wait));
      m.dispose();
      await expect(pending).rejects.toThrowError(expect.objectContaining({ code: 'DISPOSED', message: 'lenet5_modern.predictAsync(): the model was disposed' }));
    }
  }, 60_000);
});
