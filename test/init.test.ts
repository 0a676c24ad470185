import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as api from 'convnet-wasm';

const wasmPath = fileURLToPath(new URL('../dist/convnet_wasm_bg.wasm', import.meta.url));

describe('init() in Node', () => {
  it('is safe to call concurrently and idempotent: one load, one promise', async () => {
    expect(api.isInitialized()).toBe(false);
    const calls = [api.init(), api.init(), api.init({ wasm: '/nonexistent/ignored-once-loading.wasm' })];
    expect(calls[1]).toBe(calls[0]);
    expect(calls[2]).toBe(calls[0]);
    await Promise.all(calls);
    expect(api.isInitialized()).toBe(true);
    await expect(api.init()).resolves.toBeUndefined();
    expect(api.buildInfo()).toContain('simd128');
  });
});

describe('the wasm file the package ships', () => {
  it('is a wasm module with the exports the glue needs', async () => {
    const bytes = await readFile(wasmPath);
    const module = await WebAssembly.compile(bytes);
    const names = WebAssembly.Module.exports(module).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['memory', 'dense_forward', 'dense_backward', 'take_panic_message']));
  });
});
