#!/usr/bin/env bash
# One command for a GPU machine: build with CUDA, run the GPU parity tests,
# verify the reference fixtures on the GPU in every precision, and benchmark
# the official model sizes. Logs and results go to $GPU_CHECK_OUT
# (default ./gpu-check-out); a summary table is printed last.
#
#   GPU_CHECK_OUT=out bash scripts/gpu-check.sh
#
# Environment:
#   GPU_CHECK_OUT       output folder (default ./gpu-check-out)
#   GPU_CHECK_BUILD     build folder (default ./build-gpu)
#   GPU_CHECK_PREBUILT  1 = use the binaries already in GPU_CHECK_BUILD (no configure/build)
#   GPU_CHECK_ARCHS     CUDA architectures to build (default 90)
#   GPU_CHECK_DEVICE    device to test (default cuda:0)
#   GPU_CHECK_BENCH     space-separated bench cases "model:precision" (default below)
#   GPU_CHECK_SKIP      space-separated stages to skip: tests verify bench
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${GPU_CHECK_OUT:-./gpu-check-out}
BUILD=${GPU_CHECK_BUILD:-./build-gpu}
DEVICE=${GPU_CHECK_DEVICE:-cuda:0}
BENCH_CASES=${GPU_CHECK_BENCH:-"1p0deg:fp32 1p0deg:tf32 1p0deg:bf16 0p25deg:tf32 0p25deg:bf16"}
SKIP=" ${GPU_CHECK_SKIP:-} "
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
note "gpu: $(head -1 "$OUT/gpu.txt")"
note "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

if [[ "${GPU_CHECK_PREBUILT:-0}" != 1 ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DGENCAST_CUDA=ON \
        -DGENCAST_CUDA_ARCHITECTURES="${GPU_CHECK_ARCHS:-90}" > "$OUT/configure.log" 2>&1 &&
  cmake --build "$BUILD" -j"$(nproc)" > "$OUT/build.log" 2>&1 ||
    { note "build: FAILED (see build.log)"; tail -30 "$OUT/build.log"; exit 1; }
  note "build: ok"
fi
BIN="$BUILD/app/gencast-run"
TESTS="$BUILD/tests/gencast_tests"
status=0

if [[ "$SKIP" != *" tests "* ]]; then
  if "$TESTS" "[cuda]" > "$OUT/cuda-tests.log" 2>&1; then
    note "gpu parity tests: pass ($(grep -E 'test cases' "$OUT/cuda-tests.log" | tail -1))"
  else
    note "gpu parity tests: FAIL (see cuda-tests.log)"; status=1
  fi
fi

if [[ "$SKIP" != *" verify "* ]]; then
  for p in fp32 tf32 bf16; do
    if "$BIN" verify tests/data/gencast_tiny --device "$DEVICE" --precision "$p" \
         > "$OUT/verify-$p.log" 2>&1; then
      note "verify fixtures on $DEVICE $p: pass"
    else
      note "verify fixtures on $DEVICE $p: FAIL (see verify-$p.log)"; status=1
    fi
  done
fi

if [[ "$SKIP" != *" bench "* ]]; then
  for c in $BENCH_CASES; do
    m=${c%%:*}; p=${c##*:}
    if "$BIN" bench --model "$m" --precision "$p" --device "$DEVICE" --json "$OUT/bench-$m-$p.json" \
         > "$OUT/bench-$m-$p.log" 2>&1; then
      note "bench $m $p: $(tail -1 "$OUT/bench-$m-$p.log")"
    else
      note "bench $m $p: FAIL (see bench-$m-$p.log)"; status=1
    fi
  done
fi

echo "==== summary ===="
cat "$summary"
exit $status
