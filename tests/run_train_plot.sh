#!/usr/bin/env bash
# run_train_plot.sh NNC SRC_DIR WORK — `PROG train --plot F.svg` (issue 16,
# item 4) on the digits example and on a slower model of its data:
#  1. the SVG is well-formed XML (xml.dom.minidom), has one polyline per
#     curve (train_loss, val_loss, val_accuracy with validation data and a
#     classification loss; train_loss alone without validation data), each
#     with one point per epoch, whose data-values are the --log CSV's fields
#     of the same run to the digit, and whose points lie on the drawn scale
#     (x increasing with the epoch, y a decreasing linear function of the
#     value: the three points are collinear in (value, y));
#  2. the same run writes the same bytes (no time in the picture), and a run
#     resumed from a checkpoint draws the same picture as one never stopped;
#  3. watched while it trains, every read of the file is a whole SVG, its
#     epochs never fewer than the read before;
#  4. a run of --epochs 3 killed (SIGKILL) once the plot exists leaves a
#     valid SVG with the epochs done so far, their values those of an
#     uninterrupted run;
#  5. a plot that cannot be written (a node like /dev/full) is one warning
#     naming the file, training goes on and saves; a folder that does not
#     exist is an error before training.
# Skipped (77) without python3.
# Every digits run saves in WORK (the train block's save is beside the example).
set -euo pipefail
nnc=$1 src=$2 work=$3
command -v python3 > /dev/null || { echo "skipped: no python3 to read the SVG"; exit 77; }
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$nnc" build "$src/examples/digits.nnet" -o digits --portable
head -n 1200 "$src/examples/data/digits_train.csv" > train.csv
head -n 400 train.csv > small.csv
head -n 200 "$src/examples/data/digits_test.csv" > val.csv
cat > slow.nnet <<'EOF'
model slow {
    input [64]
    linear(64, 1024)
    relu
    linear(1024, 1024)
    relu
    linear(1024, 10)
}
train slow {
    data      = csv("train.csv", label = -1)
    loss      = cross_entropy
    optimizer = sgd(lr = 0.01)
    epochs    = 3
    batch     = 16
}
EOF
"$nnc" build slow.nnet -o slow --portable

# check.py SVG [LOG] [--curves a,b,c] [--epochs N]: the checks of item 1 (a
# LOG's rows are matched to the curve's epochs).
cat > check.py <<'PY'
import csv, sys, xml.dom.minidom
import xml.etree.ElementTree as ET
args = sys.argv[1:]
opts = {}
while len(args) > 1 and args[-2].startswith("--"):
    opts[args[-2]] = args[-1]
    args = args[:-2]
svg_path = args[0]
xml.dom.minidom.parse(svg_path)          # well-formed, or raises
root = ET.parse(svg_path).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
lines = {p.get("class"): p for p in root.iter("{http://www.w3.org/2000/svg}polyline")}
if "--curves" in opts:
    assert set(lines) == set(opts["--curves"].split(",")), sorted(lines)
log = {}
if len(args) > 1:
    for r in csv.DictReader(open(args[1])):
        log[int(r["epoch"])] = r
n = None
for k, p in lines.items():
    pts = [tuple(map(float, xy.split(","))) for xy in p.get("points").split()]
    epochs = [int(e) for e in p.get("data-epochs").split()]
    vals = p.get("data-values").split()
    assert len(pts) == len(epochs) == len(vals), k
    n = len(pts) if n is None else n
    assert len(pts) == n, (k, len(pts), n)
    assert epochs == list(range(epochs[0], epochs[0] + n)), (k, epochs)
    if "--epochs" in opts:
        assert n == int(opts["--epochs"]), (k, n)
    for e, v in zip(epochs, vals):
        if log:
            assert log[e][k] == v, (k, e, log[e][k], v)   # the log's text, to the digit
    v = [float(x) for x in vals]
    assert all(pts[i][0] < pts[i + 1][0] for i in range(n - 1)), k
    for i in range(n):
        for j in range(n):
            if v[i] > v[j]:
                assert pts[i][1] < pts[j][1], (k, i, j)   # higher value, drawn higher
    # y = a - b v: every pair of points gives the same slope (coordinates
    # are printed to 0.01)
    big = 1e-3 * max(abs(x) for x in v)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if abs(v[i] - v[j]) > big]
    slopes = [(pts[i][1] - pts[j][1]) / (v[i] - v[j]) for i, j in pairs]
    for (i, j), s in zip(pairs, slopes):
        i0, j0 = pairs[0]
        tol = 0.011 / abs(v[i] - v[j]) + 0.011 / abs(v[i0] - v[j0])
        assert abs(s - slopes[0]) <= tol, (k, slopes)
if log and "--epochs" in opts:
    assert len(log) == int(opts["--epochs"]), len(log)
print("ok:", svg_path, sorted(lines), n, "points each")
PY

# 1. digits: validation data, cross_entropy: three curves
./digits train --epochs 3 --log log.csv --plot curves.svg --save w.safetensors > out.txt ||
    fail "digits train --plot"
python3 check.py curves.svg log.csv --curves train_loss,val_loss,val_accuracy --epochs 3 ||
    fail "digits curves"
grep -q 'accuracy' curves.svg || fail "no accuracy axis"
# slow: no validation data: train_loss alone, no accuracy panel
./slow train --data small.csv --epochs 2 --batch 64 --log slog.csv --plot slow.svg > /dev/null ||
    fail "slow train"
python3 check.py slow.svg slog.csv --curves train_loss --epochs 2 || fail "slow curves"
grep -q 'validation accuracy' slow.svg && fail "an accuracy panel without validation data"
# ... and with it
./slow train --data small.csv --epochs 2 --batch 64 --validation val.csv --log vlog.csv \
    --plot sval.svg > /dev/null ||
    fail "slow train --validation"
python3 check.py sval.svg vlog.csv --curves train_loss,val_loss,val_accuracy --epochs 2 ||
    fail "slow curves with validation"

# 2. the same bytes; resumed == never stopped
./digits train --save w.safetensors --epochs 3 --log log2.csv --plot again.svg > /dev/null ||
    fail "second run"
cmp -s curves.svg again.svg || fail "the same run wrote different SVGs"
./digits train --save w.safetensors --epochs 4 --plot full.svg > /dev/null || fail "4 epochs"
./digits train --save w.safetensors --epochs 2 --checkpoint run.ckpt --plot resumed.svg \
    > /dev/null || fail "2 epochs"
python3 check.py resumed.svg --epochs 2 > /dev/null || fail "2 epochs' curves"
./digits train --save w.safetensors --epochs 4 --resume run.ckpt --plot resumed.svg \
    > /dev/null || fail "resume"
cmp -s full.svg resumed.svg || fail "the resumed run's plot differs from the uninterrupted run's"

# 3. watched: every read is a whole SVG
python3 - <<'PY' || fail "watching the plot"
import subprocess, sys, time, xml.dom.minidom
p = subprocess.Popen(["./slow", "train", "--data", "small.csv", "--epochs", "12", "--batch", "64",
                      "--validation", "val.csv", "--plot", "watched.svg"],
                     stdout=subprocess.DEVNULL)
seen, last, reads = set(), 0, 0
while True:
    running = p.poll() is None
    try:
        data = open("watched.svg", "rb").read()
    except FileNotFoundError:
        if running:
            continue
        break
    reads += 1
    time.sleep(0.001)
    if data not in seen:
        doc = xml.dom.minidom.parseString(data)   # raises on half a file
        n = max(len(l.getAttribute("points").split()) for l in doc.getElementsByTagName("polyline"))
        assert n >= last, (n, last)
        last = n
        seen.add(data)
    if not running:
        break
assert p.wait() == 0
assert last == 12, last
assert len(seen) >= 3, "only %d versions seen: epochs too quick to watch" % len(seen)
print("ok: %d reads, %d versions, all whole" % (reads, len(seen)))
PY

# 4. killed after epoch 1 (an epoch of slow takes a while): a valid SVG
./slow train --epochs 3 --log slow3.csv > /dev/null || fail "slow, 3 epochs"
python3 - <<'PY' || fail "killed run"
import os, signal, subprocess, sys, time
p = subprocess.Popen(["./slow", "train", "--epochs", "3", "--plot", "killed.svg"],
                     stdout=subprocess.DEVNULL)
while p.poll() is None and not os.path.exists("killed.svg"):
    time.sleep(0.002)
p.send_signal(signal.SIGKILL)
rc = p.wait()
assert rc == -signal.SIGKILL, "the run ended before the kill (%d): epochs too quick" % rc
print("killed after the first plot")
PY
python3 check.py killed.svg slow3.csv --curves train_loss || fail "the killed run's SVG"
ls killed.svg.tmp.* 2> /dev/null && fail "a temporary left behind"

# 5. a plot that cannot be written: a warning, training goes on
full=full-node
if ! mknod -m 666 "$full" c 1 7 2> /dev/null; then
    full=/dev/full
    [ -w "$full" ] ||
        { full=; echo "no /dev/full-like node here: the write-failure case is skipped"; }
fi
if [ -n "$full" ]; then
    if ./digits train --epochs 3 --plot "$full" --save w2.safetensors > o5.txt 2> e5.txt; then
        grep -q "^$full: warning: cannot write the plot: .*No space left on device" e5.txt ||
            fail "no warning naming $full: $(cat e5.txt)"
        [ "$(grep -c warning e5.txt)" = 1 ] || fail "not one warning: $(cat e5.txt)"
        grep -q "epoch 3/3" o5.txt || fail "training stopped at the plot's failure"
        grep -q "^saved w2.safetensors" o5.txt || fail "not saved after the plot's failure"
        [ -c "$full" ] || fail "$full is no longer a device"
    else
        fail "a plot write failure stopped the run: $(cat e5.txt)"
    fi
fi
if ./digits train --save w.safetensors --epochs 1 --plot no/such/folder/c.svg \
    > o6.txt 2> e6.txt; then
    fail "--plot into a missing folder trained"
else
    grep -q "no/such/folder/c.svg: error: cannot write in the folder" e6.txt ||
        fail "missing folder: $(cat e6.txt)"
    grep -q "epoch 1" o6.txt && fail "trained before the error"
fi
mkdir -p adir
./digits train --save w.safetensors --epochs 1 --plot adir > /dev/null 2> e7.txt &&
    fail "--plot into a folder trained"
grep -q "adir: error: is a directory" e7.txt || fail "folder: $(cat e7.txt)"

[ $fails = 0 ] || exit 1
echo "ok: train --plot"
