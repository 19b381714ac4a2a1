#!/usr/bin/env bash
# run_plot.sh NNC SRC_DIR WORK — scripts/plot-log.py on the --log of a short
# digits training: a well-formed SVG with one point per epoch in each curve,
# the points' heights ordered as the logged values (a higher loss is drawn
# higher), accuracy drawn on a 0..1 axis. Skipped (77) without python3.
set -euo pipefail
nnc=$1 src=$2 work=$3
command -v python3 > /dev/null || { echo "skipped: no python3 for scripts/plot-log.py"; exit 77; }
rm -rf "$work"; mkdir -p "$work"; cd "$work"
"$nnc" build "$src/examples/digits.nnet" -o digits --portable
./digits train --epochs 4 --log log.csv --save w.safetensors > /dev/null
python3 "$src/scripts/plot-log.py" log.csv -o curves.svg
python3 - log.csv curves.svg <<'PY'
import csv, sys, xml.etree.ElementTree as ET
rows = list(csv.DictReader(open(sys.argv[1])))
svg = ET.parse(sys.argv[2]).getroot()
lines = {p.get("class"): p for p in svg.iter("{http://www.w3.org/2000/svg}polyline")}
assert set(lines) == {"train_loss", "val_loss", "val_accuracy"}, lines.keys()
for k, p in lines.items():
    pts = [tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
    vals = [float(r[k]) for r in rows]
    assert len(pts) == len(vals) == 4, (k, len(pts))
    assert all(pts[i][0] < pts[i + 1][0] for i in range(3)), k
    for i in range(4):
        for j in range(4):
            if vals[i] > vals[j]:
                assert pts[i][1] < pts[j][1], (k, i, j)
acc = lines["val_accuracy"]
# accuracy on a 0..1 axis: y = H - PAD - (H - 2 PAD) * a with H = 240, PAD = 44
for (x, y), r in zip([tuple(map(float, xy.split(","))) for xy in acc.get("points").split()], rows):
    assert abs(y - (240 - 44 - 152 * float(r["val_accuracy"]))) < 0.01, (y, r)
print("ok: plot-log.py draws", len(rows), "epochs")
PY
