/**
 * What Node needs set up before anything runs: the wasm module read with `fs` (from the
 * installed package by default), gzip, the file system and worker threads. The package's entry
 * point imports it, and so does the gradient worker, which needs no more of the package.
 * @module
 */
import { access, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFileSystem, setGunzip } from './platform.js';
import { checkWasmBytes, fetchWasmResponse, setWasmResolver, WASM_FILES, type GlueInput, type SimdFlavour, type WasmSource } from './init.js';
import { WasmLoadError } from './errors.js';
import { setWorkerPlatform } from './worker-pool.js';

// Modules that only some calls need (saving a file, workers, gzip) load on first use: together
// they cost ~5 ms of every cold start.
const require = createRequire(import.meta.url);
const crypto = () => require('node:crypto') as typeof import('node:crypto');
const threads = () => require('node:worker_threads') as typeof import('node:worker_threads');
const zlib = () => require('node:zlib') as typeof import('node:zlib');

/** Strings are URLs when they have a scheme (file:, https:), file paths otherwise. */
function toUrl(source: string | URL): URL {
  if (source instanceof URL) return source;
  return /^[a-z][a-z0-9+.-]+:/i.test(source) && !/^[a-z]:[\\/]/i.test(source) ? new URL(source) : pathToFileURL(source);
}

async function resolveNode(source: WasmSource | undefined, simd: SimdFlavour): Promise<GlueInput> {
  if (source instanceof WebAssembly.Module) return source;
  if (source !== undefined && typeof source !== 'string' && !(source instanceof URL)) {
    checkWasmBytes(source, 'the wasm bytes passed to init()');
    return source;
  }
  const url = toUrl(source ?? new URL(`./${WASM_FILES[simd]}`, import.meta.url));
  if (url.protocol === 'file:') {
    const path = fileURLToPath(url);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = ownBytes(await readFile(path));
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new WasmLoadError(
        `could not read the wasm module at ${path} (${reason}). ` +
          (source === undefined
            ? 'It ships beside dist/index.node.js: reinstall the package, or run `npm run build` in a checkout.'
            : 'Check the path passed to init({ wasm }).'),
        { cause },
      );
    }
    checkWasmBytes(bytes, path);
    return bytes;
  }
  return fetchWasm(url);
}

async function fetchWasm(url: URL): Promise<GlueInput> {
  const bytes = await (await fetchWasmResponse(url)).arrayBuffer();
  checkWasmBytes(bytes, url.href);
  return bytes;
}

setWasmResolver(resolveNode, { sync: true });

/**
 * The bytes of a file read by Node, without a copy when the Buffer owns its whole ArrayBuffer
 * (large files always do); small Buffers may share Node's pool, and are copied.
 */
function ownBytes(buffer: Buffer): Uint8Array<ArrayBuffer> {
  const whole = buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength && buffer.buffer instanceof ArrayBuffer;
  return whole ? new Uint8Array(buffer.buffer as ArrayBuffer) : new Uint8Array(buffer);
}

// zlib writes into one output chunk of the trailer's size (+1 so that it ends inside it); output
// past that is an error, so a stream that lies about its size cannot grow without bound.
setGunzip((bytes, size) => {
  let out: Buffer;
  try {
    out = zlib().gunzipSync(bytes, { chunkSize: Math.max(64, size + 1), maxOutputLength: size + 1 });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`it inflates to more than the ${size} bytes its trailer gives`, { cause: error });
    throw error;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
});

setFileSystem({
  // One allocation per file: a 47 MB dataset file copied here would raise the peak memory by 47 MB.
  readFile: async (path) => ownBytes(await readFile(path)),
  // A resizable ArrayBuffer: V8 maps its pages itself, so releaseBuffer unmaps them at once, and
  // the C heap never sees a 26 MB block come and go. glibc raises its mmap threshold to the size of
  // a freed mapped block, after which it keeps every smaller block (V8's compiler zones among
  // them) on heaps it seldom gives back, which raised the peak RSS of Fashion training
  // (docs/performance.md).
  async readSpent(path) {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      // ES2024's two-argument constructor, which the ES2022 lib this compiles against lacks.
      const Resizable = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;
      const bytes = new Uint8Array(new Resizable(size, { maxByteLength: size }));
      let at = 0;
      while (at < size) {
        const { bytesRead } = await file.read(bytes, at, size - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return at === size ? bytes : bytes.subarray(0, at);
    } finally {
      await file.close();
    }
  },
  async writeFileAtomic(path, data) {
    const full = resolve(path);
    const tmp = join(dirname(full), `.${crypto().randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(tmp, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await rename(tmp, full);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    // Make the rename itself durable: flush the directory entry.
    const dir = await open(dirname(full), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  },
  isTemporary: (name) => /^\.[0-9a-f]{12}\.tmp$/.test(name),
  mkdir: async (path) => void (await mkdir(path, { recursive: true })),
  list: (path) => readdir(path).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error))),
  remove: (path) => rm(path, { force: true }),
  exists: (path) => access(path).then(() => true, () => false),
  join,
  cacheDir: () => join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'convnet-wasm'),
  env: (name) => process.env[name],
});

/**
 * The process's Node flags for worker threads, without those about the main script (`-e`,
 * `--input-type`…), which a worker started from a file refuses.
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (/^(-e|--eval|-p|--print)$/.test(a)) i++;
    else if (!/^(--input-type|--eval|--print)(=|$)/.test(a) && !/^-(e|p)./.test(a)) out.push(a);
  }
  return out;
}

let execArgvForWorkers: string[] | undefined;

/**
 * A worker thread with the process's flags that a worker accepts. Process-wide flags (V8's, such
 * as `--max-old-space-size` or `--experimental-wasm-relaxed-simd`, and `--expose-gc`) already
 * hold in every thread, and Node refuses them in a worker's `execArgv`: the first refusal names
 * them, and they are left out from then on.
 */
function spawnWorker(url: URL): import('node:worker_threads').Worker {
  const Worker = threads().Worker;
  const argv = (execArgvForWorkers ??= workerExecArgv());
  try {
    return new Worker(url, { execArgv: argv });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    const refused = /flags: (.*)$/.exec((error as Error).message)?.[1]?.split(', ') ?? [];
    execArgvForWorkers = refused.length > 0 ? argv.filter((a) => !refused.includes(a)) : [];
    return new Worker(url, { execArgv: execArgvForWorkers });
  }
}

setWorkerPlatform({
  spawn() {
    const worker = spawnWorker(new URL('./worker.node.js', import.meta.url));
    let closing = false;
    return {
      post: (message, transfer) => worker.postMessage(message, (transfer ?? []) as never[]),
      listen(handler) {
        worker.on('message', handler);
        worker.on('error', (error) => handler(error));
        worker.on('exit', (code) => {
          if (!closing) handler(new Error(`the worker thread exited (code ${code})`));
        });
      },
      terminate() {
        closing = true;
        void worker.terminate();
      },
      busy: (busy) => (busy ? worker.ref() : worker.unref()),
    };
  },
  defaultWorkers: () => availableParallelism(),
});
