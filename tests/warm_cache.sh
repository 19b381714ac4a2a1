#!/usr/bin/env bash
# warm_cache.sh NNC — compile the runtime into nnc's cache once, before the
# tests run side by side: the first `nnc build` of a set of flags compiles
# every runtime source (minutes with the sanitizers on a busy machine), and
# tests started together would each do it under their own time limit. Builds
# examples/chain.nnet native and --portable (the two sets most tests use);
# a failure here is left for the tests to report.
nnc=$1
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for flags in "" "--portable"; do
    # shellcheck disable=SC2086
    "$nnc" build "$root/examples/chain.nnet" -o "$tmp/prog" $flags >/dev/null 2>&1 || true
done
exit 0
