// The habit: loadModel('file://dir/model.json'): …/model.json/model.json: ENOTDIR.
// What it does now is asserted below (one file per row of the table in the conventions issue).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { modern } from './setup.js';

describe('file-url-model-json', () => {
  it('takes file://<dir>/model.json for save and load, as TF.js users write it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'convnet-conventions-'));
    try {
      const model = modern().compile({ seed: 5 });
      await model.save(`file://${dir}/model.json`);
      const again = await cw.loadModel(`file://${dir}/model.json`);
      expect(Buffer.from(again.getWeightsFlat().buffer).equals(Buffer.from(model.getWeightsFlat().buffer))).toBe(true);
      model.dispose();
      again.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
