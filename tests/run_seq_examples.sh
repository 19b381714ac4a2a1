#!/usr/bin/env bash
# run_seq_examples.sh — the sequence examples as tests, each on data it
# makes itself (nothing copied): gpt (a character-level GPT trained with
# text() on generated sentences: the loss falls below a stated value and
# `generate` prints the asked number of bytes) and lstm (a sequence
# classifier at >= 95% test accuracy on a task that needs memory).
#
#   usage: run_seq_examples.sh NNC WORK gpt|lstm
set -u
[ $# -eq 3 ] || { echo "usage: run_seq_examples.sh NNC WORK gpt|lstm" >&2; exit 2; }
NNC=$1 WORK=$2 EX=$3
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples" && pwd)"
rm -rf "$WORK"; mkdir -p "$WORK" && cd "$WORK" || exit 2
"$NNC" build "$SRC/$EX.nnet" -o prog >build.log 2>&1 || { echo "FAIL: build"; cat build.log; exit 1; }
case "$EX" in
gpt)
    # sentences of a small grammar: 40000 bytes
    awk 'BEGIN { srand(7); split("the cat,a dog,the bird,my friend,the old man,a small child", s, ",");
                 split("sees,likes,finds,follows,hears,draws", v, ",");
                 split("the moon,a red ball,the river,a green tree,the house,a blue fish", o, ",");
                 n = 0; while (n < 40000) { l = s[int(rand() * 6) + 1] " " v[int(rand() * 6) + 1] " " o[int(rand() * 6) + 1] ".";
                 print l; n += length(l) + 1 } }' > text.txt
    ./prog train --data text.txt --epochs 5 --save gpt.safetensors > train.log 2>&1 || { echo "FAIL: train"; tail train.log; exit 1; }
    loss=$(./prog eval --data text.txt --weights gpt.safetensors | sed -n 's/^loss=//p')
    echo "gpt: loss after 5 epochs $loss (uniform over 256 bytes: 5.55)"
    awk -v l="$loss" 'BEGIN { exit !(l != "" && l < 1.4) }' || { echo "FAIL: loss $loss >= 1.4"; exit 1; }
    ./prog generate --weights gpt.safetensors --prompt "the " --tokens 100 --seed 1 > gen.txt || { echo "FAIL: generate"; exit 1; }
    bytes=$(wc -c < gen.txt)
    [ "$bytes" -eq 100 ] || { echo "FAIL: generate wrote $bytes bytes, not 100"; exit 1; }
    echo "gpt: generated: $(head -c 100 gen.txt | tr '\n' '|')"
    ./prog generate --weights gpt.safetensors --tokens 20 --temperature 0 > g0.txt &&
        ./prog generate --weights gpt.safetensors --tokens 20 --temperature 0 --seed 9 > g1.txt &&
        cmp -s g0.txt g1.txt || { echo "FAIL: temperature 0 is not deterministic"; exit 1; }
    ;;
lstm)
    # class 1 when the first value of the first step is positive
    awk 'BEGIN { srand(3); for (f = 0; f < 2; f++) { n = f ? 300 : 1200; out = f ? "seq_test.csv" : "seq_train.csv";
                 for (i = 0; i < n; i++) { line = ""; for (j = 0; j < 24; j++) { x[j] = sprintf("%.4f", rand() * 2 - 1);
                 line = line x[j] "," } print line (x[0] > 0 ? 1 : 0) > out } } }'
    ./prog train --data seq_train.csv --validation seq_test.csv --save lstm.safetensors > train.log 2>&1 ||
        { echo "FAIL: train"; tail train.log; exit 1; }
    acc=$(./prog eval --data seq_test.csv --weights lstm.safetensors | sed -n 's/^accuracy=//p')
    echo "lstm: test accuracy $acc"
    awk -v a="$acc" 'BEGIN { exit !(a != "" && a >= 0.95) }' || { echo "FAIL: accuracy $acc < 0.95"; exit 1; }
    ;;
*) echo "no example $EX" >&2; exit 2 ;;
esac
echo "ok: $EX"
