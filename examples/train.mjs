#!/usr/bin/env node
// The main job (npm run train): the package's `convnet-wasm train` command, run from a checkout.
// With no options it trains Géron's Fashion-MNIST ConvNet for one pass on all cores; --help shows
// every option and how to run the book's full recipe or LeNet-5.
import { main } from 'convnet-wasm/cli';

await main(process.argv.slice(2), { command: 'train', name: 'npm run train --' });
