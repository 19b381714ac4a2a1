#!/usr/bin/env bash
# run_mpi.sh NNC NNC_CMP SRC_DIR WORK_DIR
#
# `nnc build --mpi` and `mpirun -np K PROG train|eval` (README "Training on
# several machines"), on 603 rows of the digits data in batches of 64 (a
# last batch of 27 rows, split unevenly), with Adam and a per-step cosine
# schedule:
#  1. without mpicc, `nnc build --mpi` is an error naming the package, and
#     a program built without --mpi does not link MPI;
#  2. -np 1 of the MPI program == the program without MPI, bit for bit;
#  3. -np 2 and -np 3 == one process up to float rounding (parameters within
#     abs 2e-6 + rel 2e-5; the printed losses and accuracies within rel
#     1e-5), every rank ending with the same parameters (no warning), and
#     one report per epoch (rank 0 alone prints and writes the log);
#  4. eval over 3 ranks == eval in one process (rel 1e-6);
#  5. a missing data file: exit 1, the message once (on one rank alone:
#     that rank's message, prefixed with its rank); a batch norm whose
#     shards would hold one row is refused;
#  6. with dropout, --resume over 2 ranks is the uninterrupted run, bit for bit.
# Without mpicc or mpirun the MPI runs are skipped with a message (exit 77,
# ctest's SKIP_RETURN_CODE). mpirun runs with --oversubscribe (2 cores) and
# may run as root (CI does). Exit 0 when all pass, 1 otherwise.
set -u
if [ $# -ne 4 ]; then
    echo "usage: run_mpi.sh NNC NNC_CMP SRC_DIR WORK_DIR" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
CMP=$(abspath "$2")
SRC=$(abspath "$3")
WORK=$(abspath "$4")
case "$WORK" in /|"") echo "run_mpi: refusing work dir '$WORK'" >&2; exit 2 ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

head -n 603 "$SRC/examples/data/digits_train.csv" >train.csv
head -n 200 "$SRC/examples/data/digits_test.csv" >val.csv
cat >model.nnet <<'NNET'
model digits {
    input [64]
    linear(64, 64)
    relu
    linear(64, 32)
    tanh
    linear(32, 10)
}

train digits {
    data       = csv("train.csv", label = -1)
    validation = csv("val.csv", label = -1)
    loss       = cross_entropy
    optimizer  = adam(lr = 0.01)
    schedule   = cosine(30, per = "step")
    epochs     = 3
    batch      = 64
    seed       = 11
}
NNET

# 1. No mpicc: an error that says what to install; nothing written.
NNC_MPICC=nnc-no-such-mpicc "$NNC" build model.nnet --mpi -o nompi >out 2>err
rc=$?
[ $rc -eq 1 ] || fail "build --mpi without mpicc: exit $rc, expected 1"
grep -q "libopenmpi-dev" err || fail "build --mpi without mpicc does not name the package: $(cat err)"
[ -e nompi ] && fail "build --mpi without mpicc wrote a program"
"$NNC" build model.nnet -o serial || { echo "FAIL: build"; exit 1; }
if command -v nm >/dev/null && nm -u serial | grep -q 'MPI_'; then
    fail "a program built without --mpi uses MPI: $(nm -u serial | grep MPI_ | head -3)"
fi

if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
    echo "SKIP: mpicc or mpirun not installed (Debian: apt-get install openmpi-bin libopenmpi-dev); the MPI runs are not tested"
    [ $fails -eq 0 ] && exit 77
    exit 1
fi
# In containers and as root (CI): allowed to run as root, more ranks than
# cores, and no cross-memory attach (ptrace is often forbidden).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_btl="^openib" OMPI_MCA_mpi_yield_when_idle=1
# Open MPI's own allocations are not the program's: no leak check under
# mpirun in the sanitizer run (tests/run_sanitize.sh); every other check
# stays, and the programs run without mpirun keep the leak check.
mpi_asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi() { ASAN_OPTIONS="$mpi_asan" timeout 300 mpirun --oversubscribe --allow-run-as-root -np "$@"; }

"$NNC" build model.nnet --mpi -o prog || { echo "FAIL: build --mpi"; exit 1; }

# 2. One rank is the one-process program, bit for bit.
./serial train --save serial.st --log serial.log >serial.out 2>serial.err ||
    fail "train without MPI: $(cat serial.err)"
mpi 1 ./prog train --save np1.st >np1.out 2>np1.err || fail "mpirun -np 1: $(cat np1.err)"
cmp -s serial.st np1.st || fail "-np 1 differs from the program built without --mpi"

# 3. Two and three ranks: the same training up to float rounding.
strip_times() { sed 's/time=[^ ]*//' "$1"; }
for k in 2 3; do
    mpi $k ./prog train --save np$k.st --log np$k.log >np$k.out 2>np$k.err ||
        fail "mpirun -np $k: $(cat np$k.err)"
    "$CMP" st serial.st np$k.st --abs 2e-6 --rel 2e-5 >cmp$k.txt ||
        fail "-np $k: parameters differ from one process: $(head -n 8 cmp$k.txt)"
    grep -q "differ from rank 0" np$k.err && fail "-np $k: the ranks ended apart: $(cat np$k.err)"
    n=$(grep -c '^epoch ' np$k.out)
    [ "$n" -eq 3 ] || fail "-np $k: $n epoch lines on stdout, expected 3 (rank 0 alone prints)"
    n=$(wc -l <np$k.log)
    [ "$n" -eq 4 ] || fail "-np $k: the log has $n lines, expected 4"
    for e in 1 2 3; do
        grep "^epoch $e/" serial.out | strip_times /dev/stdin >want.txt
        grep "^epoch $e/" np$k.out | strip_times /dev/stdin >got.txt
        "$CMP" kv want.txt got.txt --abs 0 --rel 1e-5 >kv.txt ||
            fail "-np $k, epoch $e: the report differs: $(cat want.txt) | $(cat got.txt)"
    done
done

# 4. eval over three ranks, each on a third of the rows.
./serial eval --data val.csv --weights serial.st >eval1.out || fail "eval without MPI"
mpi 3 ./prog eval --data val.csv --weights serial.st >eval3.out 2>eval3.err ||
    fail "mpirun -np 3 eval: $(cat eval3.err)"
[ "$(wc -l <eval3.out)" -eq 2 ] || fail "eval -np 3 printed: $(cat eval3.out)"
"$CMP" kv eval1.out eval3.out --abs 0 --rel 1e-6 >kv.txt || fail "eval -np 3: $(cat kv.txt)"

# 5. Errors: every rank fails alike, the message is printed once.
mpi 2 ./prog train --data missing.csv >miss.out 2>miss.err
rc=$?
[ $rc -ne 0 ] || fail "a missing data file under mpirun: exit 0"
n=$(grep -c 'missing.csv' miss.err)
[ "$n" -eq 1 ] || fail "a missing data file: $n messages, expected 1: $(cat miss.err)"
# a failure of one rank alone: every rank stops, its message is shown with its rank
mpi 3 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 2 ]; then exec ./prog train --data missing.csv
             else exec ./prog train --epochs 1; fi' >one.out 2>one.err
rc=$?
[ $rc -ne 0 ] || fail "a missing data file on rank 2 alone: exit 0"
grep -q "^rank 2 of 3: missing.csv: error: cannot open" one.err ||
    fail "a missing data file on rank 2 alone: $(cat one.err)"
grep -q "^epoch" one.out && fail "a missing data file on rank 2 alone: rank 0 trained"
cat >bn.nnet <<'NNET'
model bn {
    input [64]
    linear(64, 16)
    batchnorm1d(16)
    relu
    linear(16, 10)
}
train bn {
    data = csv("train.csv", label = -1)
    loss = cross_entropy
    optimizer = sgd(lr = 0.1)
    batch = 64
}
NNET
"$NNC" build bn.nnet --mpi -o bnprog || fail "build --mpi of bn.nnet"
mpi 3 ./bnprog train --batch 5 >bn.out 2>bn.err
rc=$?
[ $rc -ne 0 ] || fail "batch norm on shards of 1 row: exit 0"
grep -q "over 3 processes give some process batches of 1 row" bn.err ||
    fail "batch norm on shards of 1 row: $(cat bn.err)"
mpi 2 ./bnprog train --batch 64 --epochs 1 >bn2.out 2>bn2.err ||
    fail "batch norm over 2 ranks: $(cat bn2.err)"

# 6. With dropout (each rank its own masks), a run of 4 epochs == 2 epochs
#    then --resume from their checkpoint, bit for bit, over 2 ranks.
sed 's/^    relu$/    relu\n    dropout(0.2)/; s/epochs     = 3/epochs     = 4/' model.nnet >drop.nnet
"$NNC" build drop.nnet --mpi -o dprog || fail "build --mpi of drop.nnet"
mpi 2 ./dprog train --save full.st >full.out 2>&1 || fail "dropout over 2 ranks: $(cat full.out)"
mpi 2 ./dprog train --epochs 2 --checkpoint half.ckpt >half.out 2>&1 ||
    fail "2 epochs with a checkpoint: $(cat half.out)"
mpi 2 ./dprog train --resume half.ckpt --save resumed.st >resumed.out 2>&1 ||
    fail "--resume over 2 ranks: $(cat resumed.out)"
cmp -s full.st resumed.st || fail "--resume over 2 ranks is not the uninterrupted run"
grep -q "^epoch 3/4" resumed.out || fail "--resume over 2 ranks: $(cat resumed.out)"

if [ $fails -eq 0 ]; then
    echo "run_mpi: all passed"
    exit 0
fi
echo "run_mpi: $fails failure(s)"
exit 1
