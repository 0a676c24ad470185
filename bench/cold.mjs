#!/usr/bin/env node
// node bench/cold.mjs [fashion|lenet] [runs]: the cold start, phase by phase — `npm run bench`'s
// cold cell (bench/cell.mjs: import, init(), build + compile, first prediction, each timed in a
// fresh Node process) run `runs` times (default 11), with the median of each phase and of the
// total. Uses dist/ as it is (run `npm run build` first).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const network = process.argv[2] ?? 'fashion';
const runs = Number(process.argv[3] ?? 11);
if (!['fashion', 'lenet'].includes(network) || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: node bench/cold.mjs [fashion|lenet] [runs ≥ 1]');
  process.exit(2);
}
const cell = join(dirname(fileURLToPath(import.meta.url)), 'cell.mjs');
const samples = [];
for (let i = 0; i < runs; i++) {
  const out = execFileSync(process.execPath, [cell, JSON.stringify({ engine: 'convnet-wasm', network, metric: 'cold' })], { encoding: 'utf8' });
  const { value, phases } = JSON.parse(out.trim().split('\n').pop());
  samples.push({ ...phases, total: value });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const names = Object.keys(samples[0]);
console.log(`${network} cold start, medians of ${runs} fresh processes (ms):`);
console.log(names.map((n) => `${n} ${median(samples.map((s) => s[n])).toFixed(1)}`).join('  '));
