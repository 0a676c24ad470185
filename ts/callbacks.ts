/**
 * Callbacks and the training history, as tfjs-layers and Keras have them: hooks called by
 * `fit()` at the start and end of training, of each epoch and of each batch. A fit takes one
 * callbacks object or a list of them, called in order.
 * @module
 */

/** Per-epoch and per-batch numbers passed to callbacks and kept in {@link History}. */
export interface Logs {
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
}

/** Hooks called during {@link Sequential.fit}; each may be async. */
export interface Callbacks {
  onTrainBegin?(): void | Promise<void>;
  onTrainEnd?(history: History): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onBatchBegin?(batch: number): void | Promise<void>;
  /** `logs` holds the batch's loss and accuracy. */
  onBatchEnd?(batch: number, logs: Logs & { size: number }): void | Promise<void>;
}

/** What {@link Sequential.fit} returns: one entry per epoch. */
export interface History {
  epoch: number[];
  history: { loss: number[]; accuracy: number[]; valLoss: number[]; valAccuracy: number[] };
}

/** An empty history. */
export function emptyHistory(): History {
  return { epoch: [], history: { loss: [], accuracy: [], valLoss: [], valAccuracy: [] } };
}

/** Records one epoch's logs in `history`. */
export function recordEpoch(history: History, epoch: number, logs: Logs): void {
  history.epoch.push(epoch);
  history.history.loss.push(logs.loss);
  history.history.accuracy.push(logs.accuracy);
  if (logs.valLoss !== undefined) history.history.valLoss.push(logs.valLoss);
  if (logs.valAccuracy !== undefined) history.history.valAccuracy.push(logs.valAccuracy);
}

/** Several callbacks called as one, in order; each hook is awaited. */
export class CallbackList {
  private readonly list: Callbacks[];

  constructor(callbacks: Callbacks | readonly Callbacks[] | undefined) {
    this.list = callbacks === undefined ? [] : Array.isArray(callbacks) ? [...(callbacks as readonly Callbacks[])] : [callbacks as Callbacks];
  }

  async trainBegin(): Promise<void> {
    for (const c of this.list) await c.onTrainBegin?.();
  }

  async trainEnd(history: History): Promise<void> {
    for (const c of this.list) await c.onTrainEnd?.(history);
  }

  async epochBegin(epoch: number): Promise<void> {
    for (const c of this.list) await c.onEpochBegin?.(epoch);
  }

  async epochEnd(epoch: number, logs: Logs): Promise<void> {
    for (const c of this.list) await c.onEpochEnd?.(epoch, logs);
  }

  async batchBegin(batch: number): Promise<void> {
    for (const c of this.list) await c.onBatchBegin?.(batch);
  }

  async batchEnd(batch: number, logs: Logs & { size: number }): Promise<void> {
    for (const c of this.list) await c.onBatchEnd?.(batch, logs);
  }
}
