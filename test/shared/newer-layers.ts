// Two small networks over 28×28×1 images that between them hold every layer and activation added
// after the two reference networks, for the export and round-trip tests.
import type * as Api from 'convnet-wasm';

/** Batch normalisation (with and without β), convs and dense layers without biases, separable and depthwise convs, spatial dropout, kernel penalties, LeakyReLU, ELU, gelu, swish, global average pooling: all of it in TF.js too. */
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
      layers.separableConv2d({ filters: 16, kernelSize: 3, strides: 2, depthMultiplier: 2, activation: 'swish' }),
      layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthwiseRegularizer: api.regularizers.l2(1e-4) }),
      layers.elu(),
      layers.globalAveragePooling2d(),
      layers.dense({ units: 32, activation: 'elu', useBias: false, kernelRegularizer: api.regularizers.l1l2({ l1: 1e-5, l2: 1e-4 }) }),
      layers.batchNormalization({ scale: false }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

/** Every augmentation layer; Keras 3's hard sigmoid and `leaky_relu` activation (TF.js has neither), an ELU with alpha 0.5 (TF.js's takes only 1), a softmax over channels mid-network, global max pooling, a Softmax layer as the output. */
export function keras3Net(api: typeof Api): Api.Sequential {
  const { layers } = api;
  return new api.Sequential({
    name: 'keras3',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      layers.randomTranslation({ heightFactor: 0.1, widthFactor: [-0.05, 0.15] }),
      layers.randomRotation({ factor: 0.05, fillMode: 'constant' }),
      layers.randomZoom({ heightFactor: [-0.1, 0.2], widthFactor: 0.1, fillMode: 'nearest' }),
      layers.randomFlip({ mode: 'horizontal' }),
      layers.randomAffine({ translation: 1, scale: 0.05, squeeze: 0.05, shear: 0.1, fillMode: 'wrap' }),
      layers.randomContrast({ factor: 0.2, valueRange: [0, 1] }),
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
