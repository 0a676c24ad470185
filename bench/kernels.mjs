#!/usr/bin/env node
// npm run bench:kernels — each kernel's achieved GFLOP/s at the exact layer shapes of both
// reference networks (batch 32), forward and backward separately, as a fraction of this
// machine's wasm SIMD peak measured in the same run (before and after the kernels).
// Writes bench/results/kernels.json and bench/results/kernels.md, and prints the table.
// One thread; the module is the `bench` build of the crate (node scripts/build.mjs --bench).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wasmDir = join(here, 'wasm');
if (!existsSync(join(wasmDir, 'convnet_wasm_bg.wasm')) || process.argv.includes('--rebuild')) {
  execFileSync(process.execPath, [join(here, '..', 'scripts', 'build.mjs'), '--bench'], { stdio: 'inherit' });
}
const bench = await import(join(wasmDir, 'convnet_wasm.js'));
await bench.default({ module_or_path: await readFile(join(wasmDir, 'convnet_wasm_bg.wasm')) });

const SAMPLES = 7;
const TARGET_SECONDS = 0.15;

/** Median seconds per repetition of `run(reps)`, with reps calibrated to ~TARGET_SECONDS a sample. */
function measure(run) {
  run(1);
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    run(reps);
    const seconds = (performance.now() - t0) / 1000;
    if (seconds >= TARGET_SECONDS / 4) {
      reps = Math.max(1, Math.round((reps * TARGET_SECONDS) / seconds));
      break;
    }
    reps *= 4;
  }
  const samples = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    run(reps);
    samples.push((performance.now() - t0) / 1000 / reps);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(SAMPLES / 2)];
}

function peakGflops() {
  const seconds = measure((reps) => bench.simd_peak(reps * 1_000_000));
  return (bench.simd_peak_flops_per_iteration() * 1_000_000) / seconds / 1e9;
}

const B = 32;
const layers = [
  ['Fashion ConvNet', 'conv1 7×7, 1→64, 28×28 same', () => bench.KernelBench.conv2d(B, 28, 28, 1, 64, 7, 1, true)],
  ['Fashion ConvNet', 'pool1 max 2×2, 28×28×64', () => bench.KernelBench.pool(B, 28, 28, 64, 2, 2, false)],
  ['Fashion ConvNet', 'conv2 3×3, 64→128, 14×14 same', () => bench.KernelBench.conv2d(B, 14, 14, 64, 128, 3, 1, true)],
  ['Fashion ConvNet', 'conv3 3×3, 128→128, 14×14 same', () => bench.KernelBench.conv2d(B, 14, 14, 128, 128, 3, 1, true)],
  ['Fashion ConvNet', 'pool2 max 2×2, 14×14×128', () => bench.KernelBench.pool(B, 14, 14, 128, 2, 2, false)],
  ['Fashion ConvNet', 'conv4 3×3, 128→256, 7×7 same', () => bench.KernelBench.conv2d(B, 7, 7, 128, 256, 3, 1, true)],
  ['Fashion ConvNet', 'conv5 3×3, 256→256, 7×7 same', () => bench.KernelBench.conv2d(B, 7, 7, 256, 256, 3, 1, true)],
  ['Fashion ConvNet', 'pool3 max 2×2, 7×7×256', () => bench.KernelBench.pool(B, 7, 7, 256, 2, 2, false)],
  ['Fashion ConvNet', 'dense1 2304→128', () => bench.KernelBench.dense(B, 2304, 128)],
  ['Fashion ConvNet', 'dense2 128→64', () => bench.KernelBench.dense(B, 128, 64)],
  ['Fashion ConvNet', 'dense3 64→10', () => bench.KernelBench.dense(B, 64, 10)],
  ['LeNet-5', 'C1 5×5, 1→6, 32×32 valid', () => bench.KernelBench.conv2d(B, 32, 32, 1, 6, 5, 1, false)],
  ['LeNet-5', 'S2 subsampling 2×2, 28×28×6', () => bench.KernelBench.pool(B, 28, 28, 6, 2, 2, true)],
  ['LeNet-5', 'C3 5×5, 6→16 (table, run dense), 14×14', () => bench.KernelBench.conv2d(B, 14, 14, 6, 16, 5, 1, false)],
  ['LeNet-5', 'S4 subsampling 2×2, 10×10×16', () => bench.KernelBench.pool(B, 10, 10, 16, 2, 2, true)],
  ['LeNet-5', 'C5 5×5, 16→120, 5×5 valid', () => bench.KernelBench.conv2d(B, 5, 5, 16, 120, 5, 1, false)],
  ['LeNet-5', 'F6 dense 120→84', () => bench.KernelBench.dense(B, 120, 84)],
];

// The peak is measured three times, before, between and after the kernels, and the highest is
// used: fractions of it are then conservative on a machine whose speed drifts.
const peaks = [peakGflops()];
const rows = [];
for (const [index, [network, layer, make]] of layers.entries()) {
  if (index === Math.floor(layers.length / 2)) peaks.push(peakGflops());
  const k = make();
  const isPool = layer.includes('pool') || layer.includes('subsampling');
  const forward = measure((reps) => k.run_forward(reps));
  const backward = measure((reps) => k.run_backward(reps));
  rows.push({
    network,
    layer,
    forwardMs: forward * 1e3,
    backwardMs: backward * 1e3,
    forwardGflops: isPool ? null : k.forward_flops() / forward / 1e9,
    backwardGflops: isPool ? null : k.backward_flops() / backward / 1e9,
  });
  k.free();
}
peaks.push(peakGflops());
const peak = Math.max(...peaks);

const pct = (g) => (g === null ? '—' : `${((100 * g) / peak).toFixed(0)}%`);
const num = (g) => (g === null ? '—' : g.toFixed(1));
const md = [
  `Wasm SIMD peak (12 f32x4 mul+add chains): **${peak.toFixed(1)} GFLOP/s**, the highest of ` +
    `${peaks.map((p) => p.toFixed(1)).join(', ')} (before, between and after the kernels). Batch ${B}, one thread, ` +
    `Node ${process.versions.node}, ${os.cpus()[0]?.model ?? 'unknown CPU'}; medians of ${SAMPLES}.`,
  '',
  '| network | layer | forward ms | GFLOP/s | of peak | backward ms | GFLOP/s | of peak |',
  '|---|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) =>
    `| ${r.network} | ${r.layer} | ${r.forwardMs.toFixed(2)} | ${num(r.forwardGflops)} | ${pct(r.forwardGflops)} | ` +
      `${r.backwardMs.toFixed(2)} | ${num(r.backwardGflops)} | ${pct(r.backwardGflops)} |`,
  ),
  '',
  'Backward = input gradient + weight and bias gradients. Pooling rows are memory-bound: time only.',
].join('\n');

const outDir = join(here, 'results');
await mkdir(outDir, { recursive: true });
const date = new Date().toISOString();
await writeFile(
  join(outDir, 'kernels.json'),
  JSON.stringify({ date, node: process.versions.node, cpu: os.cpus()[0]?.model, batch: B, peaks, peak, rows }, null, 2) + '\n',
);
await writeFile(join(outDir, 'kernels.md'), `${md}\n`);
console.log(md);
console.log(`\nwrote ${join('bench', 'results', 'kernels.json')} and kernels.md (${date})`);
