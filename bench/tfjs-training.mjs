// Shared by the training benchmarks: how TF.js 4.22 is made to train conv layers at all.
// TF.js's wasm backend cannot train conv layers: it has no Conv2DBackpropFilter kernel
// (tensorflow/tfjs#8474). Two ways round it, both measured:
//  - "CPU fallback": a wasm Conv2DBackpropFilter kernel that copies the data to the CPU backend,
//    runs its kernel and copies the result back (what the issue tracker suggests);
//  - "own ops": Conv2D's gradient re-registered so that the filter gradient is itself a wasm
//    (XNNPACK) conv2d: dW[kh,kw,ci,co] = conv(x padded, transposed to [ci,H,W,n]; dy as a
//    [H,W,n,co] filter). Checked against the CPU gradient below before it is timed.
/** Registers the CPU-fallback kernel and checks the own-ops gradient; returns `withOwnOpsGradient`. */
export async function setupTfjsTraining(tf) {
  const cpuKernel = tf.getKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const cpu = tf.engine().findBackend('cpu');
      const toCpu = (t) => ({ dataId: cpu.write(backend.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype });
      const x = toCpu(inputs.x);
      const dy = toCpu(inputs.dy);
      const out = cpuKernel.kernelFunc({ inputs: { x, dy }, backend: cpu, attrs });
      const values = cpu.readSync(out.dataId);
      for (const t of [x, dy, out]) cpu.disposeData(t.dataId);
      return { dataId: backend.write(values, out.shape, out.dtype), shape: out.shape, dtype: out.dtype };
    },
  });
  const tfConv2dGradient = tf.getGradient('Conv2D');
  const ownOpsConv2dGradient = {
    kernelName: 'Conv2D',
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, [x, filter], { strides, pad, dilations }) => {
      const k = filter.shape[0];
      if (filter.shape[1] !== k || k % 2 !== 1 || [strides, dilations].some((s) => s !== 1 && String(s) !== '1,1')) {
        throw new Error('bench: the own-ops conv gradient handles stride 1, odd square kernels only');
      }
      return {
        x: () => tf.conv2dTranspose(dy, filter, x.shape, strides, pad),
        filter: () => {
          const p = pad === 'same' ? (k - 1) / 2 : 0;
          const xt = tf.transpose(p ? tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) : x, [3, 1, 2, 0]);
          return tf.transpose(tf.conv2d(xt, tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid'), [1, 2, 0, 3]);
        },
      };
    },
  };
  /** Runs `fn` with TF.js's Conv2D gradient replaced by `config`, then restores it. */
  async function withConvGradient(config, fn) {
    tf.registerGradient(config);
    try {
      return await fn();
    } finally {
      tf.registerGradient(tfConv2dGradient);
    }
  }
  {
    // The own-ops gradient must agree with TF.js's CPU kernel, or the comparison means nothing.
    await tf.setBackend('cpu');
    const x = tf.randomUniform([4, 9, 9, 3], 0, 1, 'float32', 1);
    const w = tf.randomUniform([3, 3, 3, 5], -1, 1, 'float32', 2);
    for (const padding of ['same', 'valid']) {
      const loss = (a, b) => tf.sum(tf.square(tf.conv2d(a, b, 1, padding)));
      await tf.setBackend('cpu');
      const ref = tf.grads(loss)([x, w]).map((t) => t.dataSync());
      await tf.setBackend('wasm');
      const got = await withConvGradient(ownOpsConv2dGradient, () => tf.grads(loss)([x, w]).map((t) => t.dataSync()));
      for (const [i, r] of ref.entries()) {
        const scale = Math.max(...r.map(Math.abs));
        const err = Math.max(...r.map((v, j) => Math.abs(v - got[i][j])));
        if (!(err <= 1e-5 * scale)) throw new Error(`bench: own-ops conv gradient (${padding}) differs from TF.js CPU (${err} vs scale ${scale})`);
      }
    }
  }
  return { withOwnOpsGradient: (fn) => withConvGradient(ownOpsConv2dGradient, fn) };
}

/** Seconds per step over `steps` steps after `warmup` steps; `step(i)` runs batch i. */
export async function timeSteps(step, steps, warmup) {
  for (let i = 0; i < warmup; i++) await step(i);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step(warmup + i);
  return (performance.now() - t0) / 1000 / steps;
}

/**
 * Seconds per training step of a fresh TF.js model from `build()` on `backend`, over `steps` steps
 * after `warmup`, each on batch i of the 8-bit `pixels` (÷255) and `labels`.
 */
export async function timeTfjsSteps(tf, build, { backend, pixels, labels, batch, steps, warmup }) {
  await tf.setBackend(backend);
  await tf.ready();
  const model = build();
  const seconds = await timeSteps(
    async (i) => {
      const x = tf.tensor4d(Float32Array.from(pixels.subarray(i * batch * 784, (i + 1) * batch * 784), (p) => p / 255), [batch, 28, 28, 1]);
      const y = tf.tensor1d(Array.from(labels.subarray(i * batch, (i + 1) * batch)), 'float32');
      await model.trainOnBatch(x, y);
      tf.dispose([x, y]);
    },
    steps,
    warmup,
  );
  model.dispose();
  return seconds;
}
