// The same bits, release after release: each network (the reference ones, two of the newer
// layers, two graph models with residual and every merge layer, the residual Fashion network) is trained a few steps on the
// first real training images, with 1 and with 2 workers, and the SHA-256 of its weights and of
// its probabilities on the first 100 test images must equal the hashes committed in
// test/fixtures/bits.json. A change that alters them must say so in its own commit and update
// that file with the reason (`UPDATE_BITS=1 npx vitest run test/bits.test.ts` rewrites it).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import { keras3Net, normalisedNet } from './shared/newer-layers.js';
import { mergesNet, residualNet } from './shared/residual-net.js';

const FIXTURE = new URL('./fixtures/bits.json', import.meta.url);
type Hashes = Record<string, { weights: string; predict: string }>;
const committed = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { why: string; hashes: Hashes };
const computed: Hashes = {};

const sha256 = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

let fashion: cw.Dataset;
let mnist: cw.Dataset;
beforeAll(async () => {
  await cw.init();
  [fashion, mnist] = await Promise.all([cw.datasets.fashionMnist(), cw.datasets.mnist()]);
});

interface Case {
  name: string;
  data: () => cw.Dataset;
  build: () => cw.LayersModel;
  examples: number;
  batchSize: number;
}

const cases: Case[] = [
  {
    name: 'fashionConvNet',
    data: () => fashion,
    build: () => cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 }),
    examples: 6 * 32,
    batchSize: 32,
  },
  {
    name: 'leNet5Faithful',
    data: () => mnist,
    build: () => cw.models.leNet5().compile({ optimizer: 'sdlm', learningRate: 0.0005, seed: 42 }),
    examples: 300,
    batchSize: 1,
  },
  {
    name: 'leNet5Modern',
    data: () => mnist,
    build: () => cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 42 }),
    examples: 20 * 32,
    batchSize: 32,
  },
  {
    name: 'normalised',
    data: () => fashion,
    build: () => normalisedNet(cw).compile({ optimizer: 'adam', seed: 42 }),
    examples: 6 * 32,
    batchSize: 32,
  },
  {
    name: 'keras3',
    data: () => fashion,
    build: () => keras3Net(cw).compile({ optimizer: 'adam', seed: 42 }),
    examples: 6 * 32,
    batchSize: 32,
  },
  {
    name: 'residual',
    data: () => fashion,
    build: () => residualNet(cw).compile({ optimizer: 'adam', seed: 42 }),
    examples: 6 * 32,
    batchSize: 32,
  },
  {
    name: 'merges',
    data: () => fashion,
    build: () => mergesNet(cw).compile({ optimizer: 'adam', learningRate: 0.003, seed: 42 }),
    examples: 6 * 32,
    batchSize: 32,
  },
  {
    name: 'fashionResNet',
    data: () => fashion,
    build: () => cw.models.fashionResNet().compile({ optimizer: 'adam', seed: 42 }),
    examples: 6 * 32,
    batchSize: 32,
  },
  {
    name: 'leNet5Distorted',
    data: () => mnist,
    build: () => cw.models.leNet5({ distortions: true }).compile({ optimizer: 'sdlm', learningRate: 0.0005, seed: 42 }),
    examples: 200,
    batchSize: 1,
  },
];

describe('committed weight and prediction hashes', () => {
  for (const c of cases) {
    for (const workers of [1, 2]) {
      it(`${c.name}, ${workers} worker${workers > 1 ? 's' : ''}`, async () => {
        const d = c.data();
        const model = c.build();
        try {
          await model.fit(d.train.images.subarray(0, c.examples * 784), d.train.labels.subarray(0, c.examples), {
            batchSize: c.batchSize,
            workers,
          });
          const got = { weights: sha256(model.getWeightsFlat()), predict: sha256(model.predict(d.test.images.subarray(0, 100 * 784))) };
          computed[`${c.name}/${workers}`] = got;
          if (process.env.UPDATE_BITS === undefined) expect(got).toEqual(committed.hashes[`${c.name}/${workers}`]);
        } finally {
          model.dispose();
        }
      }, 300_000);
    }
  }
});

afterAll(() => {
  // UPDATE_BITS holds the reason, kept beside the hashes; an empty one would erase the last.
  const why = process.env.UPDATE_BITS;
  if (why === '') throw new Error('UPDATE_BITS must give the reason the hashes change, e.g. UPDATE_BITS="the conv kernel now …"');
  if (why !== undefined) writeFileSync(FIXTURE, `${JSON.stringify({ why, hashes: computed }, null, 2)}\n`);
});
