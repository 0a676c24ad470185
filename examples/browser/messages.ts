// Messages between the page and its training worker (train-worker.ts).
import type { ModelJson } from 'convnet-wasm';

/** Page → worker. */
export type ToWorker =
  | { type: 'start'; epochs: number; batchSize: number; seed: number }
  | { type: 'stop' }
  | { type: 'resume' }
  | { type: 'save'; url: string }
  | { type: 'export' };

/** Worker → page. */
export type FromWorker =
  | { type: 'ready'; trainCount: number; testCount: number }
  | { type: 'progress'; step: number; epoch: number; loss: number; accuracy: number }
  | { type: 'epoch'; epoch: number; step: number; loss: number; accuracy: number; valLoss: number; valAccuracy: number }
  | { type: 'state'; state: 'training' | 'stopped' | 'done'; epochsDone: number; step: number }
  | { type: 'saved'; url: string }
  | { type: 'artifacts'; modelJson: ModelJson; weights: Uint8Array }
  | { type: 'error'; message: string };
