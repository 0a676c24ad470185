// The habit: compile({ optimizer: tf.train.adam(0.001) })-style objects: unknown optimizer undefined.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import { modern } from './setup.js';

describe('optimizer-object', () => {
  it('takes an optimizer object with its learning rate, and refuses another library’s optimizer', () => {
    const a = modern().compile({ optimizer: { type: 'adam', learningRate: 0.003 }, seed: 1 });
    const b = modern().compile({ optimizer: 'adam', learningRate: 0.003, seed: 1 });
    expect(a.compileConfig).toEqual(b.compileConfig);
    expect(a.compileConfig?.learningRate).toBe(0.003);
    a.dispose();
    b.dispose();
    class AdamOptimizer {
      learningRate = 0.001;
    }
    expect(() => modern().compile({ optimizer: new AdamOptimizer() } as never)).toThrow(
      "lenet5_modern.compile(): optimizer must be one of sgd, adam, adamw, nadam, rmsprop, sdlm or { type: 'adam', learningRate: 0.001, … } (a AdamOptimizer: another library's optimizer cannot run here)",
    );
    expect(() => modern().compile({ optimizer: { type: 'adam', momentum: 0.9 } } as never)).toThrow('optimizer "adam": unknown option "momentum"');
    expect(() => modern().compile({ optimizer: { type: 'adam', learningRate: 0.01 }, learningRate: 0.02 })).toThrow("the optimizer's learningRate (0.01) and learningRate (0.02) differ");
  });
});
