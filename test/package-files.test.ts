// What the package ships besides code: its source maps carry their sources (ts/ is not in the
// package, so a map that pointed at it would lead nowhere), and there are no declaration maps.
// And how its code ships: as bundles, so that Node's module loader reads a few files, not one per
// source module (scripts/build.mjs).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
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
    expect(node.length, node.join(', ')).toBeLessThanOrEqual(8);
    // Each module once: the CLI, the worker and the internals the tests import share the package's chunks.
    for (const entry of ['cli/main.js', 'worker.node.js', 'wasm-call.js', 'worker-pool.js', 'wasm/convnet_wasm.js']) {
      expect(staticGraph(entry).filter((f) => f !== entry && !f.startsWith('chunk-') && f !== 'index.node.js'), entry).toEqual([]);
    }
    expect(staticGraph('index.browser.js')).toEqual(['index.browser.js']);
    expect(staticGraph('worker.browser.js')).toEqual(['worker.browser.js']);
  });
});
