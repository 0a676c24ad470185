// Internals the tests reach past the public API for: the built package's own module instances
// (the same ones `convnet-wasm` resolves to), never a copy.
import { callWasm } from '../../dist/wasm-call.js';
import { panic_with_message } from '../../dist/wasm/convnet_wasm.js';

/** Makes the wasm panic with `message` inside a call named `what`, as a bug would. */
export function panicInWasm(what: string, message: string): never {
  callWasm(what, () => panic_with_message(message));
  throw new Error('unreachable: the wasm call above panics');
}

/** What the wasm runtime computed for a compiled model: values out of each layer, and parameters. */
export function runtimeShapes(model: unknown): { outputLens: number[]; paramCounts: number[]; paramShapes: number[][][] } {
  const wasm = (model as { compiled: { wasm: { output_lens(): Uint32Array; layer_param_counts(): Uint32Array; param_shapes_json(): string } } }).compiled.wasm;
  return {
    outputLens: Array.from(wasm.output_lens()),
    paramCounts: Array.from(wasm.layer_param_counts()),
    paramShapes: JSON.parse(wasm.param_shapes_json()) as number[][][],
  };
}
