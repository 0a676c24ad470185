// Shared by the training benchmarks: how TF.js 4.22 is made to train conv layers at all.
// TF.js's wasm backend cannot train conv layers: it has no Conv2DBackpropFilter kernel
// (tensorflow/tfjs#8474). The user fixes measured:
//  - fix 1, "own ops": Conv2D's gradient re-registered so that the filter gradient is itself a
//    wasm (XNNPACK) conv2d: dW[kh,kw,ci,co] = conv(x padded, transposed to [ci,H,W,n]; dy as a
//    [H,W,n,co] filter). The input gradient stays TF.js's conv2dTranspose (a scalar kernel in
//    the wasm backend);
//  - fix 2, on top of fix 1: the input gradient as an XNNPACK conv2d too: dx = conv(dy padded by
//    k − 1 − p, the filter flipped in both spatial axes with its channel axes swapped).
// Both are checked against the CPU backend's gradients before anything is timed.
/** Checks both fixes' gradients against the CPU backend; returns `withOwnOpsGradient` (fix 1) and `withBothFixes`. */
export async function setupTfjsTraining(tf) {
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
        filter: () => filterGradient(x, dy, k, pad),
      };
    },
  };
  function filterGradient(x, dy, k, pad) {
    const p = pad === 'same' ? (k - 1) / 2 : 0;
    const xt = tf.transpose(p ? tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]]) : x, [3, 1, 2, 0]);
    return tf.transpose(tf.conv2d(xt, tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid'), [1, 2, 0, 3]);
  }
  const bothFixesConv2dGradient = {
    ...ownOpsConv2dGradient,
    gradFunc: (dy, [x, filter], attrs) => {
      const grads = ownOpsConv2dGradient.gradFunc(dy, [x, filter], attrs);
      const k = filter.shape[0];
      const q = k - 1 - (attrs.pad === 'same' ? (k - 1) / 2 : 0);
      return {
        ...grads,
        x: () => {
          const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
          return tf.conv2d(q ? tf.pad(dy, [[0, 0], [q, q], [q, q], [0, 0]]) : dy, flipped, 1, 'valid');
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
    for (const [k, padding] of [[3, 'same'], [3, 'valid'], [5, 'same'], [5, 'valid']]) {
      const w = tf.randomUniform([k, k, 3, 5], -1, 1, 'float32', 2);
      const loss = (a, b) => tf.sum(tf.square(tf.conv2d(a, b, 1, padding)));
      await tf.setBackend('cpu');
      const ref = tf.grads(loss)([x, w]).map((t) => t.dataSync());
      await tf.setBackend('wasm');
      for (const [name, config] of [['fix 1', ownOpsConv2dGradient], ['fixes 1 and 2', bothFixesConv2dGradient]]) {
        const got = await withConvGradient(config, () => tf.grads(loss)([x, w]).map((t) => t.dataSync()));
        for (const [i, r] of ref.entries()) {
          const scale = Math.max(...r.map(Math.abs));
          const err = Math.max(...r.map((v, j) => Math.abs(v - got[i][j])));
          if (!(err <= 1e-5 * scale)) throw new Error(`bench: ${name} conv gradient (${padding}, ${i ? 'filter' : 'input'}) differs from TF.js CPU for a ${k}×${k} kernel (${err} vs scale ${scale})`);
        }
      }
    }
  }
  return {
    withOwnOpsGradient: (fn) => withConvGradient(ownOpsConv2dGradient, fn),
    withBothFixes: (fn) => withConvGradient(bothFixesConv2dGradient, fn),
  };
}
