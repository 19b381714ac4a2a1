#!/usr/bin/env bash
# skipped.sh BUILD_DIR CTEST_OUTPUT — for each test that ctest's output
# reports as skipped (exit 77: an optional part missing), its name and the
# last line it printed (its reason), from the run's LastTest.log.
build=$1 out=$2
log=$build/Testing/Temporary/LastTest.log
[[ -f $log && -f $out ]] || exit 0
grep -o 'Test *#[0-9]*: [^ ]* \.*\*\*\*Skipped' "$out" | awk '{ print $3 }' | sort -u > "$out.skipped"
[[ -s $out.skipped ]] || { rm -f "$out.skipped"; exit 0; }
awk 'NR == FNR { want[$1] = 1; next }
     /^[0-9]+\/[0-9]+ Testing: / { name = $3; last = ""; out = 0 }
     /^<end of output>$/ { out = 0; if (name in want) { printf "skipped: %s — %s\n", name, (last == "" ? "(no reason printed)" : last); n++ } }
     out && NF { last = $0 }
     /^Output:$/ { getline; out = 1 }
     END { printf "%d test(s) skipped: optional parts this machine lacks\n", n }' "$out.skipped" "$log"
rm -f "$out.skipped"
