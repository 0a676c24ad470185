// The habit: x as a number[]: "must be a Float32Array or a Uint8Array, got a Array".
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import { modern, x, y } from './setup.js';

describe('number-array-input', () => {
  it('hints at Float32Array.from for number[] inputs and Int32Array.from for number[] labels', async () => {
    const model = modern().compile({ seed: 1 });
    expect(() => model.predict([0, 1, 2] as never)).toThrow(
      'lenet5_modern.predict(): x must be a Float32Array or a Uint8Array, got an array of 3 values; convert it with Float32Array.from(x) (or Uint8Array.from for 8-bit pixels)',
    );
    await expect(model.fit(x(), Array.from(y()) as never)).rejects.toThrow('got an array of 64 values; convert it with Int32Array.from(y)');
    model.dispose();
  });
});
