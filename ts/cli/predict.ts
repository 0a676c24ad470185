/**
 * `convnet-wasm predict <model>`: the classes a saved model gives to test images of a dataset,
 * or to the images of an IDX file of one's own.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { Command, Option } from 'commander';
import { init, parseIdx } from '../index.node.js';
import { integer, loadDataset, loadImageModel, slice, type DatasetName } from './shared.js';

interface PredictOptions {
  dataset: DatasetName;
  images?: string;
  from: number;
  count: number;
  top: number;
  data?: string;
  download?: boolean;
  json?: boolean;
}

export function predictCommand(): Command {
  return new Command('predict')
    .description('Classify images with a saved model: test images of a dataset, or an IDX file of 28×28 images.')
    .argument('<model>', 'the saved model: its directory, its model.json, or a file:// URL')
    .addOption(new Option('--dataset <name>', 'whose test images and class names to use').choices(['fashion', 'mnist']).default('fashion'))
    .option('--images <file>', 'an IDX file of 28×28 8-bit images (gzip or raw) instead of the test images')
    .option('--from <n>', 'first image', integer('--from', 0), 0)
    .option('--count <n>', 'number of images', integer('--count'), 10)
    .option('--top <k>', 'classes to show per image', integer('--top'), 1)
    .option('--data <dir>', 'directory with the IDX files (default: $CONVNET_DATA, the cache, /usr/share/datasets)')
    .option('--download', 'download the dataset (with a SHA-256 check) if it is not found')
    .option('--json', 'print one JSON object per image')
    .action(async (path: string, opts: PredictOptions) => {
      await init();
      const model = await loadImageModel(path);
      try {
        const data = await loadDataset(opts.dataset, opts);
        let images: Uint8Array;
        let labels: Uint8Array | undefined;
        let count: number;
        if (opts.images !== undefined) {
          let bytes: Uint8Array = await readFile(opts.images);
          if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
          const idx = parseIdx(bytes, opts.images);
          if (idx.dims.length !== 3 || idx.dims[1] !== 28 || idx.dims[2] !== 28) {
            throw new Error(`${opts.images}: expected an IDX file of [n, 28, 28] images, got [${idx.dims.join(', ')}]`);
          }
          const all = { images: idx.data, labels: new Uint8Array(idx.dims[0]!), count: idx.dims[0]! };
          ({ images, count } = slice(all, opts.from, opts.count));
        } else {
          ({ images, labels, count } = slice(data.test, opts.from, opts.count));
        }
        const probabilities = await model.predictAsync(images);
        const classes = probabilities.length / count;
        for (let i = 0; i < count; i++) {
          const p = Array.from(probabilities.subarray(i * classes, (i + 1) * classes));
          const ranked = p.map((v, c) => [c, v] as const).sort((a, b) => b[1] - a[1]).slice(0, opts.top);
          const index = opts.from + i;
          if (opts.json) {
            console.log(JSON.stringify({ index, predicted: ranked[0]![0], label: labels?.[i], probabilities: p }));
          } else {
            const shown = ranked.map(([c, v]) => `${data.classNames[c] ?? c} ${(100 * v).toFixed(1)}%`).join(', ');
            const actual = labels === undefined ? '' : `  (actual: ${data.classNames[labels[i]!]}${labels[i] === ranked[0]![0] ? ', right' : ', wrong'})`;
            console.log(`${String(index).padStart(5)}: ${shown}${actual}`);
          }
        }
      } finally {
        model.dispose();
      }
    });
}
