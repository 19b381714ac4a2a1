#!/usr/bin/python3
"""PyTorch side of bench/run.sh: weights, ONNX models, and the PyTorch baselines.

Runs under Debian's /usr/bin/python3 (python3-torch, numpy). Commands:

  gen DIR             random weights for W1/W3/W4/W6 (numpy, seed 0, PyTorch's
                      default init bounds; W7 from PyTorch's own init, seed 0,
                      batch-norm statistics perturbed) written as .safetensors (for nnc),
                      raw .bin (for the naive C driver), .onnx (for ONNX
                      Runtime, needs torch), fixed inputs and reference outputs
  bench DIR SECONDS   PyTorch eager and TorchScript-frozen timings of W1, W2,
                      W4, W6 (batch 1 and 32), W7 (batch 1) and of one W3,
                      one W6 and one W7 training step
  train DIR EPOCHS    W3: the digits training loop (manual batching, shuffled
                      each epoch, validation after each epoch as nnc does)
  all DIR SECONDS EPOCHS   bench, then train (one interpreter start-up)
  cmp A B [TOL]       max |a-b| of two files of floats (CSV text or raw .bin)

Every timing line is `RESULT <workload> <impl> <value> [extra]`, values in
microseconds per call (W3: seconds and accuracy). Single thread throughout.
"""
import json
import os
import struct
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn as nn  # noqa: E402
    import torch.nn.functional as F  # noqa: E402

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
except ImportError:  # gen still works (no ONNX, no references)
    torch = None

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "examples", "data")

# ------------------------------------------------------------------ models
# (name, shape) of every parameter in state_dict order; layer positions count
# activations too, as the .nnet files in bench/nnet/ do.
W1_PARAMS = [("0.weight", (128, 784)), ("0.bias", (128,)),
             ("2.weight", (64, 128)), ("2.bias", (64,)),
             ("4.weight", (10, 64)), ("4.bias", (10,))]
W3_PARAMS = [("0.weight", (128, 64)), ("0.bias", (128,)),
             ("2.weight", (64, 128)), ("2.bias", (64,)),
             ("4.weight", (10, 64)), ("4.bias", (10,))]
W4_PARAMS = [("0.weight", (8, 1, 3, 3)), ("0.bias", (8,)),
             ("3.weight", (16, 8, 3, 3)), ("3.bias", (16,)),
             ("7.weight", (10, 784)), ("7.bias", (10,))]
W6_PARAMS = [("0.weight", (128, 1, 3, 3)), ("0.bias", (128,)),
             ("3.weight", (256, 128, 3, 3)), ("3.bias", (256,)),
             ("6.weight", (512, 256, 3, 3)), ("6.bias", (512,)),
             ("9.weight", (27, 7 * 7 * 512)), ("9.bias", (27,))]
W1_IN, W4_IN = (784,), (1, 28, 28)
W6_ROWS = 32     # the fixed W6 inputs: one batch of 32


def w1_module():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 10), nn.Softmax(dim=1))


def w3_module():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def w4_module():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(784, 10))


def w6_module():
    """The course's CNN (bench/nnet/w6_cnn.nnet), its head fine-tuned to 27."""
    return nn.Sequential(nn.Conv2d(1, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(256, 512, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(7 * 7 * 512, 27))


class BasicBlock(nn.Module if torch else object):
    """torchvision's BasicBlock, as the `basic`/`down` blocks of w7_resnet.nnet."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        sc = x if self.downsample is None else self.downsample(x)
        return F.relu(self.bn2(self.conv2(h)) + sc)


class W7ResNet(nn.Module if torch else object):
    """bench/nnet/w7_resnet.nnet (examples/digits_resnet.nnet) in PyTorch."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer2(self.layer1(h))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


W7_IN = (1, 8, 8)


def w7_params():
    """PyTorch's default init (seed 0) with batch-norm affine parameters and
    running statistics moved away from 1/0, so that inference checks them;
    num_batches_tracked left out (it loads as 0)."""
    torch.manual_seed(0)
    m = W7ResNet()
    g = torch.Generator().manual_seed(7)
    out = {}
    for k, v in m.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        v = v.clone()
        if k.endswith("running_var"):
            v = 0.5 + torch.rand(v.shape, generator=g)
        elif k.endswith("running_mean") or (".bn" in k or k.startswith("bn")) or "downsample.1" in k:
            v = v + 0.1 * torch.randn(v.shape, generator=g)
        out[k] = v.numpy().astype(np.float32)
    return out


def w7_load(params):
    m = W7ResNet()
    sd = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return m.eval()


def random_params(spec, rng):
    """PyTorch's default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for all."""
    out, fan_in = {}, 1
    for name, shape in spec:
        if name.endswith(".weight"):
            fan_in = int(np.prod(shape[1:]))
        b = 1.0 / np.sqrt(fan_in)
        out[name] = rng.uniform(-b, b, size=shape).astype(np.float32)
    return out


def write_safetensors(path, params):
    header, blobs, off = {}, [], 0
    for name, a in params.items():
        a = np.ascontiguousarray(a, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_bin(path, arrays):
    with open(path, "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def load_module(mod, params):
    sd = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    mod.load_state_dict(sd, strict=True)
    return mod.eval()


def read_params(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy()
    return out


# ------------------------------------------------------------------ gen
def cmd_gen(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    sets = {"w1": random_params(W1_PARAMS, rng), "w3": random_params(W3_PARAMS, rng),
            "w4": random_params(W4_PARAMS, rng), "w6": random_params(W6_PARAMS, rng)}
    for k, p in sets.items():
        write_safetensors(os.path.join(d, k + ".safetensors"), p)
        write_bin(os.path.join(d, k + ".bin"), p.values())
    # Fixed inputs: 64 rows for W1/W2, one image for W4.
    x1 = rng.uniform(0, 1, size=(64, 784)).astype(np.float32)
    x4 = rng.uniform(0, 1, size=(1, 1, 28, 28)).astype(np.float32)
    write_bin(os.path.join(d, "x_w1.bin"), [x1])
    write_bin(os.path.join(d, "x_w4.bin"), [x4])
    x6 = rng.uniform(0, 1, size=(W6_ROWS, 1, 28, 28)).astype(np.float32)
    write_bin(os.path.join(d, "x_w6.bin"), [x6])
    np.savetxt(os.path.join(d, "x_w6.csv"), x6[:2].reshape(2, -1), delimiter=",", fmt="%.9g")
    np.savetxt(os.path.join(d, "x_w1.csv"), x1[:4], delimiter=",", fmt="%.9g")
    np.savetxt(os.path.join(d, "x_w4.csv"), x4.reshape(1, -1), delimiter=",", fmt="%.9g")
    if torch is None:
        print("gen: torch not available: no ONNX models, no reference outputs")
        return
    p7 = w7_params()
    write_safetensors(os.path.join(d, "w7.safetensors"), p7)
    x7 = rng.uniform(0, 16, size=(W6_ROWS,) + W7_IN).astype(np.float32)
    write_bin(os.path.join(d, "x_w7.bin"), [x7])
    np.savetxt(os.path.join(d, "x_w7.csv"), x7[:2].reshape(2, -1), delimiter=",", fmt="%.9g")
    m7 = w7_load(p7)
    with torch.no_grad():
        write_bin(os.path.join(d, "y_w7.bin"), [m7(torch.from_numpy(x7[:2])).numpy()])
    torch.onnx.export(m7, torch.zeros((1,) + W7_IN), os.path.join(d, "w7.onnx"),
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=13)
    m1 = load_module(w1_module(), sets["w1"])
    m4 = load_module(w4_module(), sets["w4"])
    m6 = load_module(w6_module(), sets["w6"])
    with torch.no_grad():
        write_bin(os.path.join(d, "y_w1.bin"), [m1(torch.from_numpy(x1)).numpy()])
        write_bin(os.path.join(d, "y_w4.bin"), [m4(torch.from_numpy(x4)).numpy()])
        write_bin(os.path.join(d, "y_w6.bin"), [m6(torch.from_numpy(x6)).numpy()])
    for name, m, shape in (("w1", m1, (1,) + W1_IN), ("w4", m4, (1,) + W4_IN),
                           ("w6", m6, (1,) + W4_IN)):
        torch.onnx.export(m, torch.zeros(shape), os.path.join(d, name + ".onnx"),
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=13)
    print("gen: weights, inputs, references and ONNX models in", d)


# ------------------------------------------------------------------ timing
def median_call_s(fn, seconds, min_sample_s=20e-6):
    """Same method as `PROG bench`: warm up 10% (>= 3 calls), samples of
    `reps` calls lasting >= 20 us, median of per-call times."""
    pc = time.perf_counter
    # NNC_BENCH_CLOCK=cpu: samples in process CPU time (the run length stays wall)
    sc = time.process_time if os.environ.get("NNC_BENCH_CLOCK") == "cpu" else pc
    start, calls = pc(), 0
    while calls < 3 or pc() - start < seconds * 0.1:
        fn()
        calls += 1
    per = (pc() - start) / calls
    reps = 1 if per >= min_sample_s else int(min_sample_s / max(per, 1e-9)) + 1
    times, t_end = [], pc() + seconds
    while True:
        t0, c0 = pc(), sc()
        for _ in range(reps):
            fn()
        t1, c1 = pc(), sc()
        times.append((c1 - c0) / reps)
        if t1 >= t_end and len(times) >= 5:
            break
    times.sort()
    n = len(times)
    return times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])


def cmd_bench(d, seconds):
    p1 = read_params(os.path.join(d, "w1.safetensors"))
    p4 = read_params(os.path.join(d, "w4.safetensors"))
    p3 = read_params(os.path.join(d, "w3.safetensors"))
    x1 = torch.from_numpy(np.fromfile(os.path.join(d, "x_w1.bin"), dtype="<f4").reshape(64, 784))
    x4 = torch.from_numpy(np.fromfile(os.path.join(d, "x_w4.bin"), dtype="<f4").reshape(1, 1, 28, 28))
    p6 = read_params(os.path.join(d, "w6.safetensors"))
    x6 = torch.from_numpy(np.fromfile(os.path.join(d, "x_w6.bin"), dtype="<f4").reshape(W6_ROWS, 1, 28, 28))
    cases = [("W1", load_module(w1_module(), p1), x1[:1].clone()),
             ("W2", load_module(w1_module(), p1), x1.clone()),
             ("W4", load_module(w4_module(), p4), x4),
             ("W6b1", load_module(w6_module(), p6), x6[:1].clone()),
             ("W6b32", load_module(w6_module(), p6), x6.clone())]
    p7 = read_params(os.path.join(d, "w7.safetensors"))
    x7 = torch.from_numpy(np.fromfile(os.path.join(d, "x_w7.bin"), dtype="<f4").reshape((W6_ROWS,) + W7_IN))
    cases.append(("W7b1", w7_load(p7), x7[:1].clone()))
    for wl, m, x in cases:
        with torch.inference_mode():
            t = median_call_s(lambda: m(x), seconds)
        print("RESULT %s torch_eager %.4f" % (wl, t * 1e6), flush=True)
        try:
            with torch.no_grad():
                ts = torch.jit.freeze(torch.jit.script(m.eval()))
                t = median_call_s(lambda: ts(x), seconds)
            print("RESULT %s torchscript %.4f" % (wl, t * 1e6), flush=True)
        except Exception as e:  # pragma: no cover - reported, never fatal
            print("SKIP %s torchscript %s" % (wl, str(e).splitlines()[0][:120]), flush=True)
    # One W3 training step (batch 32): forward, cross_entropy, backward, SGD.
    m = load_module(w3_module(), p3).train()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    xb = torch.rand(32, 64, generator=g) * 2 - 1
    yb = torch.randint(0, 10, (32,), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(m(xb), yb).backward()
        opt.step()

    print("RESULT W3s torch_eager %.4f" % (median_call_s(step, seconds) * 1e6), flush=True)
    w6_train_step(p6, seconds)
    w7_train_step(p7, seconds)


def w7_train_step(p7, seconds):
    """One W7 training step at batch 32: forward in training mode (batch
    statistics), cross-entropy, backward, SGD(lr 0.05, momentum 0.9,
    weight_decay 1e-4) as w7_resnet.nnet; eager, then TorchScript."""
    g = torch.Generator().manual_seed(1)
    xb = torch.rand((32,) + W7_IN, generator=g) * 16
    yb = torch.randint(0, 10, (32,), generator=g)
    for impl in ("torch_eager", "torchscript"):
        m = w7_load(p7).train()
        if impl == "torchscript":
            try:
                m = torch.jit.script(m)
            except Exception as e:  # pragma: no cover - reported, never fatal
                print("SKIP W7t torchscript %s" % str(e).splitlines()[0][:120], flush=True)
                continue
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(m(xb), yb).backward()
            opt.step()

        print("RESULT W7t %s %.4f" % (impl, median_call_s(step, seconds) * 1e6), flush=True)


def w6_train_step(p6, seconds):
    """One W6 training step at batch 32: forward, cross-entropy, backward,
    Adam(lr 3e-4) as the course; eager, then the TorchScript-compiled module
    (scripted, not frozen: frozen modules cannot train)."""
    g = torch.Generator().manual_seed(1)
    xb = torch.rand(32, 1, 28, 28, generator=g) * 2 - 1
    yb = torch.randint(0, 27, (32,), generator=g)
    for impl in ("torch_eager", "torchscript"):
        m = load_module(w6_module(), p6).train()
        if impl == "torchscript":
            try:
                m = torch.jit.script(m)
            except Exception as e:  # pragma: no cover - reported, never fatal
                print("SKIP W6t torchscript %s" % str(e).splitlines()[0][:120], flush=True)
                continue
        opt = torch.optim.Adam(m.parameters(), lr=3e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(m(xb), yb).backward()
            opt.step()

        print("RESULT W6t %s %.4f" % (impl, median_call_s(step, seconds) * 1e6), flush=True)


# ------------------------------------------------------------------ train
def cmd_train(d, epochs):
    tr = np.loadtxt(os.path.join(DATA, "digits_train.csv"), delimiter=",", dtype=np.float32)
    va = np.loadtxt(os.path.join(DATA, "digits_test.csv"), delimiter=",", dtype=np.float32)
    X, Y = torch.from_numpy(tr[:, :-1].copy()), torch.from_numpy(tr[:, -1].astype(np.int64))
    Xv, Yv = torch.from_numpy(va[:, :-1].copy()), torch.from_numpy(va[:, -1].astype(np.int64))
    m = load_module(w3_module(), read_params(os.path.join(d, "w3.safetensors")))
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(314)
    n, bs = X.shape[0], 32
    t0 = time.perf_counter()
    acc = 0.0
    for _ in range(epochs):
        m.train()
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(m(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        m.eval()
        with torch.no_grad():
            out = m(Xv)
            F.cross_entropy(out, Yv).item()
            acc = (out.argmax(1) == Yv).float().mean().item()
    t = time.perf_counter() - t0
    print("RESULT W3 torch_eager %.6f %.4f" % (t, acc), flush=True)
    print("RESULT W3loop torch_eager %.6f" % t, flush=True)  # the loop is all we time


# ------------------------------------------------------------------ cmp
def load_floats(path):
    if path.endswith(".bin"):
        return np.fromfile(path, dtype="<f4").astype(np.float64)
    return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2).ravel()


def cmd_cmp(a, b, tol):
    x, y = load_floats(a), load_floats(b)
    n = min(x.size, y.size)
    if n == 0:
        print("cmp: empty"); return 1
    diff = float(np.max(np.abs(x[:n] - y[:n])))
    print("maxdiff=%.3g n=%d %s" % (diff, n, "ok" if diff <= tol else "MISMATCH"))
    return 0 if diff <= tol else 1


def main(argv):
    if len(argv) < 2:
        print(__doc__); return 2
    cmd = argv[1]
    if cmd == "gen":
        cmd_gen(argv[2]); return 0
    if torch is None and cmd in ("bench", "train", "all"):
        print("SKIP all torch: python3-torch is not importable"); return 0
    if cmd == "bench":
        cmd_bench(argv[2], float(argv[3])); return 0
    if cmd == "train":
        cmd_train(argv[2], int(argv[3])); return 0
    if cmd == "all":  # one round: bench then train, one interpreter start-up
        cmd_bench(argv[2], float(argv[3]))
        cmd_train(argv[2], int(argv[4])); return 0
    if cmd == "cmp":
        return cmd_cmp(argv[2], argv[3], float(argv[4]) if len(argv) > 4 else 1e-4)
    print(__doc__); return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
