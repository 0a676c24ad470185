/**
 * `convnet-wasm export <model>`: a saved model as an ONNX file or a TF.js Layers model.
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { exportOnnx, init, saveTfjsLayers } from '../index.node.js';
import { loadImageModel } from './shared.js';

interface ExportOptions {
  format: 'onnx' | 'tfjs';
  out?: string;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('Export a saved model: ONNX (opset 17, for ONNX Runtime and other engines) or a TF.js Layers model (tf.loadLayersModel).')
    .argument('<model>', 'the saved model: its directory, its model.json, or a file:// URL')
    .addOption(new Option('--format <name>', 'what to write').choices(['onnx', 'tfjs']).default('onnx'))
    .option('--out <path>', 'onnx: the file (default: model.onnx beside model.json); tfjs: the directory (default: tfjs/ beside it)')
    .action(async (path: string, opts: ExportOptions) => {
      await init();
      const model = await loadImageModel(path);
      try {
        const base = path.replace(/^file:\/\//, '').replace(/\/model\.json$/, '');
        if (opts.format === 'onnx') {
          const out = opts.out ?? join(base, 'model.onnx');
          const bytes = await exportOnnx(model);
          await writeFile(out, bytes);
          console.log(`Wrote ${resolve(out)} (${bytes.length.toLocaleString('en-US')} bytes; input "input" [N, 28, 28, 1] raw pixels, output "probabilities").`);
        } else {
          const out = opts.out ?? join(base, 'tfjs');
          const saved = await saveTfjsLayers(model, `file://${out}`);
          console.log(`Wrote ${resolve(saved.modelJson)} and its weights in ${resolve(dirname(saved.modelJson))}.`);
        }
      } finally {
        model.dispose();
      }
    });
}
