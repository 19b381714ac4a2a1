#!/usr/bin/env python3
"""Turn the raw lines that bench/run.sh collects into the results table.

  report.py RAW.txt OUT.md

RAW.txt holds, in any order, lines of the drivers:
  RESULT <workload> <impl> <value> [<accuracy>]   value: us per call (W3: s)
  GEMM <case> <impl> <gflops> [maxdiff=<d>]
  CHECK <what> <text>         correctness check results
  INFO <key> <text>           environment
  SKIP <text>                 a baseline that could not run
Repeated results (one per round) are reduced to their median; the spread
(min..max over rounds) is shown in the details. Prints the report and
writes it to OUT.md. Standard library only.
"""
import statistics
import sys

IMPLS = [("nnc", "nnc"), ("torch_eager", "pytorch eager"), ("torchscript", "torchscript"),
         ("ort", "onnxruntime"), ("naive", "naive C"), ("openblas", "openblas")]
W1_WEIGHT_BYTES = 437544          # 109386 floats: 784·128+128 + 128·64+64 + 64·10+10
L2_GBPS = 115.0

ROWS = [  # key, label, unit, kind: time (lower is better) / rate (higher is better)
    ("W1", "W1 MLP 784-128-64-10 +softmax, batch 1", "us/sample", "time"),
    ("W2", "W2 same MLP, batch 64", "samples/s", "rate"),
    ("W3", "W3 train digits 20 epochs (s) [val acc]", "s", "time"),
    ("W3loop", "W3 training loop only, est. (s)", "s", "time"),
    ("W3s", "W3 one training step, batch 32", "us/step", "time"),
    ("W4", "W4 CNN 1x28x28, batch 1", "us/sample", "time"),
    ("W5-256", "W5 SGEMM 256^3", "GFLOP/s", "rate"),
    ("W5-512", "W5 SGEMM 512^3", "GFLOP/s", "rate"),
    ("W5-1024", "W5 SGEMM 1024^3", "GFLOP/s", "rate"),
    ("W5-1x784x128", "W5 SGEMM 1x784 . 784x128", "GFLOP/s", "rate"),
    ("W5-1x784x128T", "W5 SGEMM 1x784 . (128x784)^T [W1 layer 1]", "GFLOP/s", "rate"),
    ("W5-64x784x128T", "W5 SGEMM 64x784 . (128x784)^T [W2 layer 1]", "GFLOP/s", "rate"),
    ("W5-16x72x196", "W5 SGEMM 16x72 . 72x196 [W4 conv 2 as im2col]", "GFLOP/s", "rate"),
]


def parse(path):
    vals, acc, checks, info, skips, kern = {}, {}, [], [], [], {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            try:
                if p[0] == "RESULT" and len(p) >= 4:
                    vals.setdefault((p[1], p[2]), []).append(float(p[3]))
                    if len(p) >= 5:
                        acc.setdefault((p[1], p[2]), []).append(float(p[4]))
                elif p[0] == "GEMM" and len(p) >= 4:
                    vals.setdefault(("W5-" + p[1], p[2]), []).append(float(p[3]))
                    for extra in p[4:]:
                        if extra.startswith("maxdiff="):
                            checks.append(("W5-%s %s vs reference" % (p[1], p[2]), extra))
                elif p[0] == "KERNEL" and len(p) >= 5:
                    kern.setdefault((p[1], p[2]), []).append((float(p[3]), float(p[4]) if len(p) > 4 else 0))
                elif p[0] == "CHECK":
                    checks.append((p[1], " ".join(p[2:])))
                elif p[0] == "INFO":
                    info.append((p[1], " ".join(p[2:])))
                elif p[0] == "SKIP":
                    skips.append(" ".join(p[1:]))
            except ValueError:
                skips.append("unparsable line: " + line.strip())
    return vals, acc, checks, info, skips, kern


def value(vals, key, impl, kind):
    """Median over rounds, in the row's display unit."""
    v = vals.get((key, impl))
    if not v:
        return None
    m = statistics.median(v)
    if key == "W2":          # us per call of 64 samples -> samples/s
        return 64.0 / m * 1e6 if m > 0 else None
    return m


def fmt(x, unit):
    if x is None:
        return "—"
    if unit == "samples/s":
        return "{:,.0f}".format(x)
    if x >= 1000:
        return "%.0f" % x
    if x >= 100:
        return "%.1f" % x
    if x >= 10:
        return "%.2f" % x
    return "%.3f" % x


def speedup(nnc, base, kind):
    if nnc is None or base is None or nnc <= 0 or base <= 0:
        return None
    return base / nnc if kind == "time" else nnc / base


def main(raw, out):
    vals, acc, checks, info, skips, kern = parse(raw)
    L = []
    L.append("# nnc benchmark results")
    L.append("")
    L.append("Written by `bench/run.sh`; medians over rounds of medians of many calls, "
             "1 thread, fp32. See bench/README.md for how to read it.")
    L.append("")
    if info:
        for k, v in info:
            L.append("- %s: %s" % (k, v))
        L.append("")
    # ---- medians
    L.append("## Medians")
    L.append("")
    L.append("| workload | unit | " + " | ".join(n for _, n in IMPLS) + " |")
    L.append("|---|---|" + "---:|" * len(IMPLS))
    table = {}
    for key, label, unit, kind in ROWS:
        cells = []
        for impl, _ in IMPLS:
            x = value(vals, key, impl, kind)
            table[(key, impl)] = x
            c = fmt(x, unit)
            if x is not None and (key, impl) in acc:
                c += " [%.3f]" % statistics.median(acc[(key, impl)])
            cells.append(c)
        if any(c != "—" for c in cells):
            L.append("| %s | %s | %s |" % (label, unit, " | ".join(cells)))
    L.append("")
    # ---- ratios
    L.append("## nnc speed-up (>1: nnc is faster)")
    L.append("")
    L.append("| workload | " + " | ".join("vs " + n for _, n in IMPLS[1:]) + " |")
    L.append("|---|" + "---:|" * (len(IMPLS) - 1))
    for key, label, unit, kind in ROWS:
        cells = []
        for impl, _ in IMPLS[1:]:
            s = speedup(table.get((key, "nnc")), table.get((key, impl)), kind)
            cells.append("—" if s is None else "%.2fx" % s)
        if any(c != "—" for c in cells):
            L.append("| %s | %s |" % (label.split(" [")[0].replace(" (s)", ""), " | ".join(cells)))
    L.append("")
    # ---- targets
    L.append("## Targets")
    L.append("")
    L.append("| target | measured | status |")
    L.append("|---|---|---|")

    def tgt(name, measured, ok):
        if measured is None:
            L.append("| %s | — | no data |" % name)
        else:
            L.append("| %s | %s | %s |" % (name, measured, "met" if ok else "**missed**"))

    w1 = table.get(("W1", "nnc"))
    l2_us = W1_WEIGHT_BYTES / (L2_GBPS * 1e9) * 1e6
    tgt("W1 <= 1.15x weight read from L2 (%.0f B at %.0f GB/s = %.2f us; bound %.2f us)"
        % (W1_WEIGHT_BYTES, L2_GBPS, l2_us, 1.15 * l2_us),
        None if w1 is None else "%.3f us = %.2fx the L2 read" % (w1, w1 / l2_us),
        w1 is not None and w1 <= 1.15 * l2_us)
    for key, impl, need, name in (("W1", "ort", 1.6, "W1 >= 1.6x faster than ONNX Runtime"),
                                  ("W1", "torch_eager", 6.0, "W1 >= 6x faster than PyTorch eager"),
                                  ("W2", "ort", 1.0, "W2 throughput >= ONNX Runtime"),
                                  ("W4", "ort", 2.0, "W4 >= 2x faster than ONNX Runtime")):
        kind = "rate" if key == "W2" else "time"
        s = speedup(table.get((key, "nnc")), table.get((key, impl)), kind)
        tgt(name, None if s is None else "%.2fx" % s, s is not None and s >= need)
    s = speedup(table.get(("W3", "nnc")), table.get(("W3", "torch_eager")), "time")
    a_n, a_t = acc.get(("W3", "nnc")), acc.get(("W3", "torch_eager"))
    if s is not None and a_n and a_t:
        an, at = statistics.median(a_n), statistics.median(a_t)
        tgt("W3 >= 6x faster than PyTorch at the same accuracy (within 1 point)",
            "%.2fx; accuracy nnc %.4f vs PyTorch %.4f" % (s, an, at),
            s >= 6.0 and an >= at - 0.01)
    else:
        tgt("W3 >= 6x faster than PyTorch at the same accuracy", None, False)
    n512, b512 = table.get(("W5-512", "nnc")), table.get(("W5-512", "openblas"))
    tgt("W5 >= 90% of OpenBLAS at 512^3",
        None if not (n512 and b512) else "%.0f%% (%.1f vs %.1f GFLOP/s)" % (100 * n512 / b512, n512, b512),
        bool(n512 and b512 and n512 >= 0.9 * b512))
    L.append("")
    # ---- details
    L.append("## Details")
    L.append("")
    L.append("Spread over rounds (min..max of the per-round medians, raw unit: us per call, "
             "W3 seconds; W5 takes its rounds inside gemm_bench and reports their median only):")
    L.append("")
    for key, label, unit, kind in ROWS:
        parts = []
        for impl, name in IMPLS:
            v = vals.get((key, impl))
            if v and len(v) > 1:
                parts.append("%s %s..%s (n=%d)" % (name, fmt(min(v), ""), fmt(max(v), ""), len(v)))
        if parts:
            L.append("- %s: %s" % (key, "; ".join(parts)))
    L.append("")
    if kern:
        L.append("nnc kernels alone at the workloads' shapes (bench/gemm_bench.c; us per call, "
                 "GFLOP/s; OpenBLAS = the same layer's GEMM without bias/activation):")
        L.append("")
        L.append("| layer | kernel | us | GFLOP/s |")
        L.append("|---|---|---:|---:|")
        for (layer, kname), v in kern.items():
            us = statistics.median(x[0] for x in v)
            gf = statistics.median(x[1] for x in v)
            L.append("| %s | %s | %s | %s |" % (layer, kname, fmt(us, ""), fmt(gf, "") if gf else "—"))
        L.append("")
    if checks:
        L.append("Correctness (max |difference| to PyTorch's output, or to OpenBLAS for W5):")
        L.append("")
        for k, v in checks:
            L.append("- %s: %s" % (k, v))
        L.append("")
    if skips:
        L.append("Skipped:")
        L.append("")
        for s in skips:
            L.append("- " + s)
        L.append("")
    text = "\n".join(L)
    print(text)
    with open(out, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
