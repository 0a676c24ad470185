import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

// The real files: Debian's dataset-fashion-mnist (installed by scripts/setup).
const FASHION = '/usr/share/datasets/fashion-mnist';
const real = (f: string) => readFile(join(FASHION, `${f}.gz`)).then((b) => new Uint8Array(b));
let files: cw.IdxFiles;
let tmp: string;

beforeAll(async () => {
  files = {
    trainImages: await real('train-images-idx3-ubyte'),
    trainLabels: await real('train-labels-idx1-ubyte'),
    testImages: await real('t10k-images-idx3-ubyte'),
    testLabels: await real('t10k-labels-idx1-ubyte'),
  };
  tmp = await mkdtemp(join(tmpdir(), 'convnet-data-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('datasets.fashionMnist', () => {
  it('loads the real 60,000/10,000 from the system directory', async () => {
    const d = await cw.datasets.fashionMnist({ dir: FASHION });
    expect([d.train.count, d.test.count]).toEqual([60_000, 10_000]);
    expect(d.train.images.length).toBe(60_000 * 784);
    expect(d.classNames[9]).toBe('Ankle boot');
    // The first training image is an ankle boot (label 9), the first test image too.
    expect([d.train.labels[0], d.test.labels[0]]).toEqual([9, 9]);
    const counts = new Array(10).fill(0);
    for (const l of d.test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });

  it('gives each gzip file\'s memory back once it is inflated, not at a later GC', () => {
    // In a fresh process (no earlier garbage for a GC to collect meanwhile): what a load adds to
    // the resident set is the data (47 + 7.8 MB of images, 70 kB of labels) and a little, not
    // also the 30 MB of gzip files read for it (+91 MB before the change, +60 MB after).
    const script = `
      const cw = await import('convnet-wasm');
      const before = process.memoryUsage().rss;
      const d = await cw.datasets.fashionMnist({ dir: ${JSON.stringify(FASHION)} });
      const grown = process.memoryUsage().rss - before;
      console.log(JSON.stringify({ grown, data: d.train.images.length + d.test.images.length, pixel: d.train.images[784 * 59999 + 400] }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const { grown, data, pixel } = JSON.parse(out) as { grown: number; data: number; pixel: number };
    console.log(`a Fashion-MNIST load adds ${(grown / 1e6).toFixed(1)} MB to the RSS for ${(data / 1e6).toFixed(1)} MB of images`);
    expect(data).toBe(70_000 * 784);
    expect(grown).toBeGreaterThanOrEqual(data);
    expect(grown).toBeLessThan(data + 12e6);
    expect(pixel).toBe(Buffer.from(gunzipSync(files.trainImages))[16 + 784 * 59_999 + 400]);
  });

  it('loads from bytes, gzip or raw, and from a directory of raw files', async () => {
    const raw = { ...files, testLabels: gunzipSync(files.testLabels) };
    const d = cw.datasetFromBytes(raw, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
    expect(d.test.count).toBe(10_000);
    const dir = join(tmp, 'raw');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    for (const [name, bytes] of [
      ['train-images-idx3-ubyte', files.trainImages],
      ['train-labels-idx1-ubyte', files.trainLabels],
      ['t10k-images-idx3-ubyte', files.testImages],
      ['t10k-labels-idx1-ubyte', files.testLabels],
    ] as const) {
      await writeFile(join(dir, name), gunzipSync(bytes));
    }
    const fromDir = await cw.datasets.fashionMnist({ dir });
    expect(Buffer.from(fromDir.train.images).equals(Buffer.from((await cw.datasets.fashionMnist({ dir: FASHION })).train.images))).toBe(true);
  });

  it('names the file and the sizes for damaged files (made from the real ones)', () => {
    const labels = gunzipSync(files.testLabels);
    const load = (patch: Partial<cw.IdxFiles>) => () => cw.datasetFromBytes({ ...files, ...patch }, new Array(10).fill('x'));
    const truncatedGz = files.testLabels.subarray(0, files.testLabels.length - 100);
    expect(load({ testLabels: truncatedGz })).toThrowError(expect.objectContaining({ code: 'DATASET', message: expect.stringContaining('t10k-labels-idx1-ubyte: the gzip') }));
    const flipped = labels.slice();
    flipped[2] = 0x0d; // the data-type byte: 0x0d is float32
    expect(load({ testLabels: flipped })).toThrow('t10k-labels-idx1-ubyte: magic number 0x00000d01 is not an IDX file of unsigned bytes with 1–3 dimensions');
    expect(load({ testLabels: labels.subarray(0, 5000) })).toThrow('t10k-labels-idx1-ubyte: dimensions [10000] need 10000 bytes of data, the file has 4992 (truncated)');
    expect(load({ testLabels: files.trainLabels })).toThrow('test: 10000 images but 60000 labels');
    const bad = labels.slice();
    bad[8 + 17] = 10;
    expect(load({ testLabels: bad })).toThrow('test labels: label 10 at index 17 is not below 10');
    expect(load({ testImages: gzipSync(labels) })).toThrow('test images: dimensions [10000], expected [N, 28, 28]');
  });

  it('bounds declared sizes before allocating', () => {
    const header = new Uint8Array([0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28]);
    expect(() => cw.parseIdx(header, 'huge')).toThrow('huge: dimensions [4294967295, 28, 28] exceed the limits');
    const gz = gzipSync(new Uint8Array(100));
    new DataView(gz.buffer).setUint32(gz.length - 4, 0xfffffff0, true);
    expect(() => cw.parseIdx(gz, 'bomb')).toThrow('bomb: the gzip trailer gives 4294967280 bytes');
    // A trailer that gives less than the stream holds: inflating stops at its size.
    const short = gzipSync(new Uint8Array(100_000));
    new DataView(short.buffer).setUint32(short.length - 4, 1000, true);
    expect(() => cw.parseIdx(short, 'short')).toThrow('short: the gzip stream is damaged or truncated (it inflates to more than the 1000 bytes its trailer gives)');
  });

  it('says where it looked when the data is missing', async () => {
    await expect(cw.datasets.fashionMnist({ dir: join(tmp, 'nothing') })).rejects.toThrow(`${join(tmp, 'nothing')}: no fashion-mnist IDX files there`);
    await writeFile(join(tmp, 'train-images-idx3-ubyte.gz'), files.trainImages);
    await expect(cw.datasets.fashionMnist({ dir: tmp })).rejects.toThrow(
      `${tmp}: missing train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (gzip or raw)`,
    );
  });
});
