// Runs test/shared/relaxed-run.mjs in a child process (its own module and V8 flags): the
// relaxed-SIMD tests in Node and in Chromium both compare against it.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./relaxed-run.mjs', import.meta.url));

/** The V8 flag that turns relaxed SIMD on where it has not shipped yet (Node 20). */
export const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';

export interface RelaxedRun {
  buildInfo?: string;
  losses?: number[];
  weights?: string;
  initial?: number[];
  probabilities?: number[];
  error?: { name: string; code: string; message: string };
}

/** The script's one JSON line, for `simd` on `workers` workers, Node started with `flags`. */
export function runRelaxedChild(simd: 'default' | 'relaxed', workers: number, flags: string[] = []): RelaxedRun {
  const out = execFileSync(process.execPath, [...flags, script, simd, String(workers)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as RelaxedRun;
}
