// The demo's training worker: the modern LeNet-5 trains on an MNIST sample here, off the page's
// main thread, with its own instance of the wasm module. `fit` yields to the worker's event loop
// every 50 ms, so a "stop" message is seen between steps; "resume" goes on with the same weights
// and optimiser state.
import { init, loadModel, models, parseIdx, toArtifacts, type Sequential } from 'convnet-wasm';
import type { FromWorker, ToWorker } from './messages.js';

const post = (message: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(message, transfer);

async function idx(name: string): Promise<Uint8Array> {
  const response = await fetch(`data/${name}.gz`);
  if (!response.ok) throw new Error(`data/${name}.gz: HTTP ${response.status}`);
  return parseIdx(new Uint8Array(await response.arrayBuffer()), `${name}.gz`).data;
}

const ready = (async () => {
  await init();
  const [trainX, trainY, testX, testY] = await Promise.all(
    ['mnist-train-images', 'mnist-train-labels', 'mnist-test-images', 'mnist-test-labels'].map(idx),
  );
  post({ type: 'ready', trainCount: trainY!.length, testCount: testY!.length });
  return { trainX: trainX!, trainY: trainY!, testX: testX!, testY: testY! };
})();

let model: Sequential | undefined;
let plan = { epochs: 5, batchSize: 32 };
let epochsDone = 0;
let step = 0;
let running = false;

async function train(): Promise<void> {
  const data = await ready;
  if (model === undefined || running) return;
  running = true;
  post({ type: 'state', state: 'training', epochsDone, step });
  const stepsPerEpoch = Math.ceil(data.trainY.length / plan.batchSize);
  let batchesThisEpoch = 0;
  let lossSum = 0;
  let accuracySum = 0;
  let count = 0;
  try {
    await model.fit(data.trainX, data.trainY, {
      epochs: plan.epochs - epochsDone,
      batchSize: plan.batchSize,
      validationData: [data.testX, data.testY],
      callbacks: {
        onEpochBegin: () => {
          batchesThisEpoch = 0;
        },
        onBatchEnd: (_batch, logs) => {
          step++;
          batchesThisEpoch++;
          lossSum += logs.loss;
          accuracySum += logs.accuracy;
          count++;
          // Every 5 steps, the mean of those steps' losses and accuracies.
          if (count === 5) {
            post({ type: 'progress', step, epoch: epochsDone, loss: lossSum / count, accuracy: accuracySum / count });
            lossSum = accuracySum = count = 0;
          }
        },
        onEpochEnd: (_epoch, logs) => {
          // fit reports a stopped epoch too; only whole epochs count.
          if (batchesThisEpoch < stepsPerEpoch) return;
          epochsDone++;
          post({ type: 'epoch', epoch: epochsDone, step, loss: logs.loss, accuracy: logs.accuracy, valLoss: logs.val_loss!, valAccuracy: logs.val_accuracy! });
        },
      },
    });
  } catch (error) {
    post({ type: 'error', message: (error as Error).message });
  } finally {
    running = false;
  }
  post({ type: 'state', state: epochsDone >= plan.epochs ? 'done' : 'stopped', epochsDone, step });
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  try {
    switch (message.type) {
      case 'start':
        if (running) return;
        await ready;
        model?.dispose();
        model = models.leNet5({ variant: 'modern' });
        model.compile({ optimizer: 'adam', learningRate: 0.001, seed: message.seed });
        plan = { epochs: message.epochs, batchSize: message.batchSize };
        epochsDone = 0;
        step = 0;
        await train();
        break;
      case 'stop':
        if (model) model.stopTraining = true;
        break;
      case 'resume':
        await train();
        break;
      case 'save':
        if (!model) throw new Error('nothing to save yet: start training first');
        await model.save(message.url);
        // Read it back, as a user of the saved model would.
        (await loadModel(message.url)).dispose();
        post({ type: 'saved', url: message.url });
        break;
      case 'export': {
        if (!model) throw new Error('no model yet: start training first');
        const { modelJson, weights } = toArtifacts(model);
        post({ type: 'artifacts', modelJson, weights }, [weights.buffer]);
        break;
      }
    }
  } catch (error) {
    post({ type: 'error', message: (error as Error).message });
  }
};
