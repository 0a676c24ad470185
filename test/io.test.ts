import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sirv from 'sirv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

let dir: string;
beforeAll(async () => {
  await cw.init();
  dir = await mkdtemp(join(tmpdir(), 'convnet-io-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function trained() {
  const model = cw.models.fashionConvNet();
  model.compile({ optimizer: 'nadam', seed: 42 });
  const x = cw.ops.randomUniform(1, 4 * 784, 0, 1);
  await model.fit(x, new Uint8Array([1, 2, 3, 4]), { batchSize: 4 });
  return { model, x };
}

describe('save and load (file://)', () => {
  it('round-trips: identical predict bytes and weights', async () => {
    const { model, x } = await trained();
    const out = join(dir, 'fashion');
    const paths = await model.save(`file://${out}`);
    expect(paths.modelJson).toBe(join(out, 'model.json'));
    const json = JSON.parse(await readFile(paths.modelJson, 'utf8'));
    expect(json.formatVersion).toBe(cw.FORMAT_VERSION);
    expect(json.weightsManifest[0].weights[0]).toEqual({ name: 'conv2d/kernel', shape: [7, 7, 1, 64], dtype: 'float32' });
    expect((await readFile(paths.weights)).length).toBe(4 * 1_413_834);
    const back = await cw.loadModel(`file://${out}`);
    expect(Buffer.from(back.getWeightsFlat().buffer).equals(Buffer.from(model.getWeightsFlat().buffer))).toBe(true);
    expect(Buffer.from(back.predict(x).buffer).equals(Buffer.from(model.predict(x).buffer))).toBe(true);
    expect(back.compileConfig?.optimizer).toEqual({ type: 'nadam' });
    const artifacts = cw.toArtifacts(model);
    const fromMemory = await cw.loadModel(artifacts);
    expect(Buffer.from(fromMemory.predict(x).buffer).equals(Buffer.from(model.predict(x).buffer))).toBe(true);
  });

  it('rejects damaged, newer or hostile model files with clear errors', async () => {
    const { model } = await trained();
    const { modelJson, weights } = cw.toArtifacts(model);
    const load = (json: unknown, w = weights) => cw.loadModel({ modelJson: json as cw.ModelJson, weights: w });
    await expect(load({ ...modelJson, formatVersion: 2 })).rejects.toThrow('format version 2; this convnet-wasm reads version 1 (upgrade convnet-wasm)');
    await expect(load({ ...modelJson, format: 'tfjs' })).rejects.toThrow('not a convnet-wasm model.json');
    const badLayer = structuredClone(modelJson);
    badLayer.modelTopology.config.layers[1]!.className = 'Lambda';
    await expect(load(badLayer)).rejects.toThrow('unknown layer class "Lambda"');
    await expect(load(modelJson, weights.subarray(4))).rejects.toThrow(
      `the weights have ${4 * 1_413_834 - 4} bytes; the model needs 1413834 float32 values = ${4 * 1_413_834} bytes`,
    );
    const out = join(dir, 'hostile');
    await model.save(`file://${out}`);
    const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['../../etc/passwd'];
    await writeFile(join(out, 'model.json'), JSON.stringify(json));
    await expect(cw.loadModel(`file://${out}`)).rejects.toThrow('weights path "../../etc/passwd" must be a file name in the model\'s directory');
    await writeFile(join(out, 'model.json'), '{"__proto__": {"polluted": true}, "format": 1}');
    await expect(cw.loadModel(`file://${out}`)).rejects.toThrow('not a convnet-wasm model.json');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await expect(cw.loadModel(`file://${join(dir, 'missing')}`)).rejects.toThrow(/model\.json: ENOENT/);
    await expect(cw.loadModel(`file://${join(dir, 'missing')}`)).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(cw.loadModel('ftp://example.invalid/m')).rejects.toThrow(
      'use file://<directory> (Node), indexeddb://<name> (browsers) or an http(s):// URL of model.json',
    );
  });
});

describe('load over http(s)', () => {
  it('fetches model.json and the weights it names, beside it; HTTP errors name the URL', async () => {
    const { model, x } = await trained();
    const out = join(dir, 'served');
    await model.save(`file://${out}`);
    const server = createServer(sirv(out));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      for (const url of [`${base}model.json`, base]) {
        const back = await cw.loadModel(url);
        expect(Buffer.from(back.predict(x).buffer).equals(Buffer.from(model.predict(x).buffer))).toBe(true);
        back.dispose();
      }
      await expect(cw.loadModel(`${base}nothing/model.json`)).rejects.toThrow(`loadModel(): ${base}nothing/model.json answered HTTP 404`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
