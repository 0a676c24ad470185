// fashionConvNetBN's network as a graph model with identity shortcuts around the second conv of
// its first two stages (relu(bn(conv(x)) + x)): the same convs, the same arithmetic plus two adds.
// tools/experiments/fashion-bn.mjs --arch skip trains it; fashion-bn-graph-speed.mjs times it.

/** `n`: fashionConvNetBN's options (translation, flip, filters, denseUnits, dropout; the default head, no erasing). */
export function withShortcuts(cw, n) {
  const { layers } = cw;
  if (n.head !== 'globalAverage' || n.erasing) throw new Error('--arch skip: only the default head, without erasing');
  const conv = (filters) => layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' });
  const relu = (t) => layers.activation({ activation: 'relu' }).apply(t);
  const block = (t, filters) => relu(layers.batchNormalization().apply(conv(filters).apply(t)));
  const shortcut = (t, filters) => relu(layers.add().apply([layers.batchNormalization().apply(conv(filters).apply(t)), t]));
  const x = cw.input({ shape: [28, 28, 1] });
  let t = x;
  if (n.translation > 0) t = layers.randomTranslation({ heightFactor: n.translation, widthFactor: n.translation, fillMode: 'constant' }).apply(t);
  if (n.flip) t = layers.randomFlip({ mode: 'horizontal' }).apply(t);
  const [f1, f2, f3] = n.filters;
  t = layers.maxPool2d({ poolSize: 2 }).apply(shortcut(block(t, f1), f1));
  t = layers.maxPool2d({ poolSize: 2 }).apply(shortcut(block(t, f2), f2));
  t = layers.globalAveragePooling2d().apply(block(t, f3));
  if (n.denseUnits > 0) t = layers.dense({ units: n.denseUnits, activation: 'relu', kernelInitializer: 'heNormal' }).apply(t);
  t = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.dropout({ rate: n.dropout }).apply(t));
  return cw.model({ inputs: x, outputs: t, name: 'fashion_convnet_bn_skip', preprocessing: { scale: 1 / 255, offset: 0 } });
}
