/**
 * Learning-rate schedules as the piecewise-constant {@link LearningRate} that `compile` takes.
 * @module
 */
import type { LearningRate } from './config.js';
import { InvalidArgumentError } from './errors.js';

/** Options of {@link cosineDecayPerEpoch}. */
export interface CosineDecayPerEpochOptions {
  /** The rate of the first epoch. */
  initialLearningRate: number;
  /** Epochs the decay spans (the run's epochs). */
  epochs: number;
  /** Optimiser steps per epoch: `Math.ceil(trainingImages / batchSize)`. */
  stepsPerEpoch: number;
  /** The floor, as a fraction of the initial rate (Keras's `alpha`); default 0. */
  alpha?: number;
}

/**
 * Keras's `CosineDecay` (decay steps = epochs × steps per epoch) taken at each epoch's first step
 * and held through the epoch: epoch e (from 0) trains at
 * `initialLearningRate · (alpha + (1 − alpha) · (1 + cos(π·e/epochs)) / 2)`. Holding the rate per
 * epoch keeps the schedule a short list of values (one per epoch) that compile and checkpoints
 * carry as they are.
 */
export function cosineDecayPerEpoch(options: CosineDecayPerEpochOptions): Extract<LearningRate, object> {
  const { initialLearningRate, epochs, stepsPerEpoch, alpha = 0 } = options;
  if (!(Number.isFinite(initialLearningRate) && initialLearningRate > 0)) {
    throw new InvalidArgumentError(`cosineDecayPerEpoch: initialLearningRate must be a positive number, got ${initialLearningRate}`);
  }
  for (const [name, value] of [['epochs', epochs], ['stepsPerEpoch', stepsPerEpoch]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`cosineDecayPerEpoch: ${name} must be a positive integer, got ${value}`);
  }
  if (!(Number.isFinite(alpha) && alpha >= 0 && alpha <= 1)) {
    throw new InvalidArgumentError(`cosineDecayPerEpoch: alpha must be a number in [0, 1], got ${alpha}`);
  }
  return {
    // A value holds while the step (counted from 0) is at most its boundary: epoch e ends at step (e + 1)·S − 1.
    boundaries: Array.from({ length: epochs - 1 }, (_, e) => (e + 1) * stepsPerEpoch - 1),
    values: Array.from({ length: epochs }, (_, e) => initialLearningRate * (alpha + (1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * e) / epochs)))),
  };
}
