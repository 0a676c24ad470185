/**
 * Layer factories, Keras-style: `layers.conv2d({ filters: 64, kernelSize: 7, padding: 'same' })`.
 * One file per layer; this one lists them. A new layer is its file, one line in {@link layers}
 * and one in the class registry that `model.json` is read with.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { BaseLayerConfig, Layer } from './base.js';
import { ActivationLayer, type ActivationConfig } from './activation.js';
import { Concatenate, type ConcatenateConfig } from './concatenate.js';
import { BatchNormalization, type BatchNormalizationConfig } from './batch-normalization.js';
import { Conv2D, type Conv2DConfig } from './conv2d.js';
import { Dense, type DenseConfig } from './dense.js';
import { DepthwiseConv2D, type DepthwiseConv2DConfig } from './depthwise-conv2d.js';
import { Dropout, type DropoutConfig } from './dropout.js';
import { ELU, type ELUConfig } from './elu.js';
import { Flatten } from './flatten.js';
import { GlobalPool2D } from './global-pool2d.js';
import { LeakyReLU, type LeakyReLUConfig } from './leaky-relu.js';
import { Merge } from './merge.js';
import { Pool2D, type Pool2DConfig } from './pool2d.js';
import { RandomContrast, type RandomContrastConfig } from './random-contrast.js';
import { RandomErasing, type RandomErasingConfig } from './random-erasing.js';
import { RandomWarp, type RandomAffineConfig, type RandomFlipConfig, type RandomRotationConfig, type RandomTranslationConfig, type RandomZoomConfig } from './random-warp.js';
import { Rbf, type RbfConfig } from './rbf.js';
import { SeparableConv2D, type SeparableConv2DConfig } from './separable-conv2d.js';
import { Softmax } from './softmax.js';
import { SpatialDropout2D, type SpatialDropout2DConfig } from './spatial-dropout2d.js';
import { Subsampling2D, type Subsampling2DConfig } from './subsampling2d.js';
import { ZeroPadding2D, type ZeroPad2DConfig } from './zero-pad2d.js';

export { Layer, SymbolicTensor } from './base.js';
export type { Shape3, ActivationName, InitializerName, PaddingName, BaseLayerConfig } from './base.js';
export type { FillMode, Factor, FillConfig } from './random-warp.js';
export type {
  ActivationConfig,
  BatchNormalizationConfig,
  ConcatenateConfig,
  Conv2DConfig,
  DenseConfig,
  DepthwiseConv2DConfig,
  DropoutConfig,
  ELUConfig,
  LeakyReLUConfig,
  Pool2DConfig,
  RandomAffineConfig,
  RandomContrastConfig,
  RandomErasingConfig,
  RandomFlipConfig,
  RandomRotationConfig,
  RandomTranslationConfig,
  RandomZoomConfig,
  RbfConfig,
  SeparableConv2DConfig,
  SpatialDropout2DConfig,
  Subsampling2DConfig,
  ZeroPad2DConfig,
};

/** The layer factories. */
export const layers = {
  /** 2-D convolution over NHWC images, HWIO kernel (Keras's Conv2D). */
  conv2d: (config: Conv2DConfig): Layer => new Conv2D(config),
  /** Depthwise convolution, kernel [kh, kw, channels, depthMultiplier] (Keras's DepthwiseConv2D). */
  depthwiseConv2d: (config: DepthwiseConv2DConfig): Layer => new DepthwiseConv2D(config),
  /** A depthwise then a 1×1 convolution (Keras's SeparableConv2D). */
  separableConv2d: (config: SeparableConv2DConfig): Layer => new SeparableConv2D(config),
  /** Max pooling (Keras's MaxPooling2D). */
  maxPool2d: (config: Pool2DConfig = {}): Layer => new Pool2D('maxPool2d', config),
  /** Average pooling (Keras's AveragePooling2D); `same` windows average only the cells inside. */
  averagePool2d: (config: Pool2DConfig = {}): Layer => new Pool2D('averagePool2d', config),
  /** Flattens [h, w, c] to [h·w·c]. */
  flatten: (config: BaseLayerConfig = {}): Layer => new Flatten(config),
  /**
   * The element-wise sum of two or more inputs of one shape (Keras's Add): a graph model's merge,
   * `layers.add().apply([a, b])`, e.g. a residual connection. See {@link model}.
   */
  add: (config: BaseLayerConfig = {}): Layer => new Merge('add', config),
  /** The first of two inputs of one shape minus the second (Keras's Subtract): a graph model's merge. */
  subtract: (config: BaseLayerConfig = {}): Layer => new Merge('subtract', config),
  /** The element-wise product of two or more inputs of one shape (Keras's Multiply): a graph model's merge. */
  multiply: (config: BaseLayerConfig = {}): Layer => new Merge('multiply', config),
  /** The element-wise mean of two or more inputs of one shape (Keras's Average: their sum divided by their count). */
  average: (config: BaseLayerConfig = {}): Layer => new Merge('average', config),
  /** The element-wise maximum of two or more inputs of one shape (Keras's Maximum): a graph model's merge. */
  maximum: (config: BaseLayerConfig = {}): Layer => new Merge('maximum', config),
  /** The element-wise minimum of two or more inputs of one shape (Keras's Minimum): a graph model's merge. */
  minimum: (config: BaseLayerConfig = {}): Layer => new Merge('minimum', config),
  /**
   * The channels of two or more inputs of one height and width, one after another (Keras's
   * Concatenate on the last axis): a graph model's merge, `layers.concatenate().apply([a, b])`.
   */
  concatenate: (config: ConcatenateConfig = {}): Layer => new Concatenate(config),
  /** Fully connected layer, kernel [inputs, units] (Keras's Dense). */
  dense: (config: DenseConfig): Layer => new Dense(config),
  /** Dropout in training, identity in inference (Keras's Dropout, seeded inside the wasm). */
  dropout: (config: DropoutConfig): Layer => new Dropout(config),
  /** Drops whole feature maps in training, identity in inference (Keras's SpatialDropout2D, seeded inside the wasm). */
  spatialDropout2d: (config: SpatialDropout2DConfig): Layer => new SpatialDropout2D(config),
  /** Augmentation, training only (Keras's RandomTranslation): shifts each image by a random fraction of its size. */
  randomTranslation: (config: RandomTranslationConfig): Layer => new RandomWarp('randomTranslation', config as never),
  /** Augmentation, training only (Keras's RandomRotation): rotates each image by a random fraction of a turn. */
  randomRotation: (config: RandomRotationConfig): Layer => new RandomWarp('randomRotation', config as never),
  /** Augmentation, training only (Keras's RandomZoom). */
  randomZoom: (config: RandomZoomConfig): Layer => new RandomWarp('randomZoom', config as never),
  /** Augmentation, training only (Keras's RandomFlip). */
  randomFlip: (config: RandomFlipConfig = {}): Layer => new RandomWarp('randomFlip', config as never),
  /** Augmentation, training only: LeNet-5's random planar affine distortions (translation, scaling, squeezing, shearing). */
  randomAffine: (config: RandomAffineConfig): Layer => new RandomWarp('randomAffine', config as never),
  /** Augmentation, training only (Keras 3's RandomContrast). */
  randomContrast: (config: RandomContrastConfig): Layer => new RandomContrast(config),
  /** Augmentation, training only (Keras 3's RandomErasing): replaces a random rectangle of some images. */
  randomErasing: (config: RandomErasingConfig = {}): Layer => new RandomErasing(config),
  /** An activation on its own. */
  activation: (config: ActivationConfig): Layer => new ActivationLayer(config),
  /** Keras's LeakyReLU: x where x ≥ 0, else alpha·x (alpha default 0.3). */
  leakyReLU: (config: LeakyReLUConfig = {}): Layer => new LeakyReLU(config),
  /** Keras's ELU: x where x > 0, else alpha·(e^x − 1) (alpha default 1). */
  elu: (config: ELUConfig = {}): Layer => new ELU(config),
  /** Keras's Softmax layer over the channels; as the last layer, the model's probabilities. */
  softmax: (config: BaseLayerConfig = {}): Layer => new Softmax(config),
  /** Keras's BatchNormalization over the channels: batch statistics in training, moving ones in inference. */
  batchNormalization: (config: BatchNormalizationConfig = {}): Layer => new BatchNormalization(config),
  /** Keras's GlobalAveragePooling2D: each channel's mean over the image, [h, w, c] to [c]. */
  globalAveragePooling2d: (config: BaseLayerConfig = {}): Layer => new GlobalPool2D('globalAveragePooling2d', config),
  /** Keras's GlobalMaxPooling2D: each channel's largest value over the image, [h, w, c] to [c]. */
  globalMaxPooling2d: (config: BaseLayerConfig = {}): Layer => new GlobalPool2D('globalMaxPooling2d', config),
  /** Pads the image with a constant (Keras's ZeroPadding2D; any value). */
  zeroPad2d: (config: ZeroPad2DConfig): Layer => new ZeroPadding2D(config),
  /** LeNet-5's subsampling: `activation(coef[c]·Σwindow + bias[c])`, one trainable coefficient and bias per map. */
  subsampling2d: (config: Subsampling2DConfig = {}): Layer => new Subsampling2D(config),
  /** LeNet-5's output: Euclidean RBF units, `y_i = Σ_j (x_j − w_ij)²`, with fixed prototypes. */
  rbf: (config: RbfConfig): Layer => new Rbf(config),
};

/** The factory of each class name that `model.json` records (Keras's names where Keras has the layer). */
const BY_CLASS_NAME: Record<string, (config: never) => Layer> = {
  Conv2D: layers.conv2d,
  DepthwiseConv2D: layers.depthwiseConv2d,
  SeparableConv2D: layers.separableConv2d,
  MaxPooling2D: layers.maxPool2d,
  AveragePooling2D: layers.averagePool2d,
  Flatten: layers.flatten,
  Add: layers.add,
  Subtract: layers.subtract,
  Multiply: layers.multiply,
  Average: layers.average,
  Maximum: layers.maximum,
  Minimum: layers.minimum,
  Concatenate: layers.concatenate,
  Dense: layers.dense,
  Dropout: layers.dropout,
  RandomTranslation: layers.randomTranslation,
  RandomRotation: layers.randomRotation,
  RandomZoom: layers.randomZoom,
  RandomFlip: layers.randomFlip,
  RandomAffine: layers.randomAffine,
  RandomContrast: layers.randomContrast,
  RandomErasing: layers.randomErasing,
  SpatialDropout2D: layers.spatialDropout2d,
  Activation: layers.activation,
  LeakyReLU: layers.leakyReLU,
  ELU: layers.elu,
  Softmax: layers.softmax,
  BatchNormalization: layers.batchNormalization,
  GlobalAveragePooling2D: layers.globalAveragePooling2d,
  GlobalMaxPooling2D: layers.globalMaxPooling2d,
  ZeroPadding2D: layers.zeroPad2d,
  Subsampling2D: layers.subsampling2d,
  RBF: layers.rbf,
};

/** Rebuilds a layer from its saved class name and config (model.json). */
export function layerFromConfig(className: string, config: Record<string, unknown>, name: string): Layer {
  const factory = Object.hasOwn(BY_CLASS_NAME, className) ? BY_CLASS_NAME[className] : undefined;
  if (factory === undefined) throw new InvalidArgumentError(`unknown layer class ${JSON.stringify(className)}`);
  return factory({ ...config, name } as never);
}
