#!/usr/bin/env python3
"""Compiles kernels/*.cu with NVRTC (the front end of nvcc) as a second compiler check.

Usage: python3 kernels/nvrtc_check.py [LIBNVRTC]   (default: found via ctypes.util or pip's
nvidia-cuda-nvrtc wheel). Options as for nvcc: compute_90, --fmad=false (no contraction, as
with clang's -ffp-contract=off). Prints each entry point and counts fma instructions per entry
(only gemm_f32 should have any). Exit 1 if a source does not compile. Optional: CI does not run it.
"""
import ctypes
import ctypes.util
import glob
import os
import re
import sys


def find_lib():
    if len(sys.argv) > 1:
        return sys.argv[1]
    name = ctypes.util.find_library("nvrtc")
    if name:
        return name
    for pattern in ("/usr/local/cuda*/lib64/libnvrtc.so*", os.path.join(sys.prefix, "lib", "python3*", "site-packages", "nvidia", "*", "lib", "libnvrtc.so*")):
        hits = sorted(h for h in glob.glob(pattern) if "builtins" not in h)
        if hits:
            return hits[0]
    sys.exit("libnvrtc not found (pip install nvidia-cuda-nvrtc, or pass its path)")


def main():
    lib = ctypes.CDLL(find_lib())
    here = os.path.dirname(os.path.abspath(__file__))
    status = 0
    for cu in sorted(glob.glob(os.path.join(here, "*.cu"))):
        prog = ctypes.c_void_p()
        assert lib.nvrtcCreateProgram(ctypes.byref(prog), open(cu, "rb").read(), os.path.basename(cu).encode(), 0, None, None) == 0
        opts = [b"--gpu-architecture=compute_90", b"--fmad=false", b"-default-device"]
        rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        n = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
        log = ctypes.create_string_buffer(n.value)
        lib.nvrtcGetProgramLog(prog, log)
        if rc != 0:
            print(f"{cu}: NVRTC failed ({rc}):\n{log.value.decode()}")
            status = 1
            continue
        lib.nvrtcGetPTXSize(prog, ctypes.byref(n))
        ptx = ctypes.create_string_buffer(n.value)
        lib.nvrtcGetPTX(prog, ptx)
        fma, entry = {}, None
        for line in ptx.value.decode().splitlines():
            m = re.match(r"\.visible \.entry (\w+)", line)
            if m:
                entry = m.group(1)
                fma[entry] = 0
            elif entry and "fma.rn.f32" in line:
                fma[entry] += 1
        print(f"{os.path.basename(cu)}: NVRTC ok; fma.rn.f32 per entry: {fma}")
    return status


if __name__ == "__main__":
    sys.exit(main())
