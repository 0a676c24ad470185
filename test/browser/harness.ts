// Shared set-up for browser tests: an esbuild bundle of a page entry with the package's .wasm
// beside it, served by sirv on 127.0.0.1, opened in Debian's Chromium through playwright-core.
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import sirv from 'sirv';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Where Chromium is: Debian's package by default (never a downloaded browser). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface BrowserHarness {
  url: string;
  page: Page;
  /** Messages the page logged as errors, and uncaught exceptions. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Bundles `entry` (relative to the repo root) into a page, serves it and opens it. */
export async function openBundledPage(entry: string): Promise<BrowserHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'convnet-browser-'));
  await build({
    // The page, and the package's gradient worker beside it, where fit({ workers }) looks for it.
    entryPoints: { page: join(root, entry), 'worker.browser': join(root, 'dist', 'worker.browser.js') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    logLevel: 'warning',
  });
  // esbuild does not copy assets named by `new URL(…, import.meta.url)`: the wasm goes beside
  // the bundle, which is where the browser entry looks for it.
  for (const wasm of ['convnet_wasm_bg.wasm', 'convnet_wasm_relaxed_bg.wasm']) await copyFile(join(root, 'dist', wasm), join(dir, wasm));
  await writeFile(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="page.js"></script>\n');

  return openServedDirectory(dir, { removeAfter: true });
}

/**
 * Serves a directory on 127.0.0.1 and opens it in Chromium (`path` relative to the root URL).
 * With `removeAfter`, close() deletes the directory.
 */
export async function openServedDirectory(dir: string, options: { path?: string; removeAfter?: boolean } = {}): Promise<BrowserHarness> {
  const server: Server = createServer(sirv(dir, { dev: true }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const cleanUp = () => (options.removeAfter ? rm(dir, { recursive: true, force: true }) : Promise.resolve());

  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    const url = `http://127.0.0.1:${port}/`;
    await page.goto(url + (options.path ?? ''));
    const opened = browser;
    return {
      url,
      page,
      pageErrors,
      async close() {
        await opened.close();
        await new Promise((resolve) => server.close(resolve));
        await cleanUp();
      },
    };
  } catch (error) {
    await browser?.close();
    server.close();
    await cleanUp();
    throw error;
  }
}

/** Index of the first byte where `a` and `b` differ, or -1 when they are equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}
