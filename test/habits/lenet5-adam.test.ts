// The habit: models.leNet5() with optimizer: 'adam' and the default loss: chance accuracy, no hint why.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { data } from './setup.js';

describe('lenet5-adam', () => {
  it('warns, and the warned combination does stay at chance while the ones it suggests train', async () => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (line: string) => void warnings.push(line);
    const n = 3000;
    const accuracy = async (config: cw.CompileConfig) => {
      const model = cw.models.leNet5().compile({ seed: 1, ...config });
      await model.fit(data().train.images.subarray(0, n * 784), data().train.labels.subarray(0, n), { batchSize: config.optimizer === 'sdlm' ? 1 : 32, workers: 1 });
      const a = model.evaluate(data().test.images.subarray(0, 2000 * 784), data().test.labels.subarray(0, 2000)).accuracy;
      model.dispose();
      return a;
    };
    try {
      const adam = await accuracy({ optimizer: 'adam' });
      expect(warnings).toEqual([
        `lenet5.compile(): an RBF output with the loss "rbfMap" stays at chance accuracy with optimizer "adam"; train it with optimizer 'sdlm' (LeNet-5's), or with loss 'rbfCrossEntropy', or use models.leNet5({ variant: 'modern' }) with Adam`,
      ]);
      expect(adam).toBeLessThan(0.2);
      expect(await accuracy({ optimizer: 'adam', loss: 'rbfCrossEntropy' })).toBeGreaterThan(0.6);
      expect(await accuracy({ optimizer: 'sdlm', learningRate: 0.00005 })).toBeGreaterThan(0.6);
      expect(warnings).toHaveLength(1);
    } finally {
      console.warn = warn;
    }
  }, 120_000);
});
