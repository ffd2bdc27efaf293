#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan/UBSan and runs each for a bounded time: the data
# layer's binary parsers (CIFAR-10, IDX, MAT, dataset cache) and our use of the libraries that
# read untrusted files (safetensors headers and run-directory JSON through nlohmann-json,
# tar/tar.gz unpacking and its path check through libarchive).
#
# usage: tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET=30]
#   CXX_FUZZ overrides the compiler (default clang++-14); FUZZ_JOBS how many compiles and
#   fuzzers run at once (default: one per core; each fuzzer is single-threaded).
# Exit status is non-zero when any target finds a crash, leak, timeout or sanitizer report; the
# offending inputs are copied to tests/data/fixtures/fuzz/<target>/, where the data_fuzz_regressions
# test replays them: fix the parser, then keep the input committed.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [SECONDS_PER_TARGET=30]" >&2
  exit 2
fi
build=$(mkdir -p "$1" && cd "$1" && pwd)
seconds=${2:-30}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cxx=${CXX_FUZZ:-clang++-14}
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
flags=(-std=c++20 -O1 -g1 -fno-omit-frame-pointer -I"$root")
jobs=${FUZZ_JOBS:-$(nproc)}

# in_parallel FUNCTION ARG...: FUNCTION ARG for every ARG, `jobs` at a time; fails when any did.
in_parallel() {
  local fn=$1 failed=0 pids=()
  shift
  for a in "$@"; do
    "$fn" "$a" &
    pids+=($!)
    if (( ${#pids[@]} >= jobs )); then
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  return $failed
}

# The parsers and what they depend on; image decoding (stb), the loader and the tensors are not
# needed.
lib_sources=(data/bytes data/dataset data/image_resize data/cifar_binary data/idx data/svhn_mat data/dataset_cache
             engine/json engine/safetensors_header train/progress train/schedule train/early_stopping
             apps/results apps/tar_extract)
mkdir -p "$build/obj"
object_of() { echo "$build/obj/${1//\//_}.o"; }
compile() { "$cxx" "${flags[@]}" $sanitize -fsanitize=fuzzer-no-link -c "$root/$1.cpp" -o "$(object_of "$1")"; }
in_parallel compile "${lib_sources[@]}"
objects=()
for s in "${lib_sources[@]}"; do objects+=("$(object_of "$s")"); done

# Seed corpora: the committed .mat fixtures, and tiny valid CIFAR/IDX/cache inputs.
seeds="$build/seeds"
mkdir -p "$seeds"/{cifar,idx,mat,cache,safetensors,run_json,archive}
cp "$root"/tests/data/fixtures/*.mat "$seeds/mat/"
head -c 3073 /dev/urandom > "$seeds/cifar/one_record.bin"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02ABCDEFGH' > "$seeds/idx/images.idx"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03' > "$seeds/idx/labels.idx"
gzip -c "$seeds/idx/images.idx" > "$seeds/idx/images.idx.gz"
printf 'RFDSCACH\x01\x00\x00\x00' > "$seeds/cache/header.bin"
# safetensors: two bytes of data size (12, little-endian), then the header.
printf '\x0c\x00{"__metadata__":{"format":"x"},"w":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]}}' \
  > "$seeds/safetensors/one_tensor.bin"
printf '{"seed_index":0,"generation":1,"model":"resnet8","test_accuracy":0.5,"val_accuracy":null,"label_agreement":0.4,"label_entropy":1.2,"train_seconds":3.5,"images_per_second":100.25,"epochs_run":2,"stopped_early":false}' \
  > "$seeds/run_json/stats.json"
printf '{"epoch":1,"epochs":2,"train_loss":2.1,"train_accuracy":0.3,"val_loss":null,"val_accuracy":null,"lr":0.1,"images_per_second":1e3,"epoch_seconds":1.5,"elapsed_seconds":1.5,"eta_seconds":1.5}' \
  > "$seeds/run_json/metrics_line.json"
printf '{"lr":0.01,"best":null,"wait":0,"cooldown_counter":0}' > "$seeds/run_json/plateau_state.json"
rm -rf "$build/tree" && mkdir -p "$build/tree/a" && printf 'x' > "$build/tree/a/b.txt"
tar -C "$build/tree" --format=ustar -cf "$seeds/archive/small.tar" a
tar -C "$build/tree" --format=pax -cf "$seeds/archive/small_pax.tar" a
gzip -c "$seeds/archive/small.tar" > "$seeds/archive/small.tar.gz"

# fuzz TARGET: builds fuzz_TARGET and runs it; on a finding keeps the inputs and fails.
fuzz() {
  local target=$1 exe="$build/fuzz_$1" corpus="$build/corpus/$1" artifacts="$build/artifacts/$1"
  "$cxx" "${flags[@]}" $sanitize -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$target.cpp" "${objects[@]}" -lz -larchive -o "$exe"
  mkdir -p "$corpus" "$artifacts"
  if ! "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" "$seeds/$target" > "$build/fuzz_$target.log" 2>&1; then
    echo "!! fuzz_$target found a problem; log: $build/fuzz_$target.log" >&2
    tail -n 40 "$build/fuzz_$target.log" >&2
    local keep="$root/tests/data/fixtures/fuzz/$target"
    mkdir -p "$keep"
    cp "$artifacts"/* "$keep/" 2>/dev/null || true
    echo "!! inputs copied to $keep" >&2
    return 1
  fi
  echo "== fuzz_$target for ${seconds}s: $(grep -E "cov:" "$build/fuzz_$target.log" | tail -n 1)"
}

status=0
in_parallel fuzz cifar idx mat cache safetensors run_json archive || status=1
exit $status
