#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with libFuzzer (clang), under
# AddressSanitizer and UndefinedBehaviorSanitizer:
#   npy_header  the .npy header parser
#   npz         .npz archives (open, headers, every member read)
#   spec        YAML run specs (accepted specs must round-trip through to_yaml)
#   checkpoint  checkpoints (summarize with values; OK => load_checkpoint works)
#   netcdf      NetCDF input and statistics files through the file probe
#               (probe OK => the in-process read works)
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60 (CI: 15, and 45 for checkpoint, netcdf); 0 = only build
#   TARGET              default: all five
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (parallel
#   libFuzzer workers per target, default 1), FUZZ_REQUIRED=1 (CI: a missing
#   clang or libFuzzer is an error, so CI cannot silently stop fuzzing).
#
# The corpus of each target grows in $FUZZ_BUILD_DIR/corpus/<target> across
# runs, starting from fuzz/seeds.txt. A crash leaves its input in
# $FUZZ_BUILD_DIR/artifacts/<target>/ and the script exits 1; to keep it as a
# regression, copy it to tests/data/regressions/<target>/ with a line in
# tests/data/regressions/README.md (the test suite replays it).
# Exits 0 with a notice (not an error) where clang or libFuzzer is missing,
# unless FUZZ_REQUIRED=1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(npy_header npz spec checkpoint netcdf)
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-1}
missing_status=0
[[ ${FUZZ_REQUIRED:-0} == 1 ]] && missing_status=1

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found; install clang (scripts/setup.sh) to fuzz" >&2
  exit $missing_status
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
  > "$probe/f.cpp"
if ! clang++ -fsanitize=fuzzer "$probe/f.cpp" -o "$probe/f" 2>/dev/null; then
  echo "fuzz: clang++ cannot link -fsanitize=fuzzer (Debian: libclang-rt-<version>-dev)" >&2
  exit $missing_status
fi

# Warnings stay warnings here: the gcc build (-Werror) is the one that gates them.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DGENCAST_CUDA=OFF -DGENCAST_FUZZ=ON \
  -DGENCAST_WERROR=OFF -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target $(printf 'fuzz_%s ' "${targets[@]}")
((seconds > 0)) || exit 0

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  while read -r name path; do
    [[ "$name" == "$t" ]] && cp -n "$path" "$corpus/" 2>/dev/null || true
  done < <(grep -v '^#' fuzz/seeds.txt)
  # Earlier findings stay in the corpus, so a fixed crash is re-checked.
  [[ -d "tests/data/regressions/$t" ]] && cp -n tests/data/regressions/"$t"/* "$corpus/" 2>/dev/null || true
  echo "fuzz: $t for ${seconds} s (corpus $(ls "$corpus" | wc -l) inputs)"
  # Inputs may grow to the largest seed (the tiny checkpoint: 384 KB).
  max_len=65536
  [[ $t == checkpoint ]] && max_len=524288
  [[ $t == netcdf ]] && max_len=262144
  parallel=()
  ((jobs > 1)) && parallel=(-jobs="$jobs" -workers="$jobs")
  # -rss_limit_mb: the netcdf target's children are separate processes; the
  # harness itself stays small. -timeout: one input may take this long.
  if ! ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$build/fuzz/fuzz_$t" "$corpus" -max_total_time="$seconds" -timeout=60 \
         -rss_limit_mb=4096 -max_len="$max_len" "${parallel[@]}" \
         -artifact_prefix="$artifacts/" -print_final_stats=1 > "$build/fuzz_$t.log" 2>&1; then
    echo "fuzz: $t FOUND A CRASH: $(ls -t "$artifacts" | head -1) (log: $build/fuzz_$t.log)" >&2
    tail -40 "$build/fuzz_$t.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz_$t.log" |
      sed "s/^/fuzz: $t /" || true
  fi
done
exit $status
