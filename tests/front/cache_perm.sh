#!/usr/bin/env bash
# cache_perm.sh NNC WORK — the runtime cache folder must be the user's and
# not writable by others, else nnc says why, does not use it, and still
# builds (issue 17 item 7: a /tmp/nnc-cache-0 made 0777 by another user was
# trusted). Builds at -O0 (NNC_EXTRA_CFLAGS) to be quick.
set -u
nnc="$1"; work="$2"
rm -rf "$work"; mkdir -p "$work"
model="$(dirname "$0")/../../examples/chain.nnet"
export NNC_EXTRA_CFLAGS="${NNC_EXTRA_CFLAGS:-} -O0"
unset NNC_NO_CACHE
fail=0
build() {   # NAME CACHE_DIR: builds, 0 when the program was made
    NNC_CACHE_DIR="$2" "$nnc" build "$model" -o "$work/$1.prog" 2> "$work/$1.err"
}
# a folder writable by others: refused, the build goes on without it
mkdir -m 0777 "$work/open"; chmod 0777 "$work/open"
if ! build open "$work/open" || [ ! -x "$work/open.prog" ]; then
    echo "FAIL: the build failed with a refused cache"; cat "$work/open.err"; fail=1
fi
if ! grep -q "nnc: warning: not using the runtime cache $work/open: it is writable by others (mode 0777); building without it" "$work/open.err"; then
    echo "FAIL: no warning for a 0777 cache folder:"; cat "$work/open.err"; fail=1
fi
if ls "$work/open" | grep -q .; then
    echo "FAIL: nnc wrote into the refused cache folder:"; ls -la "$work/open"; fail=1
fi
# another user's folder (only root can make one here)
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
    mkdir -m 0755 "$work/theirs"; chown nobody "$work/theirs"
    build theirs "$work/theirs"
    if ! grep -q "not using the runtime cache $work/theirs: it is owned by another user" "$work/theirs.err" ||
       [ ! -x "$work/theirs.prog" ]; then
        echo "FAIL: another user's cache folder:"; cat "$work/theirs.err"; fail=1
    fi
else
    echo "(not root: the other-owner case is not run)"
fi
# our own 0755 folder is used, silently
mkdir -m 0755 "$work/mine"
if ! build mine "$work/mine" || [ -s "$work/mine.err" ] || ! ls "$work/mine" | grep -q '^rt-'; then
    echo "FAIL: a good cache folder was not used:"; cat "$work/mine.err"; ls -la "$work/mine"; fail=1
fi
# nnc makes a missing cache folder 0700
build fresh "$work/fresh"
if [ "$(stat -c %a "$work/fresh")" != 700 ]; then
    echo "FAIL: a new cache folder has mode $(stat -c %a "$work/fresh")"; fail=1
fi
[ $fail -eq 0 ] && echo "cache folders checked"
exit $fail
