// The page side of the relaxed-SIMD browser test: the network identity test's page
// (runNetworkCase), loaded with init({ simd: 'relaxed' }) first, so that its own init() call
// finds the relaxed build already loaded.
import * as api from 'convnet-wasm';
import { runNetworkCase } from './network-page.js';

declare global {
  interface Window {
    initRelaxed(): Promise<{ supported: boolean; buildInfo: string }>;
  }
}

// Named, not a bare import: the package's `sideEffects` list would let esbuild drop the module.
window.runNetworkCase = runNetworkCase;
window.initRelaxed = async () => {
  await api.init({ simd: 'relaxed' });
  return { supported: api.relaxedSimdSupported(), buildInfo: api.buildInfo() };
};
