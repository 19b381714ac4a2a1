#!/usr/bin/env bash
# run_generate_cache.sh — `PROG generate` with the key/value cache against
# the recompute loop (NNR_NO_KV_CACHE=1): the same bytes for causal models
# (multihead_attention: examples/gpt.nnet; scaled_dot_product_attention
# with softmax, residuals and a scalar op), with a prompt shorter and one
# longer than the window and tokens past it, sampled and greedy; a model
# that is not causal gets no step (its header declares none) and still
# generates.
#
#   usage: run_generate_cache.sh NNC WORK
set -u
[ $# -eq 2 ] || { echo "usage: run_generate_cache.sh NNC WORK" >&2; exit 2; }
NNC=$1 WORK=$2
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples" && pwd)"
rm -rf "$WORK"; mkdir -p "$WORK" && cd "$WORK" || exit 2
fail=0
cat > sdpa.nnet <<'M'
model tiny {
    input idx [12] int
    wte = embedding(40, 16)
    wpe = embedding(12, 16)
    ln = layernorm(16)
    fq = linear(16, 16)
    fk = linear(16, 16)
    fv = linear(16, 8)
    up = linear(8, 16)
    head = linear(16, 40)
    forward {
        x = wte(idx) + wpe(arange(12))
        h = ln(x)
        a = scaled_dot_product_attention(fq(h), fk(h), fv(h), is_causal = true)
        x = x + up(a) * 2.0
        return log_softmax(head(tanh(x)), dim = -1)
    }
}
M
cat > open.nnet <<'M'
model open {
    input idx [12] int
    wte = embedding(40, 16)
    attn = multihead_attention(16, 2)
    head = linear(16, 40)
    forward {
        x = wte(idx)
        return head(x + attn(x, x, x))
    }
}
M
cp "$SRC/gpt.nnet" gpt.nnet
for m in gpt sdpa open; do
    "$NNC" build $m.nnet -o $m >build_$m.log 2>&1 || { echo "FAIL: build $m"; cat build_$m.log; exit 1; }
done
"$NNC" emit sdpa.nnet -o emit_sdpa >/dev/null 2>&1 && "$NNC" emit open.nnet -o emit_open >/dev/null 2>&1 ||
    { echo "FAIL: emit"; exit 1; }
grep -q "tiny_step(" emit_sdpa/tiny.h || { echo "FAIL: the causal model's header declares no step"; fail=1; }
grep -q "_step(" emit_open/open.h && { echo "FAIL: the model without a causal mask got a step"; fail=1; }
# prompt bytes stay below 40 for the small vocabularies
long='!#$%&!#$%&!#$%&!#$%&'    # 20 bytes: longer than the small models' window
for m in gpt sdpa open; do
    for args in "--tokens 150 --seed 3" "--tokens 150 --temperature 0" "--tokens 40 --top-k 5 --seed 8 --prompt $long" \
                "--tokens 30 --temperature 0.7 --seed 2 --prompt !"; do
        ./$m generate $args > cached.out 2>&1 || { echo "FAIL: $m generate $args"; cat cached.out; fail=1; continue; }
        NNR_NO_KV_CACHE=1 ./$m generate $args > recomputed.out 2>&1 || { echo "FAIL: $m generate $args (recompute)"; fail=1; continue; }
        if cmp -s cached.out recomputed.out; then
            echo "ok: $m generate $args: $(wc -c < cached.out) bytes, the same with and without the cache"
        else
            echo "FAIL: $m generate $args: the cache changed the text"; fail=1
        fi
    done
done
[ $fail -eq 0 ] && echo "ok: generate cache"
exit $fail
