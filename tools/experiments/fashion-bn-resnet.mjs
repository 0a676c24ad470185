// A deeper residual network of about fashionConvNetBN's arithmetic (20.2 million connections per
// image in summary()'s count, against 22.0): Conv–BN–ReLU stems and residual blocks (conv–BN–ReLU–conv–BN added to
// the block's input, ReLU) at 28×28×16 (one block), 14×14×32 (two) and 7×7×64 (two), max-pooling
// between the stages, each stage widened by a Conv–BN–ReLU of its own; global average pooling,
// dropout and a softmax. Twelve convs deep against the recipe's five.
// tools/experiments/fashion-bn.mjs --arch resnet trains it.
import { graphParts } from './fashion-bn-shortcuts.mjs';

/** `n`: fashionConvNetBN's options (translation, flip, dropout; the default head, no erasing, no dense layer). */
export function resNet(cw, n) {
  if (n.denseUnits) throw new Error('--arch resnet: without a dense layer');
  const { layers, t: input, conv, bn, relu, pool, finish } = graphParts(cw, n, '--arch resnet');
  const stem = (t, filters) => relu(bn(conv(t, filters)));
  const block = (t, filters) => relu(layers.add().apply([bn(conv(stem(t, filters), filters)), t]));
  let t = pool(block(stem(input, 16), 16));
  t = pool(block(block(stem(t, 32), 32), 32));
  return finish(block(block(stem(t, 64), 64), 64), 'fashion_resnet');
}
