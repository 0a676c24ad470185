/**
 * `callbacks.earlyStopping`: Keras's EarlyStopping.
 * @module
 */
import { checkKeys } from '../validate.js';
import { InvalidArgumentError } from '../errors.js';
import type { CallbackModel, Callbacks, CallbackState, Logs } from './base.js';
import { Monitor, type MonitorMode, type MonitorName } from './monitor.js';

/** Options of `callbacks.earlyStopping`, Keras's names in camelCase. */
export interface EarlyStoppingConfig {
  /** The quantity to watch (default `'val_loss'`). */
  monitor?: MonitorName;
  /** The smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Epochs without improvement before training stops (default 0). */
  patience?: number;
  /** Whether the quantity should fall or rise (default `'auto'`). */
  mode?: MonitorMode;
  /** On stopping, put back the weights of the best epoch (default false). */
  restoreBestWeights?: boolean;
}

/**
 * Stops training when `monitor` has not improved for `patience` epochs, as Keras's
 * EarlyStopping does. Its count, best value and best weights go into fit()'s checkpoints.
 */
export function earlyStopping(config: EarlyStoppingConfig = {}): Callbacks {
  const what = 'callbacks.earlyStopping()';
  checkKeys(what, config, ['monitor', 'minDelta', 'patience', 'mode', 'restoreBestWeights']);
  const monitor = new Monitor(what, config.monitor ?? 'val_loss', config.mode ?? 'auto', config.minDelta ?? 0);
  const patience = config.patience ?? 0;
  if (!Number.isInteger(patience) || patience < 0) throw new InvalidArgumentError(`${what}: patience must be an integer ≥ 0, got ${patience}`);
  const restore = config.restoreBestWeights ?? false;
  let model: CallbackModel | undefined;
  let wait = 0;
  let best = monitor.initial();
  let bestEpoch = -1;
  let stoppedEpoch = -1;
  let bestWeights: Float32Array | undefined;
  return {
    setModel(m) {
      model = m;
    },
    onTrainBegin() {
      wait = 0;
      best = monitor.initial();
      bestEpoch = stoppedEpoch = -1;
      bestWeights = undefined;
    },
    onEpochEnd(epoch: number, logs: Logs) {
      const current = monitor.read(logs);
      if (restore && bestWeights === undefined) bestWeights = model!.getWeightsFlat();
      wait++;
      if (monitor.improves(current, best)) {
        best = current;
        bestEpoch = epoch;
        if (restore) bestWeights = model!.getWeightsFlat();
        wait = 0;
        return;
      }
      if (wait >= patience && epoch > 0) {
        stoppedEpoch = epoch;
        model!.stopTraining = true;
        if (restore && bestWeights !== undefined) model!.setWeights(bestWeights);
      }
    },
    getState(): CallbackState {
      return { type: 'earlyStopping', values: { wait, best: Number.isFinite(best) ? best : null, bestEpoch, stoppedEpoch }, ...(bestWeights ? { weights: bestWeights } : {}) };
    },
    setState(state) {
      wait = state.values.wait as number;
      best = (state.values.best as number | null) ?? monitor.initial();
      bestEpoch = state.values.bestEpoch as number;
      stoppedEpoch = state.values.stoppedEpoch as number;
      bestWeights = state.weights;
      // A run stopped early stays stopped when it is resumed.
      if (stoppedEpoch >= 0) model!.stopTraining = true;
    },
  };
}
