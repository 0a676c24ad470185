/**
 * The quantity a Keras callback watches (`monitor`, `mode`, `minDelta`), as Keras reads it.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { Logs } from './base.js';

/** A quantity of the epoch logs a callback can monitor: Keras's names, and TF.js's aliases. */
export type MonitorName = 'loss' | 'accuracy' | 'val_loss' | 'val_accuracy' | 'acc' | 'val_acc';
const MONITORS: readonly MonitorName[] = ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'acc', 'val_acc'];
/** Whether the monitored quantity should fall (`min`) or rise (`max`); `auto` takes `max` for accuracies. */
export type MonitorMode = 'auto' | 'min' | 'max';

export class Monitor {
  private readonly max: boolean;

  constructor(
    private readonly what: string,
    readonly name: MonitorName,
    mode: MonitorMode,
    private readonly minDelta: number,
  ) {
    if (!MONITORS.includes(name)) {
      throw new InvalidArgumentError(`${what}: monitor must be one of ${MONITORS.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(name)}`);
    }
    if (mode !== 'auto' && mode !== 'min' && mode !== 'max') throw new InvalidArgumentError(`${what}: mode must be 'auto', 'min' or 'max', got ${JSON.stringify(mode)}`);
    if (!(minDelta >= 0) || !Number.isFinite(minDelta)) throw new InvalidArgumentError(`${what}: minDelta must be a number ≥ 0, got ${minDelta}`);
    this.max = mode === 'max' || (mode === 'auto' && /acc/.test(name));
  }

  /** The starting "best": +∞ when lower is better, −∞ when higher is. */
  initial(): number {
    return this.max ? -Infinity : Infinity;
  }

  /** Whether `current` improves on `best` by more than minDelta. */
  improves(current: number, best: number): boolean {
    return this.max ? current - this.minDelta > best : current + this.minDelta < best;
  }

  /** The monitored value of an epoch; an error when fit() does not produce it. */
  read(logs: Logs): number {
    const value = (logs as unknown as Record<string, number | undefined>)[this.name];
    if (value === undefined) {
      throw new InvalidArgumentError(`${this.what}: monitor '${this.name}' is not in the epoch's logs; validation quantities need fit({ validationData }) or fit({ validationSplit })`);
    }
    return value;
  }
}
