#!/usr/bin/env bash
# sqc's one entry point for setting up, building, demonstrating and testing.
#
#   ./build.sh demo    install dependencies, build, run the main job
#   ./build.sh test    install dependencies, build, run every test
#                      (unit, lit, malformed-input corpus, then the corpus and
#                      lit again in an ASan/UBSan build)
#   ./build.sh fuzz [SECONDS]   fuzz the parser with libFuzzer (default 60 s)
#   ./build.sh deps | build | asan
#
# Installing needs root on Debian 12 (bookworm); the packages are listed below.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ python3 pkg-config
  llvm-19-dev llvm-19-tools clang-19 libclang-rt-19-dev libzstd-dev
  libeigen3-dev libfmt-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  libdnnl-dev ocl-icd-opencl-dev)
JOBS=${JOBS:-$(nproc)}

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
      echo "error: missing packages and not root: apt-get install ${missing[*]}" >&2
      exit 1
    }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

build() {
  echo "== building (build/)"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$JOBS"
}

configure_asan() {
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSQC_SANITIZE=ON \
    -DSQC_FUZZ=ON -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 >/dev/null
}

# The parser, verifier and passes under AddressSanitizer and UBSan (clang-19).
asan() {
  echo "== building with ASan/UBSan (build-asan/)"
  configure_asan
  cmake --build build-asan -j "$JOBS" --target sqc-opt sqc-run sqc sqc-parse-corpus sqc-unittests
  echo "== tests under ASan/UBSan"
  ctest --test-dir build-asan -L sanitize --output-on-failure
}

fuzz() {
  configure_asan
  cmake --build build-asan -j "$JOBS" --target sqc-parser-fuzzer
  mkdir -p build-asan/fuzz-corpus
  build-asan/bin/sqc-parser-fuzzer -max_total_time="${1:-60}" -max_len=4096 \
    build-asan/fuzz-corpus tests/unit/ops tests/corpus/malformed examples
}

demo() {
  echo "== sqc-opt: clean up an importer-style LLaMA block"
  build/bin/sqc-opt examples/llama-block.sqir \
    -passes=fold-constants,canonicalize,cse,dce --time-passes -o build/llama-block.opt.sqir
  echo "   wrote build/llama-block.opt.sqir"
  # A model that comes with the project: random LLaMA weights, then LLM-like
  # activation outliers injected (same FP32 function).
  echo "== sqc: random LLaMA model with injected outliers, W8A8 with and without SmoothQuant"
  build/bin/sqc random-model -o build/demo/model >/dev/null
  build/bin/sqc inject-outliers build/demo/model -o build/demo/model-outliers >/dev/null
  build/bin/sqc eval build/demo/model-outliers --text README.md --max-tokens 2048 \
    --compare --calib-text README.md --samples 8 --report
  build/bin/sqc quantize build/demo/model-outliers --calib-text README.md \
    --samples 8 -o build/demo/model-w8a8
  build/bin/sqc generate build/demo/model-w8a8/model.sqir --prompt "sqc" -n 16 >/dev/null
}

case "${1:-}" in
deps) deps ;;
build) deps && build ;;
demo) deps && build && demo ;;
test)
  deps && build
  echo "== tests"
  ctest --test-dir build --output-on-failure -j "$JOBS"
  asan
  ;;
asan) deps && asan ;;
fuzz) deps && fuzz "${2:-60}" ;;
*)
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
