#!/usr/bin/env bash
# get-mnist.sh DIR [--from FOLDER] — the four MNIST IDX files in DIR, as
# examples/mnist_cnn.nnet reads them (its train block names
# examples/data/mnist/*-ubyte): downloaded from the mirror torchvision uses
# and checked (MD5 of each .gz as torchvision lists it, then the exact size
# of each file), or, with --from, copied from a folder that has them
# already (torchvision's MNIST/raw, gzipped or not) with the same checks.
set -euo pipefail
if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    echo "usage: $0 DIR [--from FOLDER]   e.g. $0 examples/data/mnist" >&2
    exit 2
fi
dir=$1 from=
if [[ $# -ge 3 && $2 == --from ]]; then from=$3; elif [[ $# -ne 1 ]]; then
    echo "usage: $0 DIR [--from FOLDER]" >&2; exit 2
fi
mirror=${MNIST_MIRROR:-https://ossci-datasets.s3.amazonaws.com/mnist}
# name, MD5 of name.gz (torchvision.datasets.MNIST.resources), bytes of name
files=(
    "train-images-idx3-ubyte f68b3c2dcbeaaa9fbdd348bbdeb94873 47040016"
    "train-labels-idx1-ubyte d53e105ee54ea40749a09fcbcd1e9432 60008"
    "t10k-images-idx3-ubyte 9fb629c4189551a2d022fa330f9573f3 7840016"
    "t10k-labels-idx1-ubyte ec29112dd5afa0611ce80d1b7f02629c 10008"
)
mkdir -p "$dir"
for f in "${files[@]}"; do
    read -r name md5 size <<< "$f"
    out=$dir/$name
    if [[ -n $from && -f $from/$name ]]; then
        cp "$from/$name" "$out.part"
    else
        gz=$dir/$name.gz
        if [[ -n $from && -f $from/$name.gz ]]; then
            cp "$from/$name.gz" "$gz"
        elif [[ -z $from ]]; then
            echo "downloading $mirror/$name.gz"
            curl -fsSL -o "$gz" "$mirror/$name.gz" || wget -q -O "$gz" "$mirror/$name.gz"
        else
            echo "$0: $from has neither $name nor $name.gz" >&2; exit 1
        fi
        got=$(md5sum "$gz" | cut -d' ' -f1)
        [[ $got == "$md5" ]] || { echo "$0: $gz: MD5 $got, expected $md5" >&2; rm -f "$gz"; exit 1; }
        gzip -dc "$gz" > "$out.part"
        rm -f "$gz"
    fi
    got=$(stat -c %s "$out.part")
    [[ $got == "$size" ]] || { echo "$0: $name: $got bytes, expected $size" >&2; rm -f "$out.part"; exit 1; }
    mv "$out.part" "$out"
    echo "$out: ok ($size bytes)"
done
