/**
 * The Node entry point: reads the wasm module with `fs`, from the installed package by default.
 * @module
 */
import './node-platform.js';

export * from './index.js';
