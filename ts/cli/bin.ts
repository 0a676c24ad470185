#!/usr/bin/env node
/**
 * The `convnet-wasm` executable.
 * @module
 */
import { main } from './main.js';

await main(process.argv.slice(2));
