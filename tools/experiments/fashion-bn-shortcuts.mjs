// fashionConvNetBN's network as a graph model with identity shortcuts around the second conv of
// its first two stages (relu(bn(conv(x)) + x)): the same convs, the same arithmetic plus two adds.
// tools/experiments/fashion-bn.mjs --arch skip trains it; fashion-bn-graph-speed.mjs times it.
// graphParts() is what it shares with fashion-bn-resnet.mjs.

/**
 * The parts of a fashionConvNetBN-like graph: the input `x` and `t`, the input after the
 * recipe's shifts and flips; Conv–BN–ReLU pieces applied to a tensor; and `finish(t, name)`,
 * the recipe's head (global average pooling, an optional dense layer, dropout, softmax) and the
 * model. `n`: fashionConvNetBN's options; `what` names the network in errors.
 */
export function graphParts(cw, n, what) {
  const { layers } = cw;
  if (n.head !== 'globalAverage' || n.erasing) throw new Error(`${what}: only the default head, without erasing`);
  const conv = (t, filters) => layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(t);
  const bn = (t) => layers.batchNormalization().apply(t);
  const relu = (t) => layers.activation({ activation: 'relu' }).apply(t);
  const pool = (t) => layers.maxPool2d({ poolSize: 2 }).apply(t);
  const x = cw.input({ shape: [28, 28, 1] });
  let t = x;
  if (n.translation > 0) t = layers.randomTranslation({ heightFactor: n.translation, widthFactor: n.translation, fillMode: 'constant' }).apply(t);
  if (n.flip) t = layers.randomFlip({ mode: 'horizontal' }).apply(t);
  const finish = (t, name) => {
    t = layers.globalAveragePooling2d().apply(t);
    if (n.denseUnits > 0) t = layers.dense({ units: n.denseUnits, activation: 'relu', kernelInitializer: 'heNormal' }).apply(t);
    t = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.dropout({ rate: n.dropout }).apply(t));
    return cw.model({ inputs: x, outputs: t, name, preprocessing: { scale: 1 / 255, offset: 0 } });
  };
  return { layers, t, conv, bn, relu, pool, finish };
}

/** `n`: fashionConvNetBN's options (translation, flip, filters, denseUnits, dropout; the default head, no erasing). */
export function withShortcuts(cw, n) {
  const { layers, t: input, conv, bn, relu, pool, finish } = graphParts(cw, n, '--arch skip');
  const block = (t, filters) => relu(bn(conv(t, filters)));
  const shortcut = (t, filters) => relu(layers.add().apply([bn(conv(t, filters)), t]));
  const [f1, f2, f3] = n.filters;
  let t = pool(shortcut(block(input, f1), f1));
  t = pool(shortcut(block(t, f2), f2));
  return finish(block(t, f3), 'fashion_convnet_bn_skip');
}
