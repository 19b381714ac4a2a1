#!/usr/bin/env bash
# run_kill_save.sh NNC WORK_DIR [ROUNDS]
#
# Nothing lost: a program killed while it saves leaves the previous file.
# Builds a model with 4M parameters (a 16 MB safetensors file), saves once
# to get the OLD file and once more with another seed to get NEW (training
# is deterministic, so every later run writes exactly NEW). Then, ROUNDS
# times (default 40), starts `PROG train --save out.safetensors` over a copy
# of OLD and SIGKILLs it at a random moment around the end of training,
# when it saves (and writes its --log). After each kill out.safetensors must
# be byte-identical to OLD or to NEW, never partial. No temporary may be left
# behind where the folder takes unnamed temporaries (O_TMPFILE, probed with
# $CC): the only name a save gives its temporary (PATH.tmp.PID) lives between
# linkat and rename, so a leftover must be complete (NEW itself, or a whole
# log); those are counted as hits of that window and reported, a partial
# leftover fails. Without O_TMPFILE (PATH.tmp.PID from the start) leftovers
# are only counted. Exit 0 when every round passes, 1 otherwise, 2 for wrong
# usage.
set -u
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: run_kill_save.sh NNC WORK_DIR [ROUNDS]" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
WORK=$(abspath "$2")
ROUNDS=${3:-40}
[ -x "$NNC" ] || { echo "run_kill_save: $NNC is not an executable" >&2; exit 2; }
case "$WORK" in /|"") echo "run_kill_save: refusing work dir '$WORK'" >&2; exit 2 ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2

cat >big.nnet <<'NNET'
model big {
    input [2000]
    linear(2000, 2000)
    relu
    linear(2000, 10)
}
train big {
    data      = csv("data.csv", label = -1)
    loss      = cross_entropy
    optimizer = sgd(lr = 0.01)
    epochs    = 1
    batch     = 4
    shuffle   = false
}
NNET
awk 'BEGIN { srand(7); for (r = 0; r < 8; r++) { s = ""; for (c = 0; c < 2000; c++) s = s sprintf("%.3f,", rand()); print s (r % 10) } }' >data.csv
"$NNC" build big.nnet -o prog >build.log 2>&1 || { echo "FAIL: nnc build:"; cat build.log; exit 1; }
./prog train --seed 1 --save old.safetensors >/dev/null 2>old.err || { echo "FAIL: first save:"; cat old.err; exit 1; }
start=$(date +%s%N)
./prog train --seed 2 --save new.safetensors --log new.csv >/dev/null 2>new.err || { echo "FAIL: second save:"; cat new.err; exit 1; }
dur_ms=$(( ($(date +%s%N) - start) / 1000000 ))
cmp -s old.safetensors new.safetensors && { echo "FAIL: old and new files are the same"; exit 1; }
size=$(wc -c <new.safetensors)
echo "one training run with its save: ${dur_ms} ms; file of $size bytes"
log_lines=$(wc -l <new.csv)

# Can this folder hold unnamed temporaries?
cat >probe.c <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
int main(void)
{
#if defined(__linux__) && defined(O_TMPFILE)
    int fd = open(".", O_TMPFILE | O_WRONLY, 0600);
    if (fd < 0)
        return 1;
    close(fd);
    return access("/proc/self/fd", X_OK) == 0 ? 0 : 1;
#else
    return 1;
#endif
}
C
tmpfile=0
${CC:-cc} -o probe probe.c >/dev/null 2>&1 && ./probe && tmpfile=1
echo "unnamed temporaries (O_TMPFILE) in $WORK: $([ $tmpfile = 1 ] && echo yes || echo no)"

bad=0 saw_old=0 saw_new=0 leftovers=0 window=0
for ((i = 0; i < ROUNDS; i++)); do
    cp old.safetensors out.safetensors
    rm -f out.csv
    # Kill between 30% and 130% of a full run: most kills land late, in the save.
    delay_ms=$(( dur_ms * 3 / 10 + RANDOM % (dur_ms + 1) ))
    ./prog train --seed 2 --save out.safetensors --log out.csv >/dev/null 2>run.err &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if cmp -s out.safetensors old.safetensors; then
        saw_old=$((saw_old + 1))
    elif cmp -s out.safetensors new.safetensors; then
        saw_new=$((saw_new + 1))
    else
        bad=$((bad + 1))
        echo "FAIL: round $i (killed after ${delay_ms} ms): out.safetensors is neither the old nor the new file ($(wc -c <out.safetensors) bytes)"
        cp out.safetensors "partial.$i.safetensors"
    fi
    for f in out.safetensors.tmp.* .out.safetensors.* out.csv.tmp.* .out.csv.*; do
        [ -e "$f" ] || continue
        leftovers=$((leftovers + 1))
        case "$f" in
            *.safetensors.*) cmp -s "$f" new.safetensors && whole=1 || whole=0 ;;
            *) [ "$(wc -l <"$f")" -eq "$log_lines" ] && [ -z "$(tail -c 1 "$f")" ] && whole=1 || whole=0 ;;
        esac
        if [ $whole = 1 ]; then
            window=$((window + 1))
            echo "round $i (killed after ${delay_ms} ms): $f left whole, killed between linkat and rename"
        elif [ $tmpfile = 1 ]; then
            bad=$((bad + 1))
            echo "FAIL: round $i (killed after ${delay_ms} ms): partial temporary $f left behind ($(wc -c <"$f") bytes)"
        fi
        rm -f "$f"
    done
done
echo "$ROUNDS kills: $saw_old left the old file, $saw_new the new one, $bad failure(s);" \
     "$leftovers leftover temporary file(s), $window of them whole (the linkat-rename window)"
[ $bad -eq 0 ] || exit 1
exit 0
