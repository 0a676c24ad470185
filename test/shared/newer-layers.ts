// Two small networks over 28×28×1 images that between them hold every layer and activation added
// after the two reference networks, for the export and round-trip tests.
import type * as Api from 'convnet-wasm';

/** Batch normalisation (with and without β), convs and dense layers without biases, spatial dropout, kernel penalties, LeakyReLU, ELU, gelu, swish, global average pooling: all of it in TF.js too. */
export function normalisedNet(api: typeof Api): Api.Sequential {
  const { layers } = api;
  return new api.Sequential({
    name: 'normalised',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }),
      layers.batchNormalization(),
      layers.leakyReLU({ alpha: 0.1 }),
      layers.maxPool2d(),
      layers.spatialDropout2d({ rate: 0.2 }),
      layers.conv2d({ filters: 12, kernelSize: 3, activation: 'gelu', kernelRegularizer: api.regularizers.l2(1e-4) }),
      layers.batchNormalization({ center: false, momentum: 0.9 }),
      layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, activation: 'swish' }),
      layers.elu(),
      layers.globalAveragePooling2d(),
      layers.dense({ units: 32, activation: 'elu', useBias: false, kernelRegularizer: api.regularizers.l1l2({ l1: 1e-5, l2: 1e-4 }) }),
      layers.batchNormalization({ scale: false }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

/** Keras 3's hard sigmoid and `leaky_relu` activation (TF.js has neither), an ELU with alpha 0.5 (TF.js's takes only 1), a softmax over channels mid-network, global max pooling, a Softmax layer as the output. */
export function keras3Net(api: typeof Api): Api.Sequential {
  const { layers } = api;
  return new api.Sequential({
    name: 'keras3',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      layers.conv2d({ filters: 8, kernelSize: 5, strides: 2, activation: 'leakyRelu' }),
      layers.softmax(),
      layers.conv2d({ filters: 12, kernelSize: 3, activation: 'hardSigmoid' }),
      layers.globalMaxPooling2d(),
      layers.elu({ alpha: 0.5 }),
      layers.dense({ units: 10 }),
      layers.softmax(),
    ],
  });
}
