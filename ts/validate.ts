/**
 * Argument checks that run before any wasm call, so bad input fails with a message that names
 * the argument and the sizes involved.
 * @module
 */
import { InvalidArgumentError, ShapeMismatchError } from './errors.js';

/** Throws unless `value` is an integer in [min, 2^31). */
export function checkCount(name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value >= 2 ** 31) {
    throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got ${describe(value)}`);
  }
  return value;
}

/** Throws unless `value` is a Float32Array of exactly `expected` values (`formula` explains it). */
export function checkFloat32(name: string, value: unknown, expected: number, formula: string): Float32Array {
  if (!(value instanceof Float32Array)) {
    const hint = Array.isArray(value) ? `; convert it with Float32Array.from(${name.split(': ').pop()})` : '';
    throw new InvalidArgumentError(`${name} must be a Float32Array, got ${describe(value)}${hint}`);
  }
  if (value.length !== expected) {
    throw new ShapeMismatchError(`${name} has ${value.length} values, expected ${formula} = ${expected}`);
  }
  return value;
}

/** Throws unless `value` is a finite number. */
export function checkFinite(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidArgumentError(`${name} must be a finite number, got ${describe(value)}`);
  }
  return value;
}

/** What a value is, for messages: `a Uint8Array of 784 values`, `an array of 3 values`, `"abc"`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length} values`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${(value as unknown as ArrayLike<number>).length} values`;
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'object'}`;
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}

/** A plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A file name that stays inside its directory: no separators, no NUL, not `.` or `..`. */
export function isPlainFileName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}


/** Edit distance between two short strings (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * Throws unless every key of the options object `config` (of the call `what`) is in `allowed`:
 * an option no one reads would be ignored without a word. The message names the key and the
 * nearest valid one.
 */
export function checkKeys(what: string, config: unknown, allowed: readonly string[]): void {
  if (config === undefined) return;
  if (!isObject(config)) throw new InvalidArgumentError(`${what}: the options must be an object, got ${describe(config)}`);
  for (const key of Object.keys(config)) {
    if (allowed.includes(key)) continue;
    const nearest = allowed.map((k) => ({ k, d: editDistance(key, k) })).sort((x, y) => x.d - y.d)[0];
    const hint = nearest && nearest.d <= Math.max(2, Math.floor(key.length / 3)) ? `; did you mean ${JSON.stringify(nearest.k)}?` : '';
    throw new InvalidArgumentError(`${what}: unknown option ${JSON.stringify(key)}${hint} (the options are ${allowed.join(', ')})`);
  }
}
