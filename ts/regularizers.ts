/**
 * Weight penalties (Keras's `keras.regularizers`, TF.js's `tf.regularizers`), for a conv or dense
 * layer's `kernelRegularizer`.
 * @module
 */
import { InvalidArgumentError } from './errors.js';

/** Adds `l1·Σ|w| + l2·Σw²` over the layer's kernel to the loss (Keras's `L1L2`). */
export interface Regularizer {
  l1?: number;
  l2?: number;
}

/** The penalties, as Keras and TF.js name them. */
export const regularizers = {
  /** `l1·Σ|w|`; Keras's default 0.01. */
  l1: (l1 = 0.01): Regularizer => ({ l1 }),
  /** `l2·Σw²`; Keras's default 0.01. */
  l2: (l2 = 0.01): Regularizer => ({ l2 }),
  /** Both; each 0 unless given. */
  l1l2: (config: Regularizer = {}): Regularizer => ({ l1: config.l1 ?? 0, l2: config.l2 ?? 0 }),
};

/** A layer's `kernelRegularizer`, checked: a {@link Regularizer} or Keras's names `'l1'` and `'l2'` (0.01). */
export function checkRegularizer(what: string, v: unknown): { l1: number; l2: number } | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === 'l1' || v === 'l2') return { l1: v === 'l1' ? 0.01 : 0, l2: v === 'l2' ? 0.01 : 0 };
  if (typeof v !== 'object' || Array.isArray(v) || Object.keys(v).some((k) => k !== 'l1' && k !== 'l2')) {
    throw new InvalidArgumentError(`${what} must be regularizers.l1(…), regularizers.l2(…), { l1, l2 } or 'l1' / 'l2', got ${JSON.stringify(v)}`);
  }
  const r = v as Regularizer;
  const out = { l1: r.l1 ?? 0, l2: r.l2 ?? 0 };
  for (const [k, x] of Object.entries(out)) {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new InvalidArgumentError(`${what}: ${k} must be a finite number ≥ 0, got ${String(x)}`);
  }
  return out;
}
