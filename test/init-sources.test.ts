// Each case needs a module state where init() has not run yet, so each resets the module graph.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeEach, describe, expect, it, vi } from 'vitest';

type Api = typeof import('convnet-wasm');
const wasmPath = fileURLToPath(new URL('../dist/convnet_wasm_bg.wasm', import.meta.url));
let api: Api;

beforeEach(async () => {
  vi.resetModules();
  api = await import('convnet-wasm');
});

describe('init() sources and errors', () => {
  it('refuses kernels before init() with NotInitializedError', () => {
    expect(() => api.ops.randomUniform(1, 1)).toThrowError(
      expect.objectContaining({ code: 'NOT_INITIALIZED', message: 'randomUniform needs the wasm module: await init() first' }),
    );
  });

  it('names the path it looked at when the file is missing, and can be retried', async () => {
    const missing = '/nonexistent/dir/convnet_wasm_bg.wasm';
    await expect(api.init({ wasm: missing })).rejects.toThrowError(
      expect.objectContaining({ name: 'WasmLoadError', code: 'WASM_LOAD' }),
    );
    await expect(api.init({ wasm: missing })).rejects.toThrow(/could not read the wasm module at \/nonexistent\/dir\/convnet_wasm_bg\.wasm \(ENOENT/);
    expect(api.isInitialized()).toBe(false);
    await api.init();
    expect(api.isInitialized()).toBe(true);
  });

  it('rejects bytes that are not wasm, showing what they start with', async () => {
    await expect(api.init({ wasm: new TextEncoder().encode('<!doctype html>') })).rejects.toThrow(
      'the wasm bytes passed to init() is not a WebAssembly module: it has 15 bytes and starts with [3c 21 64 6f], not [00 61 73 6d]',
    );
  });

  it('loads from bytes', async () => {
    await api.init({ wasm: new Uint8Array(await readFile(wasmPath)) });
    expect(api.buildInfo()).toContain('simd128');
  });

  it('loads from a file: URL and from a compiled module', async () => {
    await api.init({ wasm: pathToFileURL(wasmPath) });
    expect(api.isInitialized()).toBe(true);
    vi.resetModules();
    const again: Api = await import('convnet-wasm');
    await again.init({ wasm: await WebAssembly.compile(await readFile(wasmPath)) });
    expect(again.ops.randomUniform(3, 2)).toHaveLength(2);
  });

  it('loads over HTTP, and names the URL and the status or the network error when it cannot', async () => {
    const bytes = await readFile(wasmPath);
    const server = createServer((req, res) => {
      if (req.url === '/convnet_wasm_bg.wasm') res.writeHead(200, { 'content-type': 'application/wasm' }).end(bytes);
      else res.writeHead(404).end('not here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await expect(api.init({ wasm: `${base}/missing.wasm` })).rejects.toThrowError(
        expect.objectContaining({ name: 'WasmLoadError', message: `fetching the wasm module from ${base}/missing.wasm answered HTTP 404` }),
      );
      await api.init({ wasm: `${base}/convnet_wasm_bg.wasm` });
      expect(api.buildInfo()).toContain('simd128');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    vi.resetModules();
    const again: Api = await import('convnet-wasm');
    await expect(again.init({ wasm: `${base}/convnet_wasm_bg.wasm` })).rejects.toThrow(
      new RegExp(`^could not fetch the wasm module from ${base}/convnet_wasm_bg\\.wasm: `),
    );
  });
});
