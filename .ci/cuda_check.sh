#!/usr/bin/env bash
# Type-checks the `cuda` feature on a machine without CUDA, from nothing:
#  1. kernels/check_ptx.sh: the committed PTX matches the current kernels/*.cu (coreutils only);
#  2. cust's build script (find_cuda_helper) only needs a directory `<root>/lib64` named by
#     CUDA_LIBRARY_PATH to print its link flags; `cargo check` never links, so an empty one does.
#     We make one under the target dir and run `cargo check --features cuda --all-targets`.
# Linking (cargo build/test --features cuda) needs libcuda.so from the NVIDIA driver instead.
# With --emu it also runs the host emulation of the kernels against their Rust twin
# (`cargo test --features kernel-emu --test cuda_parity`, needs a C++ compiler, ~15 s on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
kernels/check_ptx.sh
root="${CARGO_TARGET_DIR:-target}/empty-cuda-root"
mkdir -p "$root/lib64"
# Only CUDA_LIBRARY_PATH is read when it names a directory with lib64/; the others are cleared so
# a stray CUDA_PATH cannot redirect the check.
CUDA_LIBRARY_PATH="$(cd "$root" && pwd)" CUDA_PATH= CUDA_ROOT= CUDA_TOOLKIT_ROOT_DIR= \
  cargo check --features cuda --all-targets
echo "cuda feature: type-checks"
if [ "${1:-}" = "--emu" ]; then
  cargo test --features kernel-emu --test cuda_parity
fi
