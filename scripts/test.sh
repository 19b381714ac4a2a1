#!/usr/bin/env bash
# test.sh — build nnc and run every test (unit, golden, PyTorch agreement,
# examples, bad inputs) with ctest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
ctest --test-dir "$build" -j"$(nproc)" --output-on-failure "$@"
