// What the habit tests share: the wasm, real MNIST images, and the modern LeNet-5.
import { beforeAll } from 'vitest';
import * as cw from 'convnet-wasm';

let mnist: cw.Dataset;
beforeAll(async () => {
  await cw.init();
  mnist = await cw.datasets.mnist();
});

/** The MNIST dataset (loaded before the tests). */
export const data = (): cw.Dataset => mnist;
/** The modern LeNet-5, not compiled. */
export const modern = (): cw.Sequential => cw.models.leNet5({ variant: 'modern' });
/** The modern LeNet-5 compiled with Adam, seed 4. */
export const model = (): cw.Sequential => modern().compile({ optimizer: 'adam', seed: 4 });
/** The training images the asynchronous tests use. */
export const n = 256;
/** The first `count` training images (default 64) and their labels. */
export const x = (count = 64): Uint8Array => mnist.train.images.subarray(0, count * 784);
export const y = (count = 64): Uint8Array => mnist.train.labels.subarray(0, count);
