// The habit: fit(x, y, { callbacks: [cb1, cb2] }): the array was never called.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { modern, x, y } from './setup.js';

describe('callbacks-list', () => {
  it('calls every callback of the list, hook by hook, in order; a single object still works', async () => {
    const calls: string[] = [];
    const cb = (tag: string): cw.Callbacks => ({
      onTrainBegin: () => void calls.push(`${tag}:trainBegin`),
      onEpochEnd: (epoch) => void calls.push(`${tag}:epochEnd ${epoch}`),
      onTrainEnd: () => void calls.push(`${tag}:trainEnd`),
    });
    const model = modern().compile({ seed: 1 });
    await model.fit(x(), y(), { epochs: 2, batchSize: 32, workers: 1, callbacks: [cb('a'), cb('b')] });
    expect(calls).toEqual(['a:trainBegin', 'b:trainBegin', 'a:epochEnd 0', 'b:epochEnd 0', 'a:epochEnd 1', 'b:epochEnd 1', 'a:trainEnd', 'b:trainEnd']);
    calls.length = 0;
    await model.fit(x(), y(), { epochs: 1, batchSize: 32, workers: 1, callbacks: cb('c') });
    expect(calls).toEqual(['c:trainBegin', 'c:epochEnd 0', 'c:trainEnd']);
    model.dispose();
  });
});
