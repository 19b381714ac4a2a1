#!/usr/bin/env bash
# run_doc_snippets.sh NNC SRC_DIR WORK — every ```nnet block of docs/*.md
# and README.md is a whole file that `nnc check` must accept; a block that
# is deliberately a fragment (a few keys of a train block) is fenced
# ```nnet-partial and is not checked. Also: no page names a path outside
# the repository, and every relative link between the pages resolves.
set -euo pipefail
nnc=$1 src=$2 work=$3
rm -rf "$work"; mkdir -p "$work"
n=0 bad=0
for md in "$src"/docs/*.md "$src/README.md"; do
    base=$(basename "$md" .md)
    # Each block into WORK/BASE-K.nnet, with the line it starts at.
    awk -v out="$work/$base" '
        /^```nnet[ \t]*$/ { k++; f = out "-" k ".nnet"; print "# from line " NR + 1 > f; inb = 1; next }
        /^```/ && inb { inb = 0; close(f); next }
        inb { print > f }' "$md"
    for f in "$work/$base"-*.nnet; do
        [[ -e $f ]] || continue
        n=$((n + 1))
        if ! "$nnc" check "$f" > "$f.log" 2>&1; then
            echo "FAIL: $(basename "$md"), block starting at $(head -1 "$f" | cut -d' ' -f4):"
            cat "$f.log"
            bad=$((bad + 1))
        elif grep -q "error" "$f.log"; then
            cat "$f.log"; bad=$((bad + 1))
        fi
    done
done
# No path outside the repository.
if grep -n -E '\.\./shared|/work/' "$src"/docs/*.md "$src/README.md"; then
    echo "FAIL: a page names a path outside the repository"; bad=$((bad + 1))
fi
# Relative links of docs/*.md (and the README's docs/ links) resolve.
for md in "$src"/docs/*.md "$src/README.md"; do
    dir=$(dirname "$md")
    for link in $(grep -o '](\([^)#:]*\)\(#[^)]*\)\?)' "$md" | sed 's/^](//; s/)$//; s/#.*//' | sort -u); do
        [[ -z $link ]] && continue
        [[ -e $dir/$link ]] || { echo "FAIL: $(basename "$md") links to $link, which does not exist"; bad=$((bad + 1)); }
    done
done
[[ $n -ge 8 ]] || { echo "FAIL: only $n nnet blocks found"; bad=$((bad + 1)); }
[[ $bad == 0 ]] || exit 1
echo "ok: $n nnet blocks of the docs pass nnc check"
