#!/usr/bin/env node
// npm run bench:kernels — each kernel's achieved GFLOP/s at the exact layer shapes of both
// reference networks (batch 32), forward and backward separately, as a fraction of this
// machine's wasm SIMD peak measured in the same run, next to each sample.
// Writes bench/results/kernels.json and bench/results/kernels.md, and prints the table.
// Pooling and batch-norm layers are memory-bound; their rows give times only. `--batch N` times them
// at batch N instead of 32 (and writes nothing). `--only S` runs the layers whose
// name or network contains S and writes nothing.
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
const TARGET_SECONDS = 0.1;
const PEAK_ITERATIONS_PER_REP = 100_000;

/** Repetitions of `run(reps)` that take about TARGET_SECONDS. */
function calibrate(run) {
  run(1);
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    run(reps);
    const seconds = (performance.now() - t0) / 1000;
    if (seconds >= TARGET_SECONDS / 4) return Math.max(1, Math.round((reps * TARGET_SECONDS) / seconds));
    reps *= 4;
  }
}

function time(run, reps) {
  const t0 = performance.now();
  run(reps);
  return (performance.now() - t0) / 1000 / reps;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const runPeak = (reps) => bench.simd_peak(reps * PEAK_ITERATIONS_PER_REP);
const peakFlopsPerRep = bench.simd_peak_flops_per_iteration() * PEAK_ITERATIONS_PER_REP;
const peakReps = calibrate(runPeak);

/**
 * This machine's speed drifts (seen here: the peak alone moves between 26 and 44 GFLOP/s within a
 * minute), so every kernel sample is paired with a peak sample taken right before it, and the
 * fraction of peak is the median of the per-pair ratios.
 */
function measureAgainstPeak(run, flops) {
  const reps = calibrate(run);
  const gflops = [];
  const ratios = [];
  const peaks = [];
  for (let i = 0; i < SAMPLES; i++) {
    const peak = peakFlopsPerRep / time(runPeak, peakReps) / 1e9;
    const g = flops / time(run, reps) / 1e9;
    peaks.push(peak);
    gflops.push(g);
    ratios.push(g / peak);
  }
  return { gflops: median(gflops), fraction: median(ratios), peak: median(peaks), ms: (1e3 * flops) / median(gflops) / 1e9 };
}

// `--batch N`: another batch size (32 by default; training runs micro-batches of 8).
const batchAt = process.argv.indexOf('--batch');
const B = batchAt > 0 ? Number(process.argv[batchAt + 1]) : 32;
if (!Number.isInteger(B) || B < 1) throw new Error(`--batch must be a positive integer, got ${process.argv[batchAt + 1]}`);
const layers = [
  ['Fashion ConvNet', 'conv1 7×7, 1→64, 28×28 same', () => bench.KernelBench.conv2d(B, 28, 28, 1, 64, 7, 1, true, true)],
  ['Fashion ConvNet', 'pool1 max 2×2, 28×28×64', () => bench.KernelBench.pool(B, 28, 28, 64, 2, 2, false)],
  ['Fashion ConvNet', 'conv2 3×3, 64→128, 14×14 same', () => bench.KernelBench.conv2d(B, 14, 14, 64, 128, 3, 1, true, false)],
  ['Fashion ConvNet', 'conv3 3×3, 128→128, 14×14 same', () => bench.KernelBench.conv2d(B, 14, 14, 128, 128, 3, 1, true, false)],
  ['Fashion ConvNet', 'pool2 max 2×2, 14×14×128', () => bench.KernelBench.pool(B, 14, 14, 128, 2, 2, false)],
  ['Fashion ConvNet', 'conv4 3×3, 128→256, 7×7 same', () => bench.KernelBench.conv2d(B, 7, 7, 128, 256, 3, 1, true, false)],
  ['Fashion ConvNet', 'conv5 3×3, 256→256, 7×7 same', () => bench.KernelBench.conv2d(B, 7, 7, 256, 256, 3, 1, true, false)],
  ['Fashion ConvNet', 'pool3 max 2×2, 7×7×256', () => bench.KernelBench.pool(B, 7, 7, 256, 2, 2, false)],
  ['Fashion ConvNet', 'dense1 2304→128', () => bench.KernelBench.dense(B, 2304, 128)],
  ['Fashion ConvNet', 'dense2 128→64', () => bench.KernelBench.dense(B, 128, 64)],
  ['Fashion ConvNet', 'dense3 64→10', () => bench.KernelBench.dense(B, 64, 10)],
  ['LeNet-5', 'C1 5×5, 1→6, 32×32 valid', () => bench.KernelBench.conv2d(B, 32, 32, 1, 6, 5, 1, false, true)],
  ['LeNet-5', 'S2 subsampling 2×2, 28×28×6', () => bench.KernelBench.pool(B, 28, 28, 6, 2, 2, true)],
  ['LeNet-5', 'C3 5×5, 6→16 (table, run dense), 14×14', () => bench.KernelBench.conv2d(B, 14, 14, 6, 16, 5, 1, false, false)],
  ['LeNet-5', 'S4 subsampling 2×2, 10×10×16', () => bench.KernelBench.pool(B, 10, 10, 16, 2, 2, true)],
  ['LeNet-5', 'C5 5×5, 16→120, 5×5 valid', () => bench.KernelBench.conv2d(B, 5, 5, 16, 120, 5, 1, false, false)],
  ['LeNet-5', 'F6 dense 120→84', () => bench.KernelBench.dense(B, 120, 84)],
  ['LeNet-5 (modern)', 'S2 max pool 2×2, 28×28×6', () => bench.KernelBench.pool(B, 28, 28, 6, 2, 2, false)],
  ['LeNet-5 (modern)', 'S4 max pool 2×2, 10×10×16', () => bench.KernelBench.pool(B, 10, 10, 16, 2, 2, false)],
  ['fashionConvNetBN', 'conv2 3×3, 32→32, 28×28 same', () => bench.KernelBench.conv2d(B, 28, 28, 32, 32, 3, 1, true, false)],
  ['fashionConvNetBN', 'batch norm, 28×28×32', () => bench.KernelBench.batch_norm(B, 28, 28, 32)],
  ['fashionConvNetBN', 'conv4 3×3, 64→64, 14×14 same', () => bench.KernelBench.conv2d(B, 14, 14, 64, 64, 3, 1, true, false)],
  ['fashionConvNetBN', 'batch norm, 14×14×64', () => bench.KernelBench.batch_norm(B, 14, 14, 64)],
  ['fashionConvNetBN', 'conv5 3×3, 64→128, 7×7 same', () => bench.KernelBench.conv2d(B, 7, 7, 64, 128, 3, 1, true, false)],
  ['fashionConvNetBN', 'batch norm, 7×7×128', () => bench.KernelBench.batch_norm(B, 7, 7, 128)],
  ['residual network (tools/experiments)', 'conv 3×3, 16→16, 28×28 same', () => bench.KernelBench.conv2d(B, 28, 28, 16, 16, 3, 1, true, false)],
  ['residual network (tools/experiments)', 'conv 3×3, 16→32, 14×14 same', () => bench.KernelBench.conv2d(B, 14, 14, 16, 32, 3, 1, true, false)],
];

// `--only S`: just the layers whose name or network contains S, printed, not written (for trying a kernel).
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;

const chosen = layers.filter(([network, name]) => only === undefined || name.includes(only) || network.includes(only));
if (chosen.length === 0) {
  console.error(`bench/kernels.mjs: --only ${only} matches no layer or network; the layers are:\n${layers.map(([n, l]) => `  ${n}: ${l}`).join('\n')}`);
  process.exit(2);
}
const rows = [];
const allPeaks = [];
for (const [network, layer, make] of chosen) {
  const k = make();
  const isPool = layer.includes('pool') || layer.includes('subsampling') || layer.includes('batch norm');
  const forward = measureAgainstPeak((reps) => k.run_forward(reps), k.forward_flops());
  const backward = measureAgainstPeak((reps) => k.run_backward(reps), k.backward_flops());
  allPeaks.push(forward.peak, backward.peak);
  const performed = k.performed_ratio();
  rows.push({
    network,
    layer,
    algorithm: k.algorithm(),
    performedRatio: performed,
    forwardMs: forward.ms,
    backwardMs: backward.ms,
    forwardGflops: isPool ? null : forward.gflops,
    backwardGflops: isPool ? null : backward.gflops,
    forwardOfPeak: isPool ? null : forward.fraction,
    backwardOfPeak: isPool ? null : backward.fraction,
  });
  k.free();
}
const peak = median(allPeaks);

const pct = (f) => (f === null ? '—' : `${(100 * f).toFixed(0)}%`);
// Winograd rows: the direct convolution's FLOPs over the time (what the layer delivers), then in
// brackets the share of the peak its products actually run at.
const ofPeak = (r, f) => (f !== null && r.performedRatio !== 1 ? `${pct(f)} (${pct(f * r.performedRatio)})` : pct(f));
const num = (g) => (g === null ? '—' : g.toFixed(1));
const md = [
  `Wasm SIMD peak (12 f32x4 mul+add chains): median **${peak.toFixed(1)} GFLOP/s** over the run ` +
    `(${Math.min(...allPeaks).toFixed(1)}–${Math.max(...allPeaks).toFixed(1)}). Each kernel sample is paired with a ` +
    `peak sample taken just before it; "of peak" is the median of the ${SAMPLES} ratios. Batch ${B}, one thread, ` +
    `Node ${process.versions.node}, ${os.cpus()[0]?.model ?? 'unknown CPU'}.`,
  '',
  '| network | layer | algorithm | forward ms | GFLOP/s | of peak | backward ms | GFLOP/s | of peak |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) =>
    `| ${r.network} | ${r.layer} | ${r.algorithm} | ${r.forwardMs.toFixed(2)} | ${num(r.forwardGflops)} | ${ofPeak(r, r.forwardOfPeak)} | ` +
      `${r.backwardMs.toFixed(2)} | ${num(r.backwardGflops)} | ${ofPeak(r, r.backwardOfPeak)} |`,
  ),
  '',
  'Backward = input gradient + weight and bias gradients; the first layers (conv1, C1) compute no input gradient, as in the models. Pooling and batch-norm rows are memory-bound: time only (batch norm: training, the statistics of the batch; forward = moments and normalisation, backward = dγ, dβ and the input gradient).',
  'GFLOP/s counts each layer\'s direct-convolution FLOPs (2 per multiply-add), whatever the algorithm. Winograd layers do 36 multiply-adds per 4×4 outputs (F(4×4, 3×3)) or 16 per 2×2 (F(2×2, 3×3)) instead of 9 per output (tiles past the edge included), so they deliver more than the peak; ' +
    'the bracketed figure is the share of the peak their products actually run at (transforms not counted).',
].join('\n');

// The written tables (which `npm run bench` reads) are batch 32's.
if (only !== undefined || B !== 32) {
  console.log(md);
  process.exit(0);
}
const outDir = join(here, 'results');
await mkdir(outDir, { recursive: true });
const date = new Date().toISOString();
await writeFile(
  join(outDir, 'kernels.json'),
  JSON.stringify({ date, node: process.versions.node, cpu: os.cpus()[0]?.model, batch: B, samples: SAMPLES, peak, peaks: allPeaks, rows }, null, 2) + '\n',
);
await writeFile(join(outDir, 'kernels.md'), `${md}\n`);
console.log(md);
console.log(`\nwrote ${join('bench', 'results', 'kernels.json')} and kernels.md (${date})`);
