#!/usr/bin/env bash
# Builds the libFuzzer targets for the data layer's binary parsers (CIFAR-10, IDX, MAT, dataset
# cache) with clang + ASan/UBSan and runs each for a bounded time.
#
# usage: tests/fuzz/run_fuzzers.sh BUILD_DIR [SECONDS_PER_TARGET=30]
#   CXX_FUZZ overrides the compiler (default clang++-14).
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
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -I"$root")

# The parsers and what they depend on; image decoding (stb) and the loader are not needed.
lib_sources=(bytes dataset cifar_binary idx svhn_mat dataset_cache)
mkdir -p "$build/obj"
objects=()
for s in "${lib_sources[@]}"; do
  "$cxx" "${flags[@]}" $sanitize -fsanitize=fuzzer-no-link -c "$root/data/$s.cpp" -o "$build/obj/$s.o"
  objects+=("$build/obj/$s.o")
done

# Seed corpora: the committed .mat fixtures, and tiny valid CIFAR/IDX/cache inputs.
seeds="$build/seeds"
mkdir -p "$seeds"/{cifar,idx,mat,cache}
cp "$root"/tests/data/fixtures/*.mat "$seeds/mat/"
head -c 3073 /dev/urandom > "$seeds/cifar/one_record.bin"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02ABCDEFGH' > "$seeds/idx/images.idx"
printf '\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03' > "$seeds/idx/labels.idx"
gzip -c "$seeds/idx/images.idx" > "$seeds/idx/images.idx.gz"
printf 'RFDSCACH\x01\x00\x00\x00' > "$seeds/cache/header.bin"

status=0
for target in cifar idx mat cache; do
  exe="$build/fuzz_$target"
  "$cxx" "${flags[@]}" $sanitize -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$target.cpp" "${objects[@]}" -lz -o "$exe"
  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  echo "== fuzz_$target for ${seconds}s"
  if ! "$exe" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" "$seeds/$target" > "$build/fuzz_$target.log" 2>&1; then
    status=1
    echo "!! fuzz_$target found a problem; log: $build/fuzz_$target.log" >&2
    tail -n 40 "$build/fuzz_$target.log" >&2
    keep="$root/tests/data/fixtures/fuzz/$target"
    mkdir -p "$keep"
    cp "$artifacts"/* "$keep/" 2>/dev/null || true
    echo "!! inputs copied to $keep" >&2
  else
    grep -E "stat::number_of_executed_runs|cov:" "$build/fuzz_$target.log" | tail -n 2
  fi
done
exit $status
