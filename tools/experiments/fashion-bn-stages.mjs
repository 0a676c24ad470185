// fashionConvNetBN's network with another number of Conv–BN–ReLU blocks per stage (the library's
// is 2, 2, 1: two convs at 28×28, two at 14×14, one at 7×7). `--convs 1,2,2` moves the second
// 28×28 conv's arithmetic to a second 7×7 conv (about the same multiply-adds per image, fewer
// passes over the large maps). tools/experiments/fashion-bn.mjs --convs trains it.

/** `n`: fashionConvNetBN's options (translation, flip, filters, denseUnits, dropout; the default head, no erasing); `convs`: blocks per stage. */
export function withStages(cw, n, convs) {
  const { layers } = cw;
  if (n.head !== 'globalAverage' || n.erasing) throw new Error('--convs: only the default head, without erasing');
  if (convs.length !== 3 || !convs.every((c) => Number.isInteger(c) && c >= 1)) throw new Error(`--convs must be three positive integers, got ${convs.join(',')}`);
  const block = (filters) => [
    layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }),
    layers.batchNormalization(),
    layers.activation({ activation: 'relu' }),
  ];
  const stage = (filters, count) => Array.from({ length: count }, () => block(filters)).flat();
  return new cw.Sequential({
    name: 'fashion_convnet_bn_stages',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      ...(n.translation > 0 ? [layers.randomTranslation({ heightFactor: n.translation, widthFactor: n.translation, fillMode: 'constant' })] : []),
      ...(n.flip ? [layers.randomFlip({ mode: 'horizontal' })] : []),
      ...stage(n.filters[0], convs[0]),
      layers.maxPool2d({ poolSize: 2 }),
      ...stage(n.filters[1], convs[1]),
      layers.maxPool2d({ poolSize: 2 }),
      ...stage(n.filters[2], convs[2]),
      layers.globalAveragePooling2d(),
      ...(n.denseUnits > 0 ? [layers.dense({ units: n.denseUnits, activation: 'relu', kernelInitializer: 'heNormal' })] : []),
      layers.dropout({ rate: n.dropout }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}
