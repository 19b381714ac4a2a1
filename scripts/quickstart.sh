#!/usr/bin/env bash
# quickstart.sh — the main job on a fresh machine: install what is missing,
# build nnc, compile examples/digits.nnet, train it on sklearn's digits,
# report the test accuracy and run inference on a few test samples.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
exec "$root/scripts/demo.sh" "$build/compiler/nnc"
