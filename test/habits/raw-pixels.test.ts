// The habit: Uint8Array pixels into a model without preprocessing trained on 0–255 silently.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as cw from 'convnet-wasm';
import { x } from './setup.js';

afterEach(() => vi.restoreAllMocks());

describe('raw-pixels', () => {
  it('warns once when 8-bit pixels reach a model without preprocessing; preprocessing: "none" says it is meant', () => {
    const warnings: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((line: string) => void warnings.push(line));
    const layers = () => [cw.layers.flatten(), cw.layers.dense({ units: 10, activation: 'softmax' })];
    const raw = new cw.Sequential({ name: 'raw', inputShape: [28, 28, 1], layers: layers() }).compile();
    raw.predict(x());
    raw.predict(x());
    expect(warnings).toEqual([
      "raw.predict(): Uint8Array pixels go in as 0–255, since the model has no preprocessing; give new Sequential({ preprocessing: { scale: 1 / 255, offset: 0 } }) to scale them, or preprocessing: 'none' if 0–255 is meant",
    ]);
    const meant = new cw.Sequential({ name: 'meant', inputShape: [28, 28, 1], preprocessing: 'none', layers: layers() }).compile();
    meant.predict(x());
    expect(meant.preprocessing).toEqual({ scale: 1, offset: 0 });
    expect(warnings).toHaveLength(1);
    expect(() => new cw.Sequential({ inputshape: [28, 28, 1] } as never)).toThrow('Sequential: unknown option "inputshape"; did you mean "inputShape"?');
    raw.dispose();
    meant.dispose();
  });
});
