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
#   GPU_CHECK_SKIP      space-separated stages to skip: tests perf verify forecast bench writer resume
#   GPU_CHECK_BENCH_FLAGS extra flags for every bench run (e.g. --profile)
#   GPU_CHECK_LONG      1 = also a 15-day 0.25 deg forecast end to end (make-demo 0p25deg,
#                       1 member x 30 steps, bf16), the issue's headline figure
#   GPU_CHECK_LONG_FLAGS extra forecast flags for it (e.g. --compression 0, to compare
#                       with the default compressed output)
#   GPU_CHECK_WRITER_THREADS  thread counts of the writer stage (default "1 2 4 8 16")
#   GPU_CHECK_ENSEMBLE  ';'-separated forecast flag sets timed as 1p0deg ensembles (8 members
#                       x 4 steps, --compression 0), e.g. "--precision bf16 --batch 1;
#                       --precision bf16 --batch 8;--devices cuda:0,cuda:0 --batch 4"; reports the
#                       seconds per member-step of the sampling (setup excluded)
#   GPU_CHECK_ENSEMBLE_MODEL  make-demo preset of that stage (default 1p0deg)
#   GPU_CHECK_ENSEMBLE_SIZE   "MEMBERS STEPS" of that stage (default "8 4")
#   GPU_CHECK_RESUME_MODEL  make-demo preset of the resume stage (default 1p0deg)
#   GPU_CHECK_RESUME_SIZE   "MEMBERS STEPS" of that stage (default "2 8")
#   GPU_CHECK_RESUME_KILL   seconds after its start at which the run is killed with SIGKILL
#                       (default: half the uninterrupted run's wall time)
#   GPU_CHECK_RESUME_FLAGS  extra forecast flags for every run of that stage (e.g.
#                       "--precision bf16 --compression 0 --batch 2")
#   GPU_CHECK_SANITIZE  1 = also compute-sanitizer (memcheck, racecheck, synccheck) on the
#                       small attention cases (every attention kernel the device runs) and
#                       the small sphere-noise case, memcheck on the step transition and
#                       the f16 copy; 0 errors to pass
#   GPU_CHECK_PACK      1 = also pack every log into $GPU_CHECK_OUT/logs.tgz
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${GPU_CHECK_OUT:-./gpu-check-out}
BUILD=${GPU_CHECK_BUILD:-./build-gpu}
DEVICE=${GPU_CHECK_DEVICE:-cuda:0}
BENCH_CASES=${GPU_CHECK_BENCH:-"1p0deg:fp32 1p0deg:tf32 1p0deg:bf16 0p25deg:tf32 0p25deg:bf16"}
SKIP=" ${GPU_CHECK_SKIP:-} "
mkdir -p "$OUT/logs"
LOG="$OUT/logs"
summary="$OUT/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$LOG/gpu.txt" 2>&1
note "gpu: $(head -1 "$LOG/gpu.txt")"
note "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

if [[ "${GPU_CHECK_PREBUILT:-0}" != 1 ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DGENCAST_CUDA=ON \
        -DGENCAST_CUDA_ARCHITECTURES="${GPU_CHECK_ARCHS:-90}" > "$LOG/configure.log" 2>&1 &&
  cmake --build "$BUILD" -j"$(nproc)" > "$LOG/build.log" 2>&1 ||
    { note "build: FAILED (see build.log)"; tail -30 "$LOG/build.log"; exit 1; }
  note "build: ok"
fi
BIN="$BUILD/app/gencast-run"
TESTS="$BUILD/tests/gencast_tests"
status=0

if [[ "$SKIP" != *" tests "* ]]; then
  if "$TESTS" "[cuda]" > "$LOG/cuda-tests.log" 2>&1; then
    note "gpu parity tests: pass ($(grep -E 'test cases' "$LOG/cuda-tests.log" | tail -1))"
  else
    note "gpu parity tests: FAIL (see logs/cuda-tests.log)"; status=1
  fi
fi

if [[ "$SKIP" != *" perf "* ]]; then
  # Per-kernel timings at model sizes (attention in every tile mode and precision).
  "$TESTS" "[.cuda-perf]" > "$LOG/cuda-perf.log" 2>&1 &&
    note "kernel timings: $(grep -E 'attention per layer' "$LOG/cuda-perf.log" | tail -1)" ||
    { note "kernel timings: FAIL (see logs/cuda-perf.log)"; status=1; }
fi

if [[ "$SKIP" != *" verify "* ]]; then
  # Each precision one member per call, then every case as 2 members in one
  # call, then one member per call with the GEMM algorithms timed (--gemm-tuning).
  for p in fp32 tf32 bf16; do
    for run in b1 b2 tuned; do
      flags="--batch 1"
      [[ $run == b2 ]] && flags="--batch 2"
      [[ $run == tuned ]] && flags="--batch 1 --gemm-tuning"
      # shellcheck disable=SC2086
      if "$BIN" verify tests/data/gencast_tiny --device "$DEVICE" --precision "$p" $flags \
           > "$LOG/verify-$p-$run.log" 2>&1; then
        note "verify fixtures on $DEVICE $p $flags: pass"
      else
        note "verify fixtures on $DEVICE $p $flags: FAIL (see verify-$p-$run.log)"; status=1
      fi
    done
  done
fi

if [[ "$SKIP" != *" forecast "* ]]; then
  # A real forecast through the CLI: random-weights 1p0deg model of official
  # size with synthetic ERA5-like input (make-demo), 2 members x 4 steps.
  demo="${GPU_CHECK_DEMO_DIR:-$BUILD/demo-1p0deg}"
  if "$BIN" make-demo --model 1p0deg --dir "$demo" --force > "$LOG/make-demo.log" 2>&1 &&
     "$BIN" forecast "$demo/forecast.yaml" --members 2 --steps 4 --device "$DEVICE" \
         --output "$OUT/forecast-1p0deg.nc" --variables 2m_temperature,sea_surface_temperature \
         > "$LOG/forecast-1p0deg.log" 2>&1; then
    note "forecast 1p0deg (2 members x 4 steps) on $DEVICE: ok ($(grep -o 'wrote .*' "$LOG/forecast-1p0deg.log" | tail -1))"
  else
    note "forecast 1p0deg on $DEVICE: FAIL (see forecast-1p0deg.log)"; status=1
  fi
fi

if [[ "$SKIP" != *" bench "* ]]; then
  for c in $BENCH_CASES; do
    m=${c%%:*}; p=${c##*:}
    if "$BIN" bench --model "$m" --precision "$p" --device "$DEVICE" --json "$LOG/bench-$m-$p.json" \
         ${GPU_CHECK_BENCH_FLAGS:-} \
         > "$LOG/bench-$m-$p.log" 2>&1; then
      note "bench $m $p: $(tail -1 "$LOG/bench-$m-$p.log")"
    else
      note "bench $m $p: FAIL (see bench-$m-$p.log)"; status=1
    fi
  done
fi

if [[ "$SKIP" != *" writer "* ]]; then
  # The forecast writer alone (no GPU involved): 0.25 deg member-steps with the
  # default compression on 1..16 cores, then uncompressed on all of them;
  # written to the build folder's disk, where the long forecast writes too.
  wfile="$BUILD/writer-bench.nc"
  for t in ${GPU_CHECK_WRITER_THREADS:-1 2 4 8 16}; do
    rm -f "$wfile"
    if "$BIN" bench --writer --grid 0p25 --steps 4 --threads "$t" --output "$wfile" \
         --json "$LOG/writer-t$t.json" > "$LOG/writer-t$t.log" 2>&1; then
      note "writer 0p25, $t threads: $(tail -1 "$LOG/writer-t$t.log")"
    else
      note "writer 0p25, $t threads: FAIL (see logs/writer-t$t.log)"; status=1
    fi
  done
  rm -f "$wfile"
  if "$BIN" bench --writer --grid 0p25 --steps 4 --compression 0 --output "$wfile" \
       --json "$LOG/writer-c0.json" > "$LOG/writer-c0.log" 2>&1; then
    note "writer 0p25, --compression 0: $(tail -1 "$LOG/writer-c0.log")"
  else
    note "writer 0p25, --compression 0: FAIL (see logs/writer-c0.log)"; status=1
  fi
  rm -f "$wfile"
fi

if [[ -n "${GPU_CHECK_ENSEMBLE:-}" ]]; then
  emodel=${GPU_CHECK_ENSEMBLE_MODEL:-1p0deg}
  read -r emembers esteps <<< "${GPU_CHECK_ENSEMBLE_SIZE:-8 4}"
  demo="${GPU_CHECK_DEMO_DIR:-$BUILD/demo}-ens-$emodel"
  [[ -f "$demo/forecast.yaml" ]] ||
    "$BIN" make-demo --model "$emodel" --dir "$demo" --force > "$LOG/make-demo-ens.log" 2>&1
  IFS=';' read -ra variants <<< "$GPU_CHECK_ENSEMBLE"
  timer=""  # GNU time, where the machine has it, for the host memory peak
  [[ -x /usr/bin/time ]] && timer="/usr/bin/time -v"
  i=0
  for flags in "${variants[@]}"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    if $timer "$BIN" --log-format json forecast "$demo/forecast.yaml" \
         --members "$emembers" --steps "$esteps" \
         --compression 0 --variables 2m_temperature --output "$demo/ens-$i.nc" \
         $flags > "$LOG/ensemble-$i.log" 2>&1; then
      rate=$(python3 - "$LOG/ensemble-$i.log" <<'PY'
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"event":"step"')]
# elapsed_seconds counts from the start of the members (setup excluded), so
# the last line's value over the member-steps is the ensemble's pace.
last = steps[-1]["elapsed_seconds"]
print(f"{last / len(steps):.3f} s per member-step ({len(steps)} member-steps in {last:.1f} s)")
PY
)
      rss=$(grep -o 'Maximum resident set size (kbytes): [0-9]*' "$LOG/ensemble-$i.log" | grep -o '[0-9]*$')
      note "ensemble $emodel [$flags]: $rate${rss:+, host peak $((rss / 1024)) MB}"
    else
      note "ensemble [$flags]: FAIL (see logs/ensemble-$i.log)"; status=1
    fi
  done
fi

if [[ "$SKIP" != *" resume "* ]]; then
  # A forecast killed with SIGKILL mid-run, then continued with --resume: the
  # time lost, the member-steps computed twice, and the values against an
  # uninterrupted run (bit for bit, every data variable).
  rmodel=${GPU_CHECK_RESUME_MODEL:-1p0deg}
  read -r rmembers rsteps <<< "${GPU_CHECK_RESUME_SIZE:-2 8}"
  rdemo="${GPU_CHECK_DEMO_DIR:-$BUILD/demo}-resume-$rmodel"
  rflags="--members $rmembers --steps $rsteps --device $DEVICE --overwrite ${GPU_CHECK_RESUME_FLAGS:-}"
  now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
  secs() { echo "$(( $1 / 1000 )).$(printf %03d $(( $1 % 1000 )))"; }
  rm -f "$rdemo"/resume-*.nc*
  # shellcheck disable=SC2086
  if { [[ -f "$rdemo/forecast.yaml" ]] ||
       "$BIN" make-demo --model "$rmodel" --dir "$rdemo" --force > "$LOG/make-demo-resume.log" 2>&1; } &&
     t0=$(now_ms) &&
     "$BIN" --log-format json forecast "$rdemo/forecast.yaml" $rflags --output "$rdemo/resume-ref.nc" \
       > "$LOG/resume-whole.log" 2>&1; then
    whole_ms=$(( $(now_ms) - t0 ))
    kill_s=${GPU_CHECK_RESUME_KILL:-$(( whole_ms / 2000 ))}
    t0=$(now_ms)
    # shellcheck disable=SC2086
    "$BIN" --log-format json forecast "$rdemo/forecast.yaml" $rflags --output "$rdemo/resume-out.nc" \
      > "$LOG/resume-killed.log" 2>&1 &
    pid=$!
    sleep "$kill_s"; kill -KILL "$pid" 2>/dev/null; wait "$pid"; krc=$?
    killed_ms=$(( $(now_ms) - t0 ))
    t0=$(now_ms)
    # shellcheck disable=SC2086
    if "$BIN" --log-format json forecast "$rdemo/forecast.yaml" $rflags --resume \
         --output "$rdemo/resume-out.nc" > "$LOG/resume-resumed.log" 2>&1; then
      resumed_ms=$(( $(now_ms) - t0 ))
      report=$(/usr/bin/python3 - "$LOG/resume-killed.log" "$LOG/resume-resumed.log" "$rdemo/resume-ref.nc" \
                 "$rdemo/resume-out.nc" "$TESTS" <<'PY'
import os, re, subprocess, sys
killed, resumed, ref, out, tests = sys.argv[1:6]
computed = sum(1 for l in open(killed) if l.startswith('{"event":"step"'))
text = open(resumed).read()
m = re.search(r"resuming .*?(\d+) of (\d+) member-steps saved; (\d+) member-steps to compute"
              r"(?: \((\d+) of them saved already)?", text)
saved, total, compute, again = (int(g) if g else 0 for g in m.groups()) if m else (0, 0, 0, 0)
# Values compared by our own reader (the GPU host has no Python netCDF4).
same = subprocess.run([tests, "[.compare]"], stdout=subprocess.DEVNULL,
                      env=dict(os.environ, GENCAST_COMPARE_A=ref, GENCAST_COMPARE_B=out)).returncode == 0
print(f"{computed} member-steps computed before the kill, {saved} of {total} saved; "
      f"the resumed run computed {compute} ({again} of them saved already); "
      f"{computed - saved + again} member-steps redone; output {'equal bit for bit' if same else 'DIFFERENT'}")
sys.exit(0 if same and m else 1)
PY
) && note "resume $rmodel (${rmembers}x${rsteps}${GPU_CHECK_RESUME_FLAGS:+ $GPU_CHECK_RESUME_FLAGS}): uninterrupted $(secs "$whole_ms") s; killed (rc $krc) after $(secs "$killed_ms") s; resumed run $(secs "$resumed_ms") s; total $(secs $(( killed_ms + resumed_ms ))) s; $report" ||
        { note "resume $rmodel: FAIL ($report; see logs/resume-*.log)"; status=1; }
    else
      note "resume $rmodel: FAIL (the resumed run failed, see logs/resume-resumed.log)"; status=1
    fi
  else
    note "resume $rmodel: FAIL (see logs/make-demo-resume.log, logs/resume-whole.log)"; status=1
  fi
fi

if [[ "${GPU_CHECK_LONG:-0}" == 1 ]]; then
  demo25="${GPU_CHECK_DEMO_DIR:-$BUILD/demo}-0p25deg"
  if "$BIN" make-demo --model 0p25deg --dir "$demo25" --force > "$LOG/make-demo-0p25deg.log" 2>&1; then
    # Timed as a whole process: launch, input, every step and the file's close.
    start=$(date +%s%N)
    if "$BIN" --log-level debug forecast "$demo25/forecast.yaml" --members 1 --steps 30 \
         --device "$DEVICE" --precision bf16 --output "$demo25/forecast.nc" \
         ${GPU_CHECK_LONG_FLAGS:-} > "$LOG/forecast-0p25deg.log" 2>&1; then
      ms=$(( ($(date +%s%N) - start) / 1000000 ))
      wall="$((ms / 1000)).$(printf %03d $((ms % 1000)))"
      note "forecast 0p25deg 15 days (1 member x 30 steps, bf16 ${GPU_CHECK_LONG_FLAGS:-}): ${wall} s end to end; $(grep -o 'wrote .*' "$LOG/forecast-0p25deg.log" | tail -1)"
    else
      note "forecast 0p25deg: FAIL (see logs/forecast-0p25deg.log)"; status=1
    fi
  else
    note "make-demo 0p25deg: FAIL (see logs/make-demo-0p25deg.log)"; status=1
  fi
fi

if [[ "${GPU_CHECK_SANITIZE:-0}" == 1 ]]; then
  SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  san() {  # tool, test filter, log name
    if "$SAN" --tool "$1" --error-exitcode 3 "$TESTS" "$2" > "$LOG/sanitizer-$3-$1.log" 2>&1; then
      note "compute-sanitizer $1 $3: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/sanitizer-$3-$1.log" | tail -1 | sed 's/=* *//')"
    else
      note "compute-sanitizer $1 $3: FAIL (see logs/sanitizer-$3-$1.log)"; status=1
    fi
  }
  for tool in memcheck racecheck synccheck; do
    san "$tool" "cuda tensor-core attention: small*" attention
    san "$tool" "cuda sphere_noise: small*" sphere-noise
  done
  san memcheck "cuda step transition*" step-transition
  san memcheck "cuda copy converts*" f16-copy
fi

if [[ "${GPU_CHECK_PACK:-0}" == 1 ]]; then tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$LOG"; fi
echo "==== summary ===="
cat "$summary"
exit $status
