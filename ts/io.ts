/**
 * Saving and loading models: `model.json` (topology, compile settings, format version, weights
 * manifest, following TF.js's Layers format where the layers match) and `weights.bin`
 * (little-endian float32, the manifest's tensors in order). Also an in-memory form.
 * @module
 */
import { ConvnetError, ModelFormatError } from './errors.js';

export { ModelFormatError };
import { layerFromConfig, type Shape3 } from './layers.js';
import { fileSystem } from './platform.js';
import { sha256Hex } from './hash.js';
import { isObject, isPlainFileName } from './validate.js';
import { getRecord, indexedDbKey, putRecord } from './indexeddb.js';
import { Sequential, type CompileConfig, type Preprocessing } from './sequential.js';

import { FORMAT_VERSION } from './format.js';

export { FORMAT_VERSION };
const FORMAT = 'convnet-wasm/layers-model';


/** A model in memory: the parsed `model.json` and the weights' bytes. */
export interface ModelArtifacts {
  modelJson: ModelJson;
  weights: Uint8Array;
}

/** The contents of `model.json`. */
export interface ModelJson {
  format: string;
  formatVersion: number;
  generatedBy: string;
  modelTopology: {
    className: 'Sequential';
    config: {
      name: string;
      inputShape: Shape3;
      preprocessing: Preprocessing;
      layers: { className: string; name: string; config: Record<string, unknown> }[];
    };
  };
  compileConfig: CompileConfig | null;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
}

/** The model's topology and compile settings, as `model.json` and checkpoints record them. */
export function describeModel(model: Sequential): Pick<ModelJson, 'modelTopology' | 'compileConfig'> {
  const compile = model.compileConfig;
  return {
    modelTopology: {
      className: 'Sequential',
      config: {
        name: model.name,
        inputShape: model.inputShape,
        preprocessing: model.preprocessing,
        layers: model.layers.map((l) => ({ className: l.className, name: l.name!, config: l.config() })),
      },
    },
    compileConfig: compile ? { optimizer: compile.optimizer, loss: compile.loss, learningRate: compile.learningRate, seed: compile.seed } : null,
  };
}

/** The model's description and weights, in memory. The model must be compiled (weights live in the wasm). */
export function toArtifacts(model: Sequential): ModelArtifacts {
  const weights = model.getWeights();
  const modelJson: ModelJson = {
    format: FORMAT,
    formatVersion: FORMAT_VERSION,
    generatedBy: 'convnet-wasm',
    ...describeModel(model),
    weightsManifest: [{ paths: ['weights.bin'], weights: model.weightSpecs().map((w) => ({ ...w, dtype: 'float32' as const })) }],
  };
  return { modelJson, weights: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength) };
}


/** Checks the format name and version first, so a foreign or newer file gets the right message. */
function checkHeader(json: unknown, where: string): asserts json is Record<string, unknown> {
  if (!isObject(json) || json.format !== FORMAT) {
    throw new ModelFormatError(`${where}: not a convnet-wasm model.json (format ${JSON.stringify(isObject(json) ? json.format : json)})`);
  }
  if (json.formatVersion !== FORMAT_VERSION) {
    throw new ModelFormatError(
      `${where}: format version ${JSON.stringify(json.formatVersion)}; this convnet-wasm reads version ${FORMAT_VERSION}` +
        (typeof json.formatVersion === 'number' && json.formatVersion > FORMAT_VERSION ? ' (upgrade convnet-wasm)' : ''),
    );
  }
}

/** Rebuilds a compiled model from artifacts, checking everything before any wasm call. */
export function fromArtifacts(artifacts: ModelArtifacts, where = 'model'): Sequential {
  const json: unknown = artifacts.modelJson;
  checkHeader(json, where);
  const topology = json.modelTopology;
  if (!isObject(topology) || topology.className !== 'Sequential' || !isObject(topology.config)) {
    throw new ModelFormatError(`${where}: modelTopology must be a Sequential`);
  }
  const config = topology.config;
  if (!Array.isArray(config.layers)) throw new ModelFormatError(`${where}: modelTopology.config.layers must be a list`);
  let model: Sequential;
  try {
    model = new Sequential({
      name: typeof config.name === 'string' ? config.name : 'sequential',
      inputShape: config.inputShape as Shape3,
      preprocessing: config.preprocessing as Preprocessing,
      layers: config.layers.map((l: unknown, i: number) => {
        if (!isObject(l) || typeof l.className !== 'string' || typeof l.name !== 'string' || !isObject(l.config)) {
          throw new ModelFormatError(`layer ${i} must have a className, a name and a config`);
        }
        return layerFromConfig(l.className, l.config, l.name);
      }),
    });
  } catch (error) {
    throw new ModelFormatError(`${where}: ${(error as Error).message}`);
  }
  const compile = isObject(json.compileConfig) ? (json.compileConfig as CompileConfig) : {};
  const expected = model.weightSpecs();
  const manifest = Array.isArray(json.weightsManifest) ? json.weightsManifest : [];
  const listed = manifest.flatMap((g: unknown) => (isObject(g) && Array.isArray(g.weights) ? g.weights : []));
  if (listed.length !== expected.length || listed.some((w, i) => !isObject(w) || JSON.stringify(w.shape) !== JSON.stringify(expected[i]!.shape))) {
    throw new ModelFormatError(`${where}: the weights manifest does not match the layers (expected ${expected.map((w) => `${w.name} [${w.shape}]`).join(', ')})`);
  }
  const count = model.countParams();
  if (artifacts.weights.byteLength !== 4 * count) {
    throw new ModelFormatError(`${where}: the weights have ${artifacts.weights.byteLength} bytes; the model needs ${count} float32 values = ${4 * count} bytes`);
  }
  model.compile(compile);
  // Copy so that the floats are aligned and little-endian order is read explicitly.
  const view = new DataView(artifacts.weights.buffer, artifacts.weights.byteOffset, artifacts.weights.byteLength);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = view.getFloat32(4 * i, true);
  model.setWeights(values);
  return model;
}

const FILE_SCHEME = 'file://';

/** The directory of a `file://<dir>` URL; `accepted` says what else the caller takes. */
export function directoryOf(url: string, accepted = 'file://<directory> (Node) or indexeddb://<name> (browsers)'): string {
  if (!url.startsWith(FILE_SCHEME) || url.length === FILE_SCHEME.length) {
    throw new ConvnetError('UNSUPPORTED_URL', `${JSON.stringify(url)}: use ${accepted}`);
  }
  return url.slice(FILE_SCHEME.length);
}

/** A plain file name inside the model's directory: no separators, no `..`. */
function safeName(name: unknown, where: string): string {
  if (!isPlainFileName(name)) {
    throw new ModelFormatError(`${where}: weights path ${JSON.stringify(name)} must be a file name in the model's directory`);
  }
  return name;
}

/**
 * Saves a compiled model to `file://<dir>` (Node): `weights-<hash>.bin`, then `model.json`, each
 * written atomically. `model.json` names its weights file, so renaming it into place is the one
 * moment the new save replaces the old: a crash or a full disk before it leaves the previous save
 * whole. Weights files no longer named are removed afterwards.
 */
export async function saveModel(model: Sequential, url: string): Promise<{ modelJson: string; weights: string }> {
  const key = indexedDbKey(url);
  if (key !== undefined) {
    const { modelJson, weights } = toArtifacts(model);
    await putRecord(key, { modelJson, weights });
    return { modelJson: url, weights: url };
  }
  const dir = directoryOf(url);
  const fs = fileSystem('model.save(file://…)');
  const { modelJson, weights } = toArtifacts(model);
  const weightsName = `weights-${(await sha256Hex(weights)).slice(0, 16)}.bin`;
  modelJson.weightsManifest[0]!.paths = [weightsName];
  await fs.mkdir(dir);
  const weightsPath = fs.join(dir, weightsName);
  const jsonPath = fs.join(dir, 'model.json');
  const write = async (path: string, data: Uint8Array) => {
    try {
      await fs.writeFileAtomic(path, data);
    } catch (error) {
      throw new ConvnetError('SAVE_FAILED', `model.save(): could not write ${path} (${(error as Error).message}); the previous save in ${dir}, if any, is untouched`, {
        cause: error,
      });
    }
  };
  await write(weightsPath, weights);
  await write(jsonPath, new TextEncoder().encode(`${JSON.stringify(modelJson, null, 1)}\n`));
  for (const name of await fs.list(dir)) {
    if (name !== weightsName && (name === 'weights.bin' || /^weights-[0-9a-f]{16}\.bin$/.test(name))) await fs.remove(fs.join(dir, name));
  }
  return { modelJson: jsonPath, weights: weightsPath };
}

/**
 * Loads a model saved by {@link saveModel}: from `file://<dir>` (Node), `indexeddb://<name>`
 * (browsers), an `http(s)://` URL of its `model.json` (or of its directory, ending in `/`; in a
 * page, a relative URL works too), or from artifacts in memory.
 */
export async function loadModel(source: string | ModelArtifacts): Promise<Sequential> {
  if (typeof source !== 'string') return fromArtifacts(source);
  const key = indexedDbKey(source);
  if (key !== undefined) {
    const record = await getRecord(key);
    return fromArtifacts({ modelJson: record.modelJson as ModelJson, weights: record.weights }, source);
  }
  const web = webUrl(source);
  if (web !== undefined) return loadFromWeb(web);
  const dir = directoryOf(source, ACCEPTED_LOAD_URLS);
  const fs = fileSystem('loadModel(file://…)');
  const jsonPath = fs.join(dir, 'model.json');
  let text: string;
  try {
    text = new TextDecoder().decode(await fs.readFile(jsonPath));
  } catch (error) {
    throw new ModelFormatError(`${jsonPath}: ${(error as Error).message}`);
  }
  return readSaved(text, jsonPath, (name) => fs.readFile(fs.join(dir, name)));
}

const ACCEPTED_LOAD_URLS = 'file://<directory> (Node), indexeddb://<name> (browsers) or an http(s):// URL of model.json';

/** An http(s) URL, or in a page a relative one resolved against it; undefined for other schemes. */
function webUrl(source: string): URL | undefined {
  if (/^https?:\/\//i.test(source)) return new URL(source);
  const relative = !/^[a-z][a-z0-9+.-]*:/i.test(source);
  if (relative && typeof location !== 'undefined' && source !== '') return new URL(source, location.href);
  return undefined;
}

async function fetchBytes(url: URL): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new ConvnetError('LOAD_FAILED', `loadModel(): could not fetch ${url.href}: ${String(cause)}`, { cause });
  }
  if (!response.ok) throw new ConvnetError('LOAD_FAILED', `loadModel(): ${url.href} answered HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadFromWeb(url: URL): Promise<Sequential> {
  const jsonUrl = url.pathname.endsWith('/') ? new URL('model.json', url) : url;
  const text = new TextDecoder().decode(await fetchBytes(jsonUrl));
  return readSaved(text, jsonUrl.href, (name) => fetchBytes(new URL(name, jsonUrl)));
}

/** Parses and checks `model.json`, then reads the weights files it names (plain names beside it). */
async function readSaved(text: string, where: string, read: (name: string) => Promise<Uint8Array>): Promise<Sequential> {
  let modelJson: ModelJson;
  try {
    modelJson = JSON.parse(text) as ModelJson;
  } catch (error) {
    throw new ModelFormatError(`${where}: ${(error as Error).message}`);
  }
  checkHeader(modelJson, where);
  const group = Array.isArray(modelJson.weightsManifest) ? modelJson.weightsManifest[0] : undefined;
  const names = group && Array.isArray(group.paths) ? group.paths.map((p) => safeName(p, where)) : [];
  if (names.length === 0) throw new ModelFormatError(`${where}: no weights file in weightsManifest`);
  const parts = await Promise.all(names.map(read));
  const weights = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  parts.reduce((at, p) => (weights.set(p, at), at + p.length), 0);
  return fromArtifacts({ modelJson, weights }, where);
}
