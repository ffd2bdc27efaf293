#!/usr/bin/env bash
# The GPU acceptance runs of issues 11 and 12 in one device call, from the repository root:
#   PHASES="tests r50 default profile blog" bash tools/gpu_acceptance.sh   (carry [".device"])
# Builds into build-gpu (with .device/env.sh when present) unless BUILD names a finished build,
# then runs each phase under one deadline (DEADLINE seconds, default 540) and prints a summary
# per phase: every generation's test accuracy, epochs and median seconds per epoch. $OUT gets
# log.txt, each run's report.md and, for a run that failed, its whole output (a device call
# brings back at most 8 files).
# Phases and their cost on an H200 at the speeds of 2026-11-28 (estimates, not measurements):
#   tests    the GPU suites (ctest -R "cuda|gpu", verbose: the figures each prints)  (~0.5 min)
#   r50      issue 11: the 3-generation ResNet50 chain (25,000 images, 3 epochs, no augmentation),
#            2 seeds, TF32 on and with NVIDIA_TF32_OVERRIDE=0                   (~1.5 min)
#   default  issue 11: README's `refine_app cifar10`, R1 only, full length     (~1.5 min)
#   blog     issue 11: the blog recipe without augmentation, full length with early stopping,
#            3 generations (as many as fit the deadline; the report has each finished one) (5+ min)
#   teacher  issue 12: a ResNet-56 R1 on CIFAR-10 (the default recipe, EPOCHS epochs, default
#            30); its model comes back as $OUT/teacher-resnet56.safetensors     (~2.5 min)
#   students issue 12: resnet20 students of TEACHER (a file, e.g. the one a teacher phase of an
#            earlier call brought back, carried in .device; default: this call's teacher phase),
#            5 seeds with --control, EPOCHS epochs each                         (~10 min)
#   sanitizer compute-sanitizer memcheck on the suites with recorded graphs and GPU data
#            (test_gpu_step_graph, test_cuda_data_ops)                          (~2 min)
#   profile  issue 8: GPU time per op of the blog ResNet50's eager step (bench_train --profile,
#            batch 250, TF32 and bf16), to choose the next speed work from data (~1 min)
#   bf16     issue 8: --precision bf16 against tf32: bench_train's ResNet50 (batch 250, CUDA
#            graphs) training and inference images/s, each also with --concurrent-backward on
#            (weight gradients on a second CUDA stream) beside it, inference also in batches of
#            1,000 (--eval-batch-size), each row with the kernels its recorded training step and
#            inference pass run; the r50 chain in bf16 and the r50 chain's first seed with
#            --concurrent-backward on (their accuracy next to r50's)                 (~3 min)
# SMOKE="--device cpu --model resnet8 ..." appends flags to every run (a check of this script on
# a machine without a GPU: later flags win). GPU-only flags are then left out of the runs
# (--concurrent-backward, which refine_app refuses on the CPU); bench_train's CUDA runs fail and
# log why.
set -u
cd "$(git rev-parse --show-toplevel)"
T0=$SECONDS
DEADLINE=${DEADLINE:-540}
OUT=${OUT:-/tmp/gpu-acceptance}
PHASES=${PHASES:-tests r50 default profile blog}
SMOKE=${SMOKE:-}
EPOCHS=${EPOCHS:-30}
mkdir -p "$OUT"
log() { echo "=== [$((SECONDS - T0)) s] $*" | tee -a "$OUT/log.txt"; }
left() { echo $((DEADLINE - (SECONDS - T0) - 5)); }

if [ -z "${BUILD:-}" ]; then
  BUILD=build-gpu
  [ -f .device/env.sh ] && source .device/env.sh
  log "build $BUILD"
  cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} > /tmp/acceptance-configure.log 2>&1 ||
    { tail -20 /tmp/acceptance-configure.log; exit 1; }
  cmake --build $BUILD -j"$(nproc)" > /tmp/acceptance-build.log 2>&1 ||
    { grep -E "error|FAILED" /tmp/acceptance-build.log | head -20; exit 1; }
fi
APP=$BUILD/apps/refine_app
[ -x "$APP" ] || { echo "no $APP"; exit 1; }
DATA=()
if [ -f .device/data.tar.gz ]; then
  [ -d .device/data/cifar10 ] || { mkdir -p .device/data && tar -xzf .device/data.tar.gz -C .device/data; }
  DATA=(--data .device/data)
fi

# Every generation of every run under $1: its test accuracy, epochs and median s/epoch (wall
# time, the previous epoch's checkpoint included), with the steps' and the evaluation's share.
summary() {
  python3 - "$1" <<'PY'
import json, pathlib, statistics, sys
for m in sorted(pathlib.Path(sys.argv[1]).glob("*/seed*/*/metrics.jsonl")):
    epochs = [json.loads(line) for line in m.read_text().splitlines() if line.strip()]
    stats = m.with_name("stats.json")
    test = json.loads(stats.read_text()).get("test_accuracy") if stats.exists() else None
    med = lambda key: statistics.median(e.get(key) or 0 for e in epochs) if epochs else 0
    print(f"  {m.parent.parent.name}/{m.parent.name}: {len(epochs)} epochs, median {med('epoch_seconds'):.2f} "
          f"s/epoch (steps {med('train_seconds'):.2f}, statistics + validation {med('evaluation_seconds'):.2f}), "
          f"test accuracy {test}")
PY
}

# run NAME FLAGS...: one refine_app run within what is left of the deadline.
run() {
  local name=$1; shift
  local limit; limit=$(left)
  if [ "$limit" -lt 30 ]; then log "$name: skipped, ${limit} s left"; return; fi
  log "$name (limit ${limit} s): $*"
  rm -rf "/tmp/acceptance-$name"
  # shellcheck disable=SC2086
  local output=/tmp/acceptance-$name.log rc
  timeout "$limit" "$APP" cifar10 "${DATA[@]}" "$@" $SMOKE --out "/tmp/acceptance-$name" > "$output" 2>&1
  rc=$?
  echo "rc=$rc" | tee -a "$OUT/log.txt"
  [ $rc -ne 0 ] && { cp "$output" "$OUT/$name.log"; tr '\r' '\n' < "$output" | tail -5 | tee -a "$OUT/log.txt"; }
  tr '\r' '\n' < "$output" | grep -v ETA | grep -E "^R[0-9]|^\| R|rror|arning" | tail -12 | tee -a "$OUT/log.txt"
  summary "/tmp/acceptance-$name" | tee -a "$OUT/log.txt"
  local r; r=$(ls -d "/tmp/acceptance-$name"/*/ 2>/dev/null | tail -1)
  [ -n "$r" ] && [ -f "$r/report.md" ] && cp "$r/report.md" "$OUT/$name-report.md"
}

R50=(--model resnet50 --optimizer adam --lr 0.001 --weight-decay 0 --batch-size 250 --schedule constant
     --augment none --epochs 3 --generations 3 --train-limit 25000 --seeds 2)
for phase in $PHASES; do
  case $phase in
    tests)
      log "tests: ctest -R 'cuda|gpu'"
      timeout "$(left)" ctest --test-dir "$BUILD" -j6 --timeout 200 -V -R "cuda|gpu" > "$OUT/tests.log" 2>&1
      echo "rc=$?" | tee -a "$OUT/log.txt"
      grep -E "Test +#|tests passed|tests failed|worst|labels:|SKIPPED|ERROR" "$OUT/tests.log" | sed 's/^[0-9]*: //' |
        head -60 | tee -a "$OUT/log.txt" ;;
    r50)
      run r50-tf32 "${R50[@]}"
      NVIDIA_TF32_OVERRIDE=0 run r50-tf32-override-0 "${R50[@]}" ;;
    default) run default --generations 1 ;;
    bf16)
      for p in "tf32" "tf32 --concurrent-backward on" "bf16" "bf16 --concurrent-backward on" \
               "tf32 --inference-batch 1000" "bf16 --inference-batch 1000"; do
        log "bf16: bench_train --device cuda --model resnet50 --batch 250 --cuda-graphs on --precision $p"
        # shellcheck disable=SC2086
        timeout "$(left)" "$BUILD/bench/bench_train" --device cuda --model resnet50 --batch 250 --steps 20 \
          --cuda-graphs on --precision $p 2>&1 | tail -1 | tee -a "$OUT/log.txt"
      done
      run r50-bf16 "${R50[@]}" --precision bf16
      # r50-tf32's first seed (seed 0) again with the weight gradients on a second stream: same
      # results up to cuDNN's timed algorithm choice. A CPU smoke run (SMOKE --device cpu) runs it
      # in order, refine_app refusing the flag there.
      cb=on
      [[ " $SMOKE " == *" --device cpu "* || " $SMOKE " == *" --device=cpu "* ]] && cb=off
      run r50-tf32-concurrent "${R50[@]}" --seeds 1 --concurrent-backward $cb ;;
    blog) run blog --recipe blog --augment none --augment-copies 0 ;;
    teacher)
      run teacher --model resnet56 --generations 1 --epochs "$EPOCHS"
      t=$(ls /tmp/acceptance-teacher/*/seed0/gen1/model.safetensors 2>/dev/null | tail -1)
      [ -n "$t" ] && cp "$t" "$OUT/teacher-resnet56.safetensors" && TEACHER=${TEACHER:-$t} ;;
    students)
      if [ -n "${TEACHER:-}" ] && [ -f "$TEACHER" ]; then
        run students --teacher "$TEACHER" --model resnet20 --generations 1 --seeds 5 --control --epochs "$EPOCHS"
      else
        log "students: skipped, no TEACHER file (run the teacher phase first or set TEACHER)"
      fi ;;
    sanitizer)
      command -v compute-sanitizer > /dev/null || { log "sanitizer: no compute-sanitizer on PATH"; continue; }
      for t in test_gpu_step_graph test_cuda_data_ops; do
        f=$(find "$BUILD/tests" -name "$t" -type f | head -1)
        log "sanitizer: $t"
        timeout "$(left)" compute-sanitizer --tool memcheck "$f" > "/tmp/acceptance-sanitizer-$t.log" 2>&1
        echo "rc=$?" | tee -a "$OUT/log.txt"
        grep -E "ERROR SUMMARY|Status" "/tmp/acceptance-sanitizer-$t.log" | tail -2 | tee -a "$OUT/log.txt"
      done ;;
    profile)
      : > "$OUT/profile.log"
      for p in tf32 bf16; do
        log "profile: bench_train --device cuda --model resnet50 --batch 250 --precision $p --profile"
        timeout "$(left)" "$BUILD/bench/bench_train" --device cuda --model resnet50 --batch 250 --steps 20 \
          --precision $p --profile >> "$OUT/profile.log" 2>&1
        echo "rc=$?" | tee -a "$OUT/log.txt"
      done
      head -120 "$OUT/profile.log" | tee -a "$OUT/log.txt" ;;
    *) log "unknown phase $phase (tests, r50, default, blog, teacher, students, sanitizer, profile, bf16)" ;;
  esac
done
log done
