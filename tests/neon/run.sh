#!/bin/sh
# run.sh — cross-compile the runtime kernels, their references and
# neon_test.c for AArch64 (NEON is on by default there) and run the result
# under qemu-user. Exit 77 (ctest: skipped) when the cross compiler or qemu
# is missing.  Usage: run.sh REPO_ROOT [BUILD_DIR]
#   apt-get install -y gcc-aarch64-linux-gnu qemu-user libc6-dev-arm64-cross
set -eu
root=${1:?usage: run.sh REPO_ROOT [BUILD_DIR]}
out=${2:-${TMPDIR:-/tmp}/nnc-neon}
cc=${NEON_CC:-aarch64-linux-gnu-gcc}
qemu=${NEON_QEMU:-qemu-aarch64}
sysroot=${NEON_SYSROOT:-/usr/aarch64-linux-gnu}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "skip: $cc not found"; exit 77
fi
if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "skip: $qemu not found"; exit 77
fi
mkdir -p "$out"
"$cc" -std=c11 -Wall -Wextra -Werror -O2 -D_POSIX_C_SOURCE=200809L \
    -I"$root/runtime" -o "$out/neon_test" \
    "$root/tests/neon/neon_test.c" "$root"/runtime/kernels/*.c "$root"/runtime/ref/*.c -lm
exec "$qemu" -L "$sysroot" "$out/neon_test"
