/**
 * Models in the browser's IndexedDB: `model.save('indexeddb://name')` and
 * `loadModel('indexeddb://name')`. Each model is one record (its `model.json` and its weights'
 * bytes) in the object store `models` of the database `convnet-wasm`, written in one transaction,
 * so a save is all or nothing.
 * @module
 */
import { ConvnetError } from './errors.js';

const DB = 'convnet-wasm';
const STORE = 'models';

function open(): Promise<IDBDatabase> {
  if (typeof indexedDB === 'undefined') {
    return Promise.reject(new ConvnetError('UNSUPPORTED_PLATFORM', 'indexeddb:// needs IndexedDB, which browsers have and Node does not; use file:// in Node'));
  }
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(new ConvnetError('INDEXEDDB', `could not open the IndexedDB database ${DB}: ${String(request.error)}`));
  });
}

/** Runs one request in a transaction and resolves when the transaction has committed. */
async function run<T>(mode: IDBTransactionMode, what: string, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = tx.onabort = () => reject(new ConvnetError('INDEXEDDB', `${what}: ${String(tx.error ?? request.error)}`));
    });
  } finally {
    db.close();
  }
}

/** The record's key from an `indexeddb://name` URL. */
export function indexedDbKey(url: string): string | undefined {
  const prefix = 'indexeddb://';
  if (!url.startsWith(prefix)) return undefined;
  const key = url.slice(prefix.length);
  if (key === '') throw new ConvnetError('UNSUPPORTED_URL', 'indexeddb:// needs a model name, e.g. indexeddb://my-model');
  return key;
}

export function putRecord(key: string, record: { modelJson: unknown; weights: Uint8Array }): Promise<IDBValidKey> {
  return run('readwrite', `saving ${key} to IndexedDB`, (store) => store.put({ modelJson: record.modelJson, weights: record.weights.slice() }, key));
}

export async function getRecord(key: string): Promise<{ modelJson: unknown; weights: Uint8Array }> {
  const record = (await run('readonly', `reading ${key} from IndexedDB`, (store) => store.get(key))) as { modelJson: unknown; weights: Uint8Array } | undefined;
  if (record === undefined) throw new ConvnetError('MODEL_NOT_FOUND', `indexeddb://${key}: no model of that name is stored`);
  return record;
}
