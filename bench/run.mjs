#!/usr/bin/env node
// npm run bench — the whole benchmark in one run: convnet-wasm against TensorFlow.js 4.22 (wasm
// backend: stock for inference, with the user fixes that training needs; CPU backend) and
// onnxruntime-web 1.30 (1 and 2 threads, inference) and native Keras (tensorflow-cpu 2.21 in
// bench/.venv-keras, made by bench/setup-keras; 1 and 2 threads), on Géron's Fashion ConvNet and
// the modern LeNet-5:
//   training img/s at batch 32 and 128, inference img/s at batch 256, batch-1 latency, peak RSS
//   of training at batch 32, `init()` + first prediction cold, and the kernels' GFLOP/s against
//   the wasm SIMD peak (bench/kernels.mjs), with the issue's targets as ratios.
// Every measurement runs in a fresh process (bench/cell.mjs), so its peak RSS is its own; the
// rounds interleave the engines, and each figure is the median of its rounds.
// Writes bench/results/bench.json and bench/results/bench.md.
// Flags: --rounds N (default 3); --quick (1 round, no TF.js CPU, no kernel table); --only S (the
// cells whose id contains S, for trying the bench itself).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const ROUNDS = QUICK ? 1 : Number(args[args.indexOf('--rounds') + 1]) || 3;
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const started = Date.now();

const cw = (workers) => ({ engine: 'convnet-wasm', workers });
// Native Keras, when bench/setup-keras could install it.
const kerasPython = join(here, '.venv-keras', 'bin', 'python');
const KERAS = existsSync(kerasPython) && spawnSync(kerasPython, ['-c', 'import tensorflow'], { stdio: 'ignore' }).status === 0;
if (!KERAS) console.log('bench: native Keras is not installed (bash bench/setup-keras); its column is left out');
const keras = (threads) => ({ engine: 'keras', threads });
// The opt-in relaxed-SIMD build (init({ simd: 'relaxed' })): in this Node, or with the V8 flag that
// turns relaxed SIMD on where it has not shipped (Node 20), or left out.
const { relaxedSimdSupported } = await import('convnet-wasm');
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
const relaxedFlags = relaxedSimdSupported()
  ? []
  : spawnSync(process.execPath, [RELAXED_FLAG, '--input-type=module', '-e', "process.exit((await import('convnet-wasm')).relaxedSimdSupported() ? 0 : 1)"], { stdio: 'ignore' }).status === 0
    ? [RELAXED_FLAG]
    : undefined;
if (relaxedFlags === undefined) console.log(`bench: this Node has no WebAssembly relaxed SIMD, even with ${RELAXED_FLAG}; the relaxed-SIMD row is left out`);
const cwRelaxed = { engine: 'convnet-wasm', workers: 1, simd: 'relaxed' };
const tf2 = { engine: 'tfjs-wasm', fixes: 2 };
const cells = [];
const add = (id, base, extra) => cells.push({ id, ...base, ...extra });
for (const network of ['fashion', 'lenet']) {
  const f = network === 'fashion';
  const N = (id) => `${network}.${id}`;
  const train = (batch, steps, warmup) => ({ network, metric: 'train', batch, steps, warmup });
  add(N('train32.cw1'), cw(1), train(32, f ? 8 : 200, f ? 2 : 5));
  add(N('train32.cw2'), cw(2), train(32, f ? 8 : 200, f ? 2 : 5));
  add(N('train32.tf2'), tf2, train(32, f ? 8 : 100, f ? 2 : 5));
  add(N('train32.tf1'), { engine: 'tfjs-wasm', fixes: 1 }, { ...train(32, f ? 4 : 30, f ? 1 : 5), rounds: 1 });
  // The CPU backend needs minutes per Fashion step: one small batch (its speed per image does not grow with the batch).
  if (!QUICK) add(N('train32.cpu'), { engine: 'tfjs-cpu' }, { ...train(f ? 8 : 32, f ? 1 : 4, f ? 0 : 1), rounds: 1 });
  if (KERAS) {
    add(N('train32.k1'), keras(1), train(32, f ? 8 : 200, f ? 2 : 5));
    add(N('train32.k2'), keras(2), train(32, f ? 8 : 200, f ? 2 : 5));
  }
  if (relaxedFlags) add(N('train32.cwr'), cwRelaxed, train(32, f ? 8 : 200, f ? 2 : 5));
  add(N('train128.cw1'), cw(1), train(128, f ? 3 : 50, f ? 1 : 3));
  add(N('train128.cw2'), cw(2), train(128, f ? 3 : 50, f ? 1 : 3));
  add(N('train128.tf2'), tf2, train(128, f ? 3 : 25, f ? 1 : 3));
  const infer = { network, metric: 'infer', batch: 256, reps: f ? 3 : 20 };
  add(N('infer256.cw1'), cw(1), infer);
  add(N('infer256.cw2'), cw(2), infer);
  if (relaxedFlags) add(N('infer256.cwr'), cwRelaxed, infer);
  add(N('infer256.tfjs'), { engine: 'tfjs-wasm' }, infer);
  add(N('infer256.ort1'), { engine: 'ort-web', threads: 1 }, infer);
  add(N('infer256.ort2'), { engine: 'ort-web', threads: 2 }, infer);
  if (KERAS) {
    add(N('infer256.k1'), keras(1), infer);
    add(N('infer256.k2'), keras(2), infer);
  }
  if (!QUICK) add(N('infer256.cpu'), { engine: 'tfjs-cpu' }, { ...infer, batch: f ? 8 : 256, reps: 1, rounds: 1 });
  const latency = { network, metric: 'latency', reps: f ? 100 : 1000 };
  add(N('latency.cw1'), cw(1), latency);
  if (relaxedFlags) add(N('latency.cwr'), cwRelaxed, latency);
  add(N('latency.tfjs'), { engine: 'tfjs-wasm' }, latency);
  add(N('latency.ort1'), { engine: 'ort-web', threads: 1 }, latency);
  add(N('latency.ort2'), { engine: 'ort-web', threads: 2 }, latency);
  if (KERAS) add(N('latency.k1'), keras(1), latency);
}
// The faithful LeNet-5 as the paper trains it: SDLM, batch 1 (convnet-wasm only).
add('lenet.train1.faithful', { engine: 'convnet-wasm', variant: 'faithful', workers: 1 }, { network: 'lenet', metric: 'train', batch: 1, steps: 1000, warmup: 50 });
add('lenet.cold.cw', { engine: 'convnet-wasm' }, { network: 'lenet', metric: 'cold' });
add('fashion.cold.cw', { engine: 'convnet-wasm' }, { network: 'fashion', metric: 'cold' });
if (ONLY !== undefined) cells.splice(0, cells.length, ...cells.filter((c) => c.id.includes(ONLY)));

function runCell(cell) {
  const [command, script] = cell.engine === 'keras' ? [kerasPython, 'keras_cell.py'] : [process.execPath, 'cell.mjs'];
  const flags = cell.simd === 'relaxed' ? relaxedFlags : [];
  const r = spawnSync(command, [...flags, join(here, script), JSON.stringify(cell)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`bench: cell ${cell.id} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  return JSON.parse(last);
}

const samples = Object.fromEntries(cells.map((c) => [c.id, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const cell of cells) {
    if (round >= (cell.rounds ?? ROUNDS)) continue;
    const r = runCell(cell);
    samples[cell.id].push(r);
    const v = r.unit === 'ms' ? `${r.value.toFixed(3)} ms` : `${r.value.toFixed(r.value < 10 ? 3 : 1)} ${r.unit}`;
    console.log(`round ${round + 1}/${ROUNDS}  ${cell.id.padEnd(24)} ${v.padStart(14)}   peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
  }
}

let kernels;
if (!QUICK) {
  // --rebuild: the benchmark build of the crate as it is now, not one left from an older checkout.
  execFileSync(process.execPath, [join(here, 'kernels.mjs'), '--rebuild'], { stdio: ['ignore', 'ignore', 'inherit'] });
  kernels = JSON.parse(await readFile(join(here, 'results', 'kernels.json'), 'utf8'));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const get = (id) => (samples[id]?.length ? median(samples[id].map((s) => s.value)) : undefined);
const rss = (id) => (samples[id]?.length ? median(samples[id].map((s) => s.maxRssMiB)) : undefined);
const fmt = (v, unit) => (v === undefined ? '—' : unit === 'ms' ? `${v < 1 ? v.toFixed(3) : v.toFixed(1)} ms` : `${v < 10 ? v.toFixed(2) : v.toFixed(v < 1000 ? 1 : 0)}`);

// The issue's targets: [what, target text, measured text, ratio, met].
const targets = [];
const ratioTarget = (what, ours, theirs, want, higherIsBetter, unit, note = '') => {
  if (ours === undefined || theirs === undefined) return;
  const ratio = ours / theirs;
  const met = higherIsBetter ? ratio >= want : ratio <= want;
  targets.push([what, `${higherIsBetter ? '≥' : '≤'} ${want}×`, `${fmt(ours, unit)} vs ${fmt(theirs, unit)}${note}`, `${ratio.toFixed(2)}×`, met]);
};
ratioTarget('Fashion training, batch 32, 1 thread, vs TF.js wasm with both fixes', get('fashion.train32.cw1'), get('fashion.train32.tf2'), 1.4, true, 'img/s');
ratioTarget('Fashion training, batch 32, 2 workers vs our 1 thread', get('fashion.train32.cw2'), get('fashion.train32.cw1'), 1.8, true, 'img/s');
ratioTarget('Fashion inference, batch 256, 1 thread, vs TF.js wasm (XNNPACK)', get('fashion.infer256.cw1'), get('fashion.infer256.tfjs'), 1.1, true, 'img/s');
ratioTarget('Fashion inference, batch 256, 2 workers, vs onnxruntime-web 2 threads', get('fashion.infer256.cw2'), get('fashion.infer256.ort2'), 1.3, true, 'img/s');
ratioTarget('Fashion batch-1 latency, 1 thread, vs TF.js wasm', get('fashion.latency.cw1'), get('fashion.latency.tfjs'), 0.8, false, 'ms');
ratioTarget('LeNet-5 (modern) training, batch 32, 1 thread, vs TF.js wasm with both fixes', get('lenet.train32.cw1'), get('lenet.train32.tf2'), 5, true, 'img/s');
const ortLatency = Math.min(...['lenet.latency.ort1', 'lenet.latency.ort2'].map(get).filter((v) => v !== undefined));
ratioTarget('LeNet-5 batch-1 latency vs onnxruntime-web (its faster thread count)', get('lenet.latency.cw1'), ortLatency, 0.5, false, 'ms');
ratioTarget('Peak RSS, Fashion training at batch 32 (MiB), vs TF.js wasm', rss('fashion.train32.cw1'), rss('fashion.train32.tf2'), 0.5, false, 'MiB');
// Against native Keras on the same cores (the performance issue's targets).
ratioTarget('Fashion training, batch 32, 1 thread, vs native Keras 1 thread', get('fashion.train32.cw1'), get('fashion.train32.k1'), 1.0, true, 'img/s');
ratioTarget('Fashion training, batch 32, 2 workers, vs native Keras 2 threads', get('fashion.train32.cw2'), get('fashion.train32.k2'), 1.0, true, 'img/s');
ratioTarget('Fashion inference, batch 256, 1 thread, vs native Keras 1 thread', get('fashion.infer256.cw1'), get('fashion.infer256.k1'), 1.0, true, 'img/s');
ratioTarget('Fashion batch-1 latency (our 1 thread) vs native Keras 1 thread', get('fashion.latency.cw1'), get('fashion.latency.k1'), 0.5, false, 'ms');
ratioTarget('Peak RSS, Fashion inference at batch 256 (MiB), vs TF.js wasm', rss('fashion.infer256.cw1'), rss('fashion.infer256.tfjs'), 0.7, false, 'MiB');
ratioTarget('LeNet-5 (modern) training, batch 32, 1 thread, vs TF.js wasm with both fixes (the newer target)', get('lenet.train32.cw1'), get('lenet.train32.tf2'), 10, true, 'img/s');
ratioTarget('LeNet-5 (modern) training, batch 32, 1 thread, vs native Keras 1 thread', get('lenet.train32.cw1'), get('lenet.train32.k1'), 4, true, 'img/s');
for (const [network, name] of [['lenet', 'LeNet-5'], ['fashion', 'Fashion ConvNet']]) {
  const cold = get(`${network}.cold.cw`);
  if (cold === undefined) continue;
  const s = samples[`${network}.cold.cw`].find((x) => x.value === cold);
  const p = Object.entries(s.phases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
  targets.push([`\`init()\` + first prediction, Node, cold: import, init, build ${name}, predict`, '≤ 100 ms', `${cold.toFixed(0)} ms (${p})`, '—', cold <= 100]);
}
if (kernels) {
  // The two reference networks' conv layers (the other networks' rows are for profiling).
  const reference = ['Fashion ConvNet', 'LeNet-5', 'LeNet-5 (modern)'];
  const convs = kernels.rows.filter((r) => reference.includes(r.network) && (r.layer.startsWith('conv') || /^C[135]/.test(r.layer)));
  const worst = Math.min(...convs.flatMap((r) => [r.forwardOfPeak, r.backwardOfPeak]));
  const fashion3 = kernels.rows.filter((r) => r.network === 'Fashion ConvNet' && r.layer.includes('3×3'));
  const worst3 = Math.min(...fashion3.flatMap((r) => [r.forwardOfPeak, r.backwardOfPeak]));
  // Winograd layers deliver their direct FLOPs faster than the peak; their products' own share.
  const products3 = Math.min(...fashion3.flatMap((r) => [r.forwardOfPeak, r.backwardOfPeak].map((f) => f * (r.performedRatio ?? 1))));
  const fashionNote = fashion3.some((r) => (r.performedRatio ?? 1) !== 1)
    ? `Fashion 3×3 layers, Winograd: lowest ${(100 * worst3).toFixed(0)}% in direct FLOPs, their products at ${(100 * products3).toFixed(0)}% or more`
    : `Fashion 3×3 layers: lowest ${(100 * worst3).toFixed(0)}%`;
  targets.push(['Conv layers, forward and backward, of the wasm SIMD peak (lowest layer)', '≥ 65%', `${(100 * worst).toFixed(0)}% (${fashionNote})`, '—', worst >= 0.65]);
}

const engines = {
  cw1: 'convnet-wasm, 1 thread',
  cw2: 'convnet-wasm, 2 workers',
  cwr: 'convnet-wasm, relaxed SIMD (opt-in), 1 thread',
  tf2: 'TF.js wasm + both user fixes',
  tf1: 'TF.js wasm + filter-gradient fix only',
  tfjs: 'TF.js wasm (stock)',
  ort1: 'onnxruntime-web, 1 thread',
  ort2: 'onnxruntime-web, 2 threads',
  cpu: 'TF.js CPU backend',
  k1: 'native Keras (TensorFlow 2.21, oneDNN), 1 thread',
  k2: 'native Keras (TensorFlow 2.21, oneDNN), 2 threads',
};
const networkTable = (network, title) => {
  const rows = Object.entries(engines).map(([k, name]) => {
    const id = (m) => `${network}.${m}.${k}`;
    const trainCpuNote = k === 'cpu' && network === 'fashion' ? ' (batch 8, 1 step)' : '';
    const inferCpuNote = k === 'cpu' && network === 'fashion' ? ' (batch 8)' : '';
    const t32 = get(id('train32'));
    const cells = [
      t32 === undefined ? (k === 'tfjs' ? 'cannot train' : '—') : fmt(t32) + trainCpuNote,
      fmt(get(id('train128'))),
      get(id('infer256')) === undefined ? '—' : fmt(get(id('infer256'))) + inferCpuNote,
      fmt(get(id('latency')), 'ms'),
      rss(id('train32')) === undefined ? '—' : rss(id('train32')).toFixed(0),
      rss(id('infer256')) === undefined ? '—' : rss(id('infer256')).toFixed(0),
    ];
    return cells.every((c) => c === '—' || c === 'cannot train') ? undefined : `| ${name} | ${cells.join(' | ')} |`;
  });
  return [
    `**${title}**`,
    '',
    '| engine | train img/s, batch 32 | train img/s, batch 128 | inference img/s, batch 256 | batch-1 latency | peak RSS training b32 (MiB) | peak RSS inference b256 (MiB) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.filter(Boolean),
  ].join('\n');
};

const peak = kernels?.peak;
const gflops = (id) => {
  const s = samples[id];
  if (!s?.length || !s[0].flopsPerImage) return undefined;
  return (get(id) * s[0].flopsPerImage) / 1e9;
};
const efficiency = [
  ['Fashion training, batch 32, 1 thread', gflops('fashion.train32.cw1')],
  ['Fashion inference, batch 256, 1 thread', gflops('fashion.infer256.cw1')],
  ['LeNet-5 (modern) training, batch 32, 1 thread', gflops('lenet.train32.cw1')],
]
  .filter(([, g]) => g !== undefined)
  .map(([what, g]) => `| ${what} | ${g.toFixed(1)} | ${peak ? `${((100 * g) / peak).toFixed(0)}%` : '—'} |`);

/** One paragraph: the relaxed-SIMD build against the default build and native Keras (no targets: it is opt-in). */
function relaxedSummary() {
  const parts = [];
  for (const [network, name] of [['fashion', 'Fashion ConvNet'], ['lenet', 'LeNet-5 (modern)']]) {
    for (const [metric, what, unit] of [['train32', 'training at batch 32', 'img/s'], ['infer256', 'inference at batch 256', 'img/s'], ['latency', 'batch-1 latency', 'ms']]) {
      const [r, d, k] = ['cwr', 'cw1', 'k1'].map((e) => get(`${network}.${metric}.${e}`));
      if (r === undefined || d === undefined) continue;
      const vs = (other) => (unit === 'ms' ? other / r : r / other).toFixed(2);
      parts.push(`${name} ${what} ${fmt(r, unit)}${unit === 'ms' ? '' : ` ${unit}`}: ${vs(d)}× the default build${k === undefined ? '' : `, ${(unit === 'ms' ? r / k : r / k).toFixed(2)}× native Keras`}`);
    }
  }
  if (parts.length === 0) return [];
  return [
    `The relaxed-SIMD build (\`init({ simd: 'relaxed' })\`, one thread; not bit-identical with the default build, docs/relaxed-simd.md${relaxedFlags?.length ? `; Node run with ${relaxedFlags.join(' ')}` : ''}), speed-ups as higher-is-faster ratios, Keras as ours over theirs (latency: lower is faster): ${parts.join('; ')}.`,
    '',
  ];
}

const date = new Date().toISOString();
const minutes = ((Date.now() - started) / 60000).toFixed(1);
const md = [
  `\`npm run bench\`, ${date.slice(0, 10)}: Node ${process.versions.node}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores; ` +
    `median of ${ROUNDS} interleaved rounds, each measurement in a fresh process; real Fashion-MNIST and MNIST images; ${minutes} min.`,
  '',
  '| target | wanted | measured | ratio | met |',
  '|---|---|---|---:|---|',
  ...targets.map(([what, want, got, ratio, met]) => `| ${what} | ${want} | ${got} | ${ratio} | ${met ? 'yes' : '**no**'} |`),
  '',
  networkTable('fashion', 'Fashion ConvNet (Géron)'),
  '',
  networkTable('lenet', 'LeNet-5, modern variant'),
  '',
  ...relaxedSummary(),
  ...(get('lenet.train1.faithful') === undefined ? [] : [`The faithful LeNet-5 (connection table, trainable subsampling, RBF output, SDLM) trains at **${fmt(get('lenet.train1.faithful'))} img/s** at batch 1, as the paper trains it.`, '']),
  ...(peak
    ? [
        `Achieved arithmetic (forward FLOPs of the conv and dense layers, counted as direct convolution whatever the algorithm; training counted as 3× forward) against the wasm SIMD peak measured by \`bench/kernels.mjs\` in this run, **${peak.toFixed(1)} GFLOP/s**. The Fashion 3×3 layers run as Winograd F(4×4, 3×3), which does 36 multiply-adds per 4×4 outputs and channel pair instead of 144, so its networks can count more than the peak:`,
        '',
        '| convnet-wasm | GFLOP/s | of peak |',
        '|---|---:|---:|',
        ...efficiency,
        '',
      ]
    : []),
  'TF.js has no Nadam, so its models train with Adam. TF.js wasm cannot train conv layers without a Conv2DBackpropFilter kernel; ' +
    '"filter-gradient fix" computes it with its own XNNPACK conv2d, "both fixes" also the input gradient (bench/tfjs-training.mjs; both checked against the CPU backend). ' +
    'onnxruntime-web runs the ONNX export of the same network (`exportOnnx`).',
].join('\n');

await mkdir(join(here, 'results'), { recursive: true });
await writeFile(join(here, 'results', 'bench.json'), `${JSON.stringify({ date, node: process.versions.node, cpu: os.cpus()[0]?.model, rounds: ROUNDS, cells, samples, targets, kernels }, null, 2)}\n`);
await writeFile(join(here, 'results', 'bench.md'), `${md}\n`);
console.log(`\n${md}\n\nwrote bench/results/bench.json and bench.md`);
