// The residual network of docs/fashion-bn.md, now the library's models.fashionResNet() (the same
// layers in the same order as the graph this file built before: weights after a step hashed
// both ways, identical): a Conv–BN–ReLU and one residual block at 28×28×16, two at 14×14×32, two
// at 7×7×64, max-pooling between the stages; global average pooling, dropout and a softmax.
// tools/experiments/fashion-bn.mjs --arch resnet trains it.

/** `n`: fashionConvNetBN's options (translation, flip, dropout; the default head, no erasing, no dense layer; the filters are the network's own). */
export function resNet(cw, n) {
  if (n.denseUnits) throw new Error('--arch resnet: without a dense layer');
  if (n.head !== 'globalAverage' || n.erasing) throw new Error('--arch resnet: only the default head, without erasing');
  return cw.models.fashionResNet({ translation: n.translation, flip: n.flip, dropout: n.dropout });
}
