#!/usr/bin/python3
"""Split scikit-learn's 8x8 digits into examples/data/digits_{train,test}.csv.

Source: the digits.csv.gz that Debian's python3-sklearn ships (1797 rows, 64
pixel columns of 0..16, then the class). A numpy.random.RandomState(314)
permutation puts the first 1437 rows in the training file and the other 360
in the test file. Pixels are divided by 16; the label is the LAST column, an
integer; no header. Only numpy is needed (sklearn itself is not imported).

    /usr/bin/python3 tests/pytorch/make_digits.py
"""
import gzip
import os

import numpy as np

SRC = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "examples", "data")
N_TRAIN = 1437


def main():
    with gzip.open(SRC, "rt") as f:
        rows = [[float(v) for v in line.split(",")] for line in f if line.strip()]
    data = np.array(rows, dtype=np.float64)
    assert data.shape == (1797, 65), data.shape
    perm = np.random.RandomState(314).permutation(len(data))
    os.makedirs(OUT, exist_ok=True)
    for name, idx in (("digits_train.csv", perm[:N_TRAIN]), ("digits_test.csv", perm[N_TRAIN:])):
        with open(os.path.join(OUT, name), "w") as f:
            for i in idx:
                pixels = ",".join("%.6g" % (v / 16.0) for v in data[i, :64])
                f.write("%s,%d\n" % (pixels, int(data[i, 64])))
        print("wrote %s (%d rows)" % (os.path.join(OUT, name), len(idx)))


if __name__ == "__main__":
    main()
