// The habit: options no one reads (any config object) were ignored.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { modern, x, y } from './setup.js';

describe('unknown-options', () => {
  it('refuses unknown keys in layer configs, naming the nearest valid one', () => {
    expect(() => cw.layers.conv2d({ filters: 8, kernelSize: 3, kernel_size: 3 } as never)).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('conv2d: unknown option "kernel_size"; did you mean "kernelSize"?') }),
    );
    expect(() => cw.layers.dense({ units: 4, activaton: 'relu' } as never)).toThrow('dense: unknown option "activaton"; did you mean "activation"?');
    expect(() => cw.layers.maxPool2d({ pool_size: 2 } as never)).toThrow('maxPool2d: unknown option "pool_size"; did you mean "poolSize"?');
    expect(() => cw.layers.dropout({ rate: 0.5, seed: 1 } as never)).toThrow('dropout: unknown option "seed" (the options are name, inputShape, rate)');
  });
  it('refuses unknown keys in compile, fit, evaluate and predict', async () => {
    expect(() => modern().compile({ optimiser: 'adam' } as never)).toThrow('lenet5_modern.compile(): unknown option "optimiser"; did you mean "optimizer"?');
    const model = modern().compile({ seed: 1 });
    await expect(model.fit(x(), y(), { epoch: 2 } as never)).rejects.toThrow('lenet5_modern.fit(): unknown option "epoch"; did you mean "epochs"?');
    await expect(model.fit(x(), y(), { checkpoint: { dir: '/tmp/x', evry: 3 } } as never)).rejects.toThrow('lenet5_modern.fit(): checkpoint: unknown option "evry"; did you mean "every"?');
    expect(() => model.evaluate(x(), y(), { batch_size: 8 } as never)).toThrow('lenet5_modern.evaluate(): unknown option "batch_size"; did you mean "batchSize"?');
    expect(() => model.predict(x(), { verbose: 0 } as never)).toThrow('lenet5_modern.predict(): unknown option "verbose"');
    model.dispose();
  });
});
