/**
 * The reference networks, as plain functions returning a {@link Sequential}.
 * @module
 */
import { layers } from './layers/index.js';
import { Sequential } from './sequential.js';
import type { Split } from './datasets.js';
import { InvalidArgumentError } from './errors.js';
import { leNet5 } from './lenet.js';

/** Options of {@link fashionConvNet}. */
export interface FashionConvNetOptions {
  /** Dropout rate after each hidden dense layer; the book's 0.5 by default. */
  dropout?: number;
}

/**
 * Géron's Fashion-MNIST ConvNet (Hands-On Machine Learning, 3rd ed., ch. 14): five `same` convs
 * with ReLU and he_normal, three max-pools, dense 128 and 64 with dropout 0.5, softmax over 10.
 * 1,413,834 parameters. Inputs are 28×28×1; 8-bit pixels are divided by 255, as in the book.
 * Compile it with the book's recipe: `compile({ optimizer: 'nadam', seed: 42 })`.
 */
export function fashionConvNet(options: FashionConvNetOptions = {}): Sequential {
  const rate = options.dropout ?? 0.5;
  const conv = (filters: number, kernelSize: number) =>
    layers.conv2d({ filters, kernelSize, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal' });
  return new Sequential({
    name: 'fashion_convnet',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      conv(64, 7),
      layers.maxPool2d({ poolSize: 2 }),
      conv(128, 3),
      conv(128, 3),
      layers.maxPool2d({ poolSize: 2 }),
      conv(256, 3),
      conv(256, 3),
      layers.maxPool2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 128, activation: 'relu', kernelInitializer: 'heNormal' }),
      layers.dropout({ rate }),
      layers.dense({ units: 64, activation: 'relu', kernelInitializer: 'heNormal' }),
      layers.dropout({ rate }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

/**
 * The book's split of the 60,000 training images: the first `train` (55,000) for training, the
 * rest (5,000) for validation.
 */
export function trainValidationSplit(split: Split, train = 55_000): { train: Split; validation: Split } {
  if (!Number.isInteger(train) || train < 1 || train >= split.count) {
    throw new InvalidArgumentError(`trainValidationSplit: train must be an integer in [1, ${split.count - 1}], got ${train}`);
  }
  const per = split.images.length / split.count;
  const part = (from: number, to: number): Split => ({
    images: split.images.subarray(from * per, to * per),
    labels: split.labels.subarray(from, to),
    count: to - from,
  });
  return { train: part(0, train), validation: part(train, split.count) };
}

/** The reference networks. */
export const models = {
  /** {@inheritDoc fashionConvNet} */
  fashionConvNet,
  /** {@inheritDoc leNet5} */
  leNet5,
};
