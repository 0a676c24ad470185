#!/usr/bin/env node
// One measurement of `npm run bench` (bench/run.mjs), alone in its process so that the peak RSS
// it reports is its own. Argument: a JSON cell
//   { engine: 'convnet-wasm' | 'tfjs-wasm' | 'tfjs-cpu' | 'ort-web',
//     network: 'fashion' | 'lenet',
//     metric: 'train' | 'infer' | 'latency' | 'cold',
//     batch, steps, warmup, reps, workers and variant: 'faithful' (convnet-wasm LeNet-5),
//     fixes (tfjs-wasm training: 1 or 2), simd: 'relaxed' (convnet-wasm's relaxed-SIMD build),
//     threads (ort-web) }
// Prints one JSON line: { value, unit, maxRssMiB, ... }. Inputs are real images (Fashion-MNIST
// for the Fashion ConvNet, MNIST for LeNet-5), the first ones of the training set.
const started = performance.now();
const cell = JSON.parse(process.argv[2]);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (cell.metric === 'cold') {
  // Node started → convnet-wasm imported, initialised, a model built and a first prediction; each
  // phase timed.
  const t0 = performance.now();
  const cw = await import('convnet-wasm');
  const t1 = performance.now();
  await cw.init();
  const t2 = performance.now();
  const model = cell.network === 'fashion' ? cw.models.fashionConvNet() : cw.models.leNet5({ variant: 'modern' });
  model.compile({ optimizer: 'adam', seed: 1 });
  const t3 = performance.now();
  model.predict(new Uint8Array(784));
  const now = performance.now();
  const phases = { import: t1 - t0, init: t2 - t1, buildAndCompile: t3 - t2, firstPredict: now - t3 };
  console.log(JSON.stringify({ value: now - started, unit: 'ms', sinceProcessStart: now, phases, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

const cw = await import('convnet-wasm');
await cw.init(cell.simd ? { simd: cell.simd } : {});
const data = cell.network === 'fashion' ? await cw.datasets.fashionMnist() : await cw.datasets.mnist();
const images = data.train.images;
const labels = data.train.labels;
const floats = (from, to) => Float32Array.from(images.subarray(from * 784, to * 784), (p) => p / 255);

/**
 * Seconds per call of `fn`: the median of `reps`, after `warmup` calls and at least 0.5 s of
 * warm-up, so that every engine's wasm has been tiered up by V8 (a few fast calls do not spend
 * enough of V8's tier-up budget, and the optimised code then arrives in the middle of the timing).
 * `warmup` 0 (TF.js's CPU backend training, minutes a step) means none at all.
 */
async function timeCalls(fn, reps, warmup) {
  const warmStart = performance.now();
  let i = 0;
  while (i < warmup || (warmup > 0 && performance.now() - warmStart < 500)) await fn(i++);
  warmup = i;
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn(warmup + i);
    times.push((performance.now() - t) / 1000);
  }
  return median(times);
}

function ourModel() {
  if (cell.network === 'fashion') return cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 });
  if (cell.variant === 'faithful') return cw.models.leNet5().compile({ optimizer: 'sdlm', loss: { type: 'rbfMap', j: 1 }, learningRate: 0.00005, seed: 1 });
  return cw.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 1 });
}

async function convnetWasm() {
  const model = ourModel();
  const { batch, workers = 1 } = cell;
  if (cell.metric === 'train') {
    // Timed: `steps` steps after at least `warmup` steps and 0.5 s of training (as timeCalls
    // warms up the other engines); then training stops.
    const { steps, warmup } = cell;
    const n = Math.floor(images.length / 784 / batch) * batch;
    const started = performance.now();
    let first = -1;
    let t0 = 0;
    let t1 = 0;
    await model.fit(images.subarray(0, n * 784), labels.subarray(0, n), {
      batchSize: batch,
      shuffle: false,
      workers,
      curvatureSamples: 20,
      callbacks: {
        onBatchEnd: (b) => {
          if (first < 0 && b >= warmup - 1 && performance.now() - started >= 500) {
            first = b;
            t0 = performance.now();
          } else if (first >= 0 && b === first + steps) {
            t1 = performance.now();
            model.stopTraining = true;
          }
        },
      },
    });
    if (t1 === 0) throw new Error(`bench: ${batch}-image batches ran out before ${steps} timed steps`);
    return { value: (steps * batch) / ((t1 - t0) / 1000), unit: 'img/s', flopsPerImage: 3 * forwardFlops(model) };
  }
  if (cell.metric === 'infer') {
    const x = images.subarray(0, batch * 784);
    const s = await timeCalls(() => (workers > 1 ? model.predictAsync(x, { workers, batchSize: batch }) : model.predict(x, { batchSize: batch })), cell.reps, 1);
    return { value: batch / s, unit: 'img/s', flopsPerImage: forwardFlops(model) };
  }
  const s = await timeCalls((i) => model.predict(images.subarray((i % 1000) * 784, (i % 1000 + 1) * 784)), cell.reps, 20);
  return { value: s * 1000, unit: 'ms' };
}

/** Multiply-adds of the conv and dense layers, ×2: the forward FLOPs of one image. */
function forwardFlops(model) {
  return 2 * model.layerSummaries().filter((l) => ['Conv2D', 'Dense'].includes(l.className)).reduce((s, l) => s + l.connections, 0);
}

async function tfjs(backend) {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  const { fashionTf, lenetTf } = await import('./tfjs-models.mjs');
  const { batch } = cell;
  let fixes = (fn) => fn();
  if (cell.metric === 'train' && backend === 'wasm') {
    const { setupTfjsTraining } = await import('./tfjs-training.mjs');
    const { withOwnOpsGradient, withBothFixes } = await setupTfjsTraining(tf);
    fixes = cell.fixes === 2 ? withBothFixes : withOwnOpsGradient;
  }
  await tf.setBackend(backend);
  await tf.ready();
  const model = (cell.network === 'fashion' ? fashionTf : lenetTf)(tf);
  if (cell.metric === 'train') {
    const s = await fixes(() =>
      timeCalls(
        async (i) => {
          const x = tf.tensor4d(floats(i * batch, (i + 1) * batch), [batch, 28, 28, 1]);
          const y = tf.tensor1d(Array.from(labels.subarray(i * batch, (i + 1) * batch)), 'float32');
          await model.trainOnBatch(x, y);
          tf.dispose([x, y]);
        },
        cell.steps,
        cell.warmup,
      ),
    );
    return { value: batch / s, unit: 'img/s' };
  }
  const n = cell.metric === 'infer' ? batch : 1;
  const s = await timeCalls(
    async (i) => {
      const from = cell.metric === 'infer' ? 0 : i % 1000;
      const x = tf.tensor4d(floats(from, from + n), [n, 28, 28, 1]);
      const y = model.predict(x);
      await y.data();
      tf.dispose([x, y]);
    },
    cell.reps,
    cell.metric === 'infer' ? 1 : 20,
  );
  return cell.metric === 'infer' ? { value: batch / s, unit: 'img/s' } : { value: s * 1000, unit: 'ms' };
}

async function ortWeb() {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = cell.threads;
  const session = await ort.InferenceSession.create(await cw.exportOnnx(ourModel()));
  const n = cell.metric === 'infer' ? cell.batch : 1;
  const s = await timeCalls(
    async (i) => {
      const from = cell.metric === 'infer' ? 0 : i % 1000;
      const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(images.subarray(from * 784, (from + n) * 784)), [n, 28, 28, 1]) });
      void out;
    },
    cell.reps,
    cell.metric === 'infer' ? 1 : 20,
  );
  await session.release();
  return cell.metric === 'infer' ? { value: n / s, unit: 'img/s' } : { value: s * 1000, unit: 'ms' };
}

const result =
  cell.engine === 'convnet-wasm' ? await convnetWasm() : cell.engine === 'tfjs-wasm' ? await tfjs('wasm') : cell.engine === 'tfjs-cpu' ? await tfjs('cpu') : await ortWeb();
console.log(JSON.stringify({ ...result, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
process.exit(0);
