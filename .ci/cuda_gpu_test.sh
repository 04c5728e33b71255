#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and driver (no CUDA toolkit needed): builds with --features
# cuda, runs the parity tests (which then compare the device with the CPU and the CPU twin
# instead of reporting "skipped: no CUDA device") and, with --bench, the step benchmarks and the
# PyTorch comparison. The PTX is embedded; the driver JIT-compiles it.
#
# cust's build script wants <root>/lib64 holding libcuda.so for linking; drivers often ship only
# libcuda.so.1, so we make a root whose lib64 links to the driver's library.
set -euo pipefail
cd "$(dirname "$0")/.."
lib="$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')"
if [ -z "$lib" ]; then
  for cand in /usr/lib/x86_64-linux-gnu/libcuda.so.1 /usr/lib64/libcuda.so.1 /usr/local/cuda/compat/libcuda.so.1; do
    [ -e "$cand" ] && lib="$cand" && break
  done
fi
[ -n "$lib" ] || { echo "no libcuda.so.1 (NVIDIA driver) found" >&2; exit 1; }
root="${CARGO_TARGET_DIR:-target}/driver-cuda-root"
mkdir -p "$root/lib64"
ln -sf "$lib" "$root/lib64/libcuda.so"
export CUDA_LIBRARY_PATH="$(cd "$root" && pwd)"
nvidia-smi -L 2>/dev/null || true
kernels/check_ptx.sh
cargo test --features cuda --test cuda_parity -- --nocapture --test-threads 1
if [ "${1:-}" = "--bench" ]; then
  cargo bench --features cuda --bench cuda_step
  python3 benches/pytorch_gpu_step.py
fi
