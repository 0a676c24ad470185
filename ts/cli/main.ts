/**
 * The command-line interface: `convnet-wasm train|evaluate|predict|export`. `npm run train` in a
 * checkout runs the same `train` (examples/train.mjs).
 * @module convnet-wasm/cli
 */
import { Command } from 'commander';
import { ConvnetError } from '../index.node.js';
import { evaluateCommand } from './evaluate.js';
import { exportCommand } from './export.js';
import { predictCommand } from './predict.js';
import { trainCommand } from './train.js';

/** Options of {@link main}. */
export interface CliOptions {
  /** The program name in help and errors (default `convnet-wasm`). */
  name?: string;
  /** Run this one command as the whole program (`argv` then holds only its options). */
  command?: 'train' | 'evaluate' | 'predict' | 'export';
}

const COMMANDS = { train: trainCommand, evaluate: evaluateCommand, predict: predictCommand, export: exportCommand };

/**
 * Runs the CLI on `argv` (without node and the script, e.g. `['train', '--epochs', '2']`).
 * Errors of the library are printed as `error: <code>: <message>` and exit with status 1.
 */
export async function main(argv: string[], options: CliOptions = {}): Promise<void> {
  let program: Command;
  if (options.command) {
    program = COMMANDS[options.command]();
  } else {
    program = new Command().description('Convolutional networks in WebAssembly: train, evaluate, predict and export from the command line.');
    for (const make of Object.values(COMMANDS)) program.addCommand(make());
  }
  program.name(options.name ?? 'convnet-wasm').showHelpAfterError('(add --help for the options)');
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof ConvnetError) {
      console.error(`error: ${error.code}: ${error.message}`);
    } else {
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    }
    process.exitCode = 1;
  }
}
