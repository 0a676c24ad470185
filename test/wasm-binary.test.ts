// The default build must use wasm SIMD (simd128) and must not use relaxed-SIMD, whose results
// may differ between engines (DESIGN.md, determinism). The opt-in relaxed-SIMD build
// (init({ simd: 'relaxed' })) must use it, and must export what the default build exports: one
// glue loads either.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const path = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
const objdump = (args: string[], file: string) => execFileSync('wasm-objdump', [...args, path(file)], { encoding: 'utf8', maxBuffer: 256 << 20 });
const exportsOf = (file: string) =>
  objdump(['-x', '-j', 'Export'], file)
    .split('\n')
    .filter((line) => line.includes(' -> '))
    .map((line) => line.replace(/^.*-> /, ''));

describe('the built .wasm (wasm-objdump -d)', () => {
  const disassembly = objdump(['-d'], 'convnet_wasm_bg.wasm');

  it('contains f32x4 multiply and add instructions', () => {
    expect(disassembly.match(/\bf32x4\.mul\b/g)?.length ?? 0).toBeGreaterThan(0);
    expect(disassembly.match(/\bf32x4\.add\b/g)?.length ?? 0).toBeGreaterThan(0);
  });

  it('contains no relaxed-SIMD instructions', () => {
    expect(disassembly).not.toMatch(/relaxed/);
  });
});

describe('the relaxed-SIMD .wasm', () => {
  it("runs the products' multiply-adds as f32x4.relaxed_madd; besides, only f32x4.relaxed_max", () => {
    const relaxed = objdump(['-d'], 'convnet_wasm_relaxed_bg.wasm');
    expect(relaxed.match(/\bf32x4\.relaxed_madd\b/g)?.length ?? 0).toBeGreaterThan(0);
    // LLVM also turns a few compare-and-select maxima (`x > m ? x : m`) into relaxed_max, whose
    // result an engine may choose when an operand is NaN (docs/relaxed-simd.md).
    const others = new Set(relaxed.match(/\b\w+\.relaxed_\w+/g)?.filter((op) => op !== 'f32x4.relaxed_madd'));
    expect([...others].filter((op) => op !== 'f32x4.relaxed_max')).toEqual([]);
  });

  it('exports what the default build exports, under the same names', () => {
    const names = exportsOf('convnet_wasm_bg.wasm');
    expect(names.length).toBeGreaterThan(40);
    expect(exportsOf('convnet_wasm_relaxed_bg.wasm')).toEqual(names);
  });
});
