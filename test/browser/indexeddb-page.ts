// The page side of the IndexedDB test: save and load through the package's public entry.
import * as api from 'convnet-wasm';

const toBytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const toB64 = (a: Float32Array) => {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

declare global {
  interface Window {
    trainAndSave(train: string, labels: string, test: string): Promise<{ before: string; after: string }>;
    loadAndPredict(test: string): Promise<string>;
    loadMissing(): Promise<string>;
  }
}

window.trainAndSave = async (train, labels, test) => {
  await api.init();
  const model = api.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 9 });
  await model.fit(toBytes(train), toBytes(labels), { batchSize: 16 });
  const x = toBytes(test);
  const before = toB64(model.predict(x));
  await model.save('indexeddb://lenet-test');
  model.dispose();
  const back = await api.loadModel('indexeddb://lenet-test');
  const after = toB64(back.predict(x));
  back.dispose();
  return { before, after };
};

window.loadAndPredict = async (test) => {
  await api.init();
  const model = await api.loadModel('indexeddb://lenet-test');
  const out = toB64(model.predict(toBytes(test)));
  model.dispose();
  return out;
};

window.loadMissing = async () => {
  await api.init();
  return api.loadModel('indexeddb://no-such-model').then(
    () => 'loaded',
    (e: { code: string; message: string }) => `${e.code}: ${e.message}`,
  );
};
