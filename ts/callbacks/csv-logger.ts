/**
 * `callbacks.csvLogger`: Keras's CSVLogger, for Node.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import { fileSystem } from '../platform.js';
import { checkKeys } from '../validate.js';
import type { Callbacks, CallbackState, Logs } from './base.js';

/** Options of `callbacks.csvLogger`. */
export interface CsvLoggerConfig {
  /** The column separator (default `','`). */
  separator?: string;
}

/**
 * Writes one row per epoch to a CSV file, as Keras's CSVLogger: `epoch` then the logs' keys in
 * Keras's sorted order (`accuracy,loss,val_accuracy,val_loss`). The file is rewritten atomically
 * from the run's history after each epoch, so it always holds whole rows, and a resumed fit
 * writes the same file as one that was never interrupted. Node only.
 */
export function csvLogger(path: string, config: CsvLoggerConfig = {}): Callbacks {
  const what = 'callbacks.csvLogger()';
  if (typeof path !== 'string' || path === '') throw new InvalidArgumentError(`${what}: path must be a file path`);
  checkKeys(what, config, ['separator']);
  const sep = config.separator ?? ',';
  const file = path.replace(/^file:\/\//, '');
  // Checked at once, so that a browser fails when the callback is made, not after an epoch.
  const fs = fileSystem(what);
  let columns: string[] = [];
  let rows: number[][] = [];
  const write = () => fs.writeFileAtomic(file, new TextEncoder().encode([['epoch', ...columns].join(sep), ...rows.map((r) => r.join(sep))].join('\n') + '\n'));
  return {
    onTrainBegin() {
      columns = [];
      rows = [];
    },
    async onEpochEnd(epoch: number, logs: Logs) {
      const values = logs as unknown as Record<string, number>;
      if (rows.length === 0) columns = Object.keys(values).sort();
      rows.push([epoch, ...columns.map((k) => values[k] ?? NaN)]);
      await write();
    },
    getState(): CallbackState {
      return { type: 'csvLogger', values: {}, table: { columns, rows } };
    },
    setState(state) {
      ({ columns, rows } = state.table as { columns: string[]; rows: number[][] });
    },
  };
}
