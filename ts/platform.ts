/**
 * Services only some platforms have. The Node entry installs a file system; in a browser, code
 * that needs one (loading a dataset from a directory, `file://` URLs) fails with a clear error.
 * @module
 */
import { ConvnetError } from './errors.js';

/** The file operations the library uses. Paths are absolute or relative to the working directory. */
export interface FileSystem {
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Reads a file whose bytes are spent soon (a gzip file, once inflated), into memory that
   * {@link releaseBuffer} can give back at once.
   */
  readSpent?(path: string): Promise<Uint8Array>;
  /**
   * Writes to a temporary file in the same directory, flushes it, renames it over `path`, then
   * flushes the directory.
   */
  writeFileAtomic(path: string, data: Uint8Array): Promise<void>;
  /** Whether a file name is one of {@link FileSystem.writeFileAtomic}'s temporaries. */
  isTemporary(name: string): boolean;
  mkdir(path: string): Promise<void>;
  /** The names in a directory (empty when it does not exist). */
  list(path: string): Promise<string[]>;
  /** Removes a file; no error when it is already gone. */
  remove(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  join(...parts: string[]): string;
  /** The user's cache directory for convnet-wasm, e.g. ~/.cache/convnet-wasm. */
  cacheDir(): string;
  env(name: string): string | undefined;
}

let installed: FileSystem | undefined;

/**
 * Runs a file operation on `path`; an error of the platform (ENOTDIR, EACCES, ENOSPC, …) becomes
 * the caller's documented error, made by `fail` from a message that names the path.
 */
export async function onPath<T>(path: string, operation: () => Promise<T>, fail: (message: string, cause: unknown) => ConvnetError): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof ConvnetError) throw error;
    throw fail(`${path}: ${error instanceof Error ? error.message : String(error)}`, error);
  }
}

/** Installs the platform's file system (the Node entry does this). */
export function setFileSystem(fs: FileSystem): void {
  installed = fs;
}

/** The file system, or a clear error saying that `what` needs Node. */
export function fileSystem(what: string): FileSystem {
  if (installed === undefined) {
    throw new ConvnetError('UNSUPPORTED_PLATFORM', `${what} needs a file system: it works in Node, not in a browser`);
  }
  return installed;
}

/** Inflates a gzip stream whose trailer gives `size` bytes of output. */
export type Gunzip = (bytes: Uint8Array, size: number) => Uint8Array;

let gunzip: Gunzip | undefined;

/**
 * Installs the platform's gunzip: zlib's in Node, which writes into one buffer of the output's
 * size (fflate left tables for every deflate block behind: 23 MB for Fashion-MNIST's training
 * images, which raised the peak memory of a training run), fflate's in browsers. Only the browser
 * entry imports fflate: its Node build loads worker_threads, ~10 ms of a cold start.
 */
export function setGunzip(fn: Gunzip): void {
  gunzip = fn;
}

/** The ES2024 resizable ArrayBuffer, which the ES2022 lib this code compiles against lacks. */
interface Resizable {
  readonly resizable?: boolean;
  resize(length: number): void;
}

/**
 * Gives a spent buffer's memory back now rather than at V8's next major collection. A buffer
 * read or inflated for a moment (Fashion-MNIST's 26 MB gzip file) otherwise stays resident until
 * then, which can be a second into training, and raises the process's peak memory by its size.
 * - A resizable ArrayBuffer (from {@link FileSystem.readSpent}) is shrunk to nothing: V8 maps its
 *   pages itself and unmaps them on the spot.
 * - Any other is transferred into a message that is never received, which detaches it; closing
 *   the channel drops the message with the memory (in Node, on the event loop's next turn).
 *
 * Only for buffers this library allocated and nothing else views; small ones are left to the GC.
 */
export function releaseBuffer(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < 1 << 20) return;
  const resizable = buffer as ArrayBuffer & Resizable;
  if (resizable.resizable === true) {
    resizable.resize(0);
    return;
  }
  const Channel = globalThis.MessageChannel;
  if (Channel === undefined) return;
  const { port1, port2 } = new Channel();
  try {
    port1.postMessage(null, [buffer]);
  } catch {
    // Not transferable (a pooled Node Buffer): the GC frees it as before.
  }
  port1.close();
  port2.close();
}

/** The installed gunzip, if the platform has one. */
export function platformGunzip(): Gunzip | undefined {
  return gunzip;
}
