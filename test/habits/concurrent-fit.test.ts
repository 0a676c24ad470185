// The habit: two fit calls on one model at once: WASM_ERROR: reduce_add before reduce_begin.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import { model, n, x, y } from './setup.js';

describe('concurrent-fit', () => {
  it('a second fit() or predictAsync() while fit() runs is BUSY, naming what runs; the first goes on', async () => {
    const m = model();
    const first = m.fit(x(n), y(n), { batchSize: 32, workers: 2 });
    await expect(m.fit(x(n), y(n))).rejects.toThrowError(
      expect.objectContaining({ code: 'BUSY', message: 'lenet5_modern.fit(): lenet5_modern.fit() is running; await it first (predict() and evaluate() may run meanwhile, on the current weights)' }),
    );
    await expect(m.predictAsync(x(n), { workers: 2 })).rejects.toThrowError(expect.objectContaining({ code: 'BUSY', message: expect.stringContaining('lenet5_modern.fit() is running') }));
    const history = await first;
    expect(history.epoch).toEqual([0]);
    // Once it is done, the model takes the next call.
    await m.fit(x(n), y(n), { batchSize: 32, workers: 2 });
    expect((await m.predictAsync(x(n), { workers: 2 })).length).toBe(n * 10);
    m.dispose();
  });
  it('predict() and evaluate() during fit() work on the weights of the last step', async () => {
    const m = model();
    const seen: number[] = [];
    await m.fit(x(n), y(n), {
      batchSize: 32,
      workers: 2,
      callbacks: {
        onBatchEnd: () => {
          const p = m.predict(x(n).subarray(0, 784));
          seen.push(p.reduce((s, v) => s + v, 0));
          expect(m.evaluate(x(n), y(n)).accuracy).toBeGreaterThanOrEqual(0);
        },
      },
    });
    expect(seen).toHaveLength(n / 32);
    for (const s of seen) expect(s).toBeCloseTo(1, 5);
    m.dispose();
  });
});
