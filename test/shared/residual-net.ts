// A small residual network built as a graph (input(), apply(), layers.add(), model()): the
// functional tests and the Node/Chromium identity test train it.
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
