/**
 * What the CLI's commands share: option parsers, the datasets, the confusion matrix, durations.
 * @module
 */
import { InvalidArgumentError } from 'commander';
import { datasets, loadModel, type Dataset, type Evaluation, type LayersModel, type Split } from '../index.node.js';

/** A commander parser for integers ≥ `min`. */
export const integer =
  (name: string, min = 1) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
    return n;
  };

/** A commander parser for positive numbers. */
export const positive =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number, got ${JSON.stringify(value)}`);
    return n;
  };

/** A commander parser for finite numbers ≥ 0. */
export const nonNegative =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number ≥ 0, got ${JSON.stringify(value)}`);
    return n;
  };

/** A commander parser for numbers in [0, 1]. */
export const fraction =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be a number in [0, 1], got ${JSON.stringify(value)}`);
    return n;
  };

/** The datasets the CLI reads, by the name `--dataset` takes. */
export const DATASETS = { fashion: datasets.fashionMnist, mnist: datasets.mnist } as const;
export type DatasetName = keyof typeof DATASETS;

export interface DataOptions {
  data?: string;
  download?: boolean;
}

export function loadDataset(name: DatasetName, options: DataOptions): Promise<Dataset> {
  return DATASETS[name]({ ...(options.data === undefined ? {} : { dir: options.data }), download: Boolean(options.download) });
}

/** Loads a saved model (a directory, its model.json, or a file:// URL) that reads 28×28×1 images. */
export async function loadImageModel(path: string): Promise<LayersModel> {
  const model = await loadModel(/^[a-z]+:\/\//i.test(path) ? path : `file://${path}`);
  const [h, w, c] = model.inputShape;
  if (h !== 28 || w !== 28 || c !== 1) {
    model.dispose();
    throw new InvalidArgumentError(`${path}: the model reads [${h}, ${w}, ${c}] images, the datasets here are [28, 28, 1]`);
  }
  return model;
}

/** 75 → "1m15s". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}

/** The confusion matrix as text, rows actual, columns predicted. */
export function confusionTable(evaluation: Evaluation, classNames: string[]): string {
  const header = 'actual \\ predicted';
  const width = Math.max(header.length, ...classNames.map((n, i) => `${i} ${n}`.length));
  const lines = [`${header.padEnd(width)}${classNames.map((_, i) => String(i).padStart(6)).join('')}`];
  evaluation.confusionMatrix.forEach((row, i) => {
    lines.push(`${`${i} ${classNames[i]}`.padEnd(width)}${row.map((v) => String(v).padStart(6)).join('')}`);
  });
  return lines.join('\n');
}

/** Images `from`…`from + count` of a split, clamped to it. */
export function slice(split: Split, from: number, count: number): Split {
  const px = 28 * 28;
  const end = Math.min(from + count, split.count);
  if (from >= split.count) throw new InvalidArgumentError(`--from ${from}: the split has ${split.count} images`);
  return { images: split.images.subarray(from * px, end * px), labels: split.labels.subarray(from, end), count: end - from };
}
