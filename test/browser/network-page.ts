// The page side of the network identity test, bundled from the package's public entry.
import * as api from 'convnet-wasm';
import { networkCase } from '../shared/network-case.js';

const toBytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const toB64 = (bytes: Uint8Array) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

declare global {
  interface Window {
    runNetworkCase(network: string, data: { train: string; labels: string; test: string }, workers?: number): Promise<{ losses: number[]; weights: string; predictions: string }>;
  }
}

/** Also the relaxed-SIMD page's runner (test/browser/relaxed-page.ts), which loads its build first. */
export const runNetworkCase: Window['runNetworkCase'] = async (network, data, workers) => {
  await api.init();
  const r = await networkCase(api, network as 'fashion', { trainImages: toBytes(data.train), trainLabels: toBytes(data.labels), testImages: toBytes(data.test) }, workers);
  return { losses: r.losses, weights: toB64(r.weights), predictions: toB64(r.predictions) };
};
window.runNetworkCase = runNetworkCase;
