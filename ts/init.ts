/**
 * Loading the wasm module, once per JS realm (page, worker or Node process).
 * @module
 */
import initGlue, { initSync, build_info } from './wasm/convnet_wasm.js';
import { InvalidArgumentError, NotInitializedError, WasmLoadError } from './errors.js';

/**
 * A compiled `WebAssembly.Module`. Typed as any object so that these declarations compile
 * without the DOM lib (Node projects) as well as with it; `init` checks what it gets.
 */
export type CompiledWasmModule = object;

/**
 * Where to take the wasm module from: a URL (or a URL string, or in Node a file path), the
 * module's bytes, or an already compiled module.
 */
export type WasmSource = URL | string | ArrayBuffer | ArrayBufferView | CompiledWasmModule;

/**
 * Which build of the wasm module {@link init} loads: `'default'` (wasm SIMD, the same bits on
 * every engine and CPU) or `'relaxed'` (also WebAssembly relaxed SIMD: the products'
 * multiply-adds may run fused, which is faster where the CPU has FMA, and whose results differ
 * from the default build's in the last bits and may differ between engines and CPUs).
 */
export type SimdFlavour = 'default' | 'relaxed';

/** Options for {@link init}. */
export interface InitOptions {
  /**
   * The wasm module. By default Node reads `convnet_wasm_bg.wasm` (with `simd: 'relaxed'`,
   * `convnet_wasm_relaxed_bg.wasm`) from the installed package, and a browser fetches it
   * relative to this module's URL. Pass a URL for a CDN, or the bytes when a bundler inlines them.
   */
  wasm?: WasmSource;
  /**
   * `'relaxed'` loads the relaxed-SIMD build (opt-in; not bit-identical with the default build,
   * see {@link SimdFlavour}). It needs an engine with relaxed SIMD (Chromium-based browsers
   * since version 114, Node.js 22; Node.js 20 with `--experimental-wasm-relaxed-simd`);
   * elsewhere `init` rejects with a {@link WasmLoadError}, and a later `init()` may load the
   * default build. With `wasm`, the module given must be a relaxed-SIMD build. Default
   * `'default'`.
   */
  simd?: SimdFlavour;
  /**
   * Browsers: where the gradient workers' script (`worker.browser.js` in the package's `dist/`)
   * is served, for `fit({ workers })`. By default it is fetched beside this module; bundlers
   * that do not copy it (esbuild) need the URL.
   */
  workerUrl?: string | URL;
}

/** @internal What the glue's initialiser accepts: bytes, a compiled module, or a fetch response. */
export type GlueInput = BufferSource | WebAssembly.Module | Response;

/**
 * @internal How a platform (Node or browser) turns a {@link WasmSource} into something the glue
 * loads; without a source, it takes the package's build for `simd`.
 */
export type WasmResolver = (source: WasmSource | undefined, simd: SimdFlavour) => Promise<GlueInput>;

/** @internal The package's two builds of the wasm module, beside the entry points in `dist/`. */
export const WASM_FILES: Readonly<Record<SimdFlavour, string>> = { default: 'convnet_wasm_bg.wasm', relaxed: 'convnet_wasm_relaxed_bg.wasm' };

/** A module of one function, `f32x4.relaxed_madd` of its argument: it validates where the engine has relaxed SIMD. */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 123, 1, 123, 3, 2, 1, 0, 10, 13, 1, 11, 0, 32, 0, 32, 0, 32, 0, 253, 133, 2, 11,
]);

/** Whether this engine runs WebAssembly relaxed SIMD, which `init({ simd: 'relaxed' })` needs. */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(RELAXED_SIMD_PROBE);
}

let resolver: WasmResolver | undefined;
let instantiateSync = false;
let ready: Promise<void> | undefined;
let initialised = false;

/**
 * @internal
 * Installs the platform's resolver. Called once, by node-platform.ts or the browser entry point.
 * `sync`: instantiate the compiled module synchronously (Node). The glue's asynchronous path
 * tests `instanceof Response`, and in Node the first use of that global loads undici, with http,
 * http2 and tls: about 8 ms of every cold start. Browsers keep the asynchronous path.
 */
export function setWasmResolver(r: WasmResolver, options: { sync?: boolean } = {}): void {
  resolver = r;
  instantiateSync = options.sync ?? false;
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** @internal Checks that bytes start like a wasm module, so a wrong file fails with a clear message. */
export function checkWasmBytes(bytes: unknown, where: string): asserts bytes is BufferSource {
  if (!(bytes instanceof ArrayBuffer) && !ArrayBuffer.isView(bytes)) {
    const got = bytes === null ? 'null' : typeof bytes === 'object' ? `a ${bytes.constructor?.name ?? 'object'}` : typeof bytes;
    throw new WasmLoadError(
      `${where} must be a URL, a URL string or path, the module's bytes (an ArrayBuffer or a typed array) or a compiled WebAssembly.Module; got ${got}`,
    );
  }
  const view = ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
  if (view.length < 8 || WASM_MAGIC.some((b, i) => view[i] !== b)) {
    const head = Array.from(view.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new WasmLoadError(
      `${where} is not a WebAssembly module: it has ${view.length} bytes and starts with [${head}], not [00 61 73 6d]`,
    );
  }
}

/**
 * @internal `fetch(url)` for a wasm module, failing with a {@link WasmLoadError} that names the
 * URL (and the HTTP status, followed by `advice`).
 */
export async function fetchWasmResponse(url: URL, advice = ''): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new WasmLoadError(`could not fetch the wasm module from ${url.href}: ${String(cause)}`, { cause });
  }
  if (!response.ok) throw new WasmLoadError(`fetching the wasm module from ${url.href} answered HTTP ${response.status}${advice}`);
  return response;
}

async function load(options: InitOptions): Promise<void> {
  if (resolver === undefined) {
    throw new WasmLoadError('no wasm loader for this platform: import convnet-wasm through its package entry');
  }
  const simd = options.simd ?? 'default';
  if (simd !== 'default' && simd !== 'relaxed') {
    throw new InvalidArgumentError(`init({ simd }) must be 'default' or 'relaxed', got ${JSON.stringify(simd)}`);
  }
  if (simd === 'relaxed' && !relaxedSimdSupported()) {
    throw new WasmLoadError(
      "init({ simd: 'relaxed' }): this engine has no WebAssembly relaxed SIMD. It needs a Chromium-based browser " +
        '(version 114 or later) or Node.js 22 or later; Node.js 20 needs the flag --experimental-wasm-relaxed-simd. ' +
        'init() without the option loads the default build.',
    );
  }
  if (options.workerUrl !== undefined) workerScript = options.workerUrl;
  const input = await resolver(options.wasm, simd);
  try {
    // Compiled here rather than by the glue, so gradient workers can be handed the same module.
    // Bytes and modules are told apart before `Response` is touched (see setWasmResolver).
    const module =
      input instanceof WebAssembly.Module
        ? input
        : ArrayBuffer.isView(input) || input instanceof ArrayBuffer
          ? await WebAssembly.compile(input as BufferSource)
          : await WebAssembly.compileStreaming(input as Response);
    const exports = instantiateSync ? initSync({ module }) : await initGlue({ module_or_path: module });
    wasmMemory = exports.memory;
    compiled = module;
    glueLoaded = true;
  } catch (cause) {
    throw new WasmLoadError(`the wasm module failed to instantiate: ${String(cause)}`, { cause });
  }
  if (simd === 'relaxed' && !build_info().endsWith('+relaxed-simd')) {
    // Only a module passed as `wasm` can get here. The glue keeps the instance it loaded, so
    // this rejection is final for this realm (see init).
    throw new WasmLoadError(
      `init({ simd: 'relaxed' }) was given a wasm module built without relaxed SIMD (${build_info()}): ` +
        `pass the package's ${WASM_FILES.relaxed} as \`wasm\`, or leave out \`simd\``,
    );
  }
  initialised = true;
}

let compiled: WebAssembly.Module | undefined;
/** Set once the glue holds an instance: it cannot load another, so init() failures after it are final. */
let glueLoaded = false;
let workerScript: string | URL | undefined;

/** @internal The gradient workers' script URL given to init(), if any. */
export function workerUrl(): string | URL | undefined {
  return workerScript;
}

/** @internal The compiled module, which workers instantiate again (modules can be posted to workers). */
export function moduleForWorkers(): WebAssembly.Module | undefined {
  return compiled;
}

/**
 * Loads and instantiates the wasm module. Call it once before anything else; further calls,
 * concurrent ones included, return the same promise. If loading fails, the promise rejects with
 * a {@link WasmLoadError} that says where it looked, and a later call tries again (with other
 * options, e.g. without `simd: 'relaxed'`), except after a module without relaxed SIMD was
 * passed with `simd: 'relaxed'`: that one was instantiated, and the realm keeps the rejection.
 */
export function init(options: InitOptions = {}): Promise<void> {
  ready ??= load(options).catch((error: unknown) => {
    if (!glueLoaded) ready = undefined;
    throw error;
  });
  return ready;
}

let wasmMemory: WebAssembly.Memory | undefined;

/**
 * Memory in use, like TF.js's `tf.memory()`: `wasmBytes` is the size of the wasm linear memory,
 * which holds every model's weights, optimiser state and buffers. It grows when needed and never
 * shrinks, but memory freed by `dispose()` is reused.
 */
export function memory(): { wasmBytes: number } {
  assertInitialized('memory()');
  return { wasmBytes: wasmMemory!.buffer.byteLength };
}

/** Whether {@link init} has finished. */
export function isInitialized(): boolean {
  return initialised;
}

/** @internal Throws {@link NotInitializedError} unless {@link init} has finished. */
export function assertInitialized(what: string): void {
  if (!initialised) throw new NotInitializedError(what);
}

/** The crate's version and SIMD flavour: `0.1.0+simd128`, or `0.1.0+simd128+relaxed-simd` for the relaxed-SIMD build. */
export function buildInfo(): string {
  assertInitialized('buildInfo()');
  return build_info();
}
