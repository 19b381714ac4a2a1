#!/usr/bin/env bash
# run_gradcheck.sh NNC OPS_DEF WORKDIR [OP...]
#
# Finite-difference checks of the compiled backward pass, driven by the op
# table: every op of compiler/ir/ops.def must have a case below (a model
# around it, so that its gradient flows into parameters), and each case is
# built and checked with `PROG gradcheck`. Losses get their own cases.
# Prints PASS/FAIL per case and "N passed, M failed"; exit 1 on any failure.
# SHARD=i/n runs only the cases whose number is i modulo n (ctest runs the
# shards side by side).
set -u
nnc=$1 opsdef=$2 work=$3
shift 3
shard_i=${SHARD%%/*} shard_n=${SHARD##*/} ncase=0
[ -n "${SHARD:-}" ] || shard_i=0 shard_n=1
mine() { ncase=$((ncase + 1)); [ $(((ncase - 1) % shard_n)) -eq "$shard_i" ]; }
mkdir -p "$work"

# op -> "input shape | layers" (the loss is mse unless the case says otherwise)
declare -A case extra
case[linear]='[5] | linear(5, 4)'
case[conv2d]='[2, 5, 5] | conv2d(2, 3, 3, stride = 2, padding = 1) flatten'
case[maxpool2d]='[2, 6, 6] | conv2d(2, 2, 1) maxpool2d(3, stride = 2, padding = 1) flatten'
case[avgpool2d]='[2, 6, 6] | conv2d(2, 2, 1) avgpool2d(3, stride = 2, padding = 1) flatten'
case[flatten]='[2, 3, 3] | conv2d(2, 2, 1) flatten'
case[relu]='[5] | linear(5, 6) relu'
case[leaky_relu]='[5] | linear(5, 6) leaky_relu(0.2)'
case[sigmoid]='[5] | linear(5, 6) sigmoid'
case[tanh]='[5] | linear(5, 6) tanh'
case[gelu]='[5] | linear(5, 6) gelu'
case[softmax]='[2, 3, 3] | conv2d(2, 3, 1) softmax(dim = 1) flatten'
case[log_softmax]='[5] | linear(5, 6) log_softmax'
case[dropout]='[5] | linear(5, 6) dropout(0.3)'
case[batchnorm1d]='[5] | linear(5, 6) batchnorm1d(6)'
case[batchnorm2d]='[2, 4, 4] | conv2d(2, 3, 1) batchnorm2d(3) flatten'
case[identity]='[5] | linear(5, 6) identity'
case[silu]='[5] | linear(5, 6) silu'
case[elu]='[5] | linear(5, 6) elu(alpha = 0.7)'
case[softplus]='[5] | linear(5, 6) softplus(beta = 2, threshold = 15)'
case[conv1d]='[4, 9] | conv1d(4, 6, 3, stride = 2, padding = 2, dilation = 2, groups = 2) flatten'
case[conv_transpose2d]='[4, 3, 4] | conv_transpose2d(4, 6, 3, stride = 2, padding = 1, output_padding = 1, groups = 2, dilation = [1, 2]) flatten'
case[maxpool1d]='[2, 9] | conv1d(2, 2, 1) maxpool1d(3, stride = 2, padding = 1) flatten'
case[avgpool1d]='[2, 9] | conv1d(2, 2, 1) avgpool1d(3, stride = 2, padding = 1) flatten'
case[adaptive_avg_pool2d]='[2, 7, 5] | conv2d(2, 2, 1) adaptive_avg_pool2d([3, 2]) flatten'
case[upsample]='[2, 3, 2] | conv2d(2, 2, 1) upsample(scale_factor = [2, 1.5]) flatten'
case[layernorm]='[3, 4] | conv1d(3, 3, 1) layernorm([3, 4]) flatten'
# new arguments of existing ops, checked with their op
extra[conv2d_dilation_groups]='[4, 7, 7] | conv2d(4, 6, 3, stride = 2, padding = 2, dilation = 2, groups = 2) flatten'
extra[conv2d_depthwise]='[3, 6, 6] | conv2d(3, 6, 3, padding = 1, groups = 3) tanh flatten'
extra[conv2d_depthwise_s2]='[3, 7, 7] | conv2d(3, 3, [3, 1], stride = 2, padding = [1, 0], dilation = [1, 2], groups = 3, bias = false) flatten'
extra[upsample_nearest2]='[2, 3] | conv1d(2, 2, 1) upsample(2) flatten'
extra[upsample_bilinear]='[2, 3, 4] | conv2d(2, 2, 1) upsample(scale_factor = [2, 1.5], mode = "bilinear") flatten'
extra[upsample_bilinear_align]='[2, 3, 4] | conv2d(2, 2, 1) upsample(scale_factor = [3, 1.7], mode = "bilinear", align_corners = true) flatten'
extra[upsample_linear]='[2, 5] | conv1d(2, 2, 1) upsample(2.5, mode = "linear") flatten'
extra[layernorm_last]='[2, 5] | conv1d(2, 2, 1) layernorm(5, elementwise_affine = false) flatten'
extra[layernorm_nobias]='[6] | linear(6, 6) layernorm(6, eps = 1e-3, bias = false)'
case[gelu_tanh]='[5] | linear(5, 6) gelu(approximate = "tanh")'
case[embedding]='[4] | arange(4) embedding(6, 3) flatten'
case[arange]='[4] | arange(4) embedding(4, 2) flatten'
case[lstm]='[5, 3] | lstm(3, 4, num_layers = 2, bidirectional = true) flatten'
case[gru]='[5, 3] | gru(3, 4, num_layers = 2, dropout = 0.3) flatten'
case[rnn_result]='[4, 2] | gru(2, 3, bidirectional = true) flatten'
# ops of several inputs: a graph model (its forward block), loss mse
declare -A graph
graph[scaled_dot_product_attention]='input x [2, 5, 4]
    q = linear(4, 4)
    forward { return flatten(scaled_dot_product_attention(q(x), x, x, is_causal = true)) }'
graph[multihead_attention]='input x [5, 8]
    attn = multihead_attention(8, 2)
    forward { return flatten(attn(x, x, x, is_causal = true)) }'
graph[embedding]='input idx [7] int
    emb = embedding(5, 3)
    forward { return flatten(emb(idx)) }'
# graph cases (ops that exist only in `forward`): op -> "inputs | layers |
# forward statements", each part's statements separated by ';'. The model's
# first output takes the loss (mse); every value input of the op comes from
# a layer, so its gradient reaches parameters and is checked there.
declare -A gcase
G2='input x [3, 4] | fc1 = linear(4, 4); fc2 = linear(4, 1)'
gcase[add]="$G2 | return fc1(x) + fc2(x)"
gcase[sub]="$G2 | return fc2(x) - fc1(x)"
gcase[mul]="$G2 | return fc1(x) * fc2(x)"
gcase[div]="$G2 | return fc1(x) / (sigmoid(fc2(x)) + 0.5)"
gcase[add_scalar]="$G2 | return fc1(x) + 1.5"
gcase[rsub_scalar]="$G2 | return 2 - fc1(x)"
gcase[mul_scalar]="$G2 | return fc1(x) * 3"
gcase[div_scalar]="$G2 | return fc1(x) / 4"
gcase[rdiv_scalar]="$G2 | return 1 / (sigmoid(fc1(x)) + 0.5)"
gcase[matmul]='input x [3, 4] | fc1 = linear(4, 5); fc2 = linear(4, 2) | return transpose(fc1(x), 1, 2) @ fc2(x)'
gcase[cat]="$G2 | return cat([fc2(x), fc1(x), fc2(x)], 2)"
gcase[slice]="$G2 | a, b = split(fc1(x), [1, 3], 2); return b, a"
gcase[transpose]="$G2 | return transpose(fc1(x), 1, 2)"
G3='input x [2, 3, 4] | fc1 = linear(4, 5)'
gcase[permute]="$G3 | return permute(fc1(x), [0, 3, 1, 2])"
gcase[reshape]="$G3 | return reshape(fc1(x), [5, -1])"
gcase[mean]="$G3 | return mean(fc1(x), [1, -1], keepdim = true)"
gcase[sum]="$G3 | return sum(fc1(x), 2)"
# element-wise functions (LANGUAGE.md's functions and the ONNX importer's),
# each on values inside its domain; the step functions (sign, floor, ceil,
# round) have a zero gradient: their argument is kept between two jumps
# (finite differences would see a step) and a smooth term carries the check
gcase[exp]="$G2 | return exp(fc1(x))"
gcase[log]="$G2 | return log(sigmoid(fc1(x)))"
gcase[sqrt]="$G2 | return sqrt(sigmoid(fc1(x)) + 0.1)"
gcase[sin]="$G2 | return sin(fc1(x) * 2)"
gcase[cos]="$G2 | return cos(fc1(x) * 2)"
gcase[tan]="$G2 | return tan(tanh(fc1(x)))"
gcase[asin]="$G2 | return asin(tanh(fc1(x)) * 0.8)"
gcase[acos]="$G2 | return acos(tanh(fc1(x)) * 0.8)"
gcase[atan]="$G2 | return atan(fc1(x) * 2)"
gcase[sinh]="$G2 | return sinh(fc1(x))"
gcase[cosh]="$G2 | return cosh(fc1(x))"
gcase[asinh]="$G2 | return asinh(fc1(x) * 2)"
gcase[acosh]="$G2 | return acosh(sigmoid(fc1(x)) + 1.5)"
gcase[atanh]="$G2 | return atanh(tanh(fc1(x)) * 0.8)"
gcase[erf]="$G2 | return erf(fc1(x))"
gcase[pow]="$G2 | return pow(sigmoid(fc1(x)) + 0.5, 2.5) + pow(fc2(x), 3)"
gcase[sign]="$G2 | return sign(fc1(x)) + fc1(x) * 0.5"
gcase[floor]="$G2 | return floor(sigmoid(fc1(x)) * 0.5 + 1.25) + fc1(x) * 0.5"
gcase[ceil]="$G2 | return ceil(sigmoid(fc1(x)) * 0.5 - 1.75) + fc1(x) * 0.5"
gcase[round]="$G2 | return round(sigmoid(fc1(x)) * 0.4 + 2.05) + fc1(x) * 0.5"
# max and min: finite differences see a kink where two candidates come
# within h (1e-2) of each other, so each reduced set holds three values kept
# at least one apart (s, s / 2 + 3, s - 3, with |s| < 4): the winner is
# always the same one, and the check is that the gradient reaches it
G1='input x [1, 3, 4] | fc1 = linear(4, 5)'
gcase[amax]="$G1 | s = fc1(x); return amax(cat([s, s * 0.5 + 3, s - 3], 1), 1)"
gcase[amin]="$G1 | s = fc1(x); return amin(cat([s * 0.5 + 3, s - 3, s], 1), [1], keepdim = true)"

# losses
declare -A loss
loss[mse]='[5] | linear(5, 3)'
loss[l1]='[5] | linear(5, 3)'
loss[bce]='[5] | linear(5, 3) sigmoid'
loss[bce_with_logits]='[5] | linear(5, 3)'
loss[cross_entropy]='[5] | linear(5, 4)'
loss[nll]='[5] | linear(5, 4) log_softmax'

passed=0 failed=0
run_case() { # name shape layers lossname
  local name=$1 shape=$2 layers=$3 lossname=$4 dir="$work/$1"
  mkdir -p "$dir"
  {
    echo "model net {"
    echo "    input $shape"
    for l in $layers; do :; done
    echo "    $layers" | sed 's/) /)\n    /g; s/flatten /flatten\n    /g'
    [ "$lossname" = mse ] && echo "    head = linear(\$IN, 3)"
    echo "}"
    echo "train net { loss = $lossname optimizer = sgd(lr = 0.1) }"
  } > "$dir/model.nnet.in"
  # the head's input size comes from nnc itself: the output size of the body
  if [ "$lossname" = mse ]; then
    sed '/head = linear/d' "$dir/model.nnet.in" > "$dir/body.nnet"
    local body; body=$("$nnc" summary "$dir/body.nnet" 2>/dev/null | awk '/^[0-9]/ {s=$4} END {print s}')
    local n; n=$(echo "$body" | tr -d '[]' | tr ',' '\n' | awk 'BEGIN{p=1} NF {p*=$1} END {print p}')
    sed "s/\\\$IN/$n/" "$dir/model.nnet.in" > "$dir/model.nnet"
  else
    cp "$dir/model.nnet.in" "$dir/model.nnet"
  fi
  if ! "$nnc" build "$dir/model.nnet" -o "$dir/prog" > "$dir/build.out" 2>&1; then
    echo "FAIL $name: build"; sed 's/^/  | /' "$dir/build.out"; failed=$((failed+1)); return
  fi
  if "$dir/prog" gradcheck > "$dir/check.out" 2>&1; then
    echo "PASS $name"; passed=$((passed+1))
  else
    echo "FAIL $name"; sed 's/^/  | /' "$dir/check.out"; failed=$((failed+1))
  fi
}

run_graph_case() { # name body
  local name=$1 dir="$work/$1"
  mkdir -p "$dir"
  printf 'model net {\n    %s\n}\ntrain net { loss = mse optimizer = sgd(lr = 0.1) }\n' "$2" > "$dir/model.nnet"
  if ! "$nnc" build "$dir/model.nnet" -o "$dir/prog" > "$dir/build.out" 2>&1; then
    echo "FAIL $name: build"; sed 's/^/  | /' "$dir/build.out"; failed=$((failed+1)); return
  fi
  if "$dir/prog" gradcheck > "$dir/check.out" 2>&1; then
    echo "PASS $name"; passed=$((passed+1))
  else
    echo "FAIL $name"; sed 's/^/  | /' "$dir/check.out"; failed=$((failed+1))
  fi
}

run_gcase() { # name "inputs | layers | statements"
  local name=$1 dir="$work/$1" spec=$2
  local ins=${spec%% | *} rest=${spec#* | }
  local layers=${rest%% | *} stmts=${rest#* | }
  mkdir -p "$dir"
  {
    echo "model net {"
    echo "    $ins" | sed 's/; */\n    /g'
    echo "    $layers" | sed 's/; */\n    /g'
    echo "    forward {"
    echo "        $stmts" | sed 's/; */\n        /g'
    echo "    }"
    echo "}"
    echo "train net { loss = mse optimizer = sgd(lr = 0.1) }"
  } > "$dir/model.nnet"
  if ! "$nnc" build "$dir/model.nnet" -o "$dir/prog" > "$dir/build.out" 2>&1; then
    echo "FAIL $name: build"; sed 's/^/  | /' "$dir/build.out"; failed=$((failed+1)); return
  fi
  if "$dir/prog" gradcheck > "$dir/check.out" 2>&1; then
    echo "PASS $name"; passed=$((passed+1))
  else
    echo "FAIL $name"; sed 's/^/  | /' "$dir/check.out"; failed=$((failed+1))
  fi
}

# (the training graph's own steps, OPF_TRAIN, run in every case)
ops=$(grep -v 'OPF_TRAIN' "$opsdef" | sed -n 's/^OP([A-Z_0-9]*, *"\([a-z_0-9]*\)".*/\1/p')
want=("$@")
for op in $ops; do
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $op " ]]; then continue; fi
  mine || continue
  if [ -n "${graph[$op]+x}" ]; then
    run_graph_case "op_$op" "${graph[$op]}"
    continue
  fi
  if [ -n "${gcase[$op]+x}" ]; then
    run_gcase "op_$op" "${gcase[$op]}"; continue
  fi
  if [ -z "${case[$op]+x}" ]; then
    echo "FAIL $op: no gradcheck case for this op (add one to tests/run_gradcheck.sh)"
    failed=$((failed+1)); continue
  fi
  run_case "op_$op" "${case[$op]%% | *}" "${case[$op]#* | }" mse
done
for x in "${!extra[@]}"; do
  base=${x%%_*}
  [ "$base" = conv2d ] || base=${x%_*}
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $base " ]]; then continue; fi
  mine || continue
  run_case "arg_$x" "${extra[$x]%% | *}" "${extra[$x]#* | }" mse
done
# weight tying (LANGUAGE.md §8): one tensor read by an embedding and a
# linear layer, and by two linear layers: its gradient sums both uses
declare -A tie
tie[embedding_linear]='input idx [5] int
    wte = embedding(6, 3)
    head = linear(3, 6, weight = wte.weight)
    forward { return flatten(head(tanh(wte(idx)))) }'
tie[linear_linear]='input x [4]
    a = linear(4, 4)
    b = linear(4, 4, bias = false, weight = a.weight)
    forward { return b(tanh(a(x))) }'
for t in "${!tie[@]}"; do
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " tie " ]]; then continue; fi
  run_graph_case "tie_$t" "${tie[$t]}"
done
for l in "${!loss[@]}"; do
  if [ ${#want[@]} -gt 0 ] && [[ ! " ${want[*]} " =~ " $l " ]]; then continue; fi
  mine || continue
  run_case "loss_$l" "${loss[$l]%% | *}" "${loss[$l]#* | }" "$l"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
