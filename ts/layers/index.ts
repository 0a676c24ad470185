/**
 * Layer factories, Keras-style: `layers.conv2d({ filters: 64, kernelSize: 7, padding: 'same' })`.
 * One file per layer; this one lists them. A new layer is its file, one line in {@link layers}
 * and one in the class registry that `model.json` is read with.
 * @module
 */
import { InvalidArgumentError } from '../errors.js';
import type { BaseLayerConfig, Layer } from './base.js';
import { ActivationLayer, type ActivationConfig } from './activation.js';
import { Conv2D, type Conv2DConfig } from './conv2d.js';
import { Dense, type DenseConfig } from './dense.js';
import { Dropout, type DropoutConfig } from './dropout.js';
import { Flatten } from './flatten.js';
import { Pool2D, type Pool2DConfig } from './pool2d.js';
import { Rbf, type RbfConfig } from './rbf.js';
import { Subsampling2D, type Subsampling2DConfig } from './subsampling2d.js';
import { ZeroPadding2D, type ZeroPad2DConfig } from './zero-pad2d.js';

export { Layer } from './base.js';
export type { Shape3, ActivationName, InitializerName, PaddingName, BaseLayerConfig } from './base.js';
export type { ActivationConfig, Conv2DConfig, DenseConfig, DropoutConfig, Pool2DConfig, RbfConfig, Subsampling2DConfig, ZeroPad2DConfig };

/** The layer factories. */
export const layers = {
  /** 2-D convolution over NHWC images, HWIO kernel (Keras's Conv2D). */
  conv2d: (config: Conv2DConfig): Layer => new Conv2D(config),
  /** Max pooling (Keras's MaxPooling2D). */
  maxPool2d: (config: Pool2DConfig = {}): Layer => new Pool2D('maxPool2d', config),
  /** Average pooling (Keras's AveragePooling2D); `same` windows average only the cells inside. */
  averagePool2d: (config: Pool2DConfig = {}): Layer => new Pool2D('averagePool2d', config),
  /** Flattens [h, w, c] to [h·w·c]. */
  flatten: (config: BaseLayerConfig = {}): Layer => new Flatten(config),
  /** Fully connected layer, kernel [inputs, units] (Keras's Dense). */
  dense: (config: DenseConfig): Layer => new Dense(config),
  /** Dropout in training, identity in inference (Keras's Dropout, seeded inside the wasm). */
  dropout: (config: DropoutConfig): Layer => new Dropout(config),
  /** An activation on its own. */
  activation: (config: ActivationConfig): Layer => new ActivationLayer(config),
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
  MaxPooling2D: layers.maxPool2d,
  AveragePooling2D: layers.averagePool2d,
  Flatten: layers.flatten,
  Dense: layers.dense,
  Dropout: layers.dropout,
  Activation: layers.activation,
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
