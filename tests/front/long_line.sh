#!/usr/bin/env bash
# long_line.sh NNC WORK — a diagnostic on a huge line quotes at most ~160
# columns around the caret, with "..." where the line was cut (issue 17
# item 4; the whole 40 MB line used to be printed, and its underline).
set -u
nnc="$1"; work="$2"
mkdir -p "$work"
fail=0
# The caret must sit under the offending name in the cut line.
check() {   # NAME FILE WANT_LEFT_DOTS WANT_RIGHT_DOTS
    local name="$1" f="$2" left="$3" right="$4"
    timeout 60 "$nnc" check "$f" > "$work/$name.out" 2> "$work/$name.err"
    local rc=$? size
    size=$(wc -c < "$work/$name.err")
    if [ "$rc" -ne 1 ] || [ -s "$work/$name.out" ] || [ "$size" -gt 600 ]; then
        echo "FAIL $name: exit $rc, stdout $(wc -c < "$work/$name.out") bytes, stderr $size bytes (want 1, 0, <= 600)"
        fail=1; return
    fi
    python3 - "$work/$name.err" "$left" "$right" <<'PY' || fail=1
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
quote, caret = lines[1], lines[2]
ok = "undefined name 'zz'" in lines[0]
q = quote.index("| ") + 2
body = quote[q:]
ok = ok and len(body) <= 160
ok = ok and body.startswith("...") == (sys.argv[2] == "1") and body.endswith("...") == (sys.argv[3] == "1")
at = caret.find("^")
ok = ok and at > 0 and quote[at:at + 2] == "zz" and caret[at:] == "^~"
if not ok:
    print("FAIL: " + sys.argv[1] + ":\n" + "\n".join(lines[:3]))
    sys.exit(1)
PY
}
gen() {     # FILE BEFORE AFTER: zz after BEFORE numbers, then AFTER numbers
    python3 - "$1" "$2" "$3" <<'PY'
import sys
b, a = int(sys.argv[2]), int(sys.argv[3])
items = ["0.25"] * b + ["zz"] + ["0.25"] * a
open(sys.argv[1], "w").write("model m {\n  input [4]\n  linear(4, 4, weight = [" + ", ".join(items) + "])\n}\n")
PY
}
gen "$work/middle.nnet" 500000 500000
gen "$work/start.nnet" 0 500000
gen "$work/end.nnet" 500000 0
gen "$work/short.nnet" 3 3
check middle "$work/middle.nnet" 1 1
check start "$work/start.nnet" 0 1
check end "$work/end.nnet" 1 0
check short "$work/short.nnet" 0 0
[ $fail -eq 0 ] && echo "long lines quoted around the caret"
exit $fail
