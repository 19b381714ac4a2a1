#!/usr/bin/env python3
"""plot-log.py LOG.csv [-o curves.svg] — the training curves of a program's
`train --log LOG.csv` (columns epoch,train_loss,val_loss,val_accuracy,seconds)
as one SVG: the losses per epoch on the left, the validation accuracy on the
right (when there is validation data). Python's standard library only; run it
again while training goes on to see the epochs so far."""
import csv
import sys

W, H, PAD = 360, 240, 44
COLOURS = {"train_loss": "#1f77b4", "val_loss": "#ff7f0e", "val_accuracy": "#2ca02c"}


def read_log(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            row = {"epoch": int(r["epoch"])}
            for k in ("train_loss", "val_loss", "val_accuracy"):
                v = (r.get(k) or "").strip()
                row[k] = float(v) if v else None
            rows.append(row)
    return rows


def nice(v):
    return "%.4g" % v


def panel(x0, title, rows, keys, lo=None, hi=None):
    """One chart at x offset x0: a polyline per key, axes with end labels."""
    pts = {k: [(r["epoch"], r[k]) for r in rows if r[k] is not None] for k in keys}
    vals = [v for k in keys for _, v in pts[k]]
    if not vals:
        return ""
    e0, e1 = rows[0]["epoch"], rows[-1]["epoch"]
    lo = min(vals) if lo is None else lo
    hi = max(vals) if hi is None else hi
    if hi == lo:
        hi, lo = hi + 0.5, lo - 0.5
    sx = lambda e: x0 + PAD + (W - 2 * PAD) * ((e - e0) / (e1 - e0) if e1 > e0 else 0.5)
    sy = lambda v: H - PAD - (H - 2 * PAD) * (v - lo) / (hi - lo)
    out = ['<g>', '<text x="%g" y="20" font-size="13">%s</text>' % (x0 + PAD, title),
           '<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>'
           % (x0 + PAD, PAD, W - 2 * PAD, H - 2 * PAD),
           '<text x="%g" y="%g" font-size="10" text-anchor="end">%s</text>' % (x0 + PAD - 4, PAD + 4, nice(hi)),
           '<text x="%g" y="%g" font-size="10" text-anchor="end">%s</text>' % (x0 + PAD - 4, H - PAD, nice(lo)),
           '<text x="%g" y="%g" font-size="10">epoch %d</text>' % (x0 + PAD, H - PAD + 14, e0),
           '<text x="%g" y="%g" font-size="10" text-anchor="end">%d</text>' % (x0 + W - PAD, H - PAD + 14, e1)]
    for i, k in enumerate(keys):
        if not pts[k]:
            continue
        coords = " ".join("%.2f,%.2f" % (sx(e), sy(v)) for e, v in pts[k])
        out.append('<polyline class="%s" fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (k, COLOURS[k], coords))
        out.append('<text x="%g" y="%g" font-size="10" fill="%s">%s (last %s)</text>'
                   % (x0 + PAD, H - 8 - 12 * (len(keys) - 1 - i), COLOURS[k], k, nice(pts[k][-1][1])))
    out.append("</g>")
    return "\n".join(out)


def main(argv):
    args = [a for a in argv[1:]]
    out = None
    if "-o" in args:
        i = args.index("-o")
        if i + 1 >= len(args):
            sys.exit("usage: plot-log.py LOG.csv [-o curves.svg]")
        out = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        sys.exit("usage: plot-log.py LOG.csv [-o curves.svg]")
    try:
        rows = read_log(args[0])
    except (OSError, KeyError, ValueError) as e:
        sys.exit("plot-log.py: %s: not a training log (%s)" % (args[0], e))
    if not rows:
        sys.exit("plot-log.py: %s: no epoch yet" % args[0])
    has_acc = any(r["val_accuracy"] is not None for r in rows)
    width = W * (2 if has_acc else 1)
    svg = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">'
           % (width, H), '<rect width="100%" height="100%" fill="white"/>',
           panel(0, "loss", rows, ["train_loss", "val_loss"])]
    if has_acc:
        svg.append(panel(W, "validation accuracy", rows, ["val_accuracy"], 0.0, 1.0))
    svg.append("</svg>\n")
    text = "\n".join(svg)
    if out is None:
        sys.stdout.write(text)
    else:
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        import os
        os.replace(tmp, out)


if __name__ == "__main__":
    main(sys.argv)
