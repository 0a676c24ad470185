/**
 * The browser entry point (also for bundlers and Web Workers): fetches the wasm module relative
 * to this module's URL by default. With a bundler that does not copy assets referenced through
 * `new URL(…, import.meta.url)` (esbuild, for one), copy `convnet_wasm_bg.wasm` next to the
 * bundle, or pass `init({ wasm: url })`.
 * @module
 */
import { checkWasmBytes, fetchWasmResponse, setWasmResolver, workerUrl, WASM_FILES, type GlueInput, type SimdFlavour, type WasmSource } from './init.js';
import { setWorkerPlatform } from './worker-pool.js';
import { setGunzip } from './platform.js';
import { gunzipSync } from 'fflate';

/**
 * The package's builds beside this module, each a literal `new URL(…, import.meta.url)`, the
 * form bundlers (Vite, webpack) recognise and emit as an asset.
 */
const packagedWasm: Record<SimdFlavour, () => URL> = {
  default: () => new URL('./convnet_wasm_bg.wasm', import.meta.url),
  relaxed: () => new URL('./convnet_wasm_relaxed_bg.wasm', import.meta.url),
};

async function resolveBrowser(source: WasmSource | undefined, simd: SimdFlavour): Promise<GlueInput> {
  if (source instanceof WebAssembly.Module) return source;
  if (source !== undefined && typeof source !== 'string' && !(source instanceof URL)) {
    checkWasmBytes(source, 'the wasm bytes passed to init()');
    return source;
  }
  const base = typeof location === 'undefined' ? import.meta.url : location.href;
  const url = source === undefined ? packagedWasm[simd]() : new URL(source, base);
  const response = await fetchWasmResponse(url, `. Serve ${WASM_FILES[simd]} beside the bundle, or pass init({ wasm: url }).`);
  // Streaming compilation needs the application/wasm type; otherwise compile from the bytes.
  if (response.headers.get('content-type')?.split(';')[0]?.trim() === 'application/wasm') return response;
  const bytes = await response.arrayBuffer();
  checkWasmBytes(bytes, url.href);
  return bytes;
}

setWasmResolver(resolveBrowser);

// fflate sizes its output from the gzip trailer, which the caller has bounded.
setGunzip((bytes) => gunzipSync(bytes));

setWorkerPlatform({
  spawn() {
    // The literal `new Worker(new URL(…, import.meta.url), { type: 'module' })` is the form
    // bundlers (Vite, webpack) recognise and bundle as a worker entry.
    const custom = workerUrl();
    const worker =
      custom !== undefined ? new Worker(custom, { type: 'module' }) : new Worker(new URL('./worker.browser.js', import.meta.url), { type: 'module' });
    return {
      post: (message, transfer) => worker.postMessage(message, transfer ?? []),
      listen(handler) {
        worker.onmessage = (event: MessageEvent) => handler(event.data);
        worker.onerror = (event) => {
          event.preventDefault();
          handler(new Error(event.message || 'the worker script could not be loaded; pass init({ workerUrl })'));
        };
      },
      terminate: () => worker.terminate(),
    };
  },
  // Starting Web Workers needs the worker script served beside the package (or init({ workerUrl })),
  // so in a page data-parallel training is opt-in: fit({ workers: n }).
  defaultWorkers: () => 1,
});

export * from './index.js';
