#!/usr/bin/env bash
# run_sanitize.sh [BUILD_DIR] — the whole test suite under AddressSanitizer
# and UndefinedBehaviorSanitizer: nnc, the runtime and the tests are built
# with -DNNC_SANITIZE=ON, and every program the tests build with `nnc build`
# is compiled with the same sanitizers (NNC_EXTRA_CFLAGS). Any report fails
# the run: reports exit with status 86 (ASan, LeakSanitizer) or 87 (UBSan),
# which no test expects, and tests/run_bad.sh also fails a case whose
# standard error holds one. The compiler's own by-design leaks are
# suppressed (tests/lsan.supp); the runtime and the programs get none.
# JOBS (default 2) sets the build and ctest parallelism. Extra arguments
# after BUILD_DIR go to ctest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-asan}"
[ $# -gt 0 ] && shift
jobs="${JOBS:-2}"
cmake -S "$root" -B "$build" -DNNC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs"
export NNC_EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# No detect_stack_use_after_return: its fake stack (GCC 12) does not keep the
# 64-byte alignment of the GEMM's stack buffers, and the vector code the
# compiler emits for them then faults in the sanitizer, not in the program.
export ASAN_OPTIONS="detect_leaks=1:exitcode=86:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"
export NNC_CACHE_DIR="${NNC_CACHE_DIR:-$build/nnc-cache}"
"$root/tests/warm_cache.sh" "$build/compiler/nnc"
ctest --test-dir "$build" -j"$jobs" --output-on-failure "$@"
