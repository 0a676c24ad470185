/**
 * The worker pool: threads (Node's worker_threads or Web Workers), each with its own wasm
 * instance and a copy of the model, used by `fit()` for data-parallel training and by
 * `predictAsync()` for inference.
 *
 * Data-parallel training. A batch is cut into micro-batches of a fixed size; each micro-batch's
 * gradient is computed from the same weights (the first run of them by the model in this thread,
 * the others by workers, each with its own wasm instance) with dropout masks from its own
 * generator; the model's own wasm sums them in micro-batch order, each weighted by its share of
 * the batch, and takes the optimiser step. The arithmetic is the same whichever thread computes
 * which micro-batch, so the weights after training are the same bits for any number of workers.
 * Gradients travel in transferable buffers; no SharedArrayBuffer is needed.
 * @module
 */
import { ConvnetError } from './errors.js';
import { moduleForWorkers } from './init.js';

/** Page → worker and worker → page messages of the gradient workers (see worker-core.ts). */
export type GradientRequest =
  | { type: 'init'; spec: string; module: WebAssembly.Module | undefined }
  | {
      type: 'step';
      id: number;
      weights: Float32Array;
      x: Uint8Array | Float32Array;
      labels: Uint32Array;
      micro: number;
      first: number;
      seed: bigint;
      /** An array the worker's last result came in, given back for it to fill again. */
      reuse?: Float32Array | undefined;
    }
  | { type: 'predict'; id: number; weights: Float32Array; x: Uint8Array | Float32Array; batchSize: number; views?: Int32Array | undefined }
  | { type: 'evaluate'; id: number; weights: Float32Array; x: Uint8Array | Float32Array; labels: Uint32Array; batchSize: number; views?: Int32Array | undefined };
/** A result: a step's gradient parts (and the step's weights array, given back) or predictions. */
export type GradientResult = { parts: Float32Array; weights?: Float32Array };
export type GradientReply = { type: 'ready' } | ({ type: 'result'; id: number } & GradientResult) | { type: 'error'; id?: number; message: string };

/** A worker as the platform gives it: Node's worker_threads or a browser's Web Worker. */
export interface WorkerPort {
  post(message: GradientRequest, transfer?: Transferable[]): void;
  /** Called with every message, and with an Error when the worker fails or exits. */
  listen(handler: (message: GradientReply | Error) => void): void;
  terminate(): void;
  /** Whether the worker has work: an idle Node worker thread must not keep the process alive. */
  busy?(busy: boolean): void;
}

export interface Platform {
  spawn(): WorkerPort;
  /** The default number of workers. */
  defaultWorkers(): number;
}

let platform: Platform | undefined;

/** Installs the platform's way of starting gradient workers (node-platform.ts and the browser entry point do this). */
export function setWorkerPlatform(p: Platform): void {
  platform = p;
}

/** The installed platform (the fault tests wrap it). */
export function workerPlatform(): Platform | undefined {
  return platform;
}

/** The default `workers` for fit(): the cores in Node, 1 in browsers (see node-platform.ts and the browser entry point). */
export function defaultWorkers(): number {
  return platform?.defaultWorkers() ?? 1;
}

/** The worker's answer to a message, or its failure. */
class Pending {
  private waiting = new Map<number, { resolve: (result: GradientResult) => void; reject: (e: Error) => void }>();
  private ready: { resolve: () => void; reject: (e: Error) => void } | undefined;
  failure: Error | undefined;

  constructor(
    readonly index: number,
    readonly port: WorkerPort,
  ) {
    port.listen((m) => this.receive(m));
  }

  private receive(m: GradientReply | Error): void {
    if (m instanceof Error || m.type === 'error') {
      const error = new ConvnetError('WORKER_FAILED', `gradient worker ${this.index}: ${m.message}`);
      this.failure ??= error;
      const id = m instanceof Error ? undefined : m.id;
      if (id !== undefined && this.waiting.has(id)) {
        this.waiting.get(id)!.reject(error);
        this.waiting.delete(id);
        return;
      }
      this.ready?.reject(error);
      for (const w of this.waiting.values()) w.reject(error);
      this.waiting.clear();
      return;
    }
    if (m.type === 'ready') this.ready?.resolve();
    else {
      this.waiting.get(m.id)?.resolve(m);
      this.waiting.delete(m.id);
    }
  }

  /** Rejects every request still waiting with `reason` (the worker was stopped). */
  abandon(reason: Error): void {
    this.failure ??= reason;
    for (const w of this.waiting.values()) w.reject(reason);
    this.waiting.clear();
  }

  start(spec: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ready = { resolve, reject };
      this.port.post({ type: 'init', spec, module: moduleForWorkers() });
    });
  }

  /**
   * Sends a request. Its inputs (and an array given back to fill) are always transferred; its
   * weights only when `ownWeights` (the last worker to get that array: posting copies it for
   * the others at once).
   */
  run(request: Extract<GradientRequest, { type: 'step' | 'predict' | 'evaluate' }>, ownWeights = false): Promise<GradientResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.set(request.id, { resolve, reject });
      this.port.busy?.(true);
      const transfer: Transferable[] = request.type === 'predict' ? [request.x.buffer] : [request.x.buffer, request.labels.buffer];
      if (request.type === 'step' && request.reuse) transfer.push(request.reuse.buffer);
      if (ownWeights) transfer.push(request.weights.buffer);
      this.port.post(request, transfer);
    }).finally(() => {
      if (this.waiting.size === 0) this.port.busy?.(false);
    }) as Promise<GradientResult>;
  }
}

/** What a pool needs of the model: its wasm's seed, weights and reduction calls. */
export interface ReducingModel {
  draw_step_seed(): bigint;
  weights(): Float32Array;
  weights_into(out: Float32Array): void;
  reduce_begin(microBatches: number, total: number): void;
  reduce_own(x: Float32Array | Uint8Array, labels: Uint32Array, micro: number, seed: bigint): void;
  reduce_add(parts: Float32Array, counts: Uint32Array): void;
  reduce_finish(): number;
}

/** A set of workers: one fit()'s gradient workers, or a model's predictAsync() workers. */
export class WorkerPool {
  private nextId = 0;
  /**
   * Arrays that come back from the workers, to be filled again by the next step: its weights
   * (the last worker's copy) and each worker's gradient parts. A step then allocates no
   * megabyte-sized arrays.
   */
  private spareWeights: Float32Array | undefined;
  private spareParts: (Float32Array | undefined)[] = [];

  private constructor(private readonly workers: Pending[]) {}

  /** Starts `count` workers, each building the model from `spec` (its weights come with each step). */
  static async start(count: number, spec: string): Promise<WorkerPool> {
    if (platform === undefined) throw new ConvnetError('UNSUPPORTED_PLATFORM', 'workers: no worker support on this platform; use workers: 1');
    const workers: Pending[] = [];
    try {
      for (let i = 0; i < count; i++) workers.push(new Pending(i, platform.spawn()));
      await Promise.all(workers.map((w) => w.start(spec)));
    } catch (error) {
      for (const w of workers) w.port.terminate();
      throw error;
    }
    return new WorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * One data-parallel step over this thread and the pool's workers: micro-batches of `micro`
   * examples in contiguous runs, the first run computed here by `model` itself (from its own
   * weights, added to the sum as it goes: no copies), the others by the workers, whose parts are
   * then added in order. `reduce` wraps each call into the model. Returns the batch loss.
   */
  async step(
    model: ReducingModel,
    x: Uint8Array | Float32Array,
    labels: Uint32Array,
    micro: number,
    reduce: <T>(fn: () => T) => T,
  ): Promise<number> {
    const n = labels.length;
    const count = Math.ceil(n / micro);
    const per = x.length / n;
    const seed = reduce(() => model.draw_step_seed());
    const threads = Math.min(this.workers.length + 1, count);
    // Run t's micro-batch count; the extra ones go to the workers' runs, since this thread also
    // sums what the workers send.
    const take = (t: number) => Math.floor(count / threads) + (t >= threads - (count % threads) ? 1 : 0);
    const own = Math.min(n, take(0) * micro);
    const spare = this.spareWeights;
    this.spareWeights = undefined;
    const weights = threads === 1 ? undefined : spare ? (reduce(() => model.weights_into(spare)), spare) : reduce(() => model.weights());
    const weightCount = weights?.length;
    const jobs: Promise<GradientResult>[] = [];
    const runs: Uint32Array[] = [];
    for (let t = 1, first = take(0); t < threads; t++) {
      const from = first * micro;
      const to = Math.min(n, (first + take(t)) * micro);
      runs.push(Uint32Array.from({ length: take(t) }, (_, j) => Math.min(micro, n - (first + j) * micro)));
      // The weights are a copy out of the wasm: the last worker takes it, and gives it back.
      jobs.push(
        this.workers[t - 1]!.run(
          {
            type: 'step',
            id: this.nextId++,
            weights: weights!,
            x: x.slice(from * per, to * per),
            labels: labels.slice(from, to),
            micro,
            first,
            seed,
            reuse: this.spareParts[t - 1],
          },
          t === threads - 1,
        ),
      );
      first += take(t);
    }
    // A failure is reported where it is awaited, in order; none goes unhandled meanwhile.
    for (const job of jobs) job.catch(() => {});
    reduce(() => model.reduce_begin(count, n));
    const ownX = x.subarray(0, own * per);
    const ownLabels = labels.subarray(0, own);
    reduce(() => model.reduce_own(ownX, ownLabels, micro, seed));
    // Each worker's run is added as soon as it and the runs before it are in: in micro-batch order.
    this.spareParts.fill(undefined);
    for (const [i, job] of jobs.entries()) {
      const result = await job;
      reduce(() => model.reduce_add(result.parts, runs[i]!));
      this.spareParts[i] = result.parts;
      if (i === jobs.length - 1 && result.weights?.length === weightCount) this.spareWeights = result.weights;
    }
    return reduce(() => model.reduce_finish());
  }

  /**
   * Inference split across the workers: each predicts a contiguous share of `x` (in batches of
   * `batchSize`) with `weights`, which the last worker takes over (detached here); the shares
   * are joined in order. Each example's result does not depend on the batch it is in, so this
   * gives `predict`'s bytes. `views`: test-time views, packed (see views.ts).
   */
  async predict(weights: Float32Array, x: Uint8Array | Float32Array, n: number, batchSize: number, views?: Int32Array): Promise<Float32Array> {
    const per = x.length / n;
    const used = Math.min(this.workers.length, n);
    const jobs: Promise<GradientResult>[] = [];
    for (let w = 0, from = 0; w < used; w++) {
      const take = Math.floor(n / used) + (w < n % used ? 1 : 0);
      // `weights` is the caller's copy (`model.weights()`): the last worker takes it.
      jobs.push(this.workers[w]!.run({ type: 'predict', id: this.nextId++, weights, x: x.slice(from * per, (from + take) * per), batchSize, views }, w === used - 1));
      from += take;
    }
    const results = (await Promise.all(jobs)).map((r) => r.parts);
    const out = new Float32Array(results.reduce((s, r) => s + r.length, 0));
    results.reduce((at, r) => (out.set(r, at), at + r.length), 0);
    return out;
  }

  /**
   * Evaluation split across the workers by whole batches of `batchSize`: each evaluates a
   * contiguous run of batches with `weights` (which the last worker takes over) and returns each
   * batch's `[loss, correct, probabilities…]`; the runs are joined in batch order.
   */
  async evaluate(weights: Float32Array, x: Uint8Array | Float32Array, labels: Uint32Array, batchSize: number, views?: Int32Array): Promise<Float32Array> {
    const n = labels.length;
    const per = x.length / n;
    const batches = Math.ceil(n / batchSize);
    const used = Math.min(this.workers.length, batches);
    const jobs: Promise<GradientResult>[] = [];
    for (let w = 0, first = 0; w < used; w++) {
      const take = Math.floor(batches / used) + (w < batches % used ? 1 : 0);
      const from = first * batchSize;
      const to = Math.min(n, (first + take) * batchSize);
      const request = { type: 'evaluate' as const, id: this.nextId++, weights, x: x.slice(from * per, to * per), labels: labels.slice(from, to), batchSize, views };
      jobs.push(this.workers[w]!.run(request, w === used - 1));
      first += take;
    }
    const results = (await Promise.all(jobs)).map((r) => r.parts);
    const out = new Float32Array(results.reduce((s, r) => s + r.length, 0));
    results.reduce((at, r) => (out.set(r, at), at + r.length), 0);
    return out;
  }

  /** Stops the workers; what they were computing rejects with `reason`, when one is given. */
  close(reason?: Error): void {
    for (const w of this.workers) {
      w.port.terminate();
      if (reason) w.abandon(reason);
    }
  }
}
