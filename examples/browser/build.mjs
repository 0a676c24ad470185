// Builds the demo page into a directory: the page and its training worker bundled by esbuild from
// the package's public entry (`import … from 'convnet-wasm'`, what a user writes), the package's
// .wasm beside them, the pre-trained models, and small real-data samples as gzip IDX files:
//   data/fashion-test-{images,labels}.gz   the first 1,000 Fashion-MNIST test images
//   data/mnist-train-{images,labels}.gz    the first 6,000 MNIST training images (training in the page)
//   data/mnist-test-{images,labels}.gz     the first 1,000 MNIST test images (validation)
// The data come from the library's own loaders (Debian's Fashion-MNIST, the cache, or
// CONVNET_DATA); `scripts/setup` puts both datasets in place.
import { copyFile, cp, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { gzipSync } from 'fflate';
import { datasets } from 'convnet-wasm';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');

export const SAMPLES = { fashionTest: 1000, mnistTrain: 6000, mnistTest: 1000 };

/** An IDX file of unsigned bytes (magic 0x0000080n, big-endian sizes), gzipped. */
function idx(dims, data) {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, 0x800 | dims.length);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  const bytes = new Uint8Array(header.byteLength + data.length);
  bytes.set(new Uint8Array(header.buffer));
  bytes.set(data, header.byteLength);
  return gzipSync(bytes, { level: 9, mtime: 0 });
}

async function writeSample(dir, name, split, count) {
  await writeFile(join(dir, `${name}-images.gz`), idx([count, 28, 28], split.images.subarray(0, count * 784)));
  await writeFile(join(dir, `${name}-labels.gz`), idx([count], split.labels.subarray(0, count)));
}

/** Builds the demo into `out` (created if needed). Returns the sizes of what it wrote. */
export async function buildDemo(out, { minify = true } = {}) {
  await mkdir(join(out, 'data'), { recursive: true });
  await build({
    entryPoints: { main: join(here, 'main.ts'), 'train-worker': join(here, 'train-worker.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: out,
    minify,
    sourcemap: true,
    logLevel: 'warning',
  });
  // esbuild does not copy files named by `new URL(…, import.meta.url)`: the .wasm goes beside
  // the bundles, where the package's browser entry looks for it by default.
  await copyFile(join(root, 'dist', 'convnet_wasm_bg.wasm'), join(out, 'convnet_wasm_bg.wasm'));
  for (const f of ['index.html', 'style.css']) await copyFile(join(here, f), join(out, f));
  await cp(join(here, 'models'), join(out, 'models'), { recursive: true });

  const [fashion, mnist] = await Promise.all([datasets.fashionMnist(), datasets.mnist()]);
  const data = join(out, 'data');
  await writeSample(data, 'fashion-test', fashion.test, SAMPLES.fashionTest);
  await writeSample(data, 'mnist-train', mnist.train, SAMPLES.mnistTrain);
  await writeSample(data, 'mnist-test', mnist.test, SAMPLES.mnistTest);
  await writeFile(join(data, 'meta.json'), `${JSON.stringify({ fashionClassNames: fashion.classNames, samples: SAMPLES })}\n`);
}
