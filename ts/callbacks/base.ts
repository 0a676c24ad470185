/**
 * Callbacks and the training history, as tfjs-layers and Keras have them: hooks called by
 * `fit()` at the start and end of training, of each epoch and of each batch. A fit takes one
 * callbacks object or a list of them, called in order.
 * @module
 */

/**
 * Per-epoch and per-batch numbers passed to callbacks and kept in {@link History}, under Keras's
 * names. TF.js's `acc` and `val_acc`, and the camelCase `valLoss` and `valAccuracy` of earlier
 * versions (kept for one minor version), read the same values.
 */
export interface Logs {
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  /** TF.js's name of `accuracy`. */
  readonly acc?: number;
  /** TF.js's name of `val_accuracy`. */
  readonly val_acc?: number;
  /** @deprecated Use `val_loss`. */
  readonly valLoss?: number;
  /** @deprecated Use `val_accuracy`. */
  readonly valAccuracy?: number;
}

/** The aliases of {@link Logs} and {@link History}: alias → Keras's name. */
const ALIASES = { acc: 'accuracy', val_acc: 'val_accuracy', valLoss: 'val_loss', valAccuracy: 'val_accuracy' } as const;

/**
 * A prototype whose getters read the aliases from Keras's names. Objects made from it have only
 * Keras's names as their own properties, so copies, JSON and comparisons see those alone, and a
 * step allocates no closures for them.
 */
const withAliasesPrototype: object = Object.create(
  Object.prototype,
  Object.fromEntries(
    Object.entries(ALIASES).map(([alias, name]) => [
      alias,
      {
        get(this: Record<string, unknown>) {
          return this[name];
        },
        enumerable: false,
      },
    ]),
  ),
);

/** `values` as an object with the aliases. */
function withAliases<T extends object>(values: T): T {
  return Object.assign(Object.create(withAliasesPrototype) as T, values);
}

/** The logs of an epoch or a batch, with the aliases. */
export function makeLogs<T extends { loss: number; accuracy: number; val_loss?: number; val_accuracy?: number }>(values: T): T & Logs {
  return withAliases(values) as T & Logs;
}

/**
 * What a callback may do with the model being trained ({@link Callbacks.setModel}): a
 * {@link Sequential} is one.
 */
export interface CallbackModel {
  /** The model's name, for messages. */
  readonly name: string;
  /** Set to true to stop training after the current batch, as in Keras. */
  stopTraining: boolean;
  /** The weights as one array, in Keras order. */
  getWeightsFlat(): Float32Array;
  /** Replaces the weights (one array, in Keras order). */
  setWeights(values: Float32Array): void;
  /** Saves the model (`file://…` in Node, `indexeddb://…` in browsers), atomically. */
  save(url: string): Promise<{ modelJson: string; weights: string }>;
  /** A factor on the compiled learning rate or schedule (1 after compile). */
  learningRateScale: number;
  /** The learning rate the next training step uses. */
  currentLearningRate(): number;
}

/**
 * The state a callback keeps across epochs, written into fit()'s checkpoints so that a resumed
 * run carries on with it: a type name, plain values, and optionally weights.
 */
export interface CallbackState {
  /** The callback's kind (`earlyStopping`, …); a checkpoint restores only into the same kind. */
  type: string;
  /** Numbers, booleans and nulls. */
  values: Record<string, number | boolean | null>;
  /** Weights the callback holds (EarlyStopping's best weights). */
  weights?: Float32Array;
  /** A table of numbers with named columns (CSVLogger's rows). */
  table?: { columns: string[]; rows: number[][] };
}

/** Hooks called during {@link Sequential.fit}; each may be async. */
export interface Callbacks {
  /** Called by fit() before anything else, with the model it trains. */
  setModel?(model: CallbackModel): void;
  /** The state to keep in fit()'s checkpoints (called when one is written). */
  getState?(): CallbackState;
  /** Restores {@link Callbacks.getState}'s state when fit() resumes, after `onTrainBegin`. */
  setState?(state: CallbackState): void;
  /** Before the first epoch (a resumed run: before its first remaining epoch). */
  onTrainBegin?(): void | Promise<void>;
  /** After the last epoch, or once training stopped (`stopTraining`). */
  onTrainEnd?(history: History): void | Promise<void>;
  /** Before each epoch; `epoch` counts from 0. */
  onEpochBegin?(epoch: number): void | Promise<void>;
  /** After each epoch, with its mean loss and accuracy and, with validation data, `val_loss` and `val_accuracy`. */
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  /** Before each batch; `batch` counts from 0 within the epoch. */
  onBatchBegin?(batch: number): void | Promise<void>;
  /** `logs` holds the batch's loss and accuracy. */
  onBatchEnd?(batch: number, logs: Logs & { size: number }): void | Promise<void>;
}

/** The per-epoch series of a {@link History}, under Keras's names, with the {@link Logs} aliases. */
export interface HistorySeries {
  loss: number[];
  accuracy: number[];
  val_loss: number[];
  val_accuracy: number[];
  readonly acc: number[];
  readonly val_acc: number[];
  /** @deprecated Use `val_loss`. */
  readonly valLoss: number[];
  /** @deprecated Use `val_accuracy`. */
  readonly valAccuracy: number[];
}

/** What {@link Sequential.fit} returns: one entry per epoch. */
export interface History {
  epoch: number[];
  history: HistorySeries;
}

/** An empty history. */
export function emptyHistory(): History {
  const series: Record<string, number[]> = { loss: [], accuracy: [], val_loss: [], val_accuracy: [] };
  return { epoch: [], history: withAliases(series) as unknown as HistorySeries };
}

/**
 * A history read back from a checkpoint, with the aliases; a checkpoint written before the
 * Keras names (with `valLoss`, `valAccuracy`) reads the same.
 */
export function restoreHistory(saved: { epoch: number[]; history: Record<string, unknown> }): History {
  const h = saved.history;
  const series = (name: string, old?: string) => (Array.isArray(h[name]) ? h[name] : old !== undefined && Array.isArray(h[old]) ? h[old] : []) as number[];
  return {
    epoch: saved.epoch,
    history: withAliases({
      loss: series('loss'),
      accuracy: series('accuracy'),
      val_loss: series('val_loss', 'valLoss'),
      val_accuracy: series('val_accuracy', 'valAccuracy'),
    }) as unknown as HistorySeries,
  };
}

/** Records one epoch's logs in `history`. */
export function recordEpoch(history: History, epoch: number, logs: Logs): void {
  history.epoch.push(epoch);
  history.history.loss.push(logs.loss);
  history.history.accuracy.push(logs.accuracy);
  if (logs.val_loss !== undefined) history.history.val_loss.push(logs.val_loss);
  if (logs.val_accuracy !== undefined) history.history.val_accuracy.push(logs.val_accuracy);
}

/** Several callbacks called as one, in order; each hook is awaited. */
export class CallbackList {
  constructor(private readonly list: readonly Callbacks[]) {}

  setModel(model: CallbackModel): void {
    for (const c of this.list) c.setModel?.(model);
  }

  /** Each callback's state, or null for those without one, in order. */
  states(): (CallbackState | null)[] {
    return this.list.map((c) => c.getState?.() ?? null);
  }

  /** Why states saved by {@link CallbackList.states} do not fit this list (another number or kind of stateful callbacks), if they do not. */
  mismatch(states: readonly (CallbackState | null)[]): string | undefined {
    const kinds = (list: readonly (CallbackState | null)[]) => list.filter((s): s is CallbackState => s !== null).map((s) => s.type);
    const mine = kinds(this.states());
    const saved = kinds(states);
    return mine.join() === saved.join() ? undefined : `it was written with the stateful callbacks [${saved.join(', ')}]; this fit() has [${mine.join(', ')}]`;
  }

  /** Restores states saved by {@link CallbackList.states} (checked by {@link CallbackList.mismatch}). */
  restore(states: readonly (CallbackState | null)[]): void {
    const saved = states.filter((s): s is CallbackState => s !== null);
    let next = 0;
    for (const c of this.list) if (c.getState !== undefined) c.setState?.(saved[next++]!);
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

/** How `fit({ verbose })` reports progress: 0 nothing, 1 a progress bar (one line per epoch where
 * the output is not a terminal), 2 one line per epoch. */
export type Verbosity = 0 | 1 | 2;

/** The console output of `fit({ verbose })`, as callbacks. */
export function progressLogger(verbose: Verbosity, epochs: number, batches: number): Callbacks {
  const stderr = (globalThis as { process?: { stderr?: { isTTY?: boolean; write(s: string): void } } }).process?.stderr;
  const bar = verbose === 1 && stderr?.isTTY === true ? stderr : undefined;
  let started = 0;
  let seen = 0;
  let lossSum = 0;
  let correct = 0;
  const fmt = (v: number) => v.toFixed(4);
  return {
    onEpochBegin: () => {
      started = performance.now();
      seen = lossSum = correct = 0;
    },
    onBatchEnd: (batch, logs) => {
      if (bar === undefined) return;
      seen += logs.size;
      lossSum += logs.loss * logs.size;
      correct += logs.accuracy * logs.size;
      const done = Math.round((30 * (batch + 1)) / batches);
      const seconds = (performance.now() - started) / 1000;
      bar.write(`\r${batch + 1}/${batches} [${'='.repeat(done)}${' '.repeat(30 - done)}] ${seconds.toFixed(0)} s - loss ${fmt(lossSum / seen)} - accuracy ${fmt(correct / seen)}`);
    },
    onEpochEnd: (epoch, logs) => {
      if (bar !== undefined) bar.write('\r\x1b[K');
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const parts = [`loss ${fmt(logs.loss)}`, `accuracy ${fmt(logs.accuracy)}`];
      if (logs.val_loss !== undefined) parts.push(`val_loss ${fmt(logs.val_loss)}`);
      if (logs.val_accuracy !== undefined) parts.push(`val_accuracy ${fmt(logs.val_accuracy)}`);
      console.log(`Epoch ${epoch + 1}/${epochs} - ${seconds} s - ${parts.join(' - ')}`);
    },
  };
}
