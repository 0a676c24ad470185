/**
 * The errors convnet-wasm throws. Every one is a {@link ConvnetError} with a stable `code`, and a
 * message that names the argument, layer or file and the sizes involved. Errors raised inside the
 * wasm carry a code too, which {@link fromWasm} maps to the same classes.
 * @module
 */

/** Every code a {@link ConvnetError} can carry; the README's error table lists each. */
export const ERROR_CODES = [
  'WASM_LOAD',
  'NOT_INITIALIZED',
  'INVALID_ARGUMENT',
  'SHAPE_MISMATCH',
  'LIMIT_EXCEEDED',
  'INVALID_STATE',
  'NOT_COMPILED',
  'ALREADY_COMPILED',
  'NO_LAYERS',
  'NO_INPUT_SHAPE',
  'DISPOSED',
  'BUSY',
  'BROKEN',
  'TRAINING_DIVERGED',
  'WORKER_FAILED',
  'SAVE_FAILED',
  'LOAD_FAILED',
  'MODEL_NOT_FOUND',
  'UNSUPPORTED_URL',
  'UNSUPPORTED_PLATFORM',
  'INDEXEDDB',
  'CHECKPOINT',
  'DATASET',
  'MODEL_FORMAT',
  'TFJS_FORMAT',
  'WASM_PANIC',
] as const;

/** A {@link ConvnetError}'s code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The base class of every error convnet-wasm throws. Switch on `code`, not on the message. */
export class ConvnetError extends Error {
  /** A stable, machine-readable kind, e.g. `'SHAPE_MISMATCH'`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The wasm module could not be found, fetched, compiled or instantiated. */
export class WasmLoadError extends ConvnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WASM_LOAD', message, options);
  }
}

/** A function that needs the wasm module was called before `init()` finished. */
export class NotInitializedError extends ConvnetError {
  constructor(what: string) {
    super('NOT_INITIALIZED', `${what} needs the wasm module: await init() first`);
  }
}

/** An argument has the wrong type or an invalid value. */
export class InvalidArgumentError extends ConvnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}

/** An array's length does not match the shape it was given with. */
export class ShapeMismatchError extends ConvnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SHAPE_MISMATCH', message, options);
  }
}

/** A damaged, foreign or mismatched checkpoint. */
export class CheckpointError extends ConvnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CHECKPOINT', message, options);
  }
}

/** A damaged or unexpected data file. The message names the file and the sizes involved. */
export class DatasetError extends ConvnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DATASET', message, options);
  }
}

/** A damaged, unknown or mismatched model file. */
export class ModelFormatError extends ConvnetError {
  constructor(message: string) {
    super('MODEL_FORMAT', message);
  }
}

/** A model that cannot be expressed in, or read from, TF.js's Layers format. */
export class TfjsFormatError extends ConvnetError {
  constructor(message: string) {
    super('TFJS_FORMAT', message);
  }
}

/**
 * Rust code inside the wasm panicked. The message is the panic's own. A panic is a bug in
 * convnet-wasm (validation should have caught the input first): please report it.
 */
export class WasmPanicError extends ConvnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('WASM_PANIC', message, options);
  }
}

/** The codes the wasm's own errors carry (Rust's `ErrorCode`). */
const WASM_CODES = ['INVALID_ARGUMENT', 'SHAPE_MISMATCH', 'LIMIT_EXCEEDED', 'INVALID_STATE', 'CHECKPOINT'] as const;
type WasmCode = (typeof WASM_CODES)[number];

/**
 * The {@link ConvnetError} for an error the wasm returned: its `code` picks the class, and
 * `what` (the call, e.g. `'sequential.fit()'`) prefixes the message. An error about a layer
 * names it as the runtime knows it (`layer 3 (max_pool2d)`); `layerLabel` gives the API's name
 * for it instead. An error without a known code is not one of the runtime's own checks
 * (wasm-bindgen's glue raised it): that is a bug, reported as a {@link WasmPanicError}.
 */
export function fromWasm(what: string, error: Error, layerLabel?: (index: number) => string | undefined): ConvnetError {
  const code = (error as { code?: unknown }).code;
  const layer = (error as { layer?: unknown }).layer;
  const label = typeof layer === 'number' ? layerLabel?.(layer) : undefined;
  const text = label === undefined ? error.message : error.message.replace(/^layer \d+ \([^)]*\)/, `layer ${String(layer)} (${label})`);
  const message = `${what}: ${text}`;
  const options = { cause: error };
  if (!WASM_CODES.includes(code as WasmCode)) return new WasmPanicError(message, options);
  switch (code as WasmCode) {
    case 'INVALID_ARGUMENT':
      return new InvalidArgumentError(message, options);
    case 'SHAPE_MISMATCH':
      return new ShapeMismatchError(message, options);
    case 'CHECKPOINT':
      return new CheckpointError(message, options);
    default:
      return new ConvnetError(code as WasmCode, message, options);
  }
}
