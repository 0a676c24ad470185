// The two networks in TF.js Layers, for the benchmarks: Géron's Fashion ConvNet and the modern
// LeNet-5 (ReLU, max-pooling, softmax), the same layers as convnet-wasm's. TF.js has no Nadam,
// so both use Adam; the cost per step differs by a few element-wise operations.

/** Géron's Fashion-MNIST ConvNet (Hands-On ML, ch. 14). */
export function fashionTf(tf) {
  const conv = (filters, kernelSize, extra = {}) =>
    tf.layers.conv2d({ filters, kernelSize, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal', ...extra });
  const model = tf.sequential({
    layers: [
      conv(64, 7, { inputShape: [28, 28, 1] }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(128, 3),
      conv(128, 3),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(256, 3),
      conv(256, 3),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'sparseCategoricalCrossentropy' });
  return model;
}

/** LeNet-5, modern variant. */
export function lenetTf(tf) {
  const model = tf.sequential({
    layers: [
      tf.layers.zeroPadding2d({ padding: 2, inputShape: [28, 28, 1] }),
      tf.layers.conv2d({ filters: 6, kernelSize: 5, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 120, kernelSize: 5, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 84, activation: 'relu', kernelInitializer: 'heNormal' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'sparseCategoricalCrossentropy' });
  return model;
}
