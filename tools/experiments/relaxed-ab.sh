#!/usr/bin/env bash
# The relaxed-SIMD build against the default build, interleaved, each measurement a fresh process
# (bench/cell.mjs): training at batch 32 on 1 thread and 2 workers, inference at batch 256,
# batch-1 latency, for the Fashion ConvNet and the modern LeNet-5, three rounds.
# Node 20 needs --experimental-wasm-relaxed-simd (harmless for the default build's cells).
# Usage: npm run build && bash tools/experiments/relaxed-ab.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
F=$(node --input-type=module -e "process.exit((await import('convnet-wasm')).relaxedSimdSupported() ? 0 : 1)" && echo "" || echo --experimental-wasm-relaxed-simd)
value() { node $F bench/cell.mjs "$1" | node -pe 'JSON.parse(require("fs").readFileSync(0)).value'; }
for net in fashion lenet; do
  for rep in 1 2 3; do
    for simd in default relaxed; do
      if [ $net = fashion ]; then T='"steps":30,"warmup":2'; R=3; else T='"steps":300,"warmup":5'; R=20; fi
      S=""; [ $simd = relaxed ] && S=',"simd":"relaxed"'
      base="\"engine\":\"convnet-wasm\",\"network\":\"$net\""
      tr=$(value "{$base,\"metric\":\"train\",\"batch\":32,$T,\"workers\":1$S}")
      tw=$(value "{$base,\"metric\":\"train\",\"batch\":32,$T,\"workers\":2$S}")
      inf=$(value "{$base,\"metric\":\"infer\",\"batch\":256,\"reps\":$R,\"workers\":1$S}")
      lat=$(value "{$base,\"metric\":\"latency\",\"reps\":200$S}")
      printf '%s %s round %d: train 1 thread %.1f img/s, 2 workers %.1f img/s, inference %.1f img/s, latency %.3f ms\n' "$net" "$simd" "$rep" "$tr" "$tw" "$inf" "$lat"
    done
  done
done
