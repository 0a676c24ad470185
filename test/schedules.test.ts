// cosineDecayPerEpoch: Keras's CosineDecay, lr·(α + (1 − α)·(1 + cos(π·t/T))/2) with T the run's
// steps, taken at each epoch's first step and held through the epoch, as compile's piecewise rate.
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

beforeAll(() => cw.init());

describe('cosineDecayPerEpoch', () => {
  it("holds Keras's CosineDecay at each epoch's first step through the epoch", () => {
    const epochs = 4;
    const steps = 860;
    const schedule = cw.cosineDecayPerEpoch({ initialLearningRate: 0.001, epochs, stepsPerEpoch: steps, alpha: 0.01 });
    expect(schedule.boundaries).toEqual([859, 1719, 2579]);
    const keras = (step: number) => 0.001 * ((1 - 0.01) * 0.5 * (1 + Math.cos((Math.PI * step) / (epochs * steps))) + 0.01);
    expect(schedule.values).toHaveLength(epochs);
    schedule.values.forEach((v, e) => expect(v).toBeCloseTo(keras(e * steps), 15));
    expect(schedule.values[0]).toBe(0.001);
    expect(schedule.values[2]).toBeCloseTo(0.000505, 15);
    // Without alpha the floor is 0; one epoch is a constant rate.
    expect(cw.cosineDecayPerEpoch({ initialLearningRate: 0.01, epochs: 1, stepsPerEpoch: 5 })).toEqual({ boundaries: [], values: [0.01] });
  });

  it('compiles, and refuses bad arguments with their names and values', () => {
    const model = cw.models.fashionConvNetBN();
    expect(() => model.compile({ learningRate: cw.cosineDecayPerEpoch({ initialLearningRate: 0.001, epochs: 3, stepsPerEpoch: 10 }) })).not.toThrow();
    model.dispose();
    for (const [options, message] of [
      [{ initialLearningRate: 0, epochs: 2, stepsPerEpoch: 1 }, 'initialLearningRate must be a positive number, got 0'],
      [{ initialLearningRate: 0.1, epochs: 1.5, stepsPerEpoch: 1 }, 'epochs must be a positive integer, got 1.5'],
      [{ initialLearningRate: 0.1, epochs: 2, stepsPerEpoch: 0 }, 'stepsPerEpoch must be a positive integer, got 0'],
      [{ initialLearningRate: 0.1, epochs: 2, stepsPerEpoch: 1, alpha: 2 }, 'alpha must be a number in [0, 1], got 2'],
    ] as const) {
      expect(() => cw.cosineDecayPerEpoch(options)).toThrow(cw.InvalidArgumentError);
      expect(() => cw.cosineDecayPerEpoch(options)).toThrow(message);
    }
  });
});
