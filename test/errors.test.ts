// The error codes: the README's error table lists every code a ConvnetError can carry, and only
// those; an error the wasm raises keeps its code and class across the boundary.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as cw from 'convnet-wasm';

beforeAll(() => cw.init());

describe('error codes', () => {
  it('the README table lists exactly ERROR_CODES', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('| error | code | when |'));
    const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
    const listed = rows.flatMap((row) => [...row.split('|')[2]!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!));
    expect([...listed].sort()).toEqual([...cw.ERROR_CODES].sort());
  });

  it('the wasm’s own checks arrive as typed errors naming the layer by its TS name', () => {
    // A size beyond the runtime's limit is only checked in the wasm.
    const huge = new cw.Sequential({ inputShape: [8, 8, 1], layers: [cw.layers.flatten(), cw.layers.dense({ name: 'wide', units: 1 << 20, activation: 'softmax' })] });
    expect(() => huge.compile()).toThrowError(expect.objectContaining({ code: 'LIMIT_EXCEEDED', message: expect.stringContaining('above the limit of 65536') }));
    const pooled = new cw.Sequential({ inputShape: [4, 4, 1], layers: [cw.layers.averagePool2d({ name: 'avg' }), cw.layers.flatten(), cw.layers.dense({ units: 2, activation: 'softmax' })] });
    let caught: unknown;
    try {
      pooled.compile({ optimizer: 'sdlm' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(cw.InvalidArgumentError);
    expect((caught as cw.ConvnetError).message).toBe(
      'sequential.compile(): layer 0 (averagePool2d "avg"): the sdlm optimizer has no curvature rule for it; use subsampling2d or maxPool2d',
    );
  });
});
