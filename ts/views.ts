/**
 * Test-time augmentation: `predict`, `evaluate` and their async forms take `views`, copies of
 * each input image flipped and moved by whole pixels, and average the class probabilities over
 * them. The views are made and the probabilities averaged inside the wasm (summed in the order
 * given, then divided by their number), so the result has the same bits in Node, in browsers and
 * on any number of workers.
 * @module
 */
import { InvalidArgumentError } from './errors.js';
import type { Shape3 } from './layers/index.js';

/** A mirror image, as Keras's `RandomFlip` modes name them. */
export type ViewFlip = 'horizontal' | 'vertical' | 'horizontal_and_vertical';

/**
 * One view of an input image: flipped first (`flip`; none by default), then moved `dx` columns
 * right and `dy` rows down (negative: left, up; 0 by default), zeros filling what the move
 * uncovers — `RandomFlip` and `RandomTranslation({ fillMode: 'constant' })` at one fixed draw,
 * applied to the model's input (after `preprocessing`). `{}` is the image as it is.
 */
export interface View {
  dx?: number;
  dy?: number;
  flip?: ViewFlip;
}

/** The most views one call averages. */
export const MAX_VIEWS = 256;

const FLIPS: Record<ViewFlip, [number, number]> = { horizontal: [1, 0], vertical: [0, 1], horizontal_and_vertical: [1, 1] };

/**
 * The usual set of test-time views: the image as it is and moved `shift` pixels (default 1) up,
 * down, left and right (5 views); with `flip` (default `'horizontal'`; `'none'` for none) the
 * same five flipped too (10 views).
 */
export function testTimeViews(options: { shift?: number; flip?: ViewFlip | 'none' } = {}): View[] {
  const { shift = 1, flip = 'horizontal' } = options;
  if (!Number.isInteger(shift) || shift < 1) throw new InvalidArgumentError(`testTimeViews(): shift must be an integer ≥ 1, got ${shift}`);
  if (flip !== 'none' && !Object.hasOwn(FLIPS, flip)) throw new InvalidArgumentError(`testTimeViews(): flip must be 'horizontal', 'vertical', 'horizontal_and_vertical' or 'none', got ${JSON.stringify(flip)}`);
  const moves = [[0, 0], [shift, 0], [-shift, 0], [0, shift], [0, -shift]] as const;
  const plain: View[] = moves.map(([dx, dy]) => ({ dx, dy }));
  return flip === 'none' ? plain : [...plain, ...moves.map(([dx, dy]) => ({ dx, dy, flip }))];
}

/**
 * `views` checked against an input of `shape` and packed for the wasm as `[dx, dy, horizontal
 * flip, vertical flip]` per view; `undefined` when no views are asked for. `where` names the call.
 */
export function encodeViews(where: string, views: readonly View[] | undefined, shape: Shape3): Int32Array | undefined {
  if (views === undefined) return undefined;
  if (!Array.isArray(views) || views.length === 0) throw new InvalidArgumentError(`${where}: views must be a non-empty array of { dx, dy, flip }, e.g. testTimeViews()`);
  if (views.length > MAX_VIEWS) throw new InvalidArgumentError(`${where}: ${views.length} views, above the limit of ${MAX_VIEWS}`);
  const [h, w] = shape;
  const out = new Int32Array(4 * views.length);
  views.forEach((view, i) => {
    if (typeof view !== 'object' || view === null) throw new InvalidArgumentError(`${where}: views[${i}] must be an object { dx, dy, flip }, got ${String(view)}`);
    const unknown = Object.keys(view).filter((k) => !['dx', 'dy', 'flip'].includes(k));
    if (unknown.length > 0) throw new InvalidArgumentError(`${where}: views[${i}] has unknown keys ${unknown.join(', ')} (a view has dx, dy and flip)`);
    const { dx = 0, dy = 0, flip } = view;
    for (const [name, value, side, extent] of [['dx', dx, w, 'width'], ['dy', dy, h, 'height']] as const) {
      if (!Number.isInteger(value) || Math.abs(value) >= side) {
        throw new InvalidArgumentError(`${where}: views[${i}].${name} must be an integer with |${name}| < ${side} (the input's ${extent}), got ${value}`);
      }
    }
    if (flip !== undefined && !Object.hasOwn(FLIPS, flip)) throw new InvalidArgumentError(`${where}: views[${i}].flip must be 'horizontal', 'vertical' or 'horizontal_and_vertical', got ${JSON.stringify(flip)}`);
    const [fh, fv] = flip === undefined ? [0, 0] : FLIPS[flip as ViewFlip];
    out.set([dx, dy, fh, fv], 4 * i);
  });
  return out;
}
