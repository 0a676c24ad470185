// The page side of the browser identity test, bundled by esbuild from the package's public
// entry (the browser condition of its exports map), exactly as a user's bundle would be.
import * as api from 'convnet-wasm';
import { denseCaseBytes } from '../shared/dense-case.js';

declare global {
  interface Window {
    /** Runs the shared Dense case; resolves to its bytes, base64-encoded, and the build info. */
    runDenseCase(seed: number): Promise<{ base64: string; buildInfo: string }>;
  }
}

window.runDenseCase = async (seed) => {
  await api.init();
  const bytes = denseCaseBytes(api, seed);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return { base64: btoa(binary), buildInfo: api.buildInfo() };
};
