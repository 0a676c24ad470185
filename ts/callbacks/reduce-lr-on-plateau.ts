/**
 * `callbacks.reduceLROnPlateau`: Keras's ReduceLROnPlateau.
 * @module
 */
import { checkKeys } from '../validate.js';
import { InvalidArgumentError } from '../errors.js';
import type { CallbackModel, Callbacks, CallbackState, Logs } from './base.js';
import { Monitor, type MonitorMode, type MonitorName } from './monitor.js';

/** Options of `callbacks.reduceLROnPlateau`, Keras's names in camelCase. */
export interface ReduceLROnPlateauConfig {
  /** The quantity to watch (default `'val_loss'`). */
  monitor?: MonitorName;
  /** The factor the learning rate is multiplied by, in (0, 1) (default 0.1). */
  factor?: number;
  /** Epochs without improvement before the rate is lowered (default 10). */
  patience?: number;
  /** Whether the quantity should fall or rise (default `'auto'`). */
  mode?: MonitorMode;
  /** The smallest change that counts as an improvement (default 0.0001). */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** The rate is never lowered below this (default 0). */
  minLr?: number;
}

/**
 * Lowers the learning rate by `factor` when `monitor` has not improved for `patience` epochs, as
 * Keras's ReduceLROnPlateau does. It scales the compiled rate or schedule
 * ({@link CallbackModel.learningRateScale}); the scale and its counts go into fit()'s checkpoints.
 */
export function reduceLROnPlateau(config: ReduceLROnPlateauConfig = {}): Callbacks {
  const what = 'callbacks.reduceLROnPlateau()';
  checkKeys(what, config, ['monitor', 'factor', 'patience', 'mode', 'minDelta', 'cooldown', 'minLr']);
  const monitor = new Monitor(what, config.monitor ?? 'val_loss', config.mode ?? 'auto', config.minDelta ?? 1e-4);
  const factor = config.factor ?? 0.1;
  if (!(factor > 0 && factor < 1)) throw new InvalidArgumentError(`${what}: factor must be in (0, 1), got ${factor}`);
  const patience = config.patience ?? 10;
  const cooldown = config.cooldown ?? 0;
  for (const [name, v] of [['patience', patience], ['cooldown', cooldown]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError(`${what}: ${name} must be an integer ≥ 0, got ${v}`);
  }
  const minLr = config.minLr ?? 0;
  if (!(minLr >= 0) || !Number.isFinite(minLr)) throw new InvalidArgumentError(`${what}: minLr must be a number ≥ 0, got ${minLr}`);
  let model: CallbackModel | undefined;
  let wait = 0;
  let cooling = 0;
  let best = monitor.initial();
  return {
    setModel(m) {
      model = m;
    },
    onTrainBegin() {
      wait = cooling = 0;
      best = monitor.initial();
    },
    onEpochEnd(_epoch: number, logs: Logs) {
      const current = monitor.read(logs);
      if (cooling > 0) {
        cooling--;
        wait = 0;
      }
      if (monitor.improves(current, best)) {
        best = current;
        wait = 0;
      } else if (cooling === 0) {
        wait++;
        if (wait >= patience) {
          const lr = model!.currentLearningRate();
          if (lr > minLr) {
            const target = Math.max(lr * factor, minLr);
            model!.learningRateScale = model!.learningRateScale * (target / lr);
            cooling = cooldown;
            wait = 0;
          }
        }
      }
    },
    getState(): CallbackState {
      return { type: 'reduceLROnPlateau', values: { wait, cooling, best: Number.isFinite(best) ? best : null, scale: model!.learningRateScale } };
    },
    setState(state) {
      wait = state.values.wait as number;
      cooling = state.values.cooling as number;
      best = (state.values.best as number | null) ?? monitor.initial();
      model!.learningRateScale = state.values.scale as number;
    },
  };
}
