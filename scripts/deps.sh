#!/usr/bin/env bash
# deps.sh — install what nnc needs to build and test, only what is missing
# (Debian 12). Runs apt-get as root, or through sudo.
set -euo pipefail
need=()
for p in cmake make gcc flex bison libcriterion-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
