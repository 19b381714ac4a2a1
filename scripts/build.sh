#!/usr/bin/env bash
# build.sh — configure and build nnc into build/ (BUILD_DIR overrides).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${NNC_CMAKE_FLAGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"
