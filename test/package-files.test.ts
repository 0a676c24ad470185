// What the package ships besides code: its source maps carry their sources (ts/ is not in the
// package, so a map that pointed at it would lead nowhere), and there are no declaration maps.
// And how its code ships: as bundles, so that Node's module loader reads a few files, not one per
// source module (scripts/build.mjs).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const dist = new URL('../dist/', import.meta.url).pathname;
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));

/** The files of dist/ that loading `entry` reads: its static imports of relative paths, followed. */
function staticGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, path] of source.matchAll(/^\s*(?:import|export)\b[^'"]*?["'](\.{1,2}\/[^'"]+)["']/gm)) visit(resolve(dirname(file), path!));
  };
  visit(join(dist, entry));
  return [...seen].map((f) => relative(dist, f));
}

describe('dist/', () => {
  it('every source map has the content of each of its sources, and no declaration map ships', () => {
    const all = files(dist);
    const scripts = all.filter((f) => f.endsWith('.js'));
    expect(scripts.filter((f) => !all.includes(`${f}.map`))).toEqual([]);
    const maps = all.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThanOrEqual(10);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(map.sourcesContent!.every((c) => typeof c === 'string' && c.length > 0), file).toBe(true);
    }
    expect(all.filter((f) => f.endsWith('.d.ts.map'))).toEqual([]);
  });

  it('ships bundles: the Node entry point loads a few files, the browser entry point one', () => {
    const node = staticGraph('index.node.js');
    expect(node.length, node.join(', ')).toBeLessThanOrEqual(12);
    // Each module once: the CLI, the worker and the internals the tests import share the package's chunks.
    for (const entry of ['cli/main.js', 'worker.node.js', 'wasm-call.js', 'worker-pool.js', 'wasm/convnet_wasm.js']) {
      expect(staticGraph(entry).filter((f) => f !== entry && !f.startsWith('chunk-') && f !== 'index.node.js'), entry).toEqual([]);
    }
    // The gradient worker loads what it needs (ts/node-platform.ts, the glue, init), not the API.
    const bytes = (graph: string[]) => graph.reduce((sum, f) => sum + statSync(join(dist, f)).size, 0);
    expect(bytes(staticGraph('worker.node.js'))).toBeLessThan(bytes(node) / 2);
    expect(staticGraph('index.browser.js')).toEqual(['index.browser.js']);
    expect(staticGraph('worker.browser.js')).toEqual(['worker.browser.js']);
  });

  it("bundles into a Node program: the chunks' set-up is kept (package.json sideEffects) and it predicts", async () => {
    // Inside this checkout, which is the package: its name resolves to itself.
    mkdirSync(join(dist, '..', 'test-results'), { recursive: true });
    const dir = mkdtempSync(join(dist, '..', 'test-results', 'node-bundle-'));
    try {
      const app = join(dir, 'app.mjs');
      writeFileSync(
        app,
        `import { init, models } from 'convnet-wasm';
await init();
const model = models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 1 });
console.log(model.predict(new Uint8Array(784)).length);
`,
      );
      const result = await build({
        entryPoints: [app], bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'out', 'app.mjs'), logLevel: 'silent',
      });
      expect(result.warnings.map((w) => w.text)).toEqual([]);
      // The bundle looks for the wasm beside itself, as the package's own files do.
      copyFileSync(join(dist, 'convnet_wasm_bg.wasm'), join(dir, 'out', 'convnet_wasm_bg.wasm'));
      expect(execFileSync(process.execPath, [join(dir, 'out', 'app.mjs')], { encoding: 'utf8' }).trim()).toBe('10');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
