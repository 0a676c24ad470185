/**
 * convnet-wasm: convolutional networks for JavaScript, with Rust/WebAssembly SIMD kernels.
 *
 * Import the package (`import { init } from 'convnet-wasm'`), not this file: the package entry
 * points for Node and browsers install the right wasm loader and re-export everything here.
 * @module convnet-wasm
 */
export { init, isInitialized, buildInfo, memory, relaxedSimdSupported } from './init.js';
export type { InitOptions, SimdFlavour, WasmSource, CompiledWasmModule } from './init.js';
export * as ops from './ops.js';
export { layers, Layer, SymbolicTensor } from './layers/index.js';
export type { Shape3, ActivationName, InitializerName, PaddingName, Conv2DConfig, Pool2DConfig, DenseConfig, DropoutConfig, ActivationConfig, BaseLayerConfig, ZeroPad2DConfig, Subsampling2DConfig, RbfConfig, BatchNormalizationConfig, ELUConfig, LeakyReLUConfig, SpatialDropout2DConfig, DepthwiseConv2DConfig, SeparableConv2DConfig, RandomTranslationConfig, RandomRotationConfig, RandomZoomConfig, RandomFlipConfig, RandomAffineConfig, RandomContrastConfig, RandomErasingConfig, ConcatenateConfig, FillMode, Factor, FillConfig } from './layers/index.js';
export { Sequential, LayersModel } from './sequential.js';
export { input, model } from './functional.js';
export type { InputConfig, ModelConfig } from './functional.js';
export type { SequentialConfig, WeightTensor, ResolvedCompileConfig } from './sequential.js';
export type { CompileConfig, Evaluation, Inputs, Labels, LossConfig, OptimizerConfig, LearningRate, Preprocessing } from './config.js';
export type { FitConfig } from './training.js';
export type { History, HistorySeries, Logs, Callbacks, Verbosity, CallbackModel, CallbackState } from './callbacks/base.js';
export { callbacks } from './callbacks/index.js';
export { regularizers } from './regularizers.js';
export type { Regularizer } from './regularizers.js';
export type { EarlyStoppingConfig, ModelCheckpointConfig, ReduceLROnPlateauConfig, CsvLoggerConfig, MonitorMode, MonitorName } from './callbacks/index.js';
export { models, fashionConvNet, fashionConvNetBN, fashionResNet, trainValidationSplit } from './models.js';
export type { FashionConvNetOptions, FashionConvNetBNOptions, FashionResNetOptions } from './models.js';
export { leNet5, leNet5Schedule, PAPER_ETAS, CONVNET_ETAS, C3_CONNECTIONS, DIGIT_BITMAPS, rbfPrototypes } from './lenet.js';
export type { LeNet5Options } from './lenet.js';
export { testTimeViews, MAX_VIEWS } from './views.js';
export type { View, ViewFlip } from './views.js';
export { cosineDecayPerEpoch } from './schedules.js';
export type { CosineDecayPerEpochOptions } from './schedules.js';
export { datasets, fashionMnist, mnist, parseIdx, datasetFromBytes } from './datasets.js';
export type { Dataset, Split, DatasetOptions, IdxFiles, Idx } from './datasets.js';
export { loadModel, saveModel, toArtifacts, fromArtifacts } from './saved-model.js';
export { FORMAT_VERSION } from './io.js';
export type { ModelArtifacts, ModelJson, ModelDescription } from './io.js';
export { CHECKPOINT_VERSION } from './checkpoint.js';
export { toTfjsLayers, fromTfjsLayers, saveTfjsLayers, loadTfjsLayers } from './tfjs.js';
export type { TfjsArtifacts, KerasLayer } from './tfjs.js';
export { exportOnnx } from './onnx.js';
export type { DenseShape, DenseGradients } from './ops.js';
export {
  ConvnetError,
  WasmLoadError,
  NotInitializedError,
  InvalidArgumentError,
  ShapeMismatchError,
  CheckpointError,
  DatasetError,
  ModelFormatError,
  TfjsFormatError,
  WasmPanicError,
} from './errors.js';
export { ERROR_CODES } from './errors.js';
export type { ErrorCode } from './errors.js';
