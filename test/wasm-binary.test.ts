// The default build must use wasm SIMD (simd128) and must not use relaxed-SIMD, whose results
// may differ between engines (DESIGN.md, determinism).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const wasmPath = fileURLToPath(new URL('../dist/convnet_wasm_bg.wasm', import.meta.url));

describe('the built .wasm (wasm-objdump -d)', () => {
  const disassembly = execFileSync('wasm-objdump', ['-d', wasmPath], { encoding: 'utf8', maxBuffer: 256 << 20 });

  it('contains f32x4 multiply and add instructions', () => {
    expect(disassembly.match(/\bf32x4\.mul\b/g)?.length ?? 0).toBeGreaterThan(0);
    expect(disassembly.match(/\bf32x4\.add\b/g)?.length ?? 0).toBeGreaterThan(0);
  });

  it('contains no relaxed-SIMD instructions', () => {
    expect(disassembly).not.toMatch(/relaxed/);
  });
});
