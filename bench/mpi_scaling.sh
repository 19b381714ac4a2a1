#!/usr/bin/env bash
# bench/mpi_scaling.sh NNC [EPOCHS] — time per epoch of data-parallel
# training (`nnc build --mpi`, `mpirun -np K PROG train`) for K = 1 and 2,
# and of the same model built without --mpi: the digits MLP of
# bench/nnet/w3_digits.nnet at batch 256, and the CNN of
# bench/nnet/w4_cnn.nnet trained at batch 256 on 4096 synthetic 1x28x28
# samples (made here, deterministic). Prints one line per run: the mean of
# the epochs' time= (validation included) after the first epoch. Needs
# mpicc and mpirun (Debian: openmpi-bin libopenmpi-dev).
set -eu
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NNC=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
EPOCHS=${2:-20}
WORK=${BENCH_WORK:-$HERE/.work}/mpi
mkdir -p "$WORK"
cd "$WORK"
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none

sed 's#"../../examples/#"'"$HERE"'/../examples/#' "$HERE/nnet/w3_digits.nnet" >mlp.nnet
{ cat "$HERE/nnet/w4_cnn.nnet"; cat <<'NNET'
train w4_cnn {
    data      = csv("cnn.csv", label = -1)
    loss      = cross_entropy
    optimizer = sgd(lr = 0.01, momentum = 0.9)
    batch     = 256
}
NNET
} >cnn.nnet
[ -f cnn.csv ] || awk 'BEGIN { s = 12345; for (r = 0; r < 4096; r++) { line = "";
    for (j = 0; j < 784; j++) { s = (s * 1103515245 + 12345) % 2147483648;
        line = line sprintf("%.3f,", s / 2147483648) }
    print line (r % 10) } }' >cnn.csv

mean_epoch() { awk '/^epoch /{ if (n++) { sub(/.*time=/, ""); sub(/s.*/, ""); t += $0 } }
                    END { printf "%.1f ms", 1000 * t / (n - 1) }' "$1"; }
for m in mlp cnn; do
    "$NNC" build $m.nnet -o $m
    "$NNC" build $m.nnet --mpi -o $m-mpi
    ./$m train --epochs "$EPOCHS" --batch 256 >$m.out
    echo "$m, without --mpi:   $(mean_epoch $m.out) per epoch"
    for k in 1 2; do
        mpirun --oversubscribe --allow-run-as-root -np $k ./$m-mpi train --epochs "$EPOCHS" \
            --batch 256 >$m-np$k.out
        echo "$m, mpirun -np $k:    $(mean_epoch $m-np$k.out) per epoch"
    done
done
