/**
 * Saving and loading whole models: a {@link LayersModel} (a stack or a graph) to and from the saved-model artifacts of
 * `io.ts` (`model.json` and its weights), in memory or at a URL.
 * @module
 */
import { ModelFormatError } from './errors.js';
import { layerFromConfig } from './layers/index.js';
import { LayersModel, Sequential } from './sequential.js';
import { graphModel } from './functional.js';
import { modelArtifacts, parseTopology, readArtifacts, readWeights, type ModelArtifacts } from './io.js';

/** The model's description and weights, in memory. The model must be compiled (weights live in the wasm). */
export function toArtifacts(model: LayersModel): ModelArtifacts {
  return modelArtifacts(model.describe(), model.weightSpecs(), model.getWeightsFlat());
}

/** Rebuilds a compiled model from artifacts, checking everything before any wasm call. */
export function fromArtifacts(artifacts: ModelArtifacts, where = 'model'): LayersModel {
  const parsed = parseTopology(artifacts.modelJson, where);
  let model: LayersModel;
  try {
    const layers = parsed.layers.map((l) => layerFromConfig(l.className, l.config, l.name));
    const base = { name: parsed.name, inputShape: parsed.inputShape, preprocessing: parsed.preprocessing };
    model = parsed.graph === undefined ? new Sequential({ ...base, layers }) : graphModel({ ...base, inputName: parsed.graph.inputName }, layers, parsed.graph.inbound);
  } catch (error) {
    throw new ModelFormatError(`${where}: ${(error as Error).message}`);
  }
  const weights = readWeights(artifacts, model.weightSpecs(), model.countParams(), where);
  model.compile(parsed.compileConfig);
  model.setWeights(weights);
  return model;
}

/**
 * Saves a compiled model: `file://<dir>` (Node) writes model.json and its weights file
 * atomically; `indexeddb://<name>` (browsers) stores both in one IndexedDB transaction.
 */
export function saveModel(model: LayersModel, url: string): Promise<{ modelJson: string; weights: string }> {
  return model.save(url);
}

/**
 * Loads a model saved by {@link saveModel}: from `file://<dir>` (Node), `indexeddb://<name>`
 * (browsers), an `http(s)://` URL of its `model.json` (or of its directory, ending in `/`; in a
 * page, a relative URL works too), or from artifacts in memory.
 */
export async function loadModel(source: string | ModelArtifacts): Promise<LayersModel> {
  if (typeof source !== 'string') return fromArtifacts(source);
  const { artifacts, where } = await readArtifacts(source);
  return fromArtifacts(artifacts, where);
}
