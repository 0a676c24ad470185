/**
 * The inside of a gradient worker (Node's worker_threads or a browser's Web Worker): its own
 * wasm instance and model, which computes micro-batch gradients from the weights each step
 * brings. See worker-pool.ts.
 * @module
 */
import { WasmModel } from './wasm/convnet_wasm.js';
import { init } from './init.js';
import { callWasm } from './wasm-call.js';
import type { GradientReply, GradientRequest } from './worker-pool.js';

export function serveGradients(
  post: (message: GradientReply, transfer?: Transferable[]) => void,
  listen: (handler: (message: GradientRequest) => void) => void,
): void {
  let model: WasmModel | undefined;
  const handle = async (m: GradientRequest) => {
    try {
      if (m.type === 'init') {
        await init(m.module ? { wasm: m.module } : {});
        model?.free();
        // Its weights come with every request: `for_worker` builds the model without drawing any.
        model = callWasm('gradient worker', () => WasmModel.for_worker(m.spec));
        post({ type: 'ready' });
        return;
      }
      if (model === undefined) throw new Error('a request arrived before the model was built');
      const built = model;
      if (m.type === 'predict' || m.type === 'evaluate') {
        callWasm('gradient worker', () => built.set_weights(m.weights));
        const per = built.input_len();
        const n = m.x.length / per;
        const chunks: Float32Array[] = [];
        for (let from = 0; from < n; from += m.batchSize) {
          const to = Math.min(n, from + m.batchSize);
          const bx = m.x.subarray(from * per, to * per);
          // An evaluation's batch gives [loss, correct, probabilities…], a prediction's the probabilities.
          const labels = m.type === 'evaluate' ? m.labels.subarray(from, to) : undefined;
          const views = m.views;
          chunks.push(
            callWasm('gradient worker', () => {
              if (labels) return views ? built.evaluate_views(bx, labels, views) : built.evaluate(bx, labels);
              return views ? built.predict_views(bx, views) : built.predict(bx);
            }),
          );
        }
        const out = new Float32Array(chunks.reduce((s, c) => s + c.length, 0));
        chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0);
        post({ type: 'result', id: m.id, parts: out }, [out.buffer]);
        return;
      }
      const parts = callWasm('gradient worker', () =>
        built.micro_gradients(m.weights, m.x, m.labels, m.micro, m.first, m.seed, m.reuse),
      );
      // The weights array goes back too, for the page to fill with the next step's.
      post({ type: 'result', id: m.id, parts, weights: m.weights }, [parts.buffer, m.weights.buffer]);
    } catch (error) {
      post({ type: 'error', ...(m.type === 'step' ? { id: m.id } : {}), message: error instanceof Error ? error.message : String(error) });
    }
  };
  listen((m) => void handle(m));
}
