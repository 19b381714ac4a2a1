#!/usr/bin/env bash
# run_probe.sh NNC WORK_DIR CASE — what a careless user (or root) does to
# the files nnc and its programs write, as a test (issue 17):
#   device  a node like /dev/null (mknod c 1 3) in WORK_DIR stays a device
#           after `PROG train --save node`, `--log node` and `nnc build -o node`
#   full    a node like /dev/full (c 1 7): `--save` and `nnc build -o` fail
#           with exit 1 and "No space left on device"; the node stays
#   fifo    a FIFO with a reader (cat) gets the bytes of `--save`, the same
#           bytes a save to a regular file gives; the FIFO stays a FIFO
#   mode    a 0600 weights file is still 0600 after `--save`, a 0755 program
#           still 0755 after `nnc build -o`; a new file gets 0666/0777 less
#           the umask
#   tmpfs   on a full tmpfs (mounted in WORK_DIR when this may mount one),
#           `--save` and `nnc build -o` fail with exit 1 and ENOSPC, the old
#           weights stay byte-identical and no temporary is left behind
#   devzero `nnc check /dev/zero` and `PROG train --data /dev/zero` end on
#           their own (a byte limit on non-regular inputs) with exit 1 and a
#           message, well inside a timeout, in bounded memory (not by
#           running out of it)
# Exit 0 pass, 1 fail, 2 usage, 77 skipped (the reason is printed: mknod or
# mount not allowed here).
set -u
if [ $# -ne 3 ]; then
    echo "usage: run_probe.sh NNC WORK_DIR device|full|fifo|mode|tmpfs|devzero" >&2
    exit 2
fi
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
NNC=$(abspath "$1")
WORK=$(abspath "$2")
CASE=$3
[ -x "$NNC" ] || { echo "run_probe: $NNC is not an executable" >&2; exit 2; }
case "$WORK" in /|"") echo "run_probe: refusing work dir '$WORK'" >&2; exit 2 ;; esac
case "$CASE" in device|full|fifo|mode|tmpfs|devzero) ;; *) echo "run_probe: unknown case $CASE" >&2; exit 2 ;; esac
MNT=
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; }
trap cleanup EXIT
[ -d "$WORK/mnt" ] && umount "$WORK/mnt" 2>/dev/null
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; exit 77; }
is_chr() { [ -c "$1" ] && [ ! -L "$1" ]; }

cat >m.nnet <<'NNET'
model m {
    input [4]
    linear(4, 3)
}
train m {
    data      = csv("data.csv", label = -1)
    loss      = cross_entropy
    optimizer = sgd(lr = 0.1)
    epochs    = 2
    batch     = 4
    shuffle   = false
}
NNET
printf '%s\n' 1,2,3,4,0 2,3,4,5,1 0,1,0,1,2 5,4,3,2,1 1,1,1,1,0 0,2,0,2,2 >data.csv
"$NNC" build m.nnet -o prog >build.log 2>&1 || { echo "FAIL: nnc build:"; cat build.log; exit 1; }
./prog train --seed 1 --save ref.safetensors >/dev/null 2>ref.err || { echo "FAIL: reference save:"; cat ref.err; exit 1; }

# run WHAT EXPECTED_STATUS MESSAGE_FRAGMENT -- COMMAND...: the status and, when
# the fragment is not empty, a message holding it on standard error.
run() {
    local what=$1 want=$2 frag=$3
    shift 4
    "$@" >out.txt 2>err.txt
    local st=$?
    if [ $st -ne "$want" ]; then
        fail "$what: exit $st, expected $want; stderr: $(head -c 400 err.txt)"
    elif [ -n "$frag" ] && ! grep -qF -- "$frag" err.txt; then
        fail "$what: the message lacks \"$frag\": $(head -c 400 err.txt)"
    else
        echo "ok: $what (exit $st)${frag:+: $(head -n 1 err.txt)}"
    fi
}

# A character device node like /dev/null (1,3) or /dev/full (1,7) in WORK.
make_node() { mknod -m 666 "$1" c 1 "$2" 2>/dev/null || skip "mknod is not allowed here (not root, or a nodev mount)"; }

case "$CASE" in
device)
    make_node node 3
    run "train --save node" 0 "" -- ./prog train --seed 1 --save node
    is_chr node || fail "train --save node: node is no longer a device: $(ls -l node)"
    run "train --log node" 0 "" -- ./prog train --seed 1 --log node
    is_chr node || fail "train --log node: node is no longer a device: $(ls -l node)"
    run "nnc build -o node" 0 "" -- "$NNC" build m.nnet -o node
    is_chr node || fail "nnc build -o node: node is no longer a device: $(ls -l node)"
    ls -A | grep -q '\.tmp\.' && fail "a temporary was left: $(ls -A | grep '\.tmp\.')"
    ;;
full)
    make_node full 7
    run "train --save full" 1 "No space left on device" -- ./prog train --seed 1 --save full
    is_chr full || fail "train --save full: full is no longer a device: $(ls -l full)"
    run "nnc build -o full" 1 "No space left on device" -- "$NNC" build m.nnet -o full
    is_chr full || fail "nnc build -o full: full is no longer a device: $(ls -l full)"
    ;;
fifo)
    mkfifo fifo || skip "mkfifo failed here"
    cat fifo >got.safetensors &
    reader=$!
    run "train --save fifo (a reader at the other end)" 0 "" -- timeout 60 ./prog train --seed 1 --save fifo
    wait $reader
    [ -p fifo ] || fail "the FIFO was replaced: $(ls -l fifo)"
    cmp -s got.safetensors ref.safetensors ||
        fail "the reader got $(wc -c <got.safetensors) bytes, not the $(wc -c <ref.safetensors) of a regular save"
    [ -s got.safetensors ] && echo "ok: the reader got the $(wc -c <got.safetensors) bytes of a regular save"
    ;;
mode)
    cp ref.safetensors w.safetensors
    chmod 0600 w.safetensors
    run "train --save w.safetensors (0600)" 0 "" -- ./prog train --seed 2 --save w.safetensors
    m=$(stat -c %a w.safetensors)
    [ "$m" = 600 ] || fail "a 0600 weights file is $m after --save"
    cmp -s w.safetensors ref.safetensors && fail "--save did not write the file"
    cp prog p2 && chmod 0750 p2
    run "nnc build -o p2 (0750)" 0 "" -- "$NNC" build m.nnet -o p2
    m=$(stat -c %a p2)
    [ "$m" = 750 ] || fail "a 0750 program is $m after nnc build -o"
    rm -f new.safetensors
    (umask 027 && ./prog train --seed 1 --save new.safetensors >/dev/null 2>&1)
    m=$(stat -c %a new.safetensors 2>/dev/null)
    [ "$m" = 640 ] || fail "a new file saved under umask 027 is '$m', expected 640"
    echo "modes after the writes: w.safetensors $(stat -c %a w.safetensors), p2 $(stat -c %a p2), new $m"
    ;;
tmpfs)
    mkdir mnt
    mount -t tmpfs -o size=1m,mode=0755 nnc-probe "$PWD/mnt" 2>mount.err ||
        skip "cannot mount a tmpfs here ($(head -n 1 mount.err)); run as root with CAP_SYS_ADMIN to probe a full disk"
    MNT=$PWD/mnt
    cp ref.safetensors mnt/w.safetensors
    dd if=/dev/zero of=mnt/fill bs=4k >/dev/null 2>&1   # until the disk is full
    echo "tmpfs of 1 MiB filled: $(df -k mnt | awk 'NR == 2 { print $4 }') KiB free"
    run "train --save on a full disk" 1 "No space left on device" -- ./prog train --seed 2 --save mnt/w.safetensors
    cmp -s mnt/w.safetensors ref.safetensors || fail "the old weights were not kept on a full disk"
    run "nnc build -o on a full disk" 1 "No space left on device" -- "$NNC" build m.nnet -o mnt/prog
    [ -e mnt/prog ] && fail "a failed build left mnt/prog"
    ls -A mnt | grep -q '\.tmp\.' && fail "a temporary was left: $(ls -A mnt)"
    rm -f mnt/fill
    run "train --save once there is room again" 0 "" -- ./prog train --seed 1 --save mnt/w.safetensors
    ;;
devzero)
    # Bounded memory: a sanitizer build is stopped by its own RSS limit,
    # another by the address-space limit; either is a failure here.
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=1500"
    [ -n "${NNC_EXTRA_CFLAGS:-}" ] || ulimit -v 4000000
    for c in "nnc check /dev/zero" "prog train --data /dev/zero"; do
        set -- $c
        [ "$1" = prog ] && set -- ./prog "${@:2}"
        [ "$1" = nnc ] && set -- "$NNC" "${@:2}"
        start=$(date +%s%N)
        timeout 60 "$@" >out.txt 2>err.txt
        st=$?
        ms=$(( ($(date +%s%N) - start) / 1000000 ))
        if [ $st -ne 1 ]; then
            fail "$c: exit $st after $ms ms, expected 1 (124: the timeout); stderr: $(head -c 400 err.txt)"
        elif ! grep -q . err.txt; then
            fail "$c: exit 1 without a message"
        elif grep -q "out of memory" err.txt; then
            fail "$c: stopped by running out of memory after $ms ms, not by a byte limit: $(head -n 1 err.txt)"
        else
            echo "ok: $c: exit 1 after $ms ms: $(head -n 1 err.txt)"
        fi
    done
    ;;
esac
[ $fails -eq 0 ] || { echo "run_probe $CASE: $fails failure(s)"; exit 1; }
echo "run_probe $CASE: passed"
exit 0
