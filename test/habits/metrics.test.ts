// The habit: compile({ metrics: ['accuracy'] }) was ignored without a word.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import { modern } from './setup.js';

describe('metrics', () => {
  it("takes metrics: ['accuracy'] or ['acc'], and refuses a metric it does not compute", () => {
    modern().compile({ metrics: ['accuracy'] }).dispose();
    modern().compile({ metrics: ['acc'] }).dispose();
    expect(() => modern().compile({ metrics: ['mse'] } as never)).toThrow(`lenet5_modern.compile(): the metric "mse" is not computed; fit() and evaluate() report 'accuracy'`);
  });
});
