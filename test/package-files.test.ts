// What the package ships besides code: its source maps carry their sources (ts/ is not in the
// package, so a map that pointed at it would lead nowhere), and there are no declaration maps.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = new URL('../dist/', import.meta.url).pathname;
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));

describe('dist/', () => {
  it('every source map has the content of each of its sources, and no declaration map ships', () => {
    const all = files(dist);
    const maps = all.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(20);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      expect(map.sourcesContent!.every((c) => typeof c === 'string' && c.length > 0), file).toBe(true);
    }
    expect(all.filter((f) => f.endsWith('.d.ts.map'))).toEqual([]);
  });
});
