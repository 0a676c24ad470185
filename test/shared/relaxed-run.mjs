// A child process of test/relaxed-simd.test.ts: init() with the SIMD flavour in argv[2]
// ('default' or 'relaxed'), then the Fashion ConvNet's first 3 Nadam steps of batch 32 on the
// first real Fashion-MNIST training images with argv[3] workers; predictions of the first 100
// test images before and after. Prints one JSON line: the build, the losses, a SHA-256 of the
// weights, the probabilities before and after; or the error init() rejected with.
import { createHash } from 'node:crypto';
import * as cw from 'convnet-wasm';

const [simd, workers] = [process.argv[2], Number(process.argv[3] ?? 1)];
try {
  await cw.init({ simd });
} catch (error) {
  console.log(JSON.stringify({ error: { name: error.name, code: error.code, message: error.message } }));
  process.exit(0);
}
const data = await cw.datasets.fashionMnist();
const model = cw.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 });
const test = data.test.images.subarray(0, 100 * 784);
// From the initial weights, which are the same bits in both builds.
const initial = model.predict(test);
const losses = [];
await model.fit(data.train.images.subarray(0, 96 * 784), data.train.labels.subarray(0, 96), {
  batchSize: 32,
  workers,
  callbacks: { onBatchEnd: (_b, logs) => void losses.push(logs.loss) },
});
const weights = model.getWeightsFlat();
const probabilities = model.predict(test);
console.log(
  JSON.stringify({
    buildInfo: cw.buildInfo(),
    losses,
    weights: createHash('sha256').update(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength)).digest('hex'),
    initial: Array.from(initial),
    probabilities: Array.from(probabilities),
  }),
);
model.dispose();
