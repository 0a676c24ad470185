/**
 * The inside of a gradient worker (Node's worker_threads or a browser's Web Worker): its own
 * wasm instance and model, which computes micro-batch gradients from the weights each step
 * brings. See parallel.ts.
 * @module
 */
import { WasmModel } from './wasm/convnet_wasm.js';
import { init } from './init.js';
import { callWasm } from './wasm-call.js';
import type { GradientReply, GradientRequest } from './parallel.js';

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
        model = callWasm('gradient worker', () => new WasmModel(m.spec, 0n));
        post({ type: 'ready' });
        return;
      }
      if (model === undefined) throw new Error('a step arrived before the model was built');
      const built = model;
      const parts = callWasm('gradient worker', () =>
        m.x instanceof Uint8Array
          ? built.micro_gradients_u8(m.weights, m.x, m.labels, m.micro, m.first, m.seed)
          : built.micro_gradients(m.weights, m.x, m.labels, m.micro, m.first, m.seed),
      );
      post({ type: 'result', id: m.id, parts }, [parts.buffer]);
    } catch (error) {
      post({ type: 'error', ...(m.type === 'step' ? { id: m.id } : {}), message: error instanceof Error ? error.message : String(error) });
    }
  };
  listen((m) => void handle(m));
}
