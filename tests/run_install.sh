#!/usr/bin/env bash
# run_install.sh BUILD_DIR SRC_DIR WORK — `cmake --install BUILD_DIR --prefix`
# a temporary prefix, then from the installed tree only: nnc emits the digits
# model, which is built against the installed runtime (libnnr.a, nnr.h) with
# `pkg-config --cflags --libs nnr` and with a CMake project that calls
# find_package(nnc); both programs must print the outputs of the program that
# the installed `nnc build` makes (the oracle: same kernels, same parameters).
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/nnc lib/libnnr.a include/nnr/nnr.h lib/pkgconfig/nnr.pc lib/cmake/nnc/nncConfig.cmake; do
    [[ -f $prefix/$f ]] || { echo "FAIL: $f not installed"; exit 1; }
done
nnc=$prefix/bin/nnc
"$nnc" --version
cd "$work"
"$nnc" emit "$src/examples/digits.nnet" -o emitted 2>/dev/null
# A caller: the default initialisation of seed 7, a batch of 3 rows of the test data.
cat > caller.c <<'C'
/* caller.c — digits_forward on three rows of stdin, printed %.9g. */
#include <stdio.h>
#include <stdlib.h>
#include "digits.h"
int main(void)
{
    static float state[DIGITS_STATE_SIZE], params[DIGITS_PARAMS_SIZE];
    static float x[3 * DIGITS_IN_SIZE], y[3 * DIGITS_OUT_SIZE];
    for (int i = 0; i < 3 * DIGITS_IN_SIZE; i++)
        if (scanf(" %f ,", &x[i]) != 1) return 1;
    digits_init(state, 7);
    digits_prepare(state, params);
    float *arena = malloc(digits_arena_size(3) * sizeof(float));
    digits_forward(&(nnr_ctx){.n = 3, .params = params, .arena = arena}, x, y);
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < DIGITS_OUT_SIZE; j++)
            printf("%.9g%c", y[r * DIGITS_OUT_SIZE + j], j + 1 < DIGITS_OUT_SIZE ? ',' : '\n');
    free(arena);
    return 0;
}
C
head -3 "$src/examples/data/digits_test.csv" | cut -d, -f1-64 > rows.csv
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
# Only the model's own file from the emitted folder: the runtime is the installed one.
# Under the sanitizer run the installed libnnr.a is instrumented: link the
# callers with the same flags (NNC_EXTRA_CFLAGS, empty otherwise).
extra=${NNC_EXTRA_CFLAGS:-}
cc -O2 $extra -I emitted caller.c emitted/digits.c $(pkg-config --cflags --libs nnr) -o with_pkgconfig
./with_pkgconfig < rows.csv > out_pkgconfig.csv
mkdir -p cm && cat > cm/CMakeLists.txt <<CM
cmake_minimum_required(VERSION 3.16)
project(embed_digits C)
find_package(nnc REQUIRED)
add_executable(with_cmake $work/caller.c $work/emitted/digits.c)
target_include_directories(with_cmake PRIVATE $work/emitted)
target_link_libraries(with_cmake PRIVATE nnc::nnr)
CM
cmake -S cm -B cm/build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$extra" >/dev/null
cmake --build cm/build >/dev/null
cm/build/with_cmake < rows.csv > out_cmake.csv
# The oracle: the installed nnc's own program with the same initialisation.
"$nnc" build "$src/examples/digits.nnet" -o prog --portable 2>/dev/null
./prog train --epochs 0 --seed 7 --save init.safetensors >/dev/null
./prog infer --weights init.safetensors < rows.csv > out_prog.csv
cmp out_pkgconfig.csv out_prog.csv || { echo "FAIL: pkg-config build differs from nnc build"; exit 1; }
cmp out_pkgconfig.csv out_cmake.csv || { echo "FAIL: the find_package build differs"; exit 1; }
[[ $(wc -l < out_cmake.csv) == 3 ]] || { echo "FAIL: expected 3 rows"; exit 1; }
echo "ok: installed into $prefix; pkg-config and find_package(nnc) builds agree"
