// The demo page. Three views: draw a digit for LeNet-5, browse Fashion-MNIST test images with the
// Fashion ConvNet, and train the modern LeNet-5 in a Web Worker. Everything numeric is the
// library's (`predict`, `layerOutputs`, `evaluate`, `fit`); this file only draws.
import { init, loadModel, parseIdx, type LayersModel } from 'convnet-wasm';
import { bars, confusionTable, curve, featureMaps, paintGray, type Series } from './charts.js';
import { drawingPad } from './draw.js';
import type { FromWorker, ToWorker } from './messages.js';

/** What the page exposes for its end-to-end tests and for the curious (in the console). */
interface DemoState {
  /** Milliseconds since navigation started (performance.now()). */
  timings: { wasmReady?: number; modelsReady?: number; firstPrediction?: number };
  digit: { predicted: number; probabilities: number[]; model: string } | null;
  fashion: { index: number; label: number; probabilities: number[] } | null;
  confusion: { done: number; total: number; accuracy?: number };
  train: {
    state: 'loading' | 'idle' | 'training' | 'stopped' | 'done';
    progress: { step: number; loss: number; accuracy: number }[];
    epochs: { epoch: number; step: number; valAccuracy: number; valLoss: number }[];
  };
  errors: string[];
}

declare global {
  interface Window {
    demo: DemoState;
  }
}

const demo: DemoState = (window.demo = {
  timings: {},
  digit: null,
  fashion: null,
  confusion: { done: 0, total: 0 },
  train: { state: 'loading', progress: [], epochs: [] },
  errors: [],
});

const $ = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;
const SAVED_URL = 'indexeddb://convnet-demo-lenet5-modern';
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

function report(where: string, error: unknown): void {
  const message = `${where}: ${error instanceof Error ? error.message : String(error)}`;
  demo.errors.push(message);
  console.error(message);
  const box = $('errors');
  box.hidden = false;
  box.append(Object.assign(document.createElement('p'), { textContent: message }));
}

// ---- views ----------------------------------------------------------------------------------
const views = ['draw', 'fashion', 'train'] as const;
type View = (typeof views)[number];
const shown = new Set<View>();
const onFirstShow: Partial<Record<View, () => void>> = {};

function show(view: View): void {
  for (const v of views) {
    $(`view-${v}`).hidden = v !== view;
    $(`tab-${v}`).setAttribute('aria-selected', String(v === view));
  }
  if (location.hash !== `#${view}`) history.replaceState(null, '', `#${view}`);
  if (!shown.has(view)) {
    shown.add(view);
    onFirstShow[view]?.();
  }
}
for (const v of views) $(`tab-${v}`).addEventListener('click', () => show(v));

async function fetchIdx(name: string): Promise<Uint8Array> {
  const response = await fetch(`data/${name}.gz`);
  if (!response.ok) throw new Error(`data/${name}.gz: HTTP ${response.status}`);
  return parseIdx(new Uint8Array(await response.arrayBuffer()), `${name}.gz`).data;
}

const argmax = (v: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
};

// ---- draw a digit ---------------------------------------------------------------------------
function setUpDraw(pretrained: LayersModel): void {
  let model = pretrained;
  let modelName = 'faithful LeNet-5, pre-trained';
  const input = $<HTMLCanvasElement>('input32');
  let queued = false;
  const classify = () => {
    queued = false;
    const x = pad.image();
    if (x === null) {
      demo.digit = null;
      $('digit-prediction').textContent = 'Draw a digit from 0 to 9.';
      bars($('digit-bars'), DIGITS, new Array(10).fill(0));
      for (const id of ['c1-maps', 'c3-maps']) $(id).replaceChildren();
      input.getContext('2d')!.clearRect(0, 0, 32, 32);
      return;
    }
    const probabilities = model.predict(x);
    const [seen, c1, c3] = model.layerOutputs(x, ['pad', 'C1', 'C3']);
    const predicted = argmax(probabilities);
    bars($('digit-bars'), DIGITS, probabilities);
    let lo = Infinity, hi = -Infinity;
    for (const v of seen!.values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    paintGray(input, seen!.values, lo, hi);
    featureMaps($('c1-maps'), c1!.values, c1!.shape);
    featureMaps($('c3-maps'), c3!.values, c3!.shape);
    const p = $('digit-prediction');
    p.textContent = `${modelName} says ${predicted} (${(100 * probabilities[predicted]!).toFixed(1)}%)`;
    p.dataset.predicted = String(predicted);
    demo.digit = { predicted, probabilities: Array.from(probabilities), model: modelName };
  };
  const pad = drawingPad($<HTMLCanvasElement>('pad'), () => {
    if (!queued) {
      queued = true;
      requestAnimationFrame(classify);
    }
  });
  $('pad-clear').addEventListener('click', () => pad.clear());
  const use = (m: LayersModel, name: string) => {
    if (model !== pretrained) model.dispose();
    model = m;
    modelName = name;
    $('draw-model').textContent = name;
    classify();
  };
  $('draw-pretrained').addEventListener('click', () => use(pretrained, 'faithful LeNet-5, pre-trained'));
  $('draw-saved').addEventListener('click', () =>
    loadModel(SAVED_URL).then(
      (m) => use(m, 'modern LeNet-5 trained in this browser (from IndexedDB)'),
      (e: unknown) => report('loading the saved model', e),
    ),
  );
  useTrained = (m) => use(m, 'modern LeNet-5 trained in this page');
  classify();
}
let useTrained: (model: LayersModel) => void = () => {};

// ---- Fashion-MNIST --------------------------------------------------------------------------
function setUpFashion(model: LayersModel, images: Uint8Array, labels: Uint8Array, names: string[]): void {
  const count = labels.length;
  const big = $<HTMLCanvasElement>('fashion-image');
  const indexInput = $<HTMLInputElement>('fashion-index');
  indexInput.max = String(count - 1);
  const select = (index: number) => {
    if (!Number.isInteger(index) || index < 0 || index >= count) return;
    const x = images.subarray(index * 784, (index + 1) * 784);
    paintGray(big, x, 0, 255);
    const probabilities = model.predict(x);
    const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b]! - probabilities[a]!);
    const label = labels[index]!;
    $('fashion-top3').replaceChildren(
      ...order.slice(0, 3).map((k) => {
        const li = document.createElement('li');
        li.className = k === label ? 'right' : 'wrong';
        li.textContent = `${names[k]} — ${(100 * probabilities[k]!).toFixed(1)}%`;
        return li;
      }),
    );
    $('fashion-truth').textContent = `Test image #${index}: ${names[label]}`;
    indexInput.value = String(index);
    for (const thumb of $('fashion-grid').children) thumb.classList.toggle('selected', (thumb as HTMLElement).dataset.index === String(index));
    demo.fashion = { index, label, probabilities: Array.from(probabilities) };
  };
  const shuffle = () => {
    const picks = new Set<number>();
    while (picks.size < Math.min(24, count)) picks.add(Math.floor(Math.random() * count));
    $('fashion-grid').replaceChildren(
      ...[...picks].map((i) => {
        const c = document.createElement('canvas');
        c.width = c.height = 28;
        c.dataset.index = String(i);
        c.title = `#${i}: ${names[labels[i]!]}`;
        paintGray(c, images.subarray(i * 784, (i + 1) * 784), 0, 255);
        c.addEventListener('click', () => select(i));
        return c;
      }),
    );
  };
  $('fashion-shuffle').addEventListener('click', () => {
    shuffle();
    select(Number(($('fashion-grid').firstElementChild as HTMLElement).dataset.index));
  });
  indexInput.addEventListener('change', () => select(Number(indexInput.value)));
  shuffle();
  select(0);

  // The confusion matrix over the sample, in small chunks so the page stays responsive.
  onFirstShow.fashion = async () => {
    const matrix = names.map(() => new Array<number>(names.length).fill(0));
    const chunk = 25;
    let correct = 0;
    demo.confusion = { done: 0, total: count };
    for (let from = 0; from < count; from += chunk) {
      const to = Math.min(count, from + chunk);
      const { confusionMatrix } = model.evaluate(images.subarray(from * 784, to * 784), labels.subarray(from, to));
      confusionMatrix.forEach((row, i) => row.forEach((v, j) => (matrix[i]![j]! += v)));
      correct = matrix.reduce((s, row, i) => s + row[i]!, 0);
      demo.confusion.done = to;
      $('confusion-status').textContent = `${to.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} test images: ${((100 * correct) / to).toFixed(1)}% right`;
      confusionTable($<HTMLTableElement>('confusion'), matrix, names);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    demo.confusion.accuracy = correct / count;
  };
}

// ---- training in a worker -------------------------------------------------------------------
function setUpTraining(): void {
  const worker = new Worker(new URL('./train-worker.js', import.meta.url), { type: 'module' });
  const send = (m: ToWorker) => worker.postMessage(m);
  const button = (id: string) => $<HTMLButtonElement>(id);
  const plan = { epochs: 5, batchSize: 32, seed: 1 };
  let trainCount = 0;
  const buttons = (state: DemoState['train']['state']) => {
    button('train-start').disabled = state === 'loading' || state === 'training';
    button('train-stop').disabled = state !== 'training';
    button('train-resume').disabled = state !== 'stopped';
    for (const id of ['train-save', 'train-use']) button(id).disabled = state === 'loading' || state === 'idle' || state === 'training';
  };
  const setState = (state: DemoState['train']['state']) => {
    demo.train.state = state;
    $('train-state').textContent = state;
    buttons(state);
  };
  const redraw = () => {
    const t = demo.train;
    const series: Series[] = [
      { name: 'loss', className: 'loss', points: t.progress.map((p) => ({ x: p.step, y: p.loss })), range: [0, 2.5] },
      { name: 'accuracy', className: 'accuracy', points: t.progress.map((p) => ({ x: p.step, y: p.accuracy })), range: [0, 1] },
      { name: 'validation accuracy', className: 'validation', points: t.epochs.map((e) => ({ x: e.step, y: e.valAccuracy })), range: [0, 1], dots: true },
    ];
    curve($<SVGSVGElement>('train-curve'), series, 'training step (batch of 32)');
    const last = t.progress[t.progress.length - 1];
    const epoch = t.epochs[t.epochs.length - 1];
    $('train-status').textContent = [
      last ? `step ${last.step} of ${plan.epochs * Math.ceil(trainCount / plan.batchSize)}: loss ${last.loss.toFixed(3)}, accuracy ${(100 * last.accuracy).toFixed(1)}%` : 'not started',
      epoch ? `after epoch ${epoch.epoch}: validation accuracy ${(100 * epoch.valAccuracy).toFixed(2)}%` : '',
    ].filter(Boolean).join(' · ');
  };
  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const m = event.data;
    switch (m.type) {
      case 'ready':
        trainCount = m.trainCount;
        $('train-data').textContent = `${m.trainCount.toLocaleString('en-US')} MNIST training images, ${m.testCount.toLocaleString('en-US')} test images for validation`;
        setState('idle');
        redraw();
        break;
      case 'progress':
        demo.train.progress.push({ step: m.step, loss: m.loss, accuracy: m.accuracy });
        redraw();
        break;
      case 'epoch':
        demo.train.epochs.push({ epoch: m.epoch, step: m.step, valAccuracy: m.valAccuracy, valLoss: m.valLoss });
        redraw();
        break;
      case 'state':
        setState(m.state);
        break;
      case 'saved':
        $('train-saved').textContent = `Saved to ${m.url}; “Load saved” in the Draw view uses it, after a reload too.`;
        break;
      case 'artifacts':
        loadModel({ modelJson: m.modelJson, weights: m.weights }).then(
          (model) => {
            useTrained(model);
            show('draw');
          },
          (e: unknown) => report('using the trained model', e),
        );
        break;
      case 'error':
        report('training worker', m.message);
        break;
    }
  };
  worker.onerror = (e) => report('training worker', e.message);
  button('train-start').addEventListener('click', () => {
    demo.train.progress = [];
    demo.train.epochs = [];
    redraw();
    setState('training');
    send({ type: 'start', ...plan });
  });
  button('train-stop').addEventListener('click', () => send({ type: 'stop' }));
  button('train-resume').addEventListener('click', () => {
    setState('training');
    send({ type: 'resume' });
  });
  button('train-save').addEventListener('click', () => send({ type: 'save', url: SAVED_URL }));
  button('train-use').addEventListener('click', () => send({ type: 'export' }));
  setState('loading');
}

// ---- start ----------------------------------------------------------------------------------
async function main(): Promise<void> {
  show((views as readonly string[]).includes(location.hash.slice(1)) ? (location.hash.slice(1) as View) : 'draw');
  setUpTraining();
  await init();
  demo.timings.wasmReady = performance.now();
  const [lenet, fashion, meta, images, labels] = await Promise.all([
    loadModel('models/lenet5/model.json'),
    loadModel('models/fashion/model.json'),
    fetch('data/meta.json').then((r) => r.json() as Promise<{ fashionClassNames: string[] }>),
    fetchIdx('fashion-test-images'),
    fetchIdx('fashion-test-labels'),
  ]);
  demo.timings.modelsReady = performance.now();
  setUpFashion(fashion, images, labels, meta.fashionClassNames);
  demo.timings.firstPrediction = performance.now();
  setUpDraw(lenet);
  const wasm = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm')) as PerformanceResourceTiming | undefined;
  const size = wasm?.encodedBodySize ? `${(wasm.encodedBodySize / 1024).toFixed(1)} KiB of wasm, ` : '';
  $('status').textContent = `Ready: ${size}first prediction ${Math.round(demo.timings.firstPrediction)} ms after the page started loading.`;
  if (shown.has('fashion')) onFirstShow.fashion?.();
}

main().catch((e: unknown) => report('starting the demo', e));
