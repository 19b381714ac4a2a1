#!/usr/bin/env bash
# emit_full.sh NNC WORK — `nnc emit` writes into a temporary folder that
# becomes OUTPUT by a rename (issue 17 item 8): on a full disk (a 64 KiB
# tmpfs; the files need ~180 KiB) it fails with "No space left on device"
# (not "Input/output error") naming OUTPUT's file (not the temporary's),
# leaves no OUTPUT, no temporary, and an existing OUTPUT as it was.
# Skipped, saying so, where tmpfs cannot be mounted. Also: emitting into a new and into an existing folder works.
set -u
nnc="$1"; work="$2"
model="$(dirname "$0")/../../examples/chain.nnet"
rm -rf "$work"; mkdir -p "$work/mnt"
fail=0
# the successful cases, on the ordinary file system
"$nnc" emit "$model" -o "$work/new" && [ -f "$work/new/chain.c" ] && [ -f "$work/new/nnr.h" ] ||
    { echo "FAIL: emit into a new folder"; fail=1; }
mkdir "$work/old"; echo keep > "$work/old/keep"
"$nnc" emit "$model" -o "$work/old/" && [ -f "$work/old/chain.c" ] && [ "$(cat "$work/old/keep")" = keep ] ||
    { echo "FAIL: emit into an existing folder"; fail=1; }
if ls -d "$work"/*.tmp.* > /dev/null 2>&1; then echo "FAIL: a temporary folder was left"; fail=1; fi

if ! mount -t tmpfs -o size=64k nnc-test "$work/mnt" 2> /dev/null; then
    echo "SKIP (full disk): cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)"
    exit $fail
fi
trap 'umount "$work/mnt"' EXIT
"$nnc" emit "$model" -o "$work/mnt/out" > "$work/full.out" 2> "$work/full.err"
rc=$?
if [ "$rc" -ne 1 ] || ! grep -q "No space left on device" "$work/full.err" ||
   grep -q "Input/output error" "$work/full.err" || ! grep -qF "$work/mnt/out/" "$work/full.err" ||
   grep -q '\.tmp\.' "$work/full.err"; then
    echo "FAIL: emit on a full disk: exit $rc, stderr:"; cat "$work/full.err"; fail=1
fi
if [ -e "$work/mnt/out" ] || ls -d "$work/mnt"/out.tmp.* > /dev/null 2>&1; then
    echo "FAIL: a half-written folder was left:"; ls -la "$work/mnt"; fail=1
fi
mkdir "$work/mnt/old"; echo keep > "$work/mnt/old/keep"
"$nnc" emit "$model" -o "$work/mnt/old" 2> "$work/full2.err"
rc=$?
if [ "$rc" -ne 1 ] || [ "$(ls "$work/mnt/old")" != keep ] || ls -d "$work/mnt"/old.tmp.* > /dev/null 2>&1; then
    echo "FAIL: emit on a full disk into an existing folder: exit $rc, left:"; ls -la "$work/mnt" "$work/mnt/old"; fail=1
fi
[ $fail -eq 0 ] && echo "emit on a full disk leaves nothing behind"
exit $fail
