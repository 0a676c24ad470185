/**
 * The settings and data types of models: compile options, inputs and labels, preprocessing and
 * evaluation results. Types only; every other module may import them.
 * @module
 */

/**
 * Optimisers, with Keras's semantics and defaults. `weightDecay` is Keras's decoupled weight
 * decay (the base optimiser's `weight_decay`): before each update every trainable weight, biases
 * and batch normalisation's γ and β included, becomes `w − w·weightDecay·learningRate`. Default 0
 * (none), except for `'adamw'`, which is Adam with `weightDecay` 0.004 (Keras's `AdamW`).
 */
export type OptimizerConfig =
  | { type: 'sgd'; momentum?: number; nesterov?: boolean; weightDecay?: number }
  /** LeNet-5's stochastic diagonal Levenberg–Marquardt: step η/(μ + h) per parameter; μ default 0.02. */
  | { type: 'sdlm'; mu?: number }
  | { type: 'adam'; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number }
  | { type: 'adamw'; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number }
  | { type: 'nadam'; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number }
  /** Keras's RMSprop: rho 0.9, momentum 0, epsilon 1e-7, centered false by default. */
  | { type: 'rmsprop'; rho?: number; momentum?: number; epsilon?: number; centered?: boolean; weightDecay?: number };

/** A loss: see {@link CompileConfig.loss}. */
export type LossConfig =
  | 'sparseCategoricalCrossentropy'
  /** Cross-entropy against labels smoothed as Keras's `label_smoothing`: `(1 − s)·onehot + s/classes`, s in [0, 1]. */
  | { type: 'sparseCategoricalCrossentropy'; labelSmoothing?: number }
  | 'rbfMaxLikelihood'
  | 'rbfCrossEntropy'
  | { type: 'rbfMap'; j: number };

/** A learning rate: a constant, or Keras's PiecewiseConstantDecay over optimiser steps. */
export type LearningRate = number | { boundaries: number[]; values: number[] };

/** Options of {@link Sequential.compile}. */
export interface CompileConfig {
  /**
   * `'sgd'`, `'adam'`, `'adamw'`, `'nadam'`, `'rmsprop'`, `'sdlm'`, or a config object
   * `{ type, learningRate?, … }` with the optimiser's hyper-parameters (see
   * {@link OptimizerConfig}). Default `'adam'`.
   */
  optimizer?: OptimizerConfig['type'] | (OptimizerConfig & { learningRate?: LearningRate });
  /**
   * With a softmax output: `'sparseCategoricalCrossentropy'` (the default), or
   * `{ type: 'sparseCategoricalCrossentropy', labelSmoothing }` to train against smoothed labels
   * (Keras's `CategoricalCrossentropy(label_smoothing=…)`: the one-hot label becomes
   * `(1 − labelSmoothing)·onehot + labelSmoothing/classes`; `evaluate` reports the same loss,
   * accuracy is unaffected). With an RBF output
   * (LeNet-5), one of LeCun et al.'s losses over the distances y: `'rbfMaxLikelihood'` (eq. 8,
   * the mean y of the correct class), `{ type: 'rbfMap', j }` (eq. 9, the default with j = 1:
   * the paper's value of j is not known), or `'rbfCrossEntropy'` (softmax cross-entropy over −y).
   */
  loss?: LossConfig;
  /** Default 0.001 (Keras's default for Adam, AdamW, Nadam and RMSprop; use 0.01 for SGD). */
  learningRate?: LearningRate;
  /** Seeds initialisation, shuffling and dropout. Default 0. */
  seed?: number;
  /**
   * Keras's metrics list. Accuracy is always computed and reported beside the loss, so the one
   * metric is `'accuracy'` (or TF.js's `'acc'`); any other is refused.
   */
  metrics?: ('accuracy' | 'acc')[];
}

/** Inputs: N·H·W·C floats, or N·H·W·C 8-bit pixels mapped by the model's preprocessing. */
export type Inputs = Float32Array | Uint8Array;
/** Labels: class indices. */
export type Labels = Uint8Array | Int32Array | Uint32Array;

/** What {@link Sequential.evaluate} returns. */
export interface Evaluation {
  loss: number;
  accuracy: number;
  /** `confusionMatrix[actual][predicted]` counts. */
  confusionMatrix: number[][];
}

/** How 8-bit inputs become floats: `offset + scale·pixel`. */
export interface Preprocessing {
  scale: number;
  offset: number;
}
