/**
 * Every call into the wasm goes through {@link callWasm}, which turns a Rust panic (a trap)
 * into a {@link WasmPanicError} carrying the panic's message.
 * @module
 */
import { take_panic_message } from './wasm/convnet_wasm.js';
import { ConvnetError, WasmPanicError } from './errors.js';
import { assertInitialized } from './init.js';

/** Runs `fn`, a call into the wasm named `what` in messages. */
export function callWasm<T>(what: string, fn: () => T): T {
  assertInitialized(what);
  try {
    return fn();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      const panic = take_panic_message();
      throw new WasmPanicError(`${what}: ${panic ?? `the wasm trapped: ${error.message}`}`, { cause: error });
    }
    if (error instanceof Error && !(error instanceof ConvnetError)) {
      // A JsError returned by the Rust surface: its own checks failed.
      throw new ConvnetError('WASM_ERROR', `${what}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
