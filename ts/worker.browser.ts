/**
 * A gradient worker for browsers (a module Web Worker), started by fit({ workers }).
 * @module
 */
import './index.browser.js';
import { serveGradients } from './worker-core.js';

const scope = self as unknown as Worker;
serveGradients(
  (message, transfer) => scope.postMessage(message, transfer ?? []),
  (handler) => scope.addEventListener('message', (event: MessageEvent) => handler(event.data)),
);
