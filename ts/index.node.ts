/**
 * The Node entry point: the API, with Node's set-up (`node-platform.ts`: the wasm module read
 * with `fs`, from the installed package by default).
 * @module
 */
import './node-platform.js';

export * from './index.js';
