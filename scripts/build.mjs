#!/usr/bin/env node
// npm run build: Rust → wasm (wasm-pack, simd128, release) → wasm-opt -O3 (npm binaryen) →
// dist/: the .wasm that serves Node and browsers, the TypeScript's declarations (tsc) and its
// ES module bundles for Node and for browsers (esbuild). A second wasm-pack build with
// relaxed-SIMD on gives dist/convnet_wasm_relaxed_bg.wasm, the opt-in `init({ simd: 'relaxed' })`
// module (same exports, same glue; its own target directory, so the two builds do not rebuild
// each other).
// `node scripts/build.mjs --bench` instead builds the benchmark module (cargo feature `bench`)
// into bench/wasm/, through the same wasm-pack and wasm-opt steps. With KEEP_NAMES=1 in the
// environment, wasm-opt keeps the function names, so that `node --cpu-prof` names the kernels.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchBuild = process.argv.includes('--bench');
const glueDir = benchBuild ? join(root, 'bench', 'wasm') : join(root, 'ts', 'wasm');
const dist = join(root, 'dist');
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(label, cmd, args, env = process.env) {
  const start = performance.now();
  try {
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  } catch {
    console.error(`build: "${label}" failed (${cmd} ${args.join(' ')}).`);
    console.error('build: if a tool is missing, run scripts/setup first.');
    process.exit(1);
  }
  console.log(`build: ${label} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
}

// The npm tools (wasm-opt, tsc, esbuild) come from `npm ci`, not scripts/setup: say so before the
// minutes of wasm-pack, not after them.
for (const tool of ['wasm-opt', 'tsc', 'esbuild']) {
  if (!existsSync(bin(tool))) {
    console.error(`build: node_modules/.bin/${tool} is missing: run \`npm ci\` first (scripts/setup installs the system tools, npm ci the npm ones).`);
    process.exit(1);
  }
}

const { build } = await import('esbuild');

// The toolchain that has the wasm32 target: rustup's, or Debian's rustc-web (scripts/lib.sh).
let wasmPath;
try {
  wasmPath = execFileSync('bash', ['-c', 'source scripts/lib.sh && wasm_build_path'], {
    cwd: root,
    encoding: 'utf8',
  }).trim();
} catch {
  console.error('build: no Rust toolchain with the wasm32-unknown-unknown target. Run scripts/setup.');
  process.exit(1);
}
const wasmEnv = { ...process.env, PATH: wasmPath };

run(`wasm-pack (release, +simd128${benchBuild ? ', bench' : ''})`, 'wasm-pack', [
  '--quiet', 'build', 'crate', '--target', 'web', '--release', '--no-pack',
  '--out-dir', glueDir, '--out-name', 'convnet_wasm',
  ...(benchBuild ? ['--', '--features', 'bench'] : []),
], wasmEnv);

// The features rustc enables for wasm32-unknown-unknown; wasm-opt must not add others, and it
// never reorders float arithmetic without --fast-math, so results stay bit-identical.
const features = ['simd', 'bulk-memory', 'sign-ext', 'nontrapping-float-to-int', 'mutable-globals', 'multivalue', 'reference-types'];
const relaxedFeatures = [...features, 'relaxed-simd'];
// `--one-caller-inline-max-function-size 0`: functions with one caller stay functions. -O3
// otherwise merges them into their caller (the model constructor became one 23 KB function that
// drew all 1.4M initial weights), and V8, which starts wasm in baseline code and swaps in
// optimised code only between calls, then ran whole layers unoptimised at a cold start
// (`npm run bench:cold`; docs/performance.md); the same speed once warm.
const wasmOpt = (from, to, enabled = features) =>
  run(`wasm-opt -O3${enabled === features ? '' : ' (relaxed SIMD)'}`, bin('wasm-opt'), [
    '-O3', '--one-caller-inline-max-function-size', '0', ...(process.env.KEEP_NAMES ? ['-g'] : []), ...enabled.map((f) => `--enable-${f}`), from, '-o', to,
  ]);

if (benchBuild) {
  const file = join(glueDir, 'convnet_wasm_bg.wasm');
  wasmOpt(file, file);
  console.log(`build: benchmark module ready in ${glueDir}`);
  process.exit(0);
}

// The relaxed-SIMD module: the same crate with `relaxed-simd` enabled, which turns the products'
// multiply-adds into `f32x4.relaxed_madd` (crate/src/kernels/gemm.rs, `madd`). Only its .wasm is
// kept: its glue must be the default build's, byte for byte, since one glue loads either.
const relaxedDir = join(root, 'target', 'relaxed-glue');
run('wasm-pack (release, +simd128 +relaxed-simd)', 'wasm-pack', [
  '--quiet', 'build', 'crate', '--target', 'web', '--release', '--no-pack',
  '--out-dir', relaxedDir, '--out-name', 'convnet_wasm',
], {
  ...wasmEnv,
  RUSTFLAGS: '-C target-feature=+simd128,+relaxed-simd',
  CARGO_TARGET_DIR: join(root, 'target', 'relaxed'),
});
if (readFileSync(join(relaxedDir, 'convnet_wasm.js'), 'utf8') !== readFileSync(join(glueDir, 'convnet_wasm.js'), 'utf8')) {
  throw new Error('build: the relaxed-SIMD build has a different wasm-bindgen glue from the default build; both .wasm files must load through one glue');
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'wasm'), { recursive: true });
wasmOpt(join(glueDir, 'convnet_wasm_bg.wasm'), join(dist, 'convnet_wasm_bg.wasm'));
wasmOpt(join(relaxedDir, 'convnet_wasm_bg.wasm'), join(dist, 'convnet_wasm_relaxed_bg.wasm'), relaxedFeatures);

// The glue's fallback `new URL('convnet_wasm_bg.wasm', import.meta.url)` names a file that is not
// beside the bundles (the entry points always pass the module). Bundlers treat that expression as
// an asset to copy: Vite warns and webpack fails. The fallback becomes a plain error.
const glueFile = join(glueDir, 'convnet_wasm.js');
const glueFallback = "module_or_path = new URL('convnet_wasm_bg.wasm', import.meta.url);";
const glue = readFileSync(glueFile, 'utf8');
if (!glue.includes(glueFallback)) throw new Error('build: the wasm-bindgen glue changed; update the fallback patch in scripts/build.mjs');
writeFileSync(glueFile, glue.replace(glueFallback, "throw new Error('convnet-wasm: the wasm module must be passed to the glue (init() does this)');"));

// Declarations only: the JavaScript is esbuild's bundles below.
run('tsc (declarations)', bin('tsc'), ['-p', 'tsconfig.build.json']);
// For the tests that reach into the glue (test/shared/internals.ts); no public declaration imports it.
copyFileSync(join(glueDir, 'convnet_wasm.d.ts'), join(dist, 'wasm', 'convnet_wasm.d.ts'));

// Node: the entry points bundled, with what they share in chunks beside them. Node's ES module
// loader spends most of a millisecond on each file, and the package is 58 of them: as separate
// modules the import took ~32 ms of a cold start, bundled ~13 (docs/performance.md). Every file a
// Node program imports is an entry point, so that each module has one instance: the package, its
// worker and CLI, and what the tests and tools/ reach into (wasm-call, worker-pool, the glue, the
// CLI's chart). The chunks sit in dist/ itself, so the `new URL(…, import.meta.url)` of the wasm
// files and of worker.node.js resolve as they do in the sources. npm dependencies stay imports.
const common = {
  bundle: true, format: 'esm', target: 'es2022', sourcemap: true, sourcesContent: true, packages: 'external', logLevel: 'warning',
  // Names stay what the sources say where a bundle renames a clash: error classes take theirs from
  // `new.target.name` (errors.ts).
  keepNames: true,
  // The modules imported for what they set up (`import './node-platform.js'`, the browser
  // worker's `import './index.browser.js'`): package.json's `sideEffects` names the built files,
  // not these sources, and esbuild would drop the imports.
  plugins: [{
    name: 'set-up-modules-have-side-effects',
    setup(build) {
      // Also as an entry point: a module's first resolution decides.
      build.onResolve({ filter: /(^|\/)(index\.browser|node-platform)\.[jt]s$/ }, (args) => ({
        path: resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts')),
        sideEffects: true,
      }));
    },
  }],
};
const ts = (file) => join(root, 'ts', file);
await bundle('esbuild (Node)', {
  ...common, platform: 'node', splitting: true, outbase: join(root, 'ts'), outdir: dist, chunkNames: '[name]-[hash]',
  entryPoints: ['index.node.ts', 'worker.node.ts', 'cli/bin.ts', 'cli/main.ts', 'cli/curve-svg.ts', 'wasm-call.ts', 'worker-pool.ts', 'wasm/convnet_wasm.js'].map(ts),
});
// Browsers: the entry point as one module (bundlers take it as it is, and a page without one makes
// one request), and the gradient worker as one file with no bare imports at all (fflate and the
// glue inside), so that it can be served as it is (`convnet-wasm/worker`) by bundlers that do not
// follow `new Worker(new URL(…))` (esbuild).
await bundle('esbuild (browser)', { ...common, platform: 'browser', entryPoints: [ts('index.browser.ts')], outfile: join(dist, 'index.browser.js') });
await bundle('esbuild (browser worker)', { ...common, platform: 'browser', packages: undefined, entryPoints: [ts('worker.browser.ts')], outfile: join(dist, 'worker.browser.js') });

async function bundle(label, options) {
  const start = performance.now();
  try {
    await build(options);
  } catch {
    console.error(`build: "${label}" failed (its errors are above).`);
    process.exit(1);
  }
  console.log(`build: ${label} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
}

const kib = (path) => (statSync(path).size / 1024).toFixed(1);
console.log(
  `build: dist/ ready; wasm ${kib(join(glueDir, 'convnet_wasm_bg.wasm'))} KiB before wasm-opt, ` +
    `${kib(join(dist, 'convnet_wasm_bg.wasm'))} KiB after (relaxed SIMD: ${kib(join(dist, 'convnet_wasm_relaxed_bg.wasm'))} KiB)`,
);
