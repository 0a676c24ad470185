// Graph models (input(), apply(), the merge layers, model()): a small residual network, which the
// functional tests, the Node/Chromium identity test and the committed hashes train, and one with
// every merge layer (the committed hashes).
import type * as Api from 'convnet-wasm';

/**
 * conv–BN–ReLU and max pooling, a residual block (conv–BN–ReLU–conv–BN added to its input, ReLU),
 * its channels concatenated with a 1×1 conv's of the stem, global average and global max pooling
 * added together, dropout, a softmax; 8 filters (12 after the concatenation).
 */
export function residualNet(api: typeof Api, name = 'residual'): Api.LayersModel {
  const { layers, input, model } = api;
  const x = input({ shape: [28, 28, 1], name: 'pixels' });
  const conv = (t: Api.SymbolicTensor) => layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(t);
  // Momentum 0.9: the moving statistics catch up within the few steps the tests train.
  const bn = (t: Api.SymbolicTensor) => layers.batchNormalization({ momentum: 0.9 }).apply(t);
  const relu = (t: Api.SymbolicTensor) => layers.activation({ activation: 'relu' }).apply(t);
  const stem = layers.maxPool2d({ poolSize: 2 }).apply(relu(bn(conv(x))));
  const branch = bn(conv(relu(bn(conv(stem)))));
  const block = relu(layers.add().apply([branch, stem]));
  // The block's channels beside 4 more from a 1×1 conv of the stem.
  const side = layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu' }).apply(stem);
  const joined = layers.concatenate().apply([block, side]);
  // A merge of vectors.
  const pooled = layers.add().apply([layers.globalAveragePooling2d().apply(joined), layers.globalMaxPooling2d().apply(joined)]);
  const out = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.dropout({ rate: 0.2 }).apply(pooled));
  return model({ inputs: x, outputs: out, name, preprocessing: { scale: 1 / 255, offset: 0 } });
}

/**
 * Every merge layer in one graph, each reading tensors that others read too: tanh convs (6
 * filters) after a max-pooled stem, then subtract, a three-way multiply, average, maximum,
 * minimum, a three-way add, another subtract and a concatenation, global average pooling and a
 * softmax.
 */
export function mergesNet(api: typeof Api, name = 'merges'): Api.LayersModel {
  const { layers, input, model } = api;
  const conv = () => layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal', activation: 'tanh' });
  const x = input({ shape: [28, 28, 1] });
  const s = layers.maxPool2d({ poolSize: 2 }).apply(conv().apply(x));
  const a = conv().apply(s);
  const b = conv().apply(s);
  const c = conv().apply(a);
  const d = layers.subtract().apply([a, b]);
  const product = layers.multiply().apply([d, b, c]);
  const mean = layers.average().apply([product, a, s]);
  const top = layers.maximum().apply([mean, b, c]);
  const bottom = layers.minimum().apply([top, a]);
  const sum = layers.add().apply([bottom, d, s]);
  const joined = layers.concatenate().apply([layers.subtract().apply([sum, c]), top, s]);
  const out = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.globalAveragePooling2d().apply(joined));
  return model({ inputs: x, outputs: out, name, preprocessing: { scale: 1 / 255, offset: 0 } });
}
