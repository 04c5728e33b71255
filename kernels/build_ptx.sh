#!/usr/bin/env bash
# Rebuilds kernels/*.ptx from kernels/*.cu and records the hashes in kernels/ptx.sha256.
#
# Needs clang with the NVPTX back end (Debian: `apt-get install -y clang`; tested with clang 14)
# and no CUDA toolkit: the sources declare what they use themselves. With NVCC=1 it uses nvcc
# instead (CUDA toolkit). Before emitting PTX it compiles kernels/math_check.cpp for the host and
# checks the device exp/log against the C library (fails on > 2 ulp).
#
# The PTX targets sm_70 (PTX ISA 6.x-7.0); the driver JIT-compiles it for newer GPUs (H100 = sm_90).
# kernels/check_ptx.sh (run by CI, needs no compiler) verifies ptx.sha256 against the sources.
set -euo pipefail
cd "$(dirname "$0")"
ARCH="${ARCH:-sm_70}"
CLANG="${CLANG:-clang++}"

"$CLANG" -O2 -ffp-contract=off -o /tmp/modadd_math_check math_check.cpp
/tmp/modadd_math_check

: > ptx.sha256.new
for cu in *.cu; do
  base="${cu%.cu}"
  if [ "${NVCC:-0}" = "1" ]; then
    cmd="nvcc -ptx -arch=compute_${ARCH#sm_} -O3 -fmad=false -o ${base}.ptx.tmp ${cu}"
  else
    cmd="$CLANG -x cuda --cuda-device-only -S --cuda-gpu-arch=${ARCH} -nocudainc -nocudalib -O3 -ffp-contract=off -std=c++17 -o ${base}.ptx.tmp ${cu}"
  fi
  $cmd
  src_hash="$(sha256sum "$cu" | cut -d' ' -f1)"
  {
    echo "// Generated from kernels/${cu} (sha256 ${src_hash}) by kernels/build_ptx.sh:"
    echo "//   ${cmd/.ptx.tmp/.ptx}"
    echo "//   ($("$CLANG" --version | head -n1))"
    cat "${base}.ptx.tmp"
  } > "${base}.ptx"
  rm -f "${base}.ptx.tmp"
  sha256sum "$cu" "${base}.ptx" >> ptx.sha256.new
done
mv ptx.sha256.new ptx.sha256
cat ptx.sha256

# Optional: assemble the PTX with ptxas (CUDA toolkit, or the copy in pip's triton wheel, given
# as PTXAS=...) for the oldest and the target architecture, printing registers and spills.
PTXAS="${PTXAS:-ptxas}"
if command -v "$PTXAS" >/dev/null 2>&1; then
  for ptx in *.ptx; do
    for arch in sm_70 sm_90; do
      "$PTXAS" -arch="$arch" -v -o /dev/null "$ptx" 2>&1 | grep -E "entry function|Used|spill" | grep -vE " 0 bytes spill stores, 0 bytes spill loads" || true
    done
  done
fi
