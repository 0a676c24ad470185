/**
 * The saved-model format and its storage, below the model classes: `model.json` (topology,
 * compile settings, format version, weights manifest, following TF.js's Layers format where the
 * layers match) and the weights file (little-endian float32, the manifest's tensors in order),
 * read and written as plain artifacts from `file://`, `indexeddb://` and `http(s)://` URLs.
 * Building a model from them is `saved-model.ts`'s work.
 * @module
 */
import { ConvnetError, ModelFormatError } from './errors.js';
import type { CompileConfig, Preprocessing } from './config.js';
import type { Shape3 } from './layers/index.js';
import { fileSystem, onPath } from './platform.js';
import { sha256Hex } from './hash.js';
import { isObject, isPlainFileName } from './validate.js';
import { getRecord, indexedDbKey, putRecord } from './indexeddb.js';
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
  /** A stack (`Sequential`), or a graph (`Model`: each layer lists the tensors it reads by name, the input's or layers'). */
  modelTopology:
    | {
        className: 'Sequential';
        config: {
          name: string;
          inputShape: Shape3;
          preprocessing: Preprocessing;
          layers: { className: string; name: string; config: Record<string, unknown> }[];
        };
      }
    | {
        className: 'Model';
        config: {
          name: string;
          inputShape: Shape3;
          preprocessing: Preprocessing;
          inputName: string;
          layers: { className: string; name: string; config: Record<string, unknown>; inbound: string[] }[];
        };
      };
  compileConfig: CompileConfig | null;
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
}

/** A model's topology and compile settings, as `model.json` and checkpoints record them. */
export type ModelDescription = Pick<ModelJson, 'modelTopology' | 'compileConfig'>;

/** A weight tensor's name and shape. */
export interface WeightSpec {
  name: string;
  shape: number[];
}

/** The artifacts of a model with this description, these weight tensors and these weights. */
export function modelArtifacts(description: ModelDescription, weightSpecs: readonly WeightSpec[], weights: Float32Array): ModelArtifacts {
  const modelJson: ModelJson = {
    format: FORMAT,
    formatVersion: FORMAT_VERSION,
    generatedBy: 'convnet-wasm',
    ...description,
    weightsManifest: [{ paths: ['weights.bin'], weights: weightSpecs.map((w) => ({ ...w, dtype: 'float32' as const })) }],
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

/** What `model.json` says of the model, checked for form (the layers check their own configs). */
export interface ParsedTopology {
  name: string;
  inputShape: Shape3;
  preprocessing: Preprocessing;
  layers: { className: string; name: string; config: Record<string, unknown> }[];
  /** A graph's wiring: its input's name and what each layer reads (names); undefined for a stack. */
  graph?: { inputName: string; inbound: string[][] };
  compileConfig: CompileConfig;
}

/** Checks the header and the topology's form; `where` names the source in messages. */
export function parseTopology(json: unknown, where: string): ParsedTopology {
  checkHeader(json, where);
  const topology = json.modelTopology;
  if (!isObject(topology) || (topology.className !== 'Sequential' && topology.className !== 'Model') || !isObject(topology.config)) {
    throw new ModelFormatError(`${where}: modelTopology must be a Sequential or a Model`);
  }
  const graph = topology.className === 'Model';
  const config = topology.config;
  if (!Array.isArray(config.layers)) throw new ModelFormatError(`${where}: modelTopology.config.layers must be a list`);
  const inbound: string[][] = [];
  const layers = config.layers.map((l: unknown, i: number) => {
    if (!isObject(l) || typeof l.className !== 'string' || typeof l.name !== 'string' || !isObject(l.config)) {
      throw new ModelFormatError(`${where}: layer ${i} must have a className, a name and a config`);
    }
    if (graph) {
      if (!Array.isArray(l.inbound) || l.inbound.length === 0 || !l.inbound.every((n) => typeof n === 'string')) {
        throw new ModelFormatError(`${where}: layer ${i} (${JSON.stringify(l.name)}) of a Model must list its inbound tensors' names`);
      }
      inbound.push(l.inbound as string[]);
    }
    return { className: l.className, name: l.name, config: l.config };
  });
  if (graph && typeof config.inputName !== 'string') throw new ModelFormatError(`${where}: a Model's config must name its input (inputName)`);
  return {
    name: typeof config.name === 'string' ? config.name : graph ? 'model' : 'sequential',
    inputShape: config.inputShape as Shape3,
    preprocessing: config.preprocessing as Preprocessing,
    layers,
    ...(graph ? { graph: { inputName: config.inputName as string, inbound } } : {}),
    compileConfig: isObject(json.compileConfig) ? (json.compileConfig as CompileConfig) : {},
  };
}

/**
 * The weights of artifacts whose model has the weight tensors `expected` (`count` values in
 * all), after checking the manifest and the byte count against them.
 */
export function readWeights(artifacts: ModelArtifacts, expected: readonly WeightSpec[], count: number, where: string): Float32Array {
  const json = artifacts.modelJson as unknown as Record<string, unknown>;
  const manifest = Array.isArray(json.weightsManifest) ? json.weightsManifest : [];
  const listed = manifest.flatMap((g: unknown) => (isObject(g) && Array.isArray(g.weights) ? g.weights : []));
  if (listed.length !== expected.length || listed.some((w, i) => !isObject(w) || JSON.stringify(w.shape) !== JSON.stringify(expected[i]!.shape))) {
    throw new ModelFormatError(`${where}: the weights manifest does not match the layers (expected ${expected.map((w) => `${w.name} [${w.shape}]`).join(', ')})`);
  }
  if (artifacts.weights.byteLength !== 4 * count) {
    throw new ModelFormatError(`${where}: the weights have ${artifacts.weights.byteLength} bytes; the model needs ${count} float32 values = ${4 * count} bytes`);
  }
  // Copy so that the floats are aligned and little-endian order is read explicitly.
  const view = new DataView(artifacts.weights.buffer, artifacts.weights.byteOffset, artifacts.weights.byteLength);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = view.getFloat32(4 * i, true);
  return values;
}

const FILE_SCHEME = 'file://';

/**
 * The directory of a `file://<dir>` URL, or of `file://<dir>/model.json` (as TF.js users write
 * it); `accepted` says what else the caller takes.
 */
export function directoryOf(url: string, accepted = 'file://<directory> (Node) or indexeddb://<name> (browsers)'): string {
  if (!url.startsWith(FILE_SCHEME) || url.length === FILE_SCHEME.length) {
    throw new ConvnetError('UNSUPPORTED_URL', `${JSON.stringify(url)}: use ${accepted}`);
  }
  const path = url.slice(FILE_SCHEME.length);
  if (path === 'model.json') return '.';
  return path.endsWith('/model.json') ? path.slice(0, -'/model.json'.length) || '/' : path;
}

/** A plain file name inside the model's directory: no separators, no `..`. */
function safeName(name: unknown, where: string): string {
  if (!isPlainFileName(name)) {
    throw new ModelFormatError(`${where}: weights path ${JSON.stringify(name)} must be a file name in the model's directory`);
  }
  return name;
}

/**
 * Writes artifacts to `indexeddb://<name>` (browsers, one transaction) or `file://<dir>` (Node):
 * `weights-<hash>.bin`, then `model.json`, each written atomically. `model.json` names its
 * weights file, so renaming it into place is the one moment the new save replaces the old: a
 * crash or a full disk before it leaves the previous save whole. Weights files no longer named
 * are removed afterwards.
 */
export async function writeArtifacts(artifacts: ModelArtifacts, url: string): Promise<{ modelJson: string; weights: string }> {
  const key = indexedDbKey(url);
  if (key !== undefined) {
    await putRecord(key, { modelJson: artifacts.modelJson, weights: artifacts.weights });
    return { modelJson: url, weights: url };
  }
  const dir = directoryOf(url);
  const fs = fileSystem('model.save(file://…)');
  const { modelJson, weights } = artifacts;
  const weightsName = `weights-${(await sha256Hex(weights)).slice(0, 16)}.bin`;
  modelJson.weightsManifest[0]!.paths = [weightsName];
  const failed = (message: string, cause: unknown) =>
    new ConvnetError('SAVE_FAILED', `model.save(): ${message}; the previous save in ${dir}, if any, is untouched`, { cause });
  await onPath(dir, () => fs.mkdir(dir), failed);
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
  const unused = (name: string) => name !== weightsName && (name === 'weights.bin' || /^weights-[0-9a-f]{16}\.bin$/.test(name));
  const cleanup = (message: string, cause: unknown) => new ConvnetError('SAVE_FAILED', `model.save(): the model was saved, but removing an old weights file failed: ${message}`, { cause });
  for (const name of (await onPath(dir, () => fs.list(dir), cleanup)).filter(unused)) {
    const path = fs.join(dir, name);
    await onPath(path, () => fs.remove(path), cleanup);
  }
  return { modelJson: jsonPath, weights: weightsPath };
}

/** Saved artifacts and where they came from (for messages). */
export interface ReadArtifacts {
  artifacts: ModelArtifacts;
  where: string;
}

/**
 * Reads what {@link writeArtifacts} wrote: from `file://<dir>` (Node), `indexeddb://<name>`
 * (browsers), or an `http(s)://` URL of its `model.json` (or of its directory, ending in `/`; in
 * a page, a relative URL works too).
 */
export async function readArtifacts(source: string): Promise<ReadArtifacts> {
  const key = indexedDbKey(source);
  if (key !== undefined) {
    const record = await getRecord(key);
    return { artifacts: { modelJson: record.modelJson as ModelJson, weights: record.weights }, where: source };
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
    // No model there is MODEL_NOT_FOUND, as for IndexedDB; any other failure to read is LOAD_FAILED.
    const code = (error as { code?: unknown }).code === 'ENOENT' ? 'MODEL_NOT_FOUND' : 'LOAD_FAILED';
    throw new ConvnetError(code, `${jsonPath}: ${(error as Error).message}`, { cause: error });
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

async function loadFromWeb(url: URL): Promise<ReadArtifacts> {
  const jsonUrl = url.pathname.endsWith('/') ? new URL('model.json', url) : url;
  const text = new TextDecoder().decode(await fetchBytes(jsonUrl));
  return readSaved(text, jsonUrl.href, (name) => fetchBytes(new URL(name, jsonUrl)));
}

/** Parses and checks `model.json`, then reads the weights files it names (plain names beside it). */
async function readSaved(text: string, where: string, read: (name: string) => Promise<Uint8Array>): Promise<ReadArtifacts> {
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
  return { artifacts: { modelJson, weights }, where };
}
