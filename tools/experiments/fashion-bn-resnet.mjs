// A deeper residual network of about fashionConvNetBN's arithmetic (20.2 million connections per
// image in summary()'s count, against 22.0): Conv–BN–ReLU stems and residual blocks (conv–BN–ReLU–conv–BN added to
// the block's input, ReLU) at 28×28×16 (one block), 14×14×32 (two) and 7×7×64 (two), max-pooling
// between the stages, each stage widened by a Conv–BN–ReLU of its own; global average pooling,
// dropout and a softmax. Twelve convs deep against the recipe's five.
// tools/experiments/fashion-bn.mjs --arch resnet trains it.

/** `n`: fashionConvNetBN's options (translation, flip, dropout; the default head, no erasing, no dense layer). */
export function resNet(cw, n) {
  const { layers } = cw;
  if (n.head !== 'globalAverage' || n.erasing || n.denseUnits) throw new Error('--arch resnet: only the default head, without erasing or a dense layer');
  const conv = (filters) => layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' });
  const bn = (t) => layers.batchNormalization().apply(t);
  const relu = (t) => layers.activation({ activation: 'relu' }).apply(t);
  const stem = (t, filters) => relu(bn(conv(filters).apply(t)));
  const block = (t, filters) => relu(layers.add().apply([bn(conv(filters).apply(stem(t, filters))), t]));
  const x = cw.input({ shape: [28, 28, 1] });
  let t = x;
  if (n.translation > 0) t = layers.randomTranslation({ heightFactor: n.translation, widthFactor: n.translation, fillMode: 'constant' }).apply(t);
  if (n.flip) t = layers.randomFlip({ mode: 'horizontal' }).apply(t);
  t = block(stem(t, 16), 16);
  t = layers.maxPool2d({ poolSize: 2 }).apply(t);
  t = block(block(stem(t, 32), 32), 32);
  t = layers.maxPool2d({ poolSize: 2 }).apply(t);
  t = block(block(stem(t, 64), 64), 64);
  t = layers.globalAveragePooling2d().apply(t);
  t = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.dropout({ rate: n.dropout }).apply(t));
  return cw.model({ inputs: x, outputs: t, name: 'fashion_resnet', preprocessing: { scale: 1 / 255, offset: 0 } });
}
