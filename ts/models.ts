/**
 * The reference networks, as plain functions returning a {@link Sequential} (or, for the
 * residual network, a graph model).
 * @module
 */
import { layers } from './layers/index.js';
import { oneOf } from './layers/base.js';
import { Sequential, type LayersModel } from './sequential.js';
import type { Split } from './datasets.js';
import { InvalidArgumentError } from './errors.js';
import { leNet5 } from './lenet.js';
import { input, model } from './functional.js';
import type { SymbolicTensor } from './layers/base.js';

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

/** Options of {@link fashionConvNetBN}. */
export interface FashionConvNetBNOptions {
  /** Random shifts and horizontal flips in training; default true. `false` leaves both out. */
  augment?: boolean;
  /** The random shifts' bound, as a fraction of the image's height and width; default 0.1 (0: no shifts). */
  translation?: number;
  /** Random horizontal flips in training; default true. */
  flip?: boolean;
  /**
   * Random erasing in training after the shifts and flips (Keras 3's RandomErasing with its
   * default scale and noise fills): each image is erased with a probability drawn from
   * `[0, erasing]`; default 0 (none). Not part of `augment`.
   */
  erasing?: number;
  /** Dropout rate before the softmax; default 0.3. */
  dropout?: number;
  /**
   * The filters of the three stages' convolutions (two convs at 28×28, two at 14×14, one at 7×7);
   * default `[32, 64, 128]`.
   */
  filters?: readonly [number, number, number];
  /**
   * What turns the last stage's 7×7 maps into a vector: `'globalAverage'` (the default) averages
   * each map, `'flatten'` keeps every position (7·7·filters[2] values), as the book's network does.
   */
  head?: 'globalAverage' | 'flatten';
  /** Units of a ReLU dense layer between the pooling (or flattening) and the dropout; default 0 (none). */
  denseUnits?: number;
}

/**
 * A Fashion-MNIST network of the later layers: Conv–BatchNormalization–ReLU blocks (32, 32, pool,
 * 64, 64, pool, 128; convs without biases), global average pooling, dropout 0.3 and a softmax,
 * with augmentation in training. 141,098 parameters (640 of them moving statistics). Inputs are
 * 28×28×1; 8-bit pixels are divided by 255. docs/fashion-bn.md has its recipe and results.
 */
export function fashionConvNetBN(options: FashionConvNetBNOptions = {}): Sequential {
  const block = (filters: number) => [
    layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }),
    layers.batchNormalization(),
    layers.activation({ activation: 'relu' }),
  ];
  const augment = options.augment ?? true;
  const translation = options.translation ?? 0.1;
  if (!(Number.isFinite(translation) && translation >= 0 && translation < 1)) {
    throw new InvalidArgumentError(`fashionConvNetBN: translation must be a fraction in [0, 1), got ${translation}`);
  }
  const filters = options.filters ?? [32, 64, 128];
  if (!Array.isArray(filters) || filters.length !== 3 || !filters.every((f) => Number.isInteger(f) && f >= 1)) {
    const got = Array.isArray(filters) ? `[${filters.join(', ')}]` : String(filters);
    throw new InvalidArgumentError(`fashionConvNetBN: filters must be three positive integers, got ${got}`);
  }
  const denseUnits = options.denseUnits ?? 0;
  if (!(Number.isInteger(denseUnits) && denseUnits >= 0)) {
    throw new InvalidArgumentError(`fashionConvNetBN: denseUnits must be a non-negative integer, got ${denseUnits}`);
  }
  const headKind = oneOf('fashionConvNetBN: head', options.head, ['globalAverage', 'flatten'] as const, 'globalAverage');
  const head = denseUnits > 0 ? [layers.dense({ units: denseUnits, activation: 'relu', kernelInitializer: 'heNormal' })] : [];
  const shifts = augment && translation > 0 ? [layers.randomTranslation({ heightFactor: translation, widthFactor: translation, fillMode: 'constant' })] : [];
  const flips = augment && (options.flip ?? true) ? [layers.randomFlip({ mode: 'horizontal' })] : [];
  const erasing = options.erasing ?? 0;
  if (!(Number.isFinite(erasing) && erasing >= 0 && erasing <= 1)) {
    throw new InvalidArgumentError(`fashionConvNetBN: erasing must be a probability in [0, 1], got ${erasing}`);
  }
  const erase = erasing > 0 ? [layers.randomErasing({ factor: erasing, valueRange: [0, 1] })] : [];
  return new Sequential({
    name: 'fashion_convnet_bn',
    inputShape: [28, 28, 1],
    preprocessing: { scale: 1 / 255, offset: 0 },
    layers: [
      ...shifts,
      ...flips,
      ...erase,
      ...block(filters[0]),
      ...block(filters[0]),
      layers.maxPool2d({ poolSize: 2 }),
      ...block(filters[1]),
      ...block(filters[1]),
      layers.maxPool2d({ poolSize: 2 }),
      ...block(filters[2]),
      headKind === 'flatten' ? layers.flatten() : layers.globalAveragePooling2d(),
      ...head,
      layers.dropout({ rate: options.dropout ?? 0.3 }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

/** Options of {@link fashionResNet}. */
export interface FashionResNetOptions {
  /** Random shifts and horizontal flips in training; default true. `false` leaves both out. */
  augment?: boolean;
  /** The random shifts' bound, as a fraction of the image's height and width; default 0.1 (0: no shifts). */
  translation?: number;
  /** Random horizontal flips in training; default true. */
  flip?: boolean;
  /** Dropout rate before the softmax; default 0.3. */
  dropout?: number;
  /** The filters of the three stages (28×28, 14×14, 7×7); default `[16, 32, 64]`. */
  filters?: readonly [number, number, number];
  /** Residual blocks per stage; default `[1, 2, 2]`. */
  blocks?: readonly [number, number, number];
}

/**
 * A residual Fashion-MNIST network (a graph model): at each of three stages (28×28, 14×14 and
 * 7×7, max-pooling between them) a Conv–BatchNormalization–ReLU that sets the width, then
 * residual blocks — Conv–BN–ReLU–Conv–BN added to the block's input, then ReLU — with 3×3 convs
 * without biases; global average pooling, dropout 0.3 and a softmax; random shifts and flips in
 * training. With the defaults (16, 32 and 64 filters; 1, 2 and 2 blocks): twelve convs, 214,874
 * parameters (1,056 of them moving statistics), about the arithmetic of {@link fashionConvNetBN}.
 * Inputs are 28×28×1; 8-bit pixels are divided by 255. docs/fashion-bn.md has its recipe and results.
 */
export function fashionResNet(options: FashionResNetOptions = {}): LayersModel {
  const what = 'fashionResNet';
  const augment = options.augment ?? true;
  const translation = options.translation ?? 0.1;
  if (!(Number.isFinite(translation) && translation >= 0 && translation < 1)) {
    throw new InvalidArgumentError(`${what}: translation must be a fraction in [0, 1), got ${translation}`);
  }
  const three = (name: string, v: readonly number[] | undefined, fallback: readonly [number, number, number], least: number) => {
    const got = v ?? fallback;
    if (!Array.isArray(got) || got.length !== 3 || !got.every((f) => Number.isInteger(f) && f >= least)) {
      throw new InvalidArgumentError(`${what}: ${name} must be three integers ≥ ${least}, got ${Array.isArray(got) ? `[${got.join(', ')}]` : String(got)}`);
    }
    return got as unknown as readonly [number, number, number];
  };
  const filters = three('filters', options.filters, [16, 32, 64], 1);
  const blocks = three('blocks', options.blocks, [1, 2, 2], 0);
  const conv = (t: SymbolicTensor, n: number) => layers.conv2d({ filters: n, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(t);
  const bn = (t: SymbolicTensor) => layers.batchNormalization().apply(t);
  const relu = (t: SymbolicTensor) => layers.activation({ activation: 'relu' }).apply(t);
  const stem = (t: SymbolicTensor, n: number) => relu(bn(conv(t, n)));
  const block = (t: SymbolicTensor, n: number) => relu(layers.add().apply([bn(conv(stem(t, n), n)), t]));
  const x = input({ shape: [28, 28, 1] });
  let t = x;
  if (augment && translation > 0) t = layers.randomTranslation({ heightFactor: translation, widthFactor: translation, fillMode: 'constant' }).apply(t);
  if (augment && (options.flip ?? true)) t = layers.randomFlip({ mode: 'horizontal' }).apply(t);
  for (let stage = 0; stage < 3; stage++) {
    if (stage > 0) t = layers.maxPool2d({ poolSize: 2 }).apply(t);
    const [width, count] = [filters[stage]!, blocks[stage]!];
    t = stem(t, width);
    for (let b = 0; b < count; b++) t = block(t, width);
  }
  t = layers.globalAveragePooling2d().apply(t);
  t = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.dropout({ rate: options.dropout ?? 0.3 }).apply(t));
  return model({ inputs: x, outputs: t, name: 'fashion_resnet', preprocessing: { scale: 1 / 255, offset: 0 } });
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
  /** {@inheritDoc fashionConvNetBN} */
  fashionConvNetBN,
  /** {@inheritDoc fashionResNet} */
  fashionResNet,
  /** {@inheritDoc leNet5} */
  leNet5,
};
