#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) into build-fuzz/ and runs each for
# SECONDS (default 120), starting from the seed inputs. A finding stops that target and leaves
# its input in build-fuzz/<target>-crash-*; the script then exits non-zero.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      (targets: safetensors npy tokenizer_json tokenizer_text lammps)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-120}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors npy tokenizer_json tokenizer_text lammps)

flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc)
declare -A sources=(
  [safetensors]="src/io/safetensors.cpp src/io/npy.cpp src/io/file.cpp src/ttl/tensor.cpp src/ttl/storage.cpp"
  [npy]="src/io/safetensors.cpp src/io/npy.cpp src/io/file.cpp src/ttl/tensor.cpp src/ttl/storage.cpp"
  [tokenizer_json]="$(echo src/io/tokenizer*.cpp) src/ttl/tensor.cpp src/ttl/storage.cpp"
  [tokenizer_text]="$(echo src/io/tokenizer*.cpp) src/ttl/tensor.cpp src/ttl/storage.cpp"
  [lammps]="src/models/md/lammps_data.cpp src/models/md/system.cpp"
)
declare -A max_len=([safetensors]=4096 [npy]=4096 [tokenizer_json]=4096 [tokenizer_text]=512 [lammps]=8192)
unicode_libs=$(pkg-config --cflags --libs libpcre2-8 libutf8proc)

mkdir -p build-fuzz
status=0
for t in "${targets[@]}"; do
  [ -n "${sources[$t]:-}" ] || { echo "unknown fuzz target '$t'" >&2; exit 2; }
  libs=-lfmt
  [[ $t == tokenizer_* ]] && libs="$unicode_libs -lfmt"
  # shellcheck disable=SC2086
  clang++ "${flags[@]}" "tests/fuzz/fuzz_$t.cpp" ${sources[$t]} $libs -o "build-fuzz/fuzz_$t"
  corpus=build-fuzz/corpus_$t
  mkdir -p "$corpus"
  case $t in
    safetensors) cp tests/io/data/*.safetensors "$corpus"/ ;;
    npy) cp tests/io/data/*.npy "$corpus"/ ;;
    *) cp tests/fuzz/seeds/$t/* "$corpus"/ ;;
  esac
  echo "== fuzz_$t for ${seconds}s"
  if ! "build-fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" \
       -artifact_prefix="build-fuzz/$t-" "$corpus" > "build-fuzz/$t.log" 2>&1; then
    echo "fuzz_$t: finding, see build-fuzz/$t.log" >&2
    status=1
  fi
  grep -E "^Done [0-9]+ runs" "build-fuzz/$t.log" | tail -1 || true
done
exit $status
