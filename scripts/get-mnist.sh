#!/usr/bin/env bash
# get-mnist.sh DIR [--from FOLDER] — the four MNIST IDX files in DIR, as
# examples/mnist_cnn.nnet reads them (its train block names
# examples/data/mnist/*-ubyte): downloaded from the mirror torchvision uses
# and checked (MD5 of each .gz as torchvision lists it, then the exact size
# and the SHA-256 of each of the four files), or, with --from, copied from a
# folder that has them already (torchvision's MNIST/raw, gzipped or not)
# with the same checks.
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
# name, MD5 of name.gz (torchvision.datasets.MNIST.resources), bytes and
# SHA-256 of name (the decompressed file)
files=(
    "train-images-idx3-ubyte f68b3c2dcbeaaa9fbdd348bbdeb94873 47040016 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    "train-labels-idx1-ubyte d53e105ee54ea40749a09fcbcd1e9432 60008 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    "t10k-images-idx3-ubyte 9fb629c4189551a2d022fa330f9573f3 7840016 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    "t10k-labels-idx1-ubyte ec29112dd5afa0611ce80d1b7f02629c 10008 ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)
mkdir -p "$dir"
for f in "${files[@]}"; do
    read -r name md5 size sha <<< "$f"
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
    got=$(sha256sum "$out.part" | cut -d' ' -f1)
    [[ $got == "$sha" ]] || { echo "$0: $name: SHA-256 $got, expected $sha" >&2; rm -f "$out.part"; exit 1; }
    mv "$out.part" "$out"
    echo "$out: ok ($size bytes, SHA-256 $sha)"
done
