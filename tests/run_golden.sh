#!/usr/bin/env bash
# run_golden.sh — golden-file tests of nnc (style habit H10). A case is an input
# file plus exactly one expectation next to it; the expectation's extension
# picks the mode. Output is compared with `diff -u`; UPDATE_GOLDEN=1 rewrites
# the expectations instead (reviewers read the diff). Conventions: tests/golden/README.md.
#
#   usage: run_golden.sh [--nnc NNC] [--work DIR] [CASE_OR_DIR ...]
#
#   NAME.nnet + NAME.err   check  `nnc check NAME.nnet`: "# exit N", then stderr
#   NAME.nnet + NAME.nir   ir     `nnc ir NAME.nnet` (default -O2): stdout
#   NAME.nnet + NAME.out   run    `nnc build`, then `PROG infer < NAME.in`: stdout
#   NAME.sh   + NAME.out   cli    `bash NAME.sh` with the helper `run`: its stdout
#
# A leading comment line `# nnc-args: -O0 ...` adds options to the nnc command
# (check, ir, build); `# nnc-file: OTHER.nnet` (check) runs on OTHER instead
# of the case itself (a file that does not exist). nnc always runs in the
# case's folder on a relative file name, so diagnostics name stable paths.
# Without arguments every case of tests/golden/{check,ir,run,cli} runs (in
# cli/ the cases are the .sh files; a .nnet there is only their input).
# Exit 0 when every case passes, 1 otherwise, 2 for wrong usage.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NNC="${NNC:-}"
WORK=""
cases=()

usage() { echo "usage: run_golden.sh [--nnc NNC] [--work DIR] [CASE_OR_DIR ...]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --nnc)  [ $# -ge 2 ] || usage; NNC="$2"; shift 2 ;;
        --work) [ $# -ge 2 ] || usage; WORK="$2"; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "run_golden: unknown option '$1'" >&2; usage ;;
        *)  cases+=("$1"); shift ;;
    esac
done
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
[ -n "$NNC" ] || { echo "run_golden: give --nnc NNC (or set NNC)" >&2; usage; }
NNC="$(abspath "$NNC")"
[ -x "$NNC" ] || { echo "run_golden: $NNC is not an executable" >&2; exit 2; }
if [ -z "$WORK" ]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/nnc-golden.XXXXXX")"
    trap 'rm -rf "$WORK"' EXIT
fi
WORK="$(abspath "$WORK")"
mkdir -p "$WORK" || exit 2
UPDATE="${UPDATE_GOLDEN:-0}"
[ "$UPDATE" = 0 ] && UPDATE=""
TIMEOUT=()
command -v timeout >/dev/null 2>&1 && TIMEOUT=(timeout "${NNC_GOLDEN_TIMEOUT:-120}")

# Collect the cases: explicit files, or every .nnet/.sh under the mode folders.
if [ ${#cases[@]} -eq 0 ]; then
    cases=("$here/golden/check" "$here/golden/ir" "$here/golden/run" "$here/golden/cli")
fi
files=()
for c in "${cases[@]}"; do
    if [ -d "$c" ]; then
        # cli/ cases are scripts (its .nnet files are their inputs); elsewhere .nnet.
        pat='*.nnet'; [ "$(basename "$c")" = cli ] && pat='*.sh'
        while IFS= read -r f; do files+=("$f"); done < <(
            find "$c" -maxdepth 1 -type f -name "$pat" | LC_ALL=C sort)
    elif [ -f "$c" ]; then
        files+=("$(abspath "$c")")
    else
        echo "run_golden: no case $c" >&2; exit 2
    fi
done

# header KEY FILE: the value of a leading `# KEY: value` comment line.
header() {
    awk -v key="# $1:" '
        !/^#/ { exit }
        index($0, key) == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }' "$2"
}

# The helper of cli cases: `run CMD ARGS...` prints the command (nnc and the
# work folder spelled stably), its exit status, the first line of its standard
# error, whether a usage message followed and whether anything went to
# standard output (not its text: help and progress lines may change freely).
# Exported to the case's bash.
run() {
    local shown="$*" st out err
    shown="${shown//$NNC/nnc}"; shown="${shown//$WORK_CASE\//}"
    out="$WORK_CASE/.run.out"; err="$WORK_CASE/.run.err"
    "$@" >"$out" 2>"$err" </dev/null
    st=$?
    printf '$ %s\nexit %d\n' "$shown" "$st"
    [ -s "$err" ] && printf 'stderr: %s\n' "$(head -n 1 "$err" | sed "s|$WORK_CASE/||g")"
    grep -q '^usage:' "$err" && echo "stderr: (usage message)"
    [ -s "$out" ] && echo "stdout: (not empty)"
    return 0
}
export -f run

# make_got MODE CASE_FILE GOT_FILE: run the case, write what it printed.
# Returns 0, or 1 with a reason in $WORK_CASE/why when it could not run.
make_got() {
    local mode="$1" file="$2" got="$3" dir base name args target st
    dir="$(dirname "$file")"; base="$(basename "$file")"; name="${base%.*}"
    args="$(header nnc-args "$file")"
    case "$mode" in
    check)
        target="$(header nnc-file "$file")"; [ -n "$target" ] || target="$base"
        (cd "$dir" && "${TIMEOUT[@]}" "$NNC" check "$target" $args) \
            >"$WORK_CASE/stdout" 2>"$WORK_CASE/stderr"
        st=$?
        { echo "# exit $st"; cat "$WORK_CASE/stderr"
          if [ -s "$WORK_CASE/stdout" ]; then echo "# stdout:"; cat "$WORK_CASE/stdout"; fi
        } >"$got" ;;
    ir)
        (cd "$dir" && "${TIMEOUT[@]}" "$NNC" ir "$base" $args) >"$got" 2>"$WORK_CASE/stderr"
        st=$?
        if [ $st -ne 0 ]; then
            { echo "nnc ir exited with $st:"; cat "$WORK_CASE/stderr"; } >"$WORK_CASE/why"
            return 1
        fi ;;
    run)
        if [ ! -f "$dir/$name.in" ]; then echo "no input $name.in" >"$WORK_CASE/why"; return 1; fi
        (cd "$dir" && "${TIMEOUT[@]}" "$NNC" build "$base" -o "$WORK_CASE/$name" $args) \
            >"$WORK_CASE/build.log" 2>&1
        st=$?
        if [ $st -ne 0 ]; then
            { echo "nnc build exited with $st:"; tail -n 20 "$WORK_CASE/build.log"; } >"$WORK_CASE/why"
            return 1
        fi
        (cd "$dir" && "${TIMEOUT[@]}" "$WORK_CASE/$name" infer <"$name.in") \
            >"$got" 2>"$WORK_CASE/stderr"
        st=$?
        if [ $st -ne 0 ]; then
            { echo "$name infer exited with $st:"; cat "$WORK_CASE/stderr"; } >"$WORK_CASE/why"
            return 1
        fi ;;
    cli)
        (cd "$dir" && NNC="$NNC" WORK_CASE="$WORK_CASE" "${TIMEOUT[@]}" bash "$base") \
            >"$got" 2>"$WORK_CASE/stderr"
        st=$?
        if [ $st -ne 0 ]; then
            { echo "bash $base exited with $st:"; cat "$WORK_CASE/stderr"; } >"$WORK_CASE/why"
            return 1
        fi ;;
    esac
    return 0
}

pass=0; fail=0; updated=0
for file in "${files[@]}"; do
    dir="$(dirname "$file")"; base="$(basename "$file")"; name="${base%.*}"
    area="$(basename "$dir")"
    label="$area/$name"
    # The mode: the one expectation next to the case, or (new case, update) the folder.
    sibs=()
    case "$base" in
        *.nnet) for ext in err nir out; do [ -f "$dir/$name.$ext" ] && sibs+=("$ext"); done ;;
        *.sh)   [ -f "$dir/$name.out" ] && sibs+=(out) ;;
    esac
    if [ ${#sibs[@]} -gt 1 ]; then
        echo "[FAIL] $label: several expectations (${sibs[*]}); keep exactly one"
        fail=$((fail + 1)); continue
    fi
    if [ ${#sibs[@]} -eq 0 ]; then
        case "$area" in check) sibs=(err) ;; ir) sibs=(nir) ;; run|cli) sibs=(out) ;; esac
        if [ -z "$UPDATE" ] || [ ${#sibs[@]} -eq 0 ]; then
            echo "[FAIL] $label: no expectation next to it (.err, .nir or .out); UPDATE_GOLDEN=1 makes one"
            fail=$((fail + 1)); continue
        fi
    fi
    ext="${sibs[0]}"
    case "$ext:$base" in
        err:*) mode=check ;; nir:*) mode=ir ;; out:*.sh) mode=cli ;; out:*) mode=run ;;
    esac
    want="$dir/$name.$ext"
    WORK_CASE="$WORK/$area/$name"
    rm -rf "$WORK_CASE"; mkdir -p "$WORK_CASE"
    export WORK_CASE
    got="$WORK_CASE/got.$ext"
    if ! make_got "$mode" "$file" "$got"; then
        echo "[FAIL] $label ($mode)"; sed 's/^/    /' "$WORK_CASE/why"
        fail=$((fail + 1)); continue
    fi
    if [ -f "$want" ] && diff -u --label "$label.$ext (expected)" --label "$label.$ext (got)" \
            "$want" "$got" >"$WORK_CASE/diff"; then
        echo "[PASS] $label"; pass=$((pass + 1))
    elif [ -n "$UPDATE" ]; then
        cp "$got" "$want"; echo "[UPDATED] $label"; updated=$((updated + 1))
    else
        echo "[FAIL] $label ($mode)"; cat "$WORK_CASE/diff"
        fail=$((fail + 1))
    fi
done

if [ -n "$UPDATE" ]; then
    echo "$pass passed, $fail failed, $updated updated"
else
    echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
