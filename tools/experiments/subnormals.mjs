#!/usr/bin/env node
// Does a trained model's state slow training down through subnormal floats (which x86 handles in
// microcode, and which wasm cannot flush to zero)? Reads a Fashion ConvNet checkpoint written by
// `npm run train -- --out <dir>` (a Nadam run), counts the subnormal values in its weights and
// optimiser slots, writes a copy with them set to ±0 (same format, new SHA-256), then times 40
// training steps at batch 32 on one thread (steps 11–50, each run in its own process) resumed from
// the checkpoint, from the flushed copy, and from a fresh model, alternated `rounds` times.
// Usage: npm run build && node tools/experiments/subnormals.mjs <out>/checkpoint [rounds=2]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAGIC = 'CNWCKPT1'; // ts/checkpoint.ts
const STATE_HEADER = 64; // crate/src/model/state.rs: magic … slot lengths, then the slots

if (process.argv[2] === '--time') {
  const cw = await import('convnet-wasm');
  await cw.init();
  const data = await cw.datasets.fashionMnist();
  const dir = process.argv[3];
  const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', learningRate: 0.001, seed: 42 });
  const n = 55000;
  let t0 = 0;
  await model.fit(data.train.images.subarray(0, n * 784), data.train.labels.subarray(0, n), {
    epochs: dir === 'fresh' ? 1 : 11, batchSize: 32, workers: 1, verbose: 0,
    checkpoint: { dir: dir === 'fresh' ? mkdtempSync(join(tmpdir(), 'cw-fresh-')) : dir, every: 'epoch' },
    resume: dir !== 'fresh',
    callbacks: {
      onBatchEnd: (b) => {
        if (b === 10) t0 = performance.now();
        if (b === 50) {
          console.log((40 * 32 / ((performance.now() - t0) / 1000)).toFixed(1));
          process.exit(0);
        }
      },
    },
  });
  throw new Error('the epoch ended before 50 steps');
}

const source = process.argv[2];
const rounds = Number(process.argv[3] ?? 2);
if (!source) throw new Error('usage: node tools/experiments/subnormals.mjs <out>/checkpoint [rounds]');
const bytes = new Uint8Array(readFileSync(join(source, 'checkpoint.bin')));
const view = new DataView(bytes.buffer);
if (new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) throw new Error(`${source}: not a checkpoint`);
const headerLength = view.getUint32(MAGIC.length, true);
const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength)));
const start = MAGIC.length + 4 + headerLength;
const { weights, trainingState } = header.sections;
const slot = (trainingState - STATE_HEADER) / 2;
const parts = { weights: [0, weights], 'first moments (m)': [weights + STATE_HEADER, slot], 'second moments (v)': [weights + STATE_HEADER + slot, slot] };
for (const [name, [at, length]] of Object.entries(parts)) {
  let subnormal = 0;
  for (let i = at; i < at + length; i += 4) {
    const u = view.getUint32(start + i, true);
    if (((u >>> 23) & 0xff) === 0 && (u & 0x7fffff) !== 0) {
      view.setUint32(start + i, u & 0x80000000, true);
      subnormal++;
    }
  }
  console.log(`${name}: ${subnormal} subnormal of ${length / 4}`);
}
header.sha256 = createHash('sha256').update(bytes.subarray(start)).digest('hex');
const newHeader = new TextEncoder().encode(JSON.stringify(header));
if (newHeader.length !== headerLength) throw new Error('the header changed length');
bytes.set(newHeader, MAGIC.length + 4);
const flushed = mkdtempSync(join(tmpdir(), 'cw-flushed-'));
writeFileSync(join(flushed, 'checkpoint.bin'), bytes);

const self = fileURLToPath(import.meta.url);
const time = (dir) => Number(execFileSync(process.execPath, [self, '--time', dir], { encoding: 'utf8' }).trim());
console.log('training img/s, batch 32, one thread: as saved / subnormals flushed / fresh');
for (let r = 0; r < rounds; r++) console.log([time(source), time(flushed), time('fresh')].map((v) => v.toFixed(1)).join(' / '));
