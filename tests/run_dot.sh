#!/usr/bin/env bash
# run_dot.sh NNC SRC_DIR WORK — nnc dot: the DOT text of a sequential model
# (examples/digits.nnet: five layers, parameters counted by hand: 64*128+128,
# 128*64+64, 64*10+10), of a graph model with two inputs and three outputs
# (tests/export/models/tensor_ops.nnet: every edge joins declared nodes, the
# cat node reads three values), -O2 shows fused activations, and -o X.svg
# either runs Graphviz or says how to get the DOT text (exit 1).
set -euo pipefail
nnc=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
"$nnc" dot "$src/examples/digits.nnet" > digits.dot
[[ $(grep -c 'shape=box' digits.dot) == 5 ]] || fail "digits: 5 layer boxes expected"
for n in 8320 8256 650; do
    grep -q "\\\\n$n parameters\"" digits.dot || fail "digits: no layer with $n parameters"
done
grep -q '^  in0 -> n0;$' digits.dot || fail "digits: the input feeds the first layer"
grep -q '^  n4 -> out0;$' digits.dot || fail "digits: the head is the output"
grep -q 'head: linear' digits.dot || fail "digits: the named layer keeps its name"
# Every edge joins declared nodes; braces balance.
check_edges() {
    awk '/^  [a-z0-9]+ \[label=/ { decl[$1] = 1 }
         /^  [a-z0-9]+ -> [a-z0-9]+;$/ { from[NR] = $1; to[NR] = substr($3, 1, length($3) - 1) }
         END { for (i in from) if (!(from[i] in decl) || !(to[i] in decl)) { print "undeclared edge " from[i] " -> " to[i]; exit 1 } }' "$1"
    [[ $(grep -c '{' "$1") == $(grep -c '}' "$1") ]] || fail "$1: unbalanced braces"
}
check_edges digits.dot
"$nnc" dot "$src/tests/export/models/tensor_ops.nnet" -o ops.dot
check_edges ops.dot
[[ $(grep -c '^  in[0-9]* \[' ops.dot) == 2 ]] || fail "tensor_ops: two inputs"
[[ $(grep -c '^  out[0-9]* \[' ops.dot) == 3 ]] || fail "tensor_ops: three outputs"
cat_node=$(grep -o '^  n[0-9]* \[label="[^"]*cat' ops.dot | awk '{ print $1 }')
[[ -n $cat_node && $(grep -c -- "-> $cat_node;" ops.dot) == 3 ]] || fail "tensor_ops: cat reads three values"
"$nnc" dot "$src/examples/mnist_cnn.nnet" -O2 > cnn.dot
grep -q 'conv2d + relu' cnn.dot || fail "-O2: the fused activation is not shown"
"$nnc" dot "$src/examples/mnist_cnn.nnet" | grep -q 'conv2d + relu' && fail "-O0: nothing is fused as written"
if command -v dot > /dev/null; then
    "$nnc" dot "$src/examples/digits.nnet" -o digits.svg
    grep -q '<svg' digits.svg || fail "no SVG from Graphviz"
else
    set +e
    "$nnc" dot "$src/examples/digits.nnet" -o digits.svg 2> svg.err
    rc=$?
    set -e
    [[ $rc == 1 ]] || fail "-o X.svg without Graphviz: exit 1 expected, got $rc"
    grep -q 'digits.dot writes the DOT text' svg.err || fail "no hint without Graphviz"
    [[ ! -e digits.svg ]] || fail "a partial SVG was left"
    echo "note: Graphviz's dot is not installed: SVG output checked only for its message"
fi
echo "ok: nnc dot"
