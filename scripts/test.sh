#!/usr/bin/env bash
# test.sh — build nnc and run every test (unit, golden, PyTorch agreement,
# examples, bad inputs) with ctest; then say which optional parts were
# skipped and why (LLVM, NEON, MPI, torchvision...: a test that exits 77
# prints its reason as its last line).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
"$root/tests/warm_cache.sh" "$build/compiler/nnc"
out="$build/ctest-output.txt"
rc=0
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure "$@" | tee "$out" || rc=$?
"$root/scripts/skipped.sh" "$build" "$out"
exit $rc
