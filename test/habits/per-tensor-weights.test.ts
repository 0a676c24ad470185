// The habit: getWeights() gave one flat Float32Array.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import './setup.js';

describe('per-tensor-weights', () => {
  it('getWeights() gives each tensor with its name and shape; setWeights() takes them, bare arrays, or the flat array', () => {
    const model = cw.models.leNet5({ variant: 'modern' }).compile({ seed: 7 });
    const tensors = model.getWeights();
    expect(tensors.map((t) => `${t.name} [${t.shape.join(', ')}]`).slice(0, 3)).toEqual(['C1/kernel [5, 5, 1, 6]', 'C1/bias [6]', 'C3/kernel [5, 5, 6, 16]']);
    expect(tensors.reduce((s, t) => s + t.values.length, 0)).toBe(model.countParams());
    const flat = model.getWeightsFlat();
    const other = cw.models.leNet5({ variant: 'modern' }).compile({ seed: 8 });
    const bytes = (m: cw.Sequential) => Buffer.from(m.getWeightsFlat().buffer);
    other.setWeights(tensors);
    expect(bytes(other).equals(Buffer.from(flat.buffer))).toBe(true);
    other.setWeights(cw.models.leNet5({ variant: 'modern' }).compile({ seed: 9 }).getWeightsFlat());
    other.setWeights(tensors.map((t) => t.values));
    expect(bytes(other).equals(Buffer.from(flat.buffer))).toBe(true);
    expect(() => other.setWeights(tensors.slice(1))).toThrowError(expect.objectContaining({ code: 'SHAPE_MISMATCH', message: expect.stringContaining('9 weight tensors given, the model has 10') }));
    const wrong = tensors.map((t, i) => (i === 0 ? { ...t, shape: [1, 5, 5, 6] } : t));
    expect(() => other.setWeights(wrong)).toThrow('tensor 0 (C1/kernel) has shape [1, 5, 5, 6], the model\'s is [5, 5, 1, 6]');
    model.dispose();
    other.dispose();
  });
});
