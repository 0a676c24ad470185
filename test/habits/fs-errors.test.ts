// The habit: a checkpoint dir that is a file: a raw Node ENOTDIR.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modern, x, y } from './setup.js';

describe('fs-errors', () => {
  it('wraps file-system errors in the documented codes, naming the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'convnet-conventions-'));
    try {
      const file = join(dir, 'a-file');
      await writeFile(file, 'not a directory');
      const model = modern().compile({ seed: 6 });
      await expect(model.fit(x(), y(), { checkpoint: { dir: file } })).rejects.toThrowError(
        expect.objectContaining({ code: 'CHECKPOINT', message: expect.stringMatching(new RegExp(`^could not read the checkpoint directory: ${file}: ENOTDIR`)) }),
      );
      await expect(model.save(`file://${file}/model`)).rejects.toThrowError(
        expect.objectContaining({ code: 'SAVE_FAILED', message: expect.stringContaining(`model.save(): ${file}/model: ENOTDIR`) }),
      );
      model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
