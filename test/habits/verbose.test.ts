// The habit: fit(x, y, { verbose: 1 }) was ignored; no progress output.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { modern, x, y } from './setup.js';

afterEach(() => vi.restoreAllMocks());

describe('verbose', () => {
  it('2 prints one line per epoch; 0 prints nothing; other values are refused', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    const model = modern().compile({ seed: 3 });
    await model.fit(x(), y(), { epochs: 2, batchSize: 32, verbose: 2, validationSplit: 0.5 });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Epoch 1\/2 - \d+\.\d s - loss \d\.\d{4} - accuracy \d\.\d{4} - val_loss \d\.\d{4} - val_accuracy \d\.\d{4}$/);
    await model.fit(x(), y(), { epochs: 1, batchSize: 32 });
    expect(lines).toHaveLength(2);
    await expect(model.fit(x(), y(), { verbose: 3 as never })).rejects.toThrow('lenet5_modern.fit(): verbose must be 0, 1 or 2, got 3');
    model.dispose();
  });
});
