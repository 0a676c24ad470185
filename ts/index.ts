/**
 * convnet-wasm: convolutional networks for JavaScript, with Rust/WebAssembly SIMD kernels.
 *
 * Import the package (`import { init } from 'convnet-wasm'`), not this file: the package entry
 * points for Node and browsers install the right wasm loader and re-export everything here.
 * @module
 */
export { init, isInitialized, buildInfo } from './init.js';
export type { InitOptions, WasmSource } from './init.js';
export * as ops from './ops.js';
export type { DenseShape, DenseGradients } from './ops.js';
export {
  ConvnetError,
  WasmLoadError,
  NotInitializedError,
  InvalidArgumentError,
  ShapeMismatchError,
  WasmPanicError,
} from './errors.js';
