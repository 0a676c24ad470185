/**
 * Keras's training callbacks. Each goes in `fit(x, y, { callbacks: [...] })`, is deterministic, and
 * keeps its state in fit()'s checkpoints, so that a resumed run ends as an uninterrupted one.
 * @module
 */
import { csvLogger } from './csv-logger.js';
import { earlyStopping } from './early-stopping.js';
import { modelCheckpoint } from './model-checkpoint.js';
import { reduceLROnPlateau } from './reduce-lr-on-plateau.js';

export type { CsvLoggerConfig } from './csv-logger.js';
export type { EarlyStoppingConfig } from './early-stopping.js';
export type { ModelCheckpointConfig } from './model-checkpoint.js';
export type { ReduceLROnPlateauConfig } from './reduce-lr-on-plateau.js';
export type { MonitorMode, MonitorName } from './monitor.js';

/** The callback factories, as `tf.callbacks` and `keras.callbacks` name them. */
export const callbacks = {
  /** Keras's EarlyStopping: stops training when `monitor` stops improving ({@link EarlyStoppingConfig}). */
  earlyStopping,
  /** Keras's ModelCheckpoint: saves the model after each epoch, or each best one ({@link ModelCheckpointConfig}). */
  modelCheckpoint,
  /** Keras's ReduceLROnPlateau: lowers the learning rate when `monitor` stops improving ({@link ReduceLROnPlateauConfig}). */
  reduceLROnPlateau,
  /** Keras's CSVLogger (Node): one row per epoch, `csvLogger(path, { separator })` ({@link CsvLoggerConfig}). */
  csvLogger,
};
