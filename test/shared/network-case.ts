// Trains the reference networks for a few steps from fixed seeds on given real images, and
// returns every loss, every weight byte and the predict bytes (plain and over test-time views): the identity test runs this in
// Node and in Chromium and compares the results byte for byte.
import type * as Api from 'convnet-wasm';
import { keras3Net, normalisedNet } from './newer-layers.js';
import { residualNet } from './residual-net.js';

export interface CaseData {
  /** 8-bit training images (28×28) and labels, and test images for predict. */
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
}

export interface CaseResult {
  losses: number[];
  weights: Uint8Array;
  predictions: Uint8Array;
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

/**
 * `workers`: fit's data-parallel workers (default: fit's own default, the cores in Node and 1 in a
 * page); the results must not depend on it.
 * `network`: 'fashion' (3 steps of batch 32, Nadam) or 'lenet5' (50 steps of batch 1, SDLM) or 'lenet5-modern' (50 of batch 8, Adam)
 * or 'normalised' and 'keras3' (test/shared/newer-layers.ts: the later layers and augmentation, 4 steps of batch 32,
 * Adam) or 'lenet5-distorted' (the faithful LeNet-5 with the paper's distortions, 30 SDLM steps of batch 1) or
 * 'residual' (test/shared/residual-net.ts, a graph model: 4 Adam steps of batch 32). */
export async function networkCase(api: typeof Api, network: 'fashion' | 'lenet5' | 'lenet5-modern' | 'normalised' | 'keras3' | 'lenet5-distorted' | 'residual', data: CaseData, workers?: number): Promise<CaseResult> {
  const plan = {
    fashion: { build: () => api.models.fashionConvNet().compile({ optimizer: 'nadam', seed: 42 }), steps: 3, batch: 32 },
    lenet5: { build: () => api.models.leNet5().compile({ optimizer: 'sdlm', learningRate: 0.00005, seed: 42 }), steps: 50, batch: 1 },
    'lenet5-modern': { build: () => api.models.leNet5({ variant: 'modern' }).compile({ optimizer: 'adam', seed: 42 }), steps: 50, batch: 8 },
    normalised: { build: () => normalisedNet(api).compile({ optimizer: 'adam', seed: 42 }), steps: 4, batch: 32 },
    keras3: { build: () => keras3Net(api).compile({ optimizer: 'adam', seed: 42 }), steps: 4, batch: 32 },
    residual: { build: () => residualNet(api).compile({ optimizer: 'adam', learningRate: 0.01, seed: 42 }), steps: 4, batch: 32 },
    'lenet5-distorted': { build: () => api.models.leNet5({ distortions: true }).compile({ optimizer: 'sdlm', learningRate: 0.00005, seed: 42 }), steps: 30, batch: 1 },
  }[network];
  const model = plan.build();
  const n = plan.steps * plan.batch;
  const losses: number[] = [];
  await model.fit(data.trainImages.subarray(0, n * 784), data.trainLabels.subarray(0, n), {
    batchSize: plan.batch,
    ...(workers === undefined ? {} : { workers }),
    curvatureSamples: 20,
    callbacks: { onBatchEnd: (_b, logs) => void losses.push(logs.loss) },
  });
  // predict's bytes, then those of the probabilities averaged over the ten test-time views.
  const predictions = new Uint8Array([...bytesOf(model.predict(data.testImages)), ...bytesOf(model.predict(data.testImages, { views: api.testTimeViews() }))]);
  const result = { losses, weights: bytesOf(model.getWeightsFlat()), predictions };
  model.dispose();
  return result;
}
