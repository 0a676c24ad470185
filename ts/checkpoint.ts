/**
 * Training checkpoints: one file, `<dir>/checkpoint.bin`, holding everything a run needs to go on
 * exactly where it stopped — the model (topology and compile settings), the weights, the
 * optimiser's state and the random generator's state (from the wasm), the position (epoch, next
 * batch, the epoch's shuffle order), the running sums of the epoch and the history so far.
 *
 * Layout: the magic `CNWCKPT1`, a u32 (little-endian) header length, the header as UTF-8 JSON,
 * then the payload: weights (f32 LE), training state (bytes), shuffle order (u32 LE), and the
 * weights the callbacks hold (f32 LE; version 2, whose header adds the callbacks' states). The header
 * records each section's length and the payload's SHA-256, so a damaged file is detected.
 *
 * The file is written to a temporary name, flushed and renamed over the previous checkpoint, so a
 * crash at any moment leaves either the old checkpoint or the new one, whole.
 * @module
 */
import { CheckpointError } from './errors.js';
import { sha256Hex } from './hash.js';
import type { ModelDescription } from './io.js';
import { fileSystem, onPath } from './platform.js';
import { isObject } from './validate.js';
import { restoreHistory, type CallbackState, type History } from './callbacks/base.js';


const MAGIC = 'CNWCKPT1';
const FORMAT = 'convnet-wasm/checkpoint';
/** The checkpoint format this version writes; it also reads version 1 (no callback states). */
export const CHECKPOINT_VERSION = 2;
/** A header larger than this is refused before it is read (a real one is a few KiB). */
const MAX_HEADER = 16 << 20;

/** Where a run is: the next batch to train is `batch` of epoch `epoch` (both from 0). */
export interface Position {
  epoch: number;
  batch: number;
  /** The fit's geometry, which the position only means something with. */
  epochs: number;
  batchSize: number;
  trainCount: number;
  shuffle: boolean;
  /** Data-parallel fits: the micro-batch size (results depend on it). */
  microBatchSize?: number;
}

/** The running sums of the epoch in progress. */
export interface EpochSums {
  lossSum: number;
  correct: number;
  seen: number;
}

/** A checkpoint in memory. */
export interface Checkpoint {
  /** The model's `model.json` (no weights manifest is needed: the weights follow the topology). */
  model: ModelDescription;
  position: Position;
  sums: EpochSums;
  history: History;
  weights: Float32Array;
  trainingState: Uint8Array;
  /** The shuffle order of epoch `position.epoch`, when it is under way (empty at an epoch boundary). */
  order: Uint32Array;
  /** Optimiser steps taken, for messages. */
  step: number;
  /** The fit's callbacks' states, in order (null for a callback without one). */
  callbacks: (CallbackState | null)[];
}

/** A callback's state in the header: its weights are in the payload, by length. */
type SavedCallbackState = Omit<CallbackState, 'weights'> & { weights: number };

interface Header {
  format: string;
  formatVersion: number;
  model: Checkpoint['model'];
  position: Position;
  sums: EpochSums;
  history: History;
  step: number;
  callbacks?: (SavedCallbackState | null)[];
  sections: { weights: number; trainingState: number; order: number; callbackWeights?: number };
  sha256: string;
}

function littleEndianBytes(a: Float32Array | Uint32Array): Uint8Array {
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  a.forEach((v, i) => (a instanceof Float32Array ? view.setFloat32(4 * i, v, true) : view.setUint32(4 * i, v, true)));
  return out;
}

/** Encodes a checkpoint as the bytes of `checkpoint.bin`. */
export async function encodeCheckpoint(c: Checkpoint): Promise<Uint8Array> {
  const held = c.callbacks.flatMap((s) => (s?.weights ? [s.weights] : []));
  const callbackWeights = new Float32Array(held.reduce((n, w) => n + w.length, 0));
  held.reduce((at, w) => (callbackWeights.set(w, at), at + w.length), 0);
  const sections = [littleEndianBytes(c.weights), c.trainingState, littleEndianBytes(c.order), littleEndianBytes(callbackWeights)];
  const payload = new Uint8Array(sections.reduce((s, p) => s + p.length, 0));
  sections.reduce((at, p) => (payload.set(p, at), at + p.length), 0);
  const header: Header = {
    format: FORMAT,
    formatVersion: CHECKPOINT_VERSION,
    model: c.model,
    position: c.position,
    sums: c.sums,
    history: c.history,
    step: c.step,
    callbacks: c.callbacks.map((s) => s && { ...s, weights: s.weights?.length ?? 0 }),
    sections: { weights: sections[0]!.length, trainingState: sections[1]!.length, order: sections[2]!.length, callbackWeights: sections[3]!.length },
    sha256: await sha256Hex(payload),
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + json.length + payload.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  out.set(json, MAGIC.length + 4);
  out.set(payload, MAGIC.length + 4 + json.length);
  return out;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Decodes `checkpoint.bin`, checking the magic, the version, every length and the checksum. */
export async function decodeCheckpoint(bytes: Uint8Array, where: string): Promise<Checkpoint> {
  const fail = (why: string) => new CheckpointError(`${where}: ${why}`);
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) {
    throw fail('not a convnet-wasm checkpoint (bad magic)');
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (headerLength > MAX_HEADER || start + headerLength > bytes.length) {
    throw fail(`the header claims ${headerLength} bytes; the file has ${bytes.length - start} after the magic`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + headerLength)));
  } catch (error) {
    throw fail(`the header is not JSON (${(error as Error).message})`);
  }
  if (!isObject(header) || header.format !== FORMAT) throw fail('the header is not a convnet-wasm checkpoint header');
  if (header.formatVersion !== CHECKPOINT_VERSION && header.formatVersion !== 1) {
    throw fail(`checkpoint format version ${JSON.stringify(header.formatVersion)}; this convnet-wasm reads versions 1 to ${CHECKPOINT_VERSION}`);
  }
  const h = header as unknown as Header;
  const s = h.sections;
  const held = isObject(s) && s.callbackWeights !== undefined ? s.callbackWeights : 0;
  if (!isObject(s) || !isCount(s.weights) || !isCount(s.trainingState) || !isCount(s.order) || !isCount(held) || s.weights % 4 !== 0 || s.order % 4 !== 0 || held % 4 !== 0) {
    throw fail('the header has no valid section lengths');
  }
  const payload = bytes.subarray(start + headerLength);
  const listed = s.weights + s.trainingState + s.order + held;
  if (payload.length !== listed) throw fail(`the payload has ${payload.length} bytes; the header lists ${listed} (the file is truncated or padded)`);
  if ((await sha256Hex(payload)) !== h.sha256) throw fail('the payload does not match its SHA-256 (the file is damaged)');
  const p = h.position;
  if (!isObject(p) || ![p.epoch, p.batch, p.epochs, p.batchSize, p.trainCount].every(isCount) || typeof p.shuffle !== 'boolean' || (p.microBatchSize !== undefined && !(isCount(p.microBatchSize) && p.microBatchSize >= 1))) {
    throw fail('the header has no valid position');
  }
  const sums = h.sums;
  if (!isObject(sums) || typeof sums.lossSum !== 'number' || !isCount(sums.correct) || !isCount(sums.seen)) throw fail('the header has no valid epoch sums');
  if (!isObject(h.history) || !Array.isArray(h.history.epoch) || !isObject(h.history.history)) throw fail('the header has no valid history');
  if (!isObject(h.model) || !isObject(h.model.modelTopology)) throw fail('the header has no model');
  // Copies, so that the arrays are aligned; the floats are read as little-endian.
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const weights = Float32Array.from({ length: s.weights / 4 }, (_, i) => view.getFloat32(4 * i, true));
  const trainingState = payload.slice(s.weights, s.weights + s.trainingState);
  const orderAt = s.weights + s.trainingState;
  const order = Uint32Array.from({ length: s.order / 4 }, (_, i) => view.getUint32(orderAt + 4 * i, true));
  const history = restoreHistory(h.history as unknown as { epoch: number[]; history: Record<string, unknown> });
  const callbacks = readCallbackStates(h.callbacks ?? [], view, orderAt + s.order, held / 4, fail);
  return { model: h.model, position: p, sums, history, weights, trainingState, order, step: isCount(h.step) ? h.step : 0, callbacks };
}

/** The callbacks' states of a header, with their weights from the payload; every field checked. */
function readCallbackStates(saved: unknown, view: DataView, at: number, floats: number, fail: (why: string) => CheckpointError): (CallbackState | null)[] {
  if (!Array.isArray(saved)) throw fail('the header has no valid callback states');
  let used = 0;
  const isValue = (v: unknown) => v === null || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
  const states = saved.map((raw: unknown): CallbackState | null => {
    if (raw === null) return null;
    if (!isObject(raw) || typeof raw.type !== 'string' || !isObject(raw.values) || !Object.values(raw.values).every(isValue) || !isCount(raw.weights)) {
      throw fail('the header has a callback state that is not valid');
    }
    const state: CallbackState = { type: raw.type, values: raw.values as CallbackState['values'] };
    if (raw.table !== undefined) {
      const t = raw.table;
      if (!isObject(t) || !Array.isArray(t.columns) || !t.columns.every((c) => typeof c === 'string') || !Array.isArray(t.rows) || !t.rows.every((r) => Array.isArray(r) && r.length === (t.columns as string[]).length + 1 && r.every((v) => typeof v === 'number' || v === null))) {
        throw fail(`the header has a ${raw.type} table that is not valid`);
      }
      state.table = { columns: t.columns as string[], rows: (t.rows as (number | null)[][]).map((r) => r.map((v) => v ?? NaN)) };
    }
    if (raw.weights > 0) {
      if (used + raw.weights > floats) throw fail(`the ${raw.type} callback's weights run past the payload`);
      state.weights = Float32Array.from({ length: raw.weights }, (_, i) => view.getFloat32(at + 4 * (used + i), true));
      used += raw.weights;
    }
    return state;
  });
  if (used !== floats) throw fail(`the payload holds ${floats} callback weights; the states use ${used}`);
  return states;
}

/** The checkpoint file in a directory. */
export function checkpointPath(dir: string): string {
  return fileSystem('checkpoints').join(dir, 'checkpoint.bin');
}

/** Writes a checkpoint atomically (temporary file, fsync, rename, directory fsync). */
export async function writeCheckpoint(dir: string, c: Checkpoint): Promise<void> {
  const fs = fileSystem('checkpoints');
  const failed = (message: string) => new CheckpointError(`could not write a checkpoint: ${message}`);
  await onPath(dir, () => fs.mkdir(dir), failed);
  const path = checkpointPath(dir);
  try {
    await fs.writeFileAtomic(path, await encodeCheckpoint(c));
  } catch (error) {
    throw new CheckpointError(`could not write ${path} (${(error as Error).message}); the previous checkpoint, if any, is untouched`);
  }
}

/** Removes the temporary files an interrupted write left in `dir`. */
export async function removeStaleTemporaries(dir: string): Promise<void> {
  const fs = fileSystem('checkpoints');
  const failed = (message: string) => new CheckpointError(`could not read the checkpoint directory: ${message}`);
  for (const name of await onPath(dir, () => fs.list(dir), failed)) {
    const path = fs.join(dir, name);
    if (fs.isTemporary(name)) await onPath(path, () => fs.remove(path), failed);
  }
}

/** Reads the checkpoint in `dir`, or undefined when there is none. */
export async function readCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  const fs = fileSystem('checkpoints');
  const path = checkpointPath(dir);
  const failed = (message: string) => new CheckpointError(`could not read the checkpoint: ${message}`);
  if (!(await onPath(path, () => fs.exists(path), failed))) return undefined;
  return decodeCheckpoint(await onPath(path, () => fs.readFile(path), failed), path);
}

/** What a {@link Checkpointer} needs of the model it saves and restores. */
export interface CheckpointedModel {
  readonly name: string;
  describe(): ModelDescription;
  countParams(): number;
  getWeightsFlat(): Float32Array;
  setWeights(values: Float32Array): void;
  /** The optimiser's and the generator's state, from the wasm. */
  trainingState(): Uint8Array;
  setTrainingState(bytes: Uint8Array): void;
  /** Optimiser steps taken. */
  iterations(): number;
}

/** The fit geometry a checkpoint is only good for. */
export type FitGeometry = Pick<Position, 'epochs' | 'batchSize' | 'trainCount' | 'shuffle' | 'microBatchSize'>;

/** Saves and restores the checkpoints of one fit() in `dir`. */
export class Checkpointer {
  private readonly where: string;

  private constructor(
    private readonly dir: string,
    private readonly geometry: FitGeometry,
    private readonly model: CheckpointedModel,
    private readonly description: ModelDescription,
  ) {
    this.where = `${dir}/checkpoint.bin`;
  }

  /** A checkpointer for `dir`, after removing what an interrupted write left there. */
  static async open(dir: string, geometry: FitGeometry, model: CheckpointedModel): Promise<Checkpointer> {
    // A run killed while writing leaves a temporary file; the checkpoint itself is whole.
    await removeStaleTemporaries(dir);
    return new Checkpointer(dir, geometry, model, model.describe());
  }

  /** Writes the state of a run that goes on at `at`. */
  async save(at: { epoch: number; batch: number }, order: Uint32Array | null, sums: EpochSums, history: History, callbacks: (CallbackState | null)[]): Promise<void> {
    await writeCheckpoint(this.dir, {
      model: this.description,
      position: { ...at, ...this.geometry },
      sums,
      history,
      weights: this.model.getWeightsFlat(),
      trainingState: this.model.trainingState(),
      order: order ?? new Uint32Array(0),
      step: this.model.iterations(),
      callbacks,
    });
  }

  /**
   * Restores the checkpoint in the directory into the model, if there is one, and returns it.
   * `callbacksMismatch` says why its callback states do not fit the fit's callbacks, if they do not.
   */
  async resume(callbacksMismatch: (states: (CallbackState | null)[]) => string | undefined): Promise<Checkpoint | undefined> {
    const c = await readCheckpoint(this.dir);
    if (c === undefined) return undefined;
    const { where, geometry: g } = this;
    const mismatch = callbacksMismatch(c.callbacks);
    if (mismatch !== undefined) throw new CheckpointError(`${where}: ${mismatch}`);
    if (!this.sameModel(c.model)) throw new CheckpointError(`${where}: it was written for another model or compile settings than ${this.model.name}'s`);
    const p = c.position;
    if (p.batchSize !== g.batchSize || p.trainCount !== g.trainCount || p.shuffle !== g.shuffle) {
      throw new CheckpointError(
        `${where}: it was written for ${p.trainCount} training examples in batches of ${p.batchSize}` +
          ` (shuffle ${p.shuffle}); this fit() has ${g.trainCount} in batches of ${g.batchSize} (shuffle ${g.shuffle})`,
      );
    }
    if ((p.microBatchSize ?? p.batchSize) !== (g.microBatchSize ?? g.batchSize)) {
      throw new CheckpointError(
        `${where}: it was written with micro-batches of ${p.microBatchSize ?? p.batchSize}; this fit() uses ${g.microBatchSize ?? g.batchSize} (set microBatchSize to match)`,
      );
    }
    const count = this.model.countParams();
    if (c.weights.length !== count) throw new CheckpointError(`${where}: ${c.weights.length} weights; the model has ${count}`);
    if (p.batch > 0 && p.shuffle && c.order.length !== g.trainCount) {
      throw new CheckpointError(`${where}: its shuffle order has ${c.order.length} entries, expected ${g.trainCount}`);
    }
    if (c.order.some((i) => i >= g.trainCount)) throw new CheckpointError(`${where}: its shuffle order points past the ${g.trainCount} examples`);
    this.model.setWeights(c.weights);
    try {
      this.model.setTrainingState(c.trainingState);
    } catch (error) {
      throw new CheckpointError(`${where}: ${(error as Error).message}`);
    }
    return c;
  }

  /** The same topology and compile settings, whatever the seed. */
  private sameModel(other: ModelDescription): boolean {
    const strip = (d: ModelDescription) => JSON.stringify({ ...d, compileConfig: d.compileConfig && { ...d.compileConfig, seed: undefined } });
    return strip(other) === strip(this.description);
  }
}
