#!/usr/bin/env node
// Test-time augmentation, on validation only: a saved model (tools/experiments/fashion-bn.mjs
// writes out/fashion-bn-<tag>/model) evaluates the last 5,000 Fashion-MNIST training images as
// they are, and with its probabilities averaged over views (the library's `views` option, in the
// wasm): each single view of testTimeViews() (as it is, moved one pixel right, left, down, up,
// and those mirrored), the image and its mirror image, the five unmirrored views, all ten.
// Usage: npm run build && node tools/experiments/fashion-bn-tta.mjs out/fashion-bn-f4-e40/model
import * as cw from 'convnet-wasm';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node tools/experiments/fashion-bn-tta.mjs <saved model directory>');
await cw.init();
const data = await cw.datasets.fashionMnist();
const { validation } = cw.trainValidationSplit(data.train, 55_000);
const model = await cw.loadModel(`file://${dir}`);
const all = cw.testTimeViews();
const accuracy = async (views) => (await model.evaluateAsync(validation.images, validation.labels, { views })).accuracy.toFixed(4);
const name = ({ dx = 0, dy = 0, flip }) => `${flip ? 'mirrored, ' : ''}shift (${dx}, ${dy})`;
console.log(`no views: ${(await model.evaluateAsync(validation.images, validation.labels)).accuracy.toFixed(4)}`);
for (const v of all) console.log(`${name(v)}: ${await accuracy([v])}`);
console.log(`the image and its mirror image: ${await accuracy([all[0], all[5]])}`);
console.log(`the five unmirrored views: ${await accuracy(cw.testTimeViews({ flip: 'none' }))}`);
console.log(`all ten: ${await accuracy(all)}`);
model.dispose();
process.exit(0);
