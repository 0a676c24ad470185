/**
 * `convnet-wasm evaluate <model>`: loss, accuracy and confusion matrix of a saved model on a
 * dataset's test images, on all cores; with `--views`, on the probabilities averaged over the ten
 * test-time views.
 * @module
 */
import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { init, testTimeViews } from '../index.node.js';
import { confusionTable, duration, integer, loadDataset, loadImageModel, slice, type DatasetName } from './shared.js';

interface EvaluateOptions {
  dataset: DatasetName;
  from: number;
  count: number;
  workers?: number;
  data?: string;
  download?: boolean;
  json?: boolean;
  views?: boolean;
}

export function evaluateCommand(): Command {
  return new Command('evaluate')
    .description("Evaluate a saved model on a dataset's test images: loss, accuracy, confusion matrix.")
    .argument('<model>', 'the saved model: its directory, its model.json, or a file:// URL')
    .addOption(new Option('--dataset <name>', 'the test images to use').choices(['fashion', 'mnist']).default('fashion'))
    .option('--from <n>', 'first test image', integer('--from', 0), 0)
    .option('--count <n>', 'number of test images', integer('--count'), 10_000)
    .option('--workers <n>', 'threads (default: the cores; the numbers are the same for any number)', integer('--workers'))
    .option('--data <dir>', 'directory with the IDX files (default: $CONVNET_DATA, the cache, /usr/share/datasets)')
    .option('--download', 'download the dataset (with a SHA-256 check) if it is not found')
    .option('--views', 'average the class probabilities over ten test-time views: the image, moved one pixel up, down, left and right, and those five mirrored')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, opts: EvaluateOptions) => {
      await init();
      const model = await loadImageModel(path);
      try {
        const data = await loadDataset(opts.dataset, opts);
        const test = slice(data.test, opts.from, opts.count);
        const started = performance.now();
        const views = opts.views ? testTimeViews() : undefined;
        const result = await model.evaluateAsync(test.images, test.labels, { workers: opts.workers ?? availableParallelism(), ...(views ? { views } : {}) });
        if (opts.json) {
          console.log(JSON.stringify({ images: test.count, ...(views ? { views: views.length } : {}), ...result }));
        } else {
          const seconds = (performance.now() - started) / 1000;
          console.log(`${opts.dataset} test images ${opts.from}–${opts.from + test.count - 1}: ${views ? `averaged over ${views.length} views, ` : ''}accuracy ${result.accuracy.toFixed(4)}, loss ${result.loss.toFixed(4)} (${duration(seconds)})\n`);
          console.log(confusionTable(result, data.classNames));
        }
      } finally {
        model.dispose();
      }
    });
}
