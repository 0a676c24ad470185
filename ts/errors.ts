/**
 * The errors convnet-wasm throws. Every one is a {@link ConvnetError} with a stable `code`, and a
 * message that names the argument, layer or file and the sizes involved.
 * @module
 */

/** The base class of every error convnet-wasm throws. Switch on `code`, not on the message. */
export class ConvnetError extends Error {
  /** A stable, machine-readable kind, e.g. `'SHAPE_MISMATCH'`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}

/** An array's length does not match the shape it was given with. */
export class ShapeMismatchError extends ConvnetError {
  constructor(message: string) {
    super('SHAPE_MISMATCH', message);
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
