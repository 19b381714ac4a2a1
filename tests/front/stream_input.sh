#!/usr/bin/env bash
# stream_input.sh NNC WORK — an input that is not a regular file is read as
# a stream with a byte limit (issue 17 item 5): `nnc check /dev/zero` and an
# endless pipe stop with an error naming the limit, exit 1, in bounded time
# and memory (it used to grow until "out of memory" and abort()).
set -u
nnc="$1"; work="$2"
mkdir -p "$work"
fail=0
expect_limit() {    # NAME LIMIT_TEXT CMD...
    local name="$1" limit="$2"; shift 2
    "$@" > "$work/$name.out" 2> "$work/$name.err"
    local rc=$?
    if [ "$rc" -ne 1 ] || [ -s "$work/$name.out" ] ||
       ! grep -q "not a regular file, and longer than $limit bytes, the limit for streams (NNC_MAX_INPUT=BYTES raises it)" "$work/$name.err"; then
        echo "FAIL $name: exit $rc (124: timed out); stderr:"; head -c 400 "$work/$name.err"; echo
        fail=1
    fi
}
expect_limit zero 268435456 timeout 120 "$nnc" check /dev/zero
expect_limit zero_small 4096 timeout 60 env NNC_MAX_INPUT=4096 "$nnc" check /dev/zero
# a FIFO with an endless writer
rm -f "$work/fifo"; mkfifo "$work/fifo"
( yes 'let a = 1' > "$work/fifo" 2>/dev/null & echo $! > "$work/writer.pid"; wait ) &
expect_limit fifo 100000 timeout 60 env NNC_MAX_INPUT=100000 "$nnc" check "$work/fifo"
kill "$(cat "$work/writer.pid")" 2>/dev/null
wait
# a stream under the limit is read whole
if ! timeout 60 "$nnc" check /dev/stdin < "$(dirname "$0")/../../examples/chain.nnet"; then
    echo "FAIL: a model on stdin is not accepted"; fail=1
fi
[ $fail -eq 0 ] && echo "streams stop at the limit"
exit $fail
