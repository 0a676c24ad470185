// Fault tests: a disk that fills up while a model is saved. The writer's process runs under a
// file-size limit (ulimit -f, with SIGXFSZ ignored), so its writes fail with EFBIG as they would
// with ENOSPC on a full disk. The previous save must stay whole and loadable. (SIGKILL during a
// save is covered by the checkpoint test.)
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

const CHILD = new URL('./fixtures/save-child.mjs', import.meta.url).pathname;
let tmp: string;
beforeAll(async () => {
  await cw.init();
  tmp = await mkdtemp(join(tmpdir(), 'convnet-faults-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** Runs the save child, under a file-size limit of `limitKiB` when given. */
function save(dir: string, which: 'small' | 'big', limitKiB?: number) {
  const limit = limitKiB === undefined ? '' : `trap '' XFSZ; ulimit -f ${limitKiB}; `;
  return spawnSync('bash', ['-c', `${limit}exec "${process.execPath}" "${CHILD}" "${dir}" ${which}`], { encoding: 'utf8' });
}

describe('faults', () => {
  it('a disk that fills up during a save leaves the previous save whole', async () => {
    const dir = join(tmp, 'model');
    expect(save(dir, 'small').status).toBe(0);
    const before = (await readdir(dir)).sort();
    // 1 MiB of room: the Fashion ConvNet's 5.7 MB of weights cannot be written.
    const failed = save(dir, 'big', 1024);
    expect(failed.status).toBe(3);
    expect(failed.stderr).toMatch(/save failed: SAVE_FAILED model\.save\(\): could not write .*weights-[0-9a-f]{16}\.bin \(EFBIG.*\); the previous save in .* is untouched/);
    // No temporary file is left, and the old save loads with its own weights.
    expect((await readdir(dir)).sort()).toEqual(before);
    const back = await cw.loadModel(`file://${dir}`);
    expect(back.name).toBe('lenet5');
    expect(Buffer.from(back.getWeightsFlat().buffer).equals(await readFile(`${dir}.ref`))).toBe(true);
    back.dispose();
    // With room again, the new save replaces the old one, and the old weights file goes.
    expect(save(dir, 'big').status).toBe(0);
    const files = await readdir(dir);
    expect(files.filter((f) => f.startsWith('weights-'))).toHaveLength(1);
    const big = await cw.loadModel(`file://${dir}`);
    expect(big.countParams()).toBe(1_413_834);
    big.dispose();
  }, 60_000);
});
