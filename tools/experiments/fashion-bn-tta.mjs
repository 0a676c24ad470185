#!/usr/bin/env node
// Test-time augmentation, on validation only: a saved fashionConvNetBN (tools/experiments/
// fashion-bn.mjs writes out/fashion-bn-<tag>/model) predicts the last 5,000 Fashion-MNIST training
// images as they are, mirrored, and shifted by one pixel (black fill) up, down, left and right;
// prints the accuracy of each view and of the mean of their probabilities (the image and its
// mirror image; the five unmirrored views; all ten). The pixel moves are index shuffles in JS;
// the sums of probabilities and the argmax are this script's own (an experiment, not the library).
// Usage: npm run build && node tools/experiments/fashion-bn-tta.mjs out/fashion-bn-f4-e40/model
import * as cw from 'convnet-wasm';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node tools/experiments/fashion-bn-tta.mjs <saved model directory>');
await cw.init();
const data = await cw.datasets.fashionMnist();
const { validation } = cw.trainValidationSplit(data.train, 55_000);
const model = await cw.loadModel(`file://${dir}`);
const { images, labels, count } = validation;
const side = 28;
const view = (dx, dy, mirror) => {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < count; i++) {
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const [sr, sc] = [r - dy, c - dx];
        if (sr < 0 || sr >= side || sc < 0 || sc >= side) continue;
        out[i * side * side + r * side + c] = images[i * side * side + sr * side + (mirror ? side - 1 - sc : sc)];
      }
    }
  }
  return out;
};
const views = [];
for (const mirror of [false, true]) {
  for (const [dx, dy] of [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]]) views.push({ name: `${mirror ? 'mirrored, ' : ''}shift (${dx}, ${dy})`, probs: model.predict(view(dx, dy, mirror)) });
}
const accuracy = (probs) => {
  let correct = 0;
  for (let i = 0; i < count; i++) {
    let [best, bestSum] = [0, -Infinity];
    for (let k = 0; k < 10; k++) {
      const sum = probs.reduce((s, p) => s + p[i * 10 + k], 0);
      if (sum > bestSum) [best, bestSum] = [k, sum];
    }
    if (best === labels[i]) correct++;
  }
  return (correct / count).toFixed(4);
};
for (const v of views) console.log(`${v.name}: ${accuracy([v.probs])}`);
console.log(`the image and its mirror image: ${accuracy([views[0].probs, views[5].probs])}`);
console.log(`the five unmirrored views: ${accuracy(views.slice(0, 5).map((v) => v.probs))}`);
console.log(`all ten: ${accuracy(views.map((v) => v.probs))}`);
model.dispose();
