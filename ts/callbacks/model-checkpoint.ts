/**
 * `callbacks.modelCheckpoint`: Keras's ModelCheckpoint, with the library's atomic save.
 * @module
 */
import { checkKeys } from '../validate.js';
import { InvalidArgumentError } from '../errors.js';
import type { CallbackModel, Callbacks, CallbackState, Logs } from './base.js';
import { Monitor, type MonitorMode, type MonitorName } from './monitor.js';

/** Options of `callbacks.modelCheckpoint`. */
export interface ModelCheckpointConfig {
  /**
   * Where to save, as for `model.save()`: `file://dir` (Node) or `indexeddb://name` (browsers).
   * `{epoch}` in it becomes the epoch's number (from 1), so that every epoch has its own save.
   */
  path: string;
  /** The quantity that decides the best epoch (default `'val_loss'`). */
  monitor?: MonitorName;
  /** Save only when `monitor` improves on the best so far (default false: every epoch). */
  saveBestOnly?: boolean;
  /** Whether the quantity should fall or rise (default `'auto'`). */
  mode?: MonitorMode;
}

/**
 * Saves the model after each epoch, or after each epoch that improves `monitor`, as Keras's
 * ModelCheckpoint does. Each save is atomic: a crash leaves the previous save whole. The best value
 * so far goes into fit()'s checkpoints.
 */
export function modelCheckpoint(config: ModelCheckpointConfig): Callbacks {
  const what = 'callbacks.modelCheckpoint()';
  checkKeys(what, config, ['path', 'monitor', 'saveBestOnly', 'mode']);
  if (typeof config?.path !== 'string' || config.path === '') throw new InvalidArgumentError(`${what}: path must be a model URL such as 'file://out/best'`);
  const monitor = new Monitor(what, config.monitor ?? 'val_loss', config.mode ?? 'auto', 0);
  const bestOnly = config.saveBestOnly ?? false;
  let model: CallbackModel | undefined;
  let best = monitor.initial();
  return {
    setModel(m) {
      model = m;
    },
    onTrainBegin() {
      best = monitor.initial();
    },
    async onEpochEnd(epoch: number, logs: Logs) {
      if (bestOnly) {
        const current = monitor.read(logs);
        if (!monitor.improves(current, best)) return;
        best = current;
      }
      await model!.save(config.path.replaceAll('{epoch}', String(epoch + 1)));
    },
    getState(): CallbackState {
      return { type: 'modelCheckpoint', values: { best: Number.isFinite(best) ? best : null } };
    },
    setState(state) {
      best = (state.values.best as number | null) ?? monitor.initial();
    },
  };
}
