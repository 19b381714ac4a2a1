#!/usr/bin/env python3
"""Turn the raw lines that bench/run.sh collects into the results table.

  report.py RAW.txt OUT.md

RAW.txt holds, in any order, lines of the drivers:
  RESULT <workload> <impl> <value> [<accuracy>]   value: us per call (W3: s)
  GEMM <case> <impl> <gflops> [maxdiff=<d>]
  CHECK <what> <text>         correctness check results
  INFO <key> <text>           environment
  SKIP <text>                 a baseline that could not run
  MACHINE <key> <text>        CPU identity (bench/machine.c)
  PEAK <variant> <gflops>     measured fp32 FMA peak of one core
  BW <level> <GB/s> <bytes>   measured read bandwidth (l1, l2, dram)
Repeated results (one per round) are reduced to their median; the spread
(min..max over rounds) is shown in the details. PEAK and BW may be measured
several times a run: the highest value is the machine's bound. Every timed
workload is also given as a fraction of its bound (the larger of FLOPs/peak
and bytes/bandwidth); a figure above its bound is a bench bug: the report
says so in a BENCH BUG section and the exit status is 1. Prints the report
and writes it to OUT.md. Standard library only.
"""
import statistics
import sys

IMPLS = [("nnc", "nnc"), ("torch_eager", "pytorch eager"), ("torchscript", "torchscript"),
         ("ort", "onnxruntime"), ("naive", "naive C"), ("openblas", "openblas")]
W1_WEIGHT_BYTES = 437544          # 109386 floats: 784·128+128 + 128·64+64 + 64·10+10
# --dtype bf16: the 109184 weights in 2 bytes, the 202 biases in 4
W1_BF16_BYTES = 2 * 109184 + 4 * 202
# rows of nnc alone whose peers are measured on another row (bf16 weights
# against the peers' fp32)
PEER_KEY = {"W1bf16": "W1", "W2bf16": "W2"}


def _conv_flops(c, oc, hw):
    return 2.0 * oc * hw * hw * c * 9


# W6 per sample: the three convs and the linear head (ReLU/pool not counted)
W6_LAYERS = [_conv_flops(1, 128, 28), _conv_flops(128, 256, 14), _conv_flops(256, 512, 7),
             2.0 * 7 * 7 * 512 * 27]
W6_FWD = sum(W6_LAYERS)
# training step: forward + weight gradients (= forward) + data gradients of
# every layer but the first (its input needs none)
W6_TRAIN = 32 * (2 * W6_FWD + sum(W6_LAYERS[1:]))
W6_BYTES = 4 * (128 * 9 + 128 + 256 * 128 * 9 + 256 + 512 * 256 * 9 + 512 + 27 * 7 * 7 * 512 + 27)
# W7 per sample (the small ResNet): its convolutions and the head (batch
# norm, relu, add, pooling not counted); bytes: its 43290 floats of
# parameters and running statistics
W7_LAYERS = ([2.0 * 16 * 64 * 9] + [2.0 * 16 * 64 * 144] * 4 +
             [2.0 * 32 * 16 * 144, 2.0 * 32 * 16 * 288, 2.0 * 32 * 16 * 16] +
             [2.0 * 32 * 16 * 288] * 2 + [2.0 * 32 * 10])
W7_FWD = sum(W7_LAYERS)
W7_TRAIN = 32 * (2 * W7_FWD + sum(W7_LAYERS[1:]))
W7_BYTES = 4 * 43290
W1_FLOPS = 2.0 * (784 * 128 + 128 * 64 + 64 * 10)
W3_FWD = 2.0 * (64 * 128 + 128 * 64 + 64 * 10)
# Lower bounds of one call: (FLOPs, bytes that must be read at least once).
# Bytes are weights; they are charged at L1 bandwidth when they fit in L1 and
# at L2 bandwidth otherwise (the fastest level they can come from; L3 is not
# measured, so anything bigger than L2 keeps the L2 figure as a safe bound).
BOUNDS = {
    "W1": (W1_FLOPS, W1_WEIGHT_BYTES),
    "W2": (64 * W1_FLOPS, W1_WEIGHT_BYTES),
    "W1bf16": (W1_FLOPS, W1_BF16_BYTES),
    "W2bf16": (64 * W1_FLOPS, W1_BF16_BYTES),
    "W3s": (32 * (2 * W3_FWD + 2.0 * (128 * 64 + 64 * 10)), 4 * 17226),
    "W4": (2.0 * (8 * 784 * 9 + 16 * 196 * 72 + 784 * 10), 4 * 9098),
    "W6b1": (W6_FWD, W6_BYTES),
    "W6b32": (32 * W6_FWD, W6_BYTES),
    "W6t": (W6_TRAIN, W6_BYTES),
    "W7b1": (W7_FWD, W7_BYTES),
    "W7t": (W7_TRAIN, W7_BYTES),
}
GEMM_SHAPES = {"256": (256, 256, 256), "512": (512, 512, 512), "1024": (1024, 1024, 1024),
               "1x784x128": (1, 128, 784), "1x784x128T": (1, 128, 784),
               "64x784x128T": (64, 128, 784), "16x72x196": (16, 196, 72)}
for _k, (_m, _n, _kk) in GEMM_SHAPES.items():
    BOUNDS["W5-" + _k] = (2.0 * _m * _n * _kk, 4 * (_m * _kk + _kk * _n + _m * _n))

ROWS = [  # key, label, unit, kind: time (lower is better) / rate (higher is better)
    ("W1", "W1 MLP 784-128-64-10 +softmax, batch 1", "us/sample", "time"),
    ("W2", "W2 same MLP, batch 64", "samples/s", "rate"),
    ("W1bf16", "W1 with bf16 weights (nnc --dtype bf16; peers fp32), batch 1", "us/sample", "time"),
    ("W2bf16", "W2 with bf16 weights (nnc --dtype bf16; peers fp32), batch 64", "samples/s", "rate"),
    ("W3", "W3 train digits 20 epochs (s) [val acc]", "s", "time"),
    ("W3loop", "W3 training loop only, est. (s)", "s", "time"),
    ("W3s", "W3 one training step, batch 32", "us/step", "time"),
    ("W4", "W4 CNN 1x28x28, batch 1", "us/sample", "time"),
    ("W6b1", "W6 course CNN 1x28x28 (conv 128-256-512, linear 27), batch 1", "us/sample", "time"),
    ("W6b32", "W6 same, inference batch 32", "us/batch", "time"),
    ("W6t", "W6 one training step, batch 32, Adam", "us/step", "time"),
    ("W7b1", "W7 small ResNet 1x8x8 (16-16-32 channels, 5 blocks), batch 1", "us/sample", "time"),
    ("W7t", "W7 one training step, batch 32, SGD momentum", "us/step", "time"),
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
    mach = {"peak": {}, "bw": {}, "id": []}
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
                elif p[0] == "MACHINE" and len(p) >= 3:
                    if (p[1], " ".join(p[2:])) not in mach["id"]:
                        mach["id"].append((p[1], " ".join(p[2:])))
                elif p[0] == "PEAK" and len(p) >= 3:
                    mach["peak"][p[1]] = max(mach["peak"].get(p[1], 0.0), float(p[2]))
                elif p[0] == "BW" and len(p) >= 3:
                    mach["bw"][p[1]] = max(mach["bw"].get(p[1], 0.0), float(p[2]))
                    if len(p) >= 4:
                        mach.setdefault("bw_bytes", {})[p[1]] = int(p[3])
                elif p[0] == "SKIP":
                    skips.append(" ".join(p[1:]))
            except ValueError:
                skips.append("unparsable line: " + line.strip())
    return vals, acc, checks, info, skips, kern, mach


def l1_bytes(mach):
    """L1d size from `MACHINE caches L1d 48 KiB, ...` (32 KiB if unknown)."""
    for k, v in mach["id"]:
        if k == "caches":
            p = v.replace(",", "").split()
            if len(p) >= 2 and p[0] == "L1d" and p[1].lstrip("-").isdigit() and int(p[1]) > 0:
                return int(p[1]) * 1024
    return 32 * 1024


def kib(nbytes):
    """A buffer size as the report prints it: 16 KiB, 256 MiB; ? if unknown."""
    if not nbytes:
        return "?"
    if nbytes >= 1 << 20 and nbytes % (1 << 20) == 0:
        return "%d MiB" % (nbytes >> 20)
    return "%d KiB" % (nbytes >> 10)


def bound_us(key, mach):
    """(lower bound of one call in us, 'compute'|'L1'|'L2') or (None, None)."""
    if key not in BOUNDS or not mach["peak"].get("best"):
        return None, None
    flops, nbytes = BOUNDS[key]
    peak = mach["peak"]["best"] * 1e9
    level = "l1" if nbytes <= l1_bytes(mach) else "l2"
    bw = mach["bw"].get(level)
    t_c = flops / peak
    t_m = nbytes / (bw * 1e9) if bw else 0.0
    return (max(t_c, t_m) * 1e6, "compute" if t_c >= t_m else level.upper())


def call_us(vals, key, impl):
    """Median time of one call in us (W5: from GFLOP/s and its FLOPs)."""
    v = vals.get((key, impl))
    if not v:
        return None
    m = statistics.median(v)
    if key.startswith("W5-"):
        return BOUNDS[key][0] / (m * 1e9) * 1e6 if m > 0 else None
    return m


def value(vals, key, impl, kind):
    """Median over rounds, in the row's display unit."""
    v = vals.get((key, impl))
    if not v:
        return None
    m = statistics.median(v)
    if key in ("W2", "W2bf16"):  # us per call of 64 samples -> samples/s
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
    vals, acc, checks, info, skips, kern, mach = parse(raw)
    bugs = []
    L = []
    L.append("# nnc benchmark results")
    L.append("")
    L.append("Written by `bench/run.sh`; medians over rounds of medians of many calls, "
             "1 thread, fp32 (the bf16 rows: nnc with --dtype bf16 weights, its peers fp32). "
             "See bench/README.md for how to read it.")
    L.append("")
    if info:
        for k, v in info:
            L.append("- %s: %s" % (k, v))
        L.append("")
    # ---- machine
    L.append("## Machine (measured by bench/machine.c in this run)")
    L.append("")
    ident = dict(mach["id"])
    if ident:
        L.append("- CPU: %s; vendor %s, family %s, model %s, stepping %s; %s"
                 % (ident.get("name", "?"), ident.get("vendor", "?"), ident.get("family", "?"),
                    ident.get("model", "?"), ident.get("stepping", "?"), ident.get("caches", "")))
    pk = mach["peak"]
    if pk:
        L.append("- fp32 FMA peak, one core: **%.1f GFLOP/s** (%s; the highest of all "
                 "measurements of the run)" % (pk.get("best", 0), ", ".join(
                     "%s %.1f" % (k, v) for k, v in pk.items() if k != "best")))
    if mach["bw"]:
        L.append("- read bandwidth, one core: " + ", ".join(
            "%s (%s) %.1f GB/s" % ({"l1": "L1", "l2": "L2", "dram": "DRAM"}.get(k, k),
                                  kib(mach.get("bw_bytes", {}).get(k)), v)
            for k, v in mach["bw"].items()))
    if not pk:
        L.append("- not measured (bench/machine.c failed): no fractions of bound")
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
            s = speedup(table.get((key, "nnc")), table.get((PEER_KEY.get(key, key), impl)), kind)
            cells.append("—" if s is None else "%.2fx" % s)
        if any(c != "—" for c in cells):
            L.append("| %s | %s |" % (label.split(" [")[0].replace(" (s)", ""), " | ".join(cells)))
    L.append("")
    # ---- fractions of bound
    L.append("## Fraction of the machine's bound (bound time / measured time; 1 = at the bound)")
    L.append("")
    L.append("Bound of one call: the larger of FLOPs / peak and weight bytes / bandwidth "
             "(L1 if they fit, else L2). W3 (whole process) has none.")
    L.append("")
    L.append("| workload | GFLOP per call | bound | " + " | ".join(n for _, n in IMPLS) + " |")
    L.append("|---|---:|---|" + "---:|" * len(IMPLS))
    for key, label, unit, kind in ROWS:
        b, side = bound_us(key, mach)
        if b is None:
            continue
        cells = []
        for impl, name in IMPLS:
            t = call_us(vals, key, impl)
            if t is None or t <= 0:
                cells.append("—")
                continue
            f = b / t
            cells.append("%.0f%%" % (100 * f))
            if f > 1.0:
                bugs.append("%s %s: %.3f us per call is below its bound %.3f us (%s-bound), "
                            "%.0f%% of bound" % (key, name, t, b, side, 100 * f))
        L.append("| %s | %.4g | %s us (%s) | %s |" % (label.split(" [")[0], BOUNDS[key][0] / 1e9,
                                                     fmt(b, ""), side, " | ".join(cells)))
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
    l2_gbps = mach["bw"].get("l2")
    if l2_gbps:
        l2_us = W1_WEIGHT_BYTES / (l2_gbps * 1e9) * 1e6
        tgt("W1 <= 1.15x weight read from L2 (%.0f B at the measured %.0f GB/s = %.2f us; "
            "bound %.2f us)" % (W1_WEIGHT_BYTES, l2_gbps, l2_us, 1.15 * l2_us),
            None if w1 is None else "%.3f us = %.2fx the L2 read" % (w1, w1 / l2_us),
            w1 is not None and w1 <= 1.15 * l2_us)
        w1h = table.get(("W1bf16", "nnc"))
        l2h = W1_BF16_BYTES / (l2_gbps * 1e9) * 1e6
        tgt("W1 bf16: its weights (%.0f B, half of fp32's) read from L2 at the measured %.0f GB/s = "
            "%.2f us; reported: the fraction of that bound reached" % (W1_BF16_BYTES, l2_gbps, l2h),
            None if w1h is None else "%.3f us: %.0f%% of the bound" % (w1h, 100 * l2h / w1h),
            w1h is not None and w1h >= l2h)
    for key, impl, need, name in (("W1", "ort", 1.6, "W1 >= 1.6x faster than ONNX Runtime"),
                                  ("W1", "torch_eager", 6.0, "W1 >= 6x faster than PyTorch eager"),
                                  ("W2", "ort", 1.1, "W2 throughput >= 1.1x ONNX Runtime"),
                                  ("W1bf16", "ort", 2.5,
                                   "W1 with bf16 weights >= 2.5x faster than ONNX Runtime (fp32)"),
                                  ("W4", "ort", 2.0, "W4 >= 2x faster than ONNX Runtime"),
                                  ("W6t", "torch_eager", 1.1,
                                   "W6 training step >= 1.1x faster than PyTorch eager"),
                                  ("W6b1", "torch_eager", 1.6,
                                   "W6 inference batch 1 >= 1.6x faster than PyTorch eager"),
                                  ("W7b1", "ort", 2.0, "W7 inference batch 1 >= 2x faster than ONNX Runtime"),
                                  ("W7t", "torch_eager", 3.0,
                                   "W7 training step >= 3x faster than PyTorch eager")):
        kind = "rate" if key in ("W2", "W2bf16") else "time"
        s = speedup(table.get((key, "nnc")), table.get((PEER_KEY.get(key, key), impl)), kind)
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
    n1k, b1k = table.get(("W5-1024", "nnc")), table.get(("W5-1024", "openblas"))
    tgt("W5 SGEMM 1024^3 >= OpenBLAS",
        None if not (n1k and b1k) else "%.0f%% (%.1f vs %.1f GFLOP/s)" % (100 * n1k / b1k, n1k, b1k),
        bool(n1k and b1k and n1k >= b1k))
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
        peak = mach["peak"].get("best")
        L.append("| layer | kernel | us | GFLOP/s | of peak |")
        L.append("|---|---|---:|---:|---:|")
        for (layer, kname), v in kern.items():
            us = statistics.median(x[0] for x in v)
            gf = statistics.median(x[1] for x in v)
            frac = "—"
            if gf and peak:
                frac = "%.0f%%" % (100 * gf / peak)
                if gf > peak:
                    bugs.append("kernel %s %s: %.1f GFLOP/s is above the measured peak %.1f"
                                % (layer, kname, gf, peak))
            L.append("| %s | %s | %s | %s | %s |" % (layer, kname, fmt(us, ""),
                                                    fmt(gf, "") if gf else "—", frac))
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
    if bugs:
        L.append("## BENCH BUG: figures above the machine's bound")
        L.append("")
        L.append("A workload cannot run faster than its bound: either the bound (FLOPs, "
                 "bytes, the measured peak or bandwidth) or the timing is wrong. "
                 "Nothing in this report should be published.")
        L.append("")
        for b in bugs:
            L.append("- " + b)
        L.append("")
    text = "\n".join(L)
    print(text)
    with open(out, "w") as f:
        f.write(text)
    if bugs:
        sys.stderr.write("\nBENCH BUG: %d figure(s) above the machine's bound:\n  %s\n"
                         % (len(bugs), "\n  ".join(bugs)))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
