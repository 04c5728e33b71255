#!/usr/bin/env bash
# Checks that the committed PTX was built from the current CUDA sources: every kernels/*.cu and
# its .ptx must be listed in kernels/ptx.sha256 with their current sha256, and every .ptx must
# name its source's hash in its header. Needs only coreutils (no compiler). Exit 1 on mismatch;
# rebuild with kernels/build_ptx.sh.
set -euo pipefail
cd "$(dirname "$0")"
status=0
[ -f ptx.sha256 ] || { echo "kernels/ptx.sha256 missing: run kernels/build_ptx.sh" >&2; exit 1; }
for cu in *.cu; do
  base="${cu%.cu}"
  for f in "$cu" "${base}.ptx"; do
    if ! grep -q "  ${f}\$" ptx.sha256; then
      echo "kernels/${f} is not listed in kernels/ptx.sha256: run kernels/build_ptx.sh" >&2
      status=1
    fi
  done
  if [ -f "${base}.ptx" ]; then
    h="$(sha256sum "$cu" | cut -d' ' -f1)"
    if ! head -n1 "${base}.ptx" | grep -q "sha256 ${h}"; then
      echo "kernels/${base}.ptx was not built from the current kernels/${cu}: run kernels/build_ptx.sh" >&2
      status=1
    fi
  fi
done
if ! sha256sum --quiet -c ptx.sha256; then
  echo "kernels/ptx.sha256 does not match the sources or the PTX: run kernels/build_ptx.sh" >&2
  status=1
fi
[ "$status" = 0 ] && echo "kernels: PTX matches its sources"
exit "$status"
