// Checkpoints: a run that is stopped and resumed ends with the same weights, byte for byte, as a
// run that never stopped — when it is stopped politely, and when its process is SIGKILLed at
// random moments, during checkpoint writes included. Damaged checkpoints are refused clearly.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';
import type { Dataset } from 'convnet-wasm';

const CHILD = new URL('./fixtures/checkpoint-child.mjs', import.meta.url).pathname;
let tmp: string;
let fashion: Dataset;
beforeAll(async () => {
  await cw.init();
  fashion = await cw.datasets.fashionMnist();
  tmp = await mkdtemp(join(tmpdir(), 'convnet-ckpt-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/**
 * Runs the child to the end, or, with `kill`, SIGKILLs it `kill.delayMs` after it has trained
 * `kill.steps` steps (it prints a dot per step), so that each run makes progress however loaded
 * the machine is. Resolves to whether it finished.
 */
function runChild(dir: string, flags: string[], kill?: { steps: number; delayMs: number }): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (kill && timer === undefined && (out.match(/\./g)?.length ?? 0) >= kill.steps) timer = setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve(false);
      else if (code === 0 && out.includes('done')) resolve(true);
      else reject(new Error(`checkpoint child failed (code ${code}): ${err}`));
    });
  });
}

function model(seed: number) {
  const { layers } = cw;
  return new cw.Sequential({
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      layers.maxPool2d(),
      layers.flatten(),
      layers.dropout({ rate: 0.25 }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  }).compile({ optimizer: 'adam', seed });
}

describe('checkpoints', () => {
  const n = 320;
  const x = () => fashion.train.images.subarray(0, n * 784);
  const y = () => fashion.train.labels.subarray(0, n);

  it('a run stopped mid-epoch and resumed reaches the same weights and history, byte for byte', async () => {
    const straight = model(3);
    const full = await straight.fit(x(), y(), { epochs: 2, batchSize: 32 });
    const want = straight.getWeightsFlat();

    const dir = join(tmp, 'polite');
    const first = model(3);
    let batches = 0;
    await first.fit(x(), y(), {
      epochs: 2,
      batchSize: 32,
      checkpoint: { dir, every: 3 },
      callbacks: { onBatchEnd: () => void (++batches === 14 && (first.stopTraining = true)) },
    });
    first.dispose();
    // A new model (another seed: the generator's state comes from the checkpoint) goes on from step 12.
    const second = model(999);
    const resumed = await second.fit(x(), y(), { epochs: 2, batchSize: 32, checkpoint: { dir, every: 3 }, resume: true });
    expect(Buffer.from(second.getWeightsFlat().buffer)).toEqual(Buffer.from(want.buffer));
    expect(resumed).toEqual(full);
    expect(second.iterations).toBe(20);

    // The same checkpoint as version 1 wrote it (no callback states, three sections) resumes the same.
    const bytes = await readFile(join(dir, 'checkpoint.bin'));
    const length = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.subarray(12, 12 + length).toString()) as Record<string, unknown> & { sections: Record<string, number> };
    expect(header.formatVersion).toBe(cw.CHECKPOINT_VERSION);
    expect(header.sections.callbackWeights).toBe(0);
    delete header.callbacks;
    delete header.sections.callbackWeights;
    const v1 = Buffer.from(JSON.stringify({ ...header, formatVersion: 1 }));
    const old = Buffer.alloc(12 + v1.length + bytes.length - 12 - length);
    bytes.copy(old, 0, 0, 8);
    old.writeUInt32LE(v1.length, 8);
    v1.copy(old, 12);
    bytes.copy(old, 12 + v1.length, 12 + length);
    const oldDir = join(tmp, 'version-1');
    await mkdir(oldDir, { recursive: true });
    await writeFile(join(oldDir, 'checkpoint.bin'), old);
    const third = model(999);
    expect(await third.fit(x(), y(), { epochs: 2, batchSize: 32, checkpoint: { dir: oldDir, every: 3 }, resume: true })).toEqual(full);
    expect(Buffer.from(third.getWeightsFlat().buffer)).toEqual(Buffer.from(want.buffer));
    straight.dispose();
    second.dispose();
    third.dispose();
  });

  it('SIGKILL at random moments, resumed each time, ends with the weights of a run never killed', async () => {
    const reference = join(tmp, 'reference');
    expect(await runChild(reference, ['--no-checkpoint'])).toBe(true);
    const dir = join(tmp, 'killed');
    let kills = 0;
    let midWrite = 0;
    // Up to eight kills, each after 4–10 more steps and then a random 0–60 ms, which often lands
    // inside a checkpoint write (one after every step, roughly half the run spent writing them).
    // The run has 60 steps.
    for (let k = 0; k < 8; k++) {
      const finished = await runChild(dir, ['--resume'], { steps: 4 + Math.floor(Math.random() * 7), delayMs: Math.floor(Math.random() * 60) });
      if (finished) break;
      kills++;
      const left = await readdir(dir).catch(() => [] as string[]);
      // The writer's temporary files: one left behind means the kill came inside a write. The
      // next run removes them when it starts.
      midWrite += left.some((f) => f.endsWith('.tmp')) ? 1 : 0;
      if (left.includes('checkpoint.bin')) {
        // Whatever the moment of the kill, the checkpoint on disk is whole and loadable.
        const probe = model(1);
        await expect(probe.fit(x().subarray(0, 32 * 784), y().subarray(0, 32), { checkpoint: { dir, every: 1 }, resume: true })).rejects.toThrow(
          /written for another model|written for 640 training examples/,
        );
        probe.dispose();
      }
    }
    expect(await runChild(dir, ['--resume'])).toBe(true);
    // At most 12 steps per killed run out of 60: the first four runs are always killed.
    expect(kills).toBeGreaterThanOrEqual(4);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const [want, got] = await Promise.all([readFile(join(reference, 'final.bin')), readFile(join(dir, 'final.bin'))]);
    expect(got.equals(want)).toBe(true);
    expect(JSON.parse(await readFile(join(dir, 'history.json'), 'utf8'))).toEqual(JSON.parse(await readFile(join(reference, 'history.json'), 'utf8')));
    console.log(`checkpoint kill test: ${kills} SIGKILLs, ${midWrite} of them left a temporary file (killed inside a write)`);
  }, 120_000);

  it('stops on divergence, naming the step, and keeps the last good checkpoint', async () => {
    const dir = join(tmp, 'diverged');
    const wild = () => model(7).compile({ optimizer: 'sgd', learningRate: 1e36, seed: 7 });
    const m = wild();
    const error = await m.fit(x(), y(), { epochs: 2, batchSize: 32, checkpoint: { dir, every: 1 } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TRAINING_DIVERGED', message: expect.stringMatching(/training diverged at epoch 1, batch \d+: step (\d+): .*; the last good checkpoint is in /) });
    const step = Number(/step (\d+):/.exec((error as Error).message)![1]);
    expect(step).toBeGreaterThan(1);
    // The checkpoint on disk is from the step before, and its weights are all finite.
    const again = wild();
    await again.fit(x(), y(), { epochs: 2, batchSize: 32, checkpoint: { dir, every: 1 }, resume: true, callbacks: { onTrainBegin: () => void (again.stopTraining = true) } });
    expect(again.iterations).toBe(step - 1);
    expect(again.getWeightsFlat().every(Number.isFinite)).toBe(true);
    m.dispose();
    again.dispose();
  });

  it('refuses damaged or mismatched checkpoints with the file and the reason', async () => {
    const dir = join(tmp, 'damaged');
    const m = model(5);
    await m.fit(x(), y(), { epochs: 1, batchSize: 32, checkpoint: { dir } });
    const path = join(dir, 'checkpoint.bin');
    const good = await readFile(path);
    const attempt = (config: Partial<cw.FitConfig> = {}) => model(5).fit(x(), y(), { epochs: 2, batchSize: 32, checkpoint: { dir }, resume: true, ...config });

    await writeFile(path, good.subarray(0, good.length - 10));
    await expect(attempt()).rejects.toThrow(`${path}: the payload has`);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 100]! ^= 0x40;
    await writeFile(path, flipped);
    await expect(attempt()).rejects.toThrow(`${path}: the payload does not match its SHA-256 (the file is damaged)`);
    const bomb = Buffer.from(good);
    bomb.writeUInt32LE(0xffffffff, 8);
    await writeFile(path, bomb);
    await expect(attempt()).rejects.toThrow('the header claims 4294967295 bytes');
    await writeFile(path, Buffer.from('not a checkpoint at all'));
    await expect(attempt()).rejects.toMatchObject({ code: 'CHECKPOINT', message: expect.stringContaining('bad magic') });
    // A newer format (the header's version bumped; the header's length is unchanged).
    const newer = Buffer.from(good);
    const at = newer.indexOf('"formatVersion":2');
    newer.write('"formatVersion":3', at);
    await writeFile(path, newer);
    await expect(attempt()).rejects.toThrow(`${path}: checkpoint format version 3; this convnet-wasm reads versions 1 to 2`);

    await writeFile(path, good);
    await expect(attempt({ batchSize: 16 })).rejects.toThrow('it was written for 320 training examples in batches of 32 (shuffle true); this fit() has 320 in batches of 16');
    const other = model(5);
    other.compile({ optimizer: 'nadam' });
    await expect(other.fit(x(), y(), { batchSize: 32, checkpoint: { dir }, resume: true })).rejects.toThrow('written for another model or compile settings');
    await expect(model(5).fit(x(), y(), { resume: true })).rejects.toThrow('resume needs checkpoint.dir');
    await expect(model(5).fit(x(), y(), { checkpoint: { dir, every: 0 } })).rejects.toThrow("checkpoint.every must be 'epoch' or a number of steps ≥ 1");
    // Resuming from the intact file after the failures still works: epoch 2 only.
    const fine = model(5);
    const h = await fine.fit(x(), y(), { epochs: 2, batchSize: 32, checkpoint: { dir }, resume: true });
    expect(h.epoch).toEqual([0, 1]);
    expect(fine.iterations).toBe(20);
    m.dispose();
  });
});
