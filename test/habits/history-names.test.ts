// The habit: history.history.acc / val_loss (TF.js and Keras keys) were undefined.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { modern, x, y } from './setup.js';

describe('history-names', () => {
  it('history.history has loss, accuracy, val_loss, val_accuracy, with acc, val_acc, valLoss, valAccuracy as aliases', async () => {
    const model = modern().compile({ seed: 2 });
    const epochLogs: cw.Logs[] = [];
    const history = await model.fit(x(), y(), { epochs: 2, batchSize: 16, validationSplit: 0.25, callbacks: { onEpochEnd: (_e, logs) => void epochLogs.push(logs) } });
    const h = history.history;
    expect(Object.keys(h).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    expect(h.val_loss).toHaveLength(2);
    expect(h.acc).toBe(h.accuracy);
    expect(h.val_acc).toBe(h.val_accuracy);
    expect(h.valLoss).toBe(h.val_loss);
    expect(h.valAccuracy).toBe(h.val_accuracy);
    expect(epochLogs[1]!.val_loss).toBe(h.val_loss[1]);
    expect(epochLogs[1]!.acc).toBe(h.accuracy[1]);
    expect(epochLogs[1]!.valAccuracy).toBe(h.val_accuracy[1]);
    expect(JSON.parse(JSON.stringify(epochLogs[1]))).toEqual({ loss: h.loss[1], accuracy: h.accuracy[1], val_loss: h.val_loss[1], val_accuracy: h.val_accuracy[1] });
    model.dispose();
  });
});
