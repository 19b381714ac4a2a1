#!/usr/bin/env bash
# build.sh [OUTDIR] — builds the libFuzzer targets with clang:
#   fuzz_nnet, and every other tests/fuzz/fuzz_NAME.c (safetensors, csv,
#   idx, optspec, pth) over the runtime's readers
# and fuzz_onnx (`nnc import`; when protoc-c, libprotobuf-c-dev and
# libonnx-dev are there) into OUTDIR (default: /tmp/nnc-fuzz), with
#   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all.
# Standalone on purpose: the fuzz build needs clang while the project builds
# with any C11 compiler. CLANG overrides the compiler (default: clang).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-/tmp/nnc-fuzz}
CLANG=${CLANG:-clang}
mkdir -p "$OUT/gen"

CFLAGS=(-std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
        -Wno-unused-command-line-argument)
RT_SRC=("$ROOT"/runtime/*.c "$ROOT"/runtime/kernels/*.c "$ROOT"/runtime/io/*.c)

# Readers: the runtime library (prog.c is the programs' driver with main-free
# entry points; only the io files are needed).
# Every fuzz_NAME.c but the front end's and the allocation shim is a reader
# target built over runtime/io (a new reader's target needs nothing more).
IO_SRC=("$ROOT"/runtime/io/*.c)
READERS=()
for f in "$HERE"/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    case "$t" in nnet|alloc|onnx) continue ;; esac
    # pth: its CRC-32 check off so that mutants reach the pickle
    DEFS=(); [ "$t" = pth ] && DEFS=(-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
    "$CLANG" "${CFLAGS[@]}" "${DEFS[@]}" -I"$ROOT/runtime" -o "$OUT/fuzz_$t" "$f" "${IO_SRC[@]}" -lm
    READERS+=("fuzz_$t")
done

# Front end: bison/flex output, every compiler source but main.c and
# the driver files (which need the embedded runtime), and the allocation shim in
# place of diag.c's x* allocators.
bison -Wall -Wno-yacc -o "$OUT/gen/nnet.tab.c" --defines="$OUT/gen/nnet.tab.h" "$ROOT/grammar/nnet.y"
flex --header-file="$OUT/gen/nnet.lex.h" -o "$OUT/gen/nnet.lex.c" "$ROOT/grammar/nnet.l"
# ONNX import: its protobuf-c code generated here as CMake does; without
# protoc-c, libprotobuf-c-dev or libonnx-dev the stub stands in and the
# fuzz_onnx target is not built.
ONNX_PROTO=/usr/include/onnx/onnx.proto
ONNX=0
if command -v protoc-c >/dev/null && [ -f "$ONNX_PROTO" ] && [ -f /usr/include/protobuf-c/protobuf-c.h ]; then
    protoc-c --c_out="$OUT/gen" -I"$(dirname "$ONNX_PROTO")" "$ONNX_PROTO" && ONNX=1
fi
NNC_SRC=()
if [ $ONNX = 1 ]; then NNC_SRC+=("$OUT/gen/onnx.pb-c.c"); fi
while IFS= read -r f; do
    case "$f" in
        */compiler/main.c|*/compiler/driver*.c|*/compiler/support/diag.c) ;;
        */compiler/import/onnx_pb_stub.c) if [ $ONNX = 0 ]; then NNC_SRC+=("$f"); fi ;;
        */compiler/import/onnx_pb.c) if [ $ONNX = 1 ]; then NNC_SRC+=("$f"); fi ;;
        */compiler/backend/emit_llvm.c|*/compiler/backend/emit_llvm_train.c) ;;  # the stub stands in: no LLVM here
        *) NNC_SRC+=("$f") ;;
    esac
done < <(find "$ROOT/compiler" -name '*.c' | sort)
RENAME=(-Dxmalloc=nnc_diag_xmalloc -Dxcalloc=nnc_diag_xcalloc -Dxrealloc=nnc_diag_xrealloc
        -Dxstrdup=nnc_diag_xstrdup -Dxstrndup=nnc_diag_xstrndup -Dxasprintf=nnc_diag_xasprintf
        -Dxnew=nnc_diag_xnew)
INC=(-I"$ROOT/compiler" -I"$ROOT/compiler/front" -I"$ROOT/runtime" -I"$OUT/gen")
"$CLANG" "${CFLAGS[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" "${INC[@]}" "${RENAME[@]}" \
    -c -o "$OUT/gen/diag.o" "$ROOT/compiler/support/diag.c"
# Compiler objects free through fz_free (the harness forgets the block).
NOLINK=("${CFLAGS[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}")
OBJS=()
for f in "${NNC_SRC[@]}" "$OUT/gen/nnet.tab.c" "$OUT/gen/nnet.lex.c"; do
    o="$OUT/gen/$(echo "${f#$ROOT/}" | tr / _).o"
    "$CLANG" "${NOLINK[@]}" "${INC[@]}" -Wno-unused-function -include stdlib.h \
        -Dfree=fz_free -include "$HERE/fuzz_alloc.h" ${FUZZ_NNET_CFLAGS:-} -c -o "$o" "$f"
    OBJS+=("$o")
done
PBLIB=()
if [ $ONNX = 1 ]; then PBLIB=(-lprotobuf-c); fi
"$CLANG" "${CFLAGS[@]}" "${INC[@]}" -o "$OUT/fuzz_nnet" \
    "$HERE/fuzz_nnet.c" "$HERE/fuzz_alloc.c" "${OBJS[@]}" "$OUT/gen/diag.o" \
    "${IO_SRC[@]}" "$ROOT"/runtime/kernels/*.c -lm "${PBLIB[@]}"
if [ $ONNX = 1 ]; then
    "$CLANG" "${CFLAGS[@]}" "${INC[@]}" -o "$OUT/fuzz_onnx" \
        "$HERE/fuzz_onnx.c" "$HERE/fuzz_alloc.c" "${OBJS[@]}" "$OUT/gen/diag.o" \
        "${IO_SRC[@]}" "$ROOT"/runtime/kernels/*.c -lm "${PBLIB[@]}"
    READERS+=(fuzz_onnx)
else
    rm -f "$OUT/fuzz_onnx"
    echo "fuzz_onnx not built: it needs protobuf-c-compiler, libprotobuf-c-dev and libonnx-dev"
fi
echo "fuzz targets in $OUT: fuzz_nnet ${READERS[*]}"
