#!/usr/bin/env bash
# run_examples.sh — the examples of examples/ as tests: each is built with nnc
# and its program checked against the fact it illustrates (the course's slide
# numbers, the collapse of a linear chain, digits' test accuracy, ...).
# Everything is written under WORK; nothing goes into the source tree (train
# always gets --save WORK/...).
#
#   usage: run_examples.sh NNC WORK EXAMPLE
#   EXAMPLE: slide slide_product chain chain_relu classifier multiclass
#            mnist_cnn digits
# Exit 0 when the example behaves, 1 when it does not, 2 for wrong usage.
set -u

if [ $# -ne 3 ]; then
    echo "usage: run_examples.sh NNC WORK EXAMPLE" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC="$(abspath "$1")"
WORK="$(abspath "$2")"
EX="$3"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples" && pwd)"
[ -x "$NNC" ] || { echo "run_examples: $NNC is not an executable" >&2; exit 2; }
[ -f "$SRC/$EX.nnet" ] || { echo "run_examples: no example $EX" >&2; exit 2; }
case "$WORK" in "$SRC"|"$SRC"/*) echo "run_examples: refusing work dir $WORK" >&2; exit 2 ;; esac
rm -rf "$WORK"; mkdir -p "$WORK" || exit 2

failed=0
fail() { echo "FAIL: $*"; failed=1; }
ok()   { echo "ok: $*"; }

# build NAME [nnc options]: WORK/NAME from examples/EX.nnet, or fail and stop.
build() {
    local out="$1"; shift
    if ! "$NNC" build "$SRC/$EX.nnet" -o "$WORK/$out" "$@" >"$WORK/$out.build.log" 2>&1; then
        echo "FAIL: nnc build $EX.nnet $* exited with an error:"; tail -n 20 "$WORK/$out.build.log"
        exit 1
    fi
}
# infer PROG <input: the output rows of PROG infer, or fail and stop.
infer() {
    if ! "$WORK/$1" infer 2>"$WORK/$1.infer.err"; then
        echo "FAIL: $1 infer exited with an error:"; cat "$WORK/$1.infer.err"
        exit 1
    fi
}
# fixed4 FILE: every number of a CSV file with 4 decimals.
fixed4() { awk -F, '{ for (i = 1; i <= NF; i++) printf "%s%.4f", (i > 1 ? "," : ""), $i; print "" }' "$1"; }
# close A B TOL: the CSV files A and B have the same shape and agree within
# TOL (absolute + relative); prints the worst difference.
close() {
    paste -d'|' "$1" "$2" | awk -F'|' -v tol="$3" '
        { na = split($1, a, ","); nb = split($2, b, ",")
          if (na != nb) { bad = 1; print "row " NR ": " na " vs " nb " values"; next }
          for (i = 1; i <= na; i++) { d = a[i] - b[i]; if (d < 0) d = -d
              m = (a[i] < 0 ? -a[i] : a[i]); if (d > worst) worst = d
              if (d > tol + tol * m) { bad = 1; print "row " NR " col " i ": " a[i] " vs " b[i] } } }
        END { printf "max |diff| = %g\n", worst; exit bad }' &&
        [ "$(wc -l <"$1")" -eq "$(wc -l <"$2")" ]
}

case "$EX" in
slide|slide_product)
    # The slide: x = [2, 1] gives [0.9696, 0.7527], at every level.
    for O in -O0 -O2; do
        build "$EX$O" "$O"
        echo "2,1" | infer "$EX$O" >"$WORK/$EX$O.out"
        got="$(fixed4 "$WORK/$EX$O.out")"
        if [ "$got" = "0.9696,0.7527" ]; then ok "$EX $O: 2,1 -> $(cat "$WORK/$EX$O.out")"
        else fail "$EX $O: 2,1 gives $(cat "$WORK/$EX$O.out"), want 0.9696,0.7527"; fi
    done
    if [ "$EX" = slide_product ]; then
        # x·(W1·W2) equals x·W1·W2: the product layer agrees with slide.nnet.
        EX=slide build slide_ref
        printf '2,1\n1,0\n0,1\n-3,0.5\n' >"$WORK/xs.csv"
        EX=slide infer slide_ref <"$WORK/xs.csv" >"$WORK/slide.out"
        infer "$EX-O2" <"$WORK/xs.csv" >"$WORK/product.out"
        if close "$WORK/slide.out" "$WORK/product.out" 1e-6; then ok "slide_product equals slide"
        else fail "slide_product differs from slide"; fi
    fi ;;
chain|chain_relu)
    # -O0 and -O2 agree; the chain is affine (f(a+b) + f(0) = f(a) + f(b)),
    # the chain with ReLUs is not.
    printf '1,2,3,4\n-1,2,0.5,1\n0,-4,1,-2\n' >"$WORK/xs.csv"
    printf '1,-1,2,0.5\n-2,1,-3,2\n-1,0,-1,2.5\n0,0,0,0\n' >"$WORK/lin.csv"  # a, b, a+b, 0
    for O in -O0 -O2; do
        build "$EX$O" "$O"
        infer "$EX$O" <"$WORK/xs.csv" >"$WORK/$EX$O.out"
        infer "$EX$O" <"$WORK/lin.csv" >"$WORK/$EX$O.lin"
    done
    if close "$WORK/$EX-O0.out" "$WORK/$EX-O2.out" 1e-5; then ok "$EX: -O0 and -O2 agree"
    else fail "$EX: -O0 and -O2 differ"; fi
    awk -F, '{ for (i = 1; i <= NF; i++) v[NR, i] = $i; n = NF }
        END { worst = 0
              for (i = 1; i <= n; i++) { d = v[3, i] + v[4, i] - v[1, i] - v[2, i]
                  if (d < 0) d = -d; if (d > worst) worst = d }
              print worst }' "$WORK/$EX-O2.lin" >"$WORK/affine.txt"
    dev="$(cat "$WORK/affine.txt")"
    if [ "$EX" = chain ]; then
        if awk -v d="$dev" 'BEGIN { exit !(d <= 1e-5) }'; then ok "chain is one affine map (deviation $dev)"
        else fail "chain is not affine: f(a+b) + f(0) - f(a) - f(b) = $dev"; fi
    else
        if awk -v d="$dev" 'BEGIN { exit !(d > 0.01) }'; then ok "chain_relu is not affine (deviation $dev)"
        else fail "chain_relu behaves as one affine map (deviation $dev)"; fi
    fi ;;
classifier)
    # Trains on its separable data; thresholded at 0.5 it gets >= 95% right.
    build classifier
    "$WORK/classifier" train --save "$WORK/classifier.safetensors" >"$WORK/train.log" 2>&1 ||
        { fail "classifier train exited with an error"; tail "$WORK/train.log"; exit 1; }
    cut -d, -f1-8 "$SRC/data/classifier_train.csv" |
        "$WORK/classifier" infer --weights "$WORK/classifier.safetensors" >"$WORK/p.csv" || exit 1
    acc="$(cut -d, -f9 "$SRC/data/classifier_train.csv" | paste -d, "$WORK/p.csv" - |
        awk -F, '{ if (($1 > 0.5) == ($2 == 1)) c++ } END { printf "%.4f", c / NR }')"
    if awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }'; then ok "classifier accuracy $acc"
    else fail "classifier accuracy $acc < 0.95"; fi ;;
multiclass)
    # Softmax at the end: 4 probabilities per row that sum to 1.
    build multiclass
    printf '1,2,3,4,5,6,7,8,9,10,11\n0,0,0,0,0,0,0,0,0,0,0\n-1,0.5,2,-3,0,1,1,1,-2,0.25,4\n' |
        infer multiclass >"$WORK/p.csv"
    if awk -F, '{ s = 0; for (i = 1; i <= NF; i++) { if ($i < 0 || $i > 1) bad = 1; s += $i }
                  if (NF != 4 || s < 1 - 1e-5 || s > 1 + 1e-5) bad = 1 }
                END { exit bad || NR != 3 }' "$WORK/p.csv"; then ok "multiclass rows are distributions"
    else fail "multiclass output is not 3 rows of 4 probabilities:"; cat "$WORK/p.csv"; fi ;;
mnist_cnn)
    # 784 inputs, 10 outputs; -O0 and -O2 agree.
    awk 'BEGIN { for (r = 0; r < 3; r++) { for (i = 0; i < 784; i++)
                   printf "%s%.4f", (i ? "," : ""), ((i * 7 + r * 13) % 29) / 29; print "" } }' >"$WORK/xs.csv"
    for O in -O0 -O2; do
        build "mnist$O" "$O"
        infer "mnist$O" <"$WORK/xs.csv" >"$WORK/mnist$O.out"
    done
    if awk -F, 'NF != 10 { bad = 1 } END { exit bad || NR != 3 }' "$WORK/mnist-O2.out"; then
        ok "mnist_cnn gives 10 outputs per sample"
    else fail "mnist_cnn output is not 3 rows of 10"; fi
    if close "$WORK/mnist-O0.out" "$WORK/mnist-O2.out" 1e-4; then ok "mnist_cnn: -O0 and -O2 agree"
    else fail "mnist_cnn: -O0 and -O2 differ"; fi ;;
digits)
    # LANGUAGE.md §1 exactly: at least 97% on the held-out digits.
    build digits
    start=$(date +%s.%N)
    "$WORK/digits" train --save "$WORK/digits.safetensors" >"$WORK/train.log" 2>&1 ||
        { fail "digits train exited with an error"; tail "$WORK/train.log"; exit 1; }
    end=$(date +%s.%N)
    grep '^epoch' "$WORK/train.log" | tail -n 1
    echo "train time: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f s", b - a }')"
    "$WORK/digits" eval --data "$SRC/data/digits_test.csv" --weights "$WORK/digits.safetensors" \
        >"$WORK/eval.txt" 2>&1 || { fail "digits eval exited with an error"; cat "$WORK/eval.txt"; exit 1; }
    cat "$WORK/eval.txt"
    acc="$(sed -n 's/^accuracy=//p' "$WORK/eval.txt")"
    if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }'; then ok "digits test accuracy $acc >= 0.97"
    else fail "digits test accuracy '$acc' < 0.97"; fi ;;
*)
    echo "run_examples: no test for example $EX" >&2; exit 2 ;;
esac
exit $failed
