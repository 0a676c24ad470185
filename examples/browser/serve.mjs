#!/usr/bin/env node
// `npm run demo`: builds the demo page (examples/browser/build.mjs) and serves it on localhost.
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { Command } from 'commander';
import sirv from 'sirv';
import { buildDemo } from './build.mjs';

const program = new Command()
  .name('npm run demo --')
  .description('Build the convnet-wasm demo page and serve it')
  .option('--port <n>', 'port to listen on (0: any free port)', (v) => Number(v), 8080)
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--out <dir>', 'where to build the page', 'out/demo')
  .option('--build-only', 'build, then exit without serving')
  .parse();
const opts = program.opts();

const out = resolve(opts.out);
const started = performance.now();
await buildDemo(out);
console.log(`demo: built into ${out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (!opts.buildOnly) {
  // sirv serves .wasm as application/wasm, so the page compiles it while it downloads.
  const server = createServer(sirv(out, { dev: true }));
  server.on('error', (error) => {
    console.error(`demo: cannot listen on ${opts.host}:${opts.port}: ${error.message} (try --port 0)`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const { port } = server.address();
    console.log(`demo: http://${opts.host}:${port}/  (Ctrl-C stops it)`);
  });
}
