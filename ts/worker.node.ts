/**
 * A gradient worker for Node (worker_threads), started by fit({ workers }).
 * @module
 */
import { parentPort } from 'node:worker_threads';
import './node-platform.js';
import { serveGradients } from './worker-core.js';

const port = parentPort!;
serveGradients(
  (message, transfer) => port.postMessage(message, (transfer ?? []) as never[]),
  (handler) => port.on('message', handler),
);
