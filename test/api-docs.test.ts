// The API reference (docs/api/, Markdown made by TypeDoc from the JSDoc, `npm run docs:api`):
// the build has no warnings — typedoc.json treats them as errors and requires documentation on
// every exported class, function, interface, type, variable, method and accessor, and valid
// links — and the committed files are what the build gives for the current sources.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { root, run } from './shared/packed.js';

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

it('TypeDoc builds the reference without a warning, and docs/api/ is up to date', async () => {
  const out = await mkdtemp(join(tmpdir(), 'convnet-api-'));
  try {
    const result = await run(join(root, 'node_modules', '.bin', 'typedoc'), ['--out', out], { cwd: root }).catch((e: { stdout: string; code: number }) => e);
    expect('code' in result ? result.stdout : '').toBe('');
    expect(result.stdout).not.toMatch(/warning|error/i);
    const built = await files(out);
    const committed = await files(join(root, 'docs', 'api'));
    expect(committed, 'run `npm run docs:api` and commit docs/api/').toEqual(built);
    for (const f of built) {
      expect(await readFile(join(root, 'docs', 'api', f), 'utf8'), `docs/api/${f} is stale: run \`npm run docs:api\``).toBe(await readFile(join(out, f), 'utf8'));
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 120_000);
