/**
 * Every call into the wasm goes through {@link callWasm}, which turns the wasm's coded errors into
 * the documented {@link ConvnetError}s and a Rust panic (a trap) into a {@link WasmPanicError}
 * carrying the panic's message.
 * @module
 */
import { take_panic_message } from './wasm/convnet_wasm.js';
import { ConvnetError, WasmPanicError, fromWasm } from './errors.js';
import { assertInitialized, memory } from './init.js';

/**
 * Runs `fn`, a call into the wasm named `what` in messages; `layerLabel` names a model's layers
 * in its errors (see {@link fromWasm}).
 */
export function callWasm<T>(what: string, fn: () => T, layerLabel?: (index: number) => string | undefined): T {
  assertInitialized(what);
  try {
    return fn();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      const panic = take_panic_message();
      // Without a panic message, the trap is an abort: in this crate, a failed allocation (the
      // runtime bounds every size first, so this means the wasm's 4 GiB are used up).
      const why = panic ?? `the wasm aborted (${error.message}), most likely out of memory: ${memoryNote()}`;
      throw new WasmPanicError(`${what}: ${why}`, { cause: error });
    }
    if (error instanceof Error && !(error instanceof ConvnetError)) throw fromWasm(what, error, layerLabel);
    throw error;
  }
}

function memoryNote(): string {
  const mib = Math.round(memory().wasmBytes / 2 ** 20);
  return `its memory is ${mib} MiB of at most 4,096; dispose() models you no longer need, or use smaller batches`;
}
