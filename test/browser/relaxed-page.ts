// The page side of the relaxed-SIMD browser test: init({ simd: 'relaxed' }), then the Fashion
// ConvNet's case of the network identity test (test/shared/network-case.ts) with 2 workers (the
// page and a Web Worker, which gets the page's module).
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
    runRelaxedCase(data: { train: string; labels: string; test: string }): Promise<{ supported: boolean; buildInfo: string; losses: number[]; weights: string; predictions: string }>;
  }
}

window.runRelaxedCase = async (data) => {
  await api.init({ simd: 'relaxed' });
  const r = await networkCase(api, 'fashion', { trainImages: toBytes(data.train), trainLabels: toBytes(data.labels), testImages: toBytes(data.test) }, 2);
  return { supported: api.relaxedSimdSupported(), buildInfo: api.buildInfo(), losses: r.losses, weights: toB64(r.weights), predictions: toB64(r.predictions) };
};
