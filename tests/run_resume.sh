#!/usr/bin/env bash
# run_resume.sh NNC SRC_DIR WORK_DIR
#
# LANGUAGE.md §10: `checkpoint` and `PROG train --resume`, and
# `early_stopping`, end to end on the digits data (examples/data) with a
# model that uses every random stream (shuffling, dropout), Adam, a
# per-step schedule list (warm-up then onecycle: momentum cycling), clipping
# and label smoothing.
#
#  1. 10 epochs in one run == 5 epochs, then --resume to 10, bit for bit
#     (cmp of the saved safetensors), and the resumed log holds all 10 lines.
#  2. A run killed (SIGKILL) at a random moment, then resumed from whatever
#     checkpoint it left, == the uninterrupted run, bit for bit; 4 rounds.
#  3. early_stopping: the run stops PATIENCE epochs after its best
#     validation loss, says so, and saves exactly the parameters a run of
#     that many epochs (without early stopping) saves; the best epoch's
#     val_loss in the log is the smallest; resuming from a checkpoint
#     written during it gives the same file.
#  4. A checkpoint refused: another batch, or not a checkpoint.
# Exit 0 when all pass, 1 otherwise, 2 for wrong usage.
set -u
if [ $# -ne 3 ]; then
    echo "usage: run_resume.sh NNC SRC_DIR WORK_DIR" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
SRC=$(abspath "$2")
WORK=$(abspath "$3")
case "$WORK" in /|"") echo "run_resume: refusing work dir '$WORK'" >&2; exit 2 ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2
head -n 600 "$SRC/examples/data/digits_train.csv" >train.csv
head -n 200 "$SRC/examples/data/digits_test.csv" >val.csv
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat >model.nnet <<'EOF'
model digits {
    input [64]
    linear(64, 64)
    relu
    dropout(0.2)
    linear(64, 10)
}

train digits {
    data       = csv("train.csv", label = -1)
    validation = csv("val.csv", label = -1)
    loss       = cross_entropy(label_smoothing = 0.05)
    optimizer  = adam(lr = 0.01)
    schedule   = [linear_warmup(20, per = "step"), onecycle(0.02, 400, per = "step")]
    clip_grad_norm = 2.0
    epochs     = 10
    batch      = 32
    seed       = 7
}
EOF
"$NNC" build model.nnet -o prog || { echo "FAIL: build"; exit 1; }

# 1. 10 == 5 + resume 5
./prog train --save full.st --log full.csv >full.out || fail "uninterrupted run"
./prog train --epochs 5 --checkpoint half.ckpt --log half.csv >half.out || fail "first half"
./prog train --resume half.ckpt --save resumed.st --log half.csv >resumed.out ||
    fail "resumed run: $(cat resumed.out)"
cmp full.st resumed.st || fail "10 epochs != 5 + --resume 5"
grep -q "resuming from half.ckpt after epoch 5" resumed.out || fail "no resume message"
[ "$(grep -c '^epoch' resumed.out)" = 5 ] || fail "the resumed run did not train epochs 6-10"
[ "$(wc -l <half.csv)" = 11 ] || fail "the resumed log does not hold 10 epochs"
[ "$(cut -d, -f1-4 half.csv)" = "$(cut -d, -f1-4 full.csv)" ] || fail "the logs differ"

# 2. killed at a random moment, resumed
t0=$(date +%s%N)
./prog train --checkpoint time.ckpt >/dev/null || fail "run with a checkpoint"
ms=$((($(date +%s%N) - t0) / 1000000))   # how long such a run takes
for round in 1 2 3 4; do
    rm -f kill.ckpt
    ./prog train --checkpoint kill.ckpt >/dev/null &
    pid=$!
    sleep "$(awk -v ms="$ms" -v r="$RANDOM" 'BEGIN { printf "%.4f", ms * (0.1 + 0.8 * r / 32768) / 1000 }')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if [ -f kill.ckpt ]; then
        ./prog train --resume kill.ckpt --save kill.st >kill.out 2>&1 || fail "resume after kill"
    else
        ./prog train --save kill.st >kill.out 2>&1 || fail "rerun after an early kill"
    fi
    cmp full.st kill.st || fail "round $round: killed and resumed != uninterrupted"
    echo "round $round (a whole run: $ms ms): $(head -n 1 kill.out)"
done

# 3. early stopping
sed -e 's/epochs     = 10/epochs     = 60\n    early_stopping = 3/' \
    -e 's/optimizer  = adam(lr = 0.01)/optimizer  = adam(lr = 0.03)/' \
    -e '/schedule/d' -e '/clip_grad_norm/d' model.nnet >early.nnet
"$NNC" build early.nnet -o early || { echo "FAIL: build early"; exit 1; }
./early train --save early.st --log early.csv --checkpoint early.ckpt >early.out ||
    fail "early stopping run"
line=$(grep '^early stopping at epoch' early.out)
[ -n "$line" ] || fail "did not stop early: $(tail -n 2 early.out)"
stop=$(echo "$line" | sed 's/^early stopping at epoch \([0-9]*\).*/\1/')
best=$(echo "$line" | sed 's/.*keeping epoch \([0-9]*\).*/\1/')
echo "early stopping: stopped at $stop, kept $best"
[ "$stop" = $((best + 3)) ] || fail "stopped at $stop, 3 epochs after $best expected"
./early train --epochs "$best" --early-stopping 0 --save best.st >/dev/null || fail "run to best"
cmp early.st best.st || fail "early stopping did not save the best epoch's parameters"
min=$(tail -n +2 early.csv | sort -t, -k3 -g | head -n 1 | cut -d, -f1)
[ "$min" = "$best" ] || fail "the smallest val_loss is at epoch $min, not $best"
./early train --resume early.ckpt --save early2.st >/dev/null || fail "resume a stopped run"
cmp early.st early2.st || fail "resuming the stopped run changed its result"

# 4. refusals
./prog train --resume half.ckpt --batch 16 >/dev/null 2>bad1.err && fail "another batch accepted"
grep -q "batch 32" bad1.err || fail "no message for another batch: $(cat bad1.err)"
./prog train --resume full.st >/dev/null 2>bad2.err
[ $? = 1 ] && grep -q "full.st: .*not an nnc checkpoint" bad2.err ||
    fail "a weights file taken as a checkpoint: $(cat bad2.err)"

[ $fails = 0 ] && echo "run_resume: all passed"
[ $fails = 0 ]
