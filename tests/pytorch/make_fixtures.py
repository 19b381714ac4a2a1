#!/usr/bin/python3
"""Generate the PyTorch-agreement fixtures in tests/fixtures/.

    /usr/bin/python3 tests/pytorch/make_fixtures.py

Needs Debian's python3-torch (and numpy); nothing else. Every case is a folder
tests/fixtures/<kind>/<case>/ that tests/run_fixture.sh knows how to run:

  infer/  model.nnet, weights.safetensors (absent when the weights are literals
          in the model), input.csv (one flattened sample per row),
          expected.csv (PyTorch's outputs in eval mode, one row per sample).
  train/  model.nnet with a train block (no shuffle, init = "init.safetensors"),
          init.safetensors, train.csv, expected.safetensors (the whole
          state_dict after training the same batches in the same order with
          torch.optim), optionally exact.txt (tensors that must not change at
          all, e.g. a frozen layer).
  eval/   model.nnet with a train block, weights.safetensors, data.csv,
          expected_eval.txt ("loss=..." and, for classification,
          "accuracy=...").
  kernels/ text files of PyTorch's values that unit tests read
          (tests/unit/test_sched.c): the learning rates of every schedule,
          clip_grad_norm_ and label-smoothed cross_entropy.

Everything is regenerated from scratch (the three kind folders are deleted
first) and deterministically: each case seeds torch with a hash of its own
name, so adding or editing a case leaves the other cases' bytes unchanged.
Numbers are float32 throughout and printed with "%.9g", which round-trips.

Safetensors files are written by the small writer below (the `safetensors`
package is not a Debian dependency of torch): 8-byte little-endian header
length, a JSON header padded with spaces to a multiple of 8, then the raw
little-endian tensor data. F32 and I64 are supported (I64 for batch norm's
num_batches_tracked, as torch stores it).
"""
import collections
import copy
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import fixtures_layers
import fixtures_tensor
import seq_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures")
KINDS = ("infer", "train", "eval", "kernels")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

# --------------------------------------------------------------- file writers

ST_DTYPES = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}


def write_safetensors(path, tensors):
    """tensors: ordered mapping name -> torch tensor (float32 or int64)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in ST_DTYPES:
            raise TypeError("%s: dtype %s not supported" % (name, t.dtype))
        code, npdt = ST_DTYPES[t.dtype]
        raw = t.numpy().astype(npdt, copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """The inverse of write_safetensors, used to check the writer."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    header.pop("__metadata__", None)
    out = collections.OrderedDict()
    for name, h in header.items():
        b, e = h["data_offsets"]
        npdt = {"F32": "<f4", "I64": "<i8"}[h["dtype"]]
        arr = np.frombuffer(buf[8 + n + b:8 + n + e], dtype=npdt).reshape(h["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def fmt(v):
    return "%.9g" % v


def write_csv(path, rows):
    """rows: list of lists of already formatted strings or numbers."""
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(v if isinstance(v, str) else fmt(v) for v in r) + "\n")


def float_rows(t):
    t = t.detach().reshape(t.shape[0], -1).to(torch.float32)
    return [[fmt(v) for v in row] for row in t.tolist()]


# --------------------------------------------------------------- models
#
# A model is a list of layers; each layer is (label, nnet_text, module).
# label None means "named by its 0-based position among all layer
# statements" (LANGUAGE.md §4), exactly as nn.Sequential names its children.

def L(text, module, label=None):
    return (label, text, module)


def sequential(layers):
    """The nn.Sequential of a layer list. The modules were built before the
    case seeded torch, so their parameters are drawn again here (literal
    layers excepted): a case's numbers depend only on its own seed."""
    for _, _, m in layers:
        if not getattr(m, "nnc_literal", False) and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    names = [lab if lab is not None else str(i) for i, (lab, _, _) in enumerate(layers)]
    return nn.Sequential(collections.OrderedDict(
        (n, m) for n, (_, _, m) in zip(names, layers)))


def nnet_model(input_shape, layers):
    lines = ["model net {", "    input [%s]" % ", ".join(str(d) for d in input_shape)]
    for lab, text, _ in layers:
        lines.append("    " + (("%s = " % lab) if lab else "") + text)
    lines.append("}")
    return "\n".join(lines) + "\n"


def lit(v):
    """A number or nested list as a .nnet literal; floats round-trip via repr."""
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(lit(x) for x in v) + "]"
    return repr(float(v))


def seed_for(name):
    torch.manual_seed(zlib.crc32(name.encode("utf-8")))


def set_bn(bn, g):
    """Non-trivial batch-norm state, as if trained."""
    c = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(torch.rand(c, generator=g) + 0.5)
        bn.bias.copy_(torch.randn(c, generator=g) * 0.2)
        bn.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
        bn.running_var.copy_(torch.rand(c, generator=g) * 1.7 + 0.3)
        bn.num_batches_tracked.fill_(10)


def make_inputs(n, shape, scale=1.5, shift=0.0):
    """Random samples with a few awkward values: zeros, tiny numbers of both
    signs, a negative zero and a large magnitude."""
    x = torch.randn((n,) + tuple(shape)) * scale + shift
    flat = x.view(n, -1)
    special = [0.0, 1e-6, -1e-6, -0.0, 1e-30, 7.5, -7.5]
    for i, v in enumerate(special[:flat.shape[1]]):
        flat[0, i] = v
    if n > 1 and flat.shape[1] > 1:
        flat[1, -1] = 0.0
        flat[1, 0] = -3e-7
    return x


def header(comment):
    return "".join("# %s\n" % line for line in comment.strip().splitlines())


def case_dir(kind, name):
    d = os.path.join(OUT, kind, name)
    os.makedirs(d)
    return d


CASES = []


def write_nnet(d, comment, body):
    with open(os.path.join(d, "model.nnet"), "w") as f:
        f.write(header(comment) + "\n" + body)


# --------------------------------------------------------------- inference

def infer(name, input_shape, layers, comment, n=5, literal=False, setup=None,
          inputs=None, scale=1.5, shift=0.0):
    seed_for("infer/" + name)
    model = sequential(layers)
    if setup:
        setup(model)
    model.eval()
    x = inputs if inputs is not None else make_inputs(n, input_shape, scale, shift)
    with torch.no_grad():
        y = model(x)
    d = case_dir("infer", name)
    write_nnet(d, comment, nnet_model(input_shape, layers))
    if not literal:
        write_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
    write_csv(os.path.join(d, "input.csv"), float_rows(x))
    write_csv(os.path.join(d, "expected.csv"), float_rows(y))
    # Replay from the files alone: the same numbers, to the last digit.
    again = copy.deepcopy(model)
    if not literal:
        again.load_state_dict(read_safetensors(os.path.join(d, "weights.safetensors")), strict=True)
    x2 = torch.tensor([[float(v) for v in line.split(",")]
                       for line in open(os.path.join(d, "input.csv"))]).reshape(x.shape)
    with torch.no_grad():
        assert float_rows(again(x2)) == float_rows(y), d
    CASES.append("infer/" + name)


def bn_setup(model):
    g = torch.Generator().manual_seed(7)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            set_bn(m, g)


def literal_linear(i, o, w, b=None, label=None):
    m = nn.Linear(i, o, bias=b is not None)
    with torch.no_grad():
        m.weight.copy_(torch.tensor(w, dtype=torch.float32))
        if b is not None:
            m.bias.copy_(torch.tensor(b, dtype=torch.float32))
    m.nnc_literal = True
    text = "linear(%d, %d, weight = %s, bias = %s)" % (i, o, lit(w), lit(b) if b is not None else "false")
    return L(text, m, label)


def infer_cases():
    # ---- one per layer
    infer("linear", [7], [L("linear(7, 5)", nn.Linear(7, 5))],
          "linear with bias, awkward sizes")
    infer("linear_nobias", [9], [L("linear(9, 3, bias = false)", nn.Linear(9, 3, bias=False))],
          "linear without bias: the state_dict has only 0.weight")
    infer("conv2d_s2p1", [3, 8, 8],
          [L("conv2d(3, 4, 3, stride = 2, padding = 1)", nn.Conv2d(3, 4, 3, stride=2, padding=1))],
          "conv2d, kernel 3, stride 2, padding 1: [3,8,8] -> [4,4,4]")
    infer("conv2d_k5", [3, 9, 7], [L("conv2d(3, 5, 5)", nn.Conv2d(3, 5, 5))],
          "conv2d, kernel 5, no padding, non-square input: [3,9,7] -> [5,5,3]")
    infer("conv2d_nobias", [2, 8, 7],
          [L("conv2d(2, 3, 3, stride = 2, bias = false)", nn.Conv2d(2, 3, 3, stride=2, bias=False))],
          "conv2d without bias, stride 2 that does not divide: [2,8,7] -> [3,3,3]")
    infer("maxpool2d_k2", [2, 9, 11],
          [L("conv2d(2, 3, 3)", nn.Conv2d(2, 3, 3)), L("maxpool2d(2)", nn.MaxPool2d(2))],
          "maxpool2d(2) after a conv: [3,7,9] -> [3,3,4] (floor)")
    infer("maxpool2d_k3s2p1", [3, 8, 8],
          [L("maxpool2d(3, stride = 2, padding = 1)", nn.MaxPool2d(3, stride=2, padding=1))],
          "maxpool2d kernel 3, stride 2, padding 1 on mostly negative input:\n"
          "padding counts as -inf, never as 0. [3,8,8] -> [3,4,4]", shift=-2.0)
    infer("avgpool2d_k2", [2, 7, 9], [L("avgpool2d(2)", nn.AvgPool2d(2))],
          "avgpool2d(2): [2,7,9] -> [2,3,4] (floor)")
    infer("avgpool2d_k3s2p1", [3, 8, 8],
          [L("avgpool2d(3, stride = 2, padding = 1)", nn.AvgPool2d(3, stride=2, padding=1))],
          "avgpool2d kernel 3, stride 2, padding 1; count_include_pad = True\n"
          "(PyTorch's default): border windows divide by 9")
    infer("flatten", [2, 3, 4], [L("flatten", nn.Flatten()), L("linear(24, 5)", nn.Linear(24, 5))],
          "flatten keeps the batch dimension, row-major")
    infer("relu", [11], [L("relu", nn.ReLU())], "relu on the input, with zeros and tiny values")
    infer("leaky_relu", [3, 5], [L("leaky_relu", nn.LeakyReLU())],
          "leaky_relu, default negative_slope = 0.01, on a 2-d sample")
    infer("leaky_relu_02", [10],
          [L("linear(10, 9)", nn.Linear(10, 9)),
           L("leaky_relu(negative_slope = 0.2)", nn.LeakyReLU(0.2))],
          "leaky_relu(negative_slope = 0.2) after a linear (fusable)")
    infer("sigmoid", [13], [L("sigmoid", nn.Sigmoid())], "sigmoid, large magnitudes included",
          scale=6.0)
    infer("tanh", [6], [L("linear(6, 7)", nn.Linear(6, 7)), L("tanh", nn.Tanh())],
          "tanh after a linear")
    infer("gelu", [15], [L("gelu", nn.GELU())], "gelu, exact erf form (nn.GELU())")
    infer("silu", [6], [L("linear(6, 9)", nn.Linear(6, 9)), L("silu", nn.SiLU())],
          "silu (nn.SiLU(): x * sigmoid(x)) after a linear (fused), large magnitudes", scale=6.0)
    infer("elu", [3, 4], [L("elu", nn.ELU())], "elu, default alpha = 1.0, on a 2-d sample", scale=4.0)
    infer("elu_alpha", [6], [L("linear(6, 8)", nn.Linear(6, 8)), L("elu(alpha = 0.4)", nn.ELU(0.4))],
          "elu(alpha = 0.4) after a linear (fused)", scale=4.0)
    infer("softplus", [12], [L("softplus", nn.Softplus())],
          "softplus, defaults beta = 1, threshold = 20, large magnitudes", scale=30.0)
    infer("softplus_beta", [6],
          [L("linear(6, 9)", nn.Linear(6, 9)),
           L("softplus(beta = 2, threshold = 3)", nn.Softplus(beta=2, threshold=3))],
          "softplus(beta = 2, threshold = 3) after a linear (not fused: two parameters);\n"
          "inputs on both sides of the threshold", scale=6.0)
    infer("softmax_last", [4, 6], [L("softmax(dim = -1)", nn.Softmax(dim=-1))],
          "softmax over the last dimension of a [4,6] sample", scale=4.0)
    infer("softmax_dim1", [3, 4, 5], [L("softmax(dim = 1)", nn.Softmax(dim=1))],
          "softmax(dim = 1) on [c,h,w]: over the channels, batch being dim 0")
    infer("log_softmax", [10], [L("linear(10, 7)", nn.Linear(10, 7)), L("log_softmax", nn.LogSoftmax(dim=-1))],
          "log_softmax (dim = -1 default) after a linear; large logits", scale=8.0)
    infer("softmax_dims_chw", [3, 4, 5],
          [L("softmax(dim = -2)", nn.Softmax(dim=-2)), L("log_softmax(dim = 3)", nn.LogSoftmax(dim=3))],
          "softmax(dim = -2) then log_softmax(dim = 3) on a [c,h,w] sample:\n"
          "over h, then over w (the batch is dim 0)", scale=3.0)
    infer("pool_strides", [2, 9, 8],
          [L("maxpool2d(3, stride = 1)", nn.MaxPool2d(3, stride=1)),
           L("avgpool2d(2, 3, 1)", nn.AvgPool2d(2, 3, 1))],
          "maxpool2d with stride 1 (overlapping windows), then avgpool2d with\n"
          "stride 3 > kernel 2 and padding 1, positional: [2,9,8] -> [2,7,6] -> [2,3,3]")
    infer("conv2d_tuple", [2, 7, 9],
          [L("conv2d(2, 3, [3, 5], stride = [2, 1], padding = [1, 2])",
             nn.Conv2d(2, 3, (3, 5), stride=(2, 1), padding=(1, 2)))],
          "conv2d with a [3, 5] kernel, stride [2, 1], padding [1, 2] (tuples, as in PyTorch)")
    infer("batchnorm1d_cl", [3, 5], [L("batchnorm1d(3)", nn.BatchNorm1d(3))],
          "batchnorm1d on a [channels, length] sample: statistics per channel", setup=bn_setup)
    infer("dropout", [8],
          [L("linear(8, 6)", nn.Linear(8, 6)), L("dropout(p = 0.3)", nn.Dropout(0.3)),
           L("linear(6, 4)", nn.Linear(6, 4))],
          "dropout is the identity in inference (the two linears may be folded)")
    infer("batchnorm1d", [7],
          [L("linear(7, 5)", nn.Linear(7, 5)), L("batchnorm1d(5, eps = 1e-3)", nn.BatchNorm1d(5, eps=1e-3))],
          "batchnorm1d with non-default eps and non-trivial running statistics;\n"
          "the state_dict holds num_batches_tracked as I64", setup=bn_setup)
    infer("batchnorm2d", [3, 5, 4], [L("batchnorm2d(3)", nn.BatchNorm2d(3))],
          "batchnorm2d on the input, non-trivial running statistics", setup=bn_setup)
    infer("conv_bn2d", [3, 6, 6],
          [L("conv2d(3, 4, 3, padding = 1)", nn.Conv2d(3, 4, 3, padding=1)),
           L("batchnorm2d(4)", nn.BatchNorm2d(4)), L("relu", nn.ReLU())],
          "conv2d, batchnorm2d, relu (the batch norm may be folded into the conv)",
          setup=bn_setup)
    infer("identity", [5],
          [L("linear(5, 5)", nn.Linear(5, 5)), L("identity", nn.Identity()),
           L("linear(5, 3)", nn.Linear(5, 3))],
          "identity between two linears")

    # ---- networks
    w1t = [[0.45, -0.12], [0.32, 0.29]]   # weight = W1 transposed (nn.Linear stores [out, in])
    w2t = [[0.48, 0.64], [-0.12, 0.91]]
    slide_in = torch.tensor([[2.0, 1.0], [0.0, 0.0], [-1.0, 3.0], [0.5, -0.25]])
    infer("slide", [2], [literal_linear(2, 2, w1t), literal_linear(2, 2, w2t)],
          "the course slide network: x = [2, 1], x.W1.W2 = [0.9696, 0.7527]\n"
          "literal weights (weight = W transposed); no weights file",
          literal=True, inputs=slide_in)
    w12 = (torch.tensor(w1t).t() @ torch.tensor(w2t).t()).t().tolist()
    infer("slide_product", [2], [literal_linear(2, 2, [[round(v, 4) for v in r] for r in w12])],
          "the slide network's weights multiplied: W1.W2 = [[0.4208, 0.2372], [0.1280, 0.2783]]\n"
          "gives the same [0.9696, 0.7527]", literal=True, inputs=slide_in)
    infer("literal_bias", [3],
          [literal_linear(3, 2, [[0.5, -1.25, 2.0], [0.125, 0.75, -0.5]], [0.1, -0.2]),
           L("relu", nn.ReLU()),
           literal_linear(2, 1, [[1.5, -0.75]])],
          "literal weight and literal bias list, relu, literal weight without bias",
          literal=True)
    infer("chain3_linear", [4],
          [L("linear(4, 4)", nn.Linear(4, 4)), L("linear(4, 4)", nn.Linear(4, 4)),
           L("linear(4, 4)", nn.Linear(4, 4))],
          "three chained linear layers: one linear map (foldable)")
    infer("chain3_relu", [4],
          [L("linear(4, 4)", nn.Linear(4, 4)), L("relu", nn.ReLU()),
           L("linear(4, 4)", nn.Linear(4, 4)), L("relu", nn.ReLU()),
           L("linear(4, 4)", nn.Linear(4, 4))],
          "three linear layers with relu between them: not foldable", n=8)
    infer("classifier_sigmoid", [8], [L("linear(8, 1)", nn.Linear(8, 1)), L("sigmoid", nn.Sigmoid())],
          "an 8 -> 1 sigmoid classifier", n=6)
    infer("softmax_net", [11],
          [L("linear(11, 20)", nn.Linear(11, 20)), L("relu", nn.ReLU()),
           L("linear(20, 12)", nn.Linear(20, 12)), L("relu", nn.ReLU()),
           L("linear(12, 6)", nn.Linear(12, 6)), L("relu", nn.ReLU()),
           L("linear(6, 4)", nn.Linear(6, 4)), L("softmax", nn.Softmax(dim=-1))],
          "11 -> 20 -> 12 -> 6 -> 4 with relu between and a softmax head", n=7)
    infer("mnist_cnn", [1, 28, 28],
          [L("conv2d(1, 8, 3, padding = 1)", nn.Conv2d(1, 8, 3, padding=1)), L("relu", nn.ReLU()),
           L("maxpool2d(2)", nn.MaxPool2d(2)),
           L("conv2d(8, 16, 3, padding = 1)", nn.Conv2d(8, 16, 3, padding=1)), L("relu", nn.ReLU()),
           L("maxpool2d(2)", nn.MaxPool2d(2)),
           L("flatten", nn.Flatten()), L("linear(784, 10)", nn.Linear(784, 10))],
          "an MNIST-shaped CNN", n=3)
    infer("bn_mlp", [6],
          [L("linear(6, 8)", nn.Linear(6, 8)), L("batchnorm1d(8)", nn.BatchNorm1d(8)),
           L("relu", nn.ReLU()), L("linear(8, 3)", nn.Linear(8, 3))],
          "batchnorm1d between two linears", setup=bn_setup)
    infer("named", [5],
          [L("linear(5, 7)", nn.Linear(5, 7), "fc1"), L("relu", nn.ReLU()),
           L("linear(7, 6)", nn.Linear(7, 6)), L("tanh", nn.Tanh(), "act"),
           L("linear(6, 3)", nn.Linear(6, 3), "out")],
          "named layers: fc1.weight, 2.weight (unnamed, position 2), out.weight;\n"
          "a named activation still counts as a position")


# --------------------------------------------------------------- training

LOSSES = {
    "mse": lambda out, t: F.mse_loss(out, t),
    "l1": lambda out, t: F.l1_loss(out, t),
    "bce": lambda out, t: F.binary_cross_entropy(out, t),
    "bce_with_logits": lambda out, t: F.binary_cross_entropy_with_logits(out, t),
    "cross_entropy": lambda out, t: F.cross_entropy(out, t),
    "nll": lambda out, t: F.nll_loss(out, t),
    "cross_entropy(label_smoothing = 0.2)": lambda out, t: F.cross_entropy(out, t, label_smoothing=0.2),
}


def make_data(rows, n_in, label=None, targets=0, kind="float", g=None):
    """x [rows, n_in]; y: class indices (label = number of classes) or float
    targets [rows, targets] of the given kind: float, binary, prob, mixed."""
    x = torch.randn(rows, n_in, generator=g)
    if label is not None:
        y = torch.randint(0, label, (rows,), generator=g)
        y[:label] = torch.arange(label)          # every class occurs
        return x, y
    if kind == "float":
        y = torch.randn(rows, targets, generator=g)
    elif kind == "binary":
        y = (torch.rand(rows, targets, generator=g) > 0.5).float()
    elif kind == "mixed":                         # soft and hard 0/1 targets
        y = torch.rand(rows, targets, generator=g)
        y[::3] = (y[::3] > 0.5).float()
    elif kind == "prob":                          # probability rows, some one-hot
        y = torch.softmax(torch.randn(rows, targets, generator=g) * 2, dim=1)
        for r in range(0, rows, 4):
            y[r] = F.one_hot(torch.tensor(r % targets), targets).float()
    return x, y


def data_rows(x, y, label_col=-1):
    rows = []
    for i in range(x.shape[0]):
        feats = [fmt(v) for v in x[i].tolist()]
        if y.dtype == torch.int64:
            lab = "%d" % int(y[i])
            if label_col == -1:
                rows.append(feats + [lab])
            else:
                rows.append(feats[:label_col] + [lab] + feats[label_col:])
        else:
            rows.append(feats + [fmt(v) for v in y[i].tolist()])
    return rows


def nnet_train(data_opts, loss, optimizer, epochs, batch, extra=()):
    lines = ["train net {",
             '    data      = csv("train.csv", %s)' % data_opts,
             "    loss      = %s" % loss,
             "    optimizer = %s" % optimizer,
             "    epochs    = %d" % epochs,
             "    batch     = %d" % batch,
             "    shuffle   = false",
             "    seed      = 1",
             '    init      = "init.safetensors"']
    lines += ["    %s" % e for e in extra]
    lines.append("}")
    return "\n".join(lines) + "\n"


def train(name, input_shape, layers, loss, optimizer, make_opt, data, data_opts, comment,
          epochs=3, batch=4, setup=None, init_tensors=None, prepare=None, extra=(),
          exact=(), label_col=-1, loop=None):
    """Train in PyTorch exactly as the nnc program is expected to: same init,
    batches in file order (the last one partial), mean reduction,
    torch.optim, model.train()."""
    seed_for("train/" + name)
    model = sequential(layers)
    if setup:
        setup(model)
    init = init_tensors(model) if init_tensors else collections.OrderedDict(
        (k, v.clone()) for k, v in model.state_dict().items())
    fresh = copy.deepcopy(model)      # for the replay check below
    if prepare:
        prepare(model)
    x, y = data
    x = x.reshape((x.shape[0],) + tuple(input_shape))
    run_training(model, make_opt, loss, x, y, epochs, batch, loop)
    d = case_dir("train", name)
    write_nnet(d, comment, nnet_model(input_shape, layers) + "\n" +
               nnet_train(data_opts, loss, optimizer, epochs, batch, extra))
    write_safetensors(os.path.join(d, "init.safetensors"), init)
    write_safetensors(os.path.join(d, "expected.safetensors"), model.state_dict())
    write_csv(os.path.join(d, "train.csv"), data_rows(x.reshape(x.shape[0], -1), y, label_col))
    if exact:
        with open(os.path.join(d, "exact.txt"), "w") as f:
            f.write("".join(e + "\n" for e in exact))
    replay(d, fresh, prepare, make_opt, loss, input_shape, data_opts, epochs, batch, loop)
    CASES.append("train/" + name)


def run_training(model, make_opt, loss, x, y, epochs, batch, loop=None):
    """loop (LANGUAGE.md §10): schedule (scheduler parts, as SCHED_CASES),
    per_step, clip (max_norm), smoothing (label_smoothing)."""
    loop = loop or {}
    opt = make_opt([p for p in model.parameters()])
    lossf = LOSSES[loss.split("(")[0]]
    if loop.get("smoothing"):
        eps = loop["smoothing"]
        lossf = lambda out, t: F.cross_entropy(out, t, label_smoothing=eps)
    sch = schedule(opt, loop["schedule"]) if loop.get("schedule") else None
    model.train()
    for _ in range(epochs):
        for b in range(0, x.shape[0], batch):
            opt.zero_grad()
            out = model(x[b:b + batch])
            lossf(out, y[b:b + batch]).backward()
            if loop.get("clip"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), loop["clip"])
            opt.step()
            if sch and loop.get("per_step"):
                sch.step()
        if sch and not loop.get("per_step"):
            sch.step()


def read_data_csv(path, data_opts):
    """Read a training CSV back as LANGUAGE.md §5 describes it."""
    opts = dict(kv.split("=") for kv in data_opts.replace(" ", "").split(","))
    rows = [line.strip().split(",") for line in open(path) if line.strip()]
    if "targets" in opts:
        n = int(opts["targets"])
        x = torch.tensor([[float(v) for v in r[:-n]] for r in rows])
        y = torch.tensor([[float(v) for v in r[-n:]] for r in rows])
    else:
        k = int(opts.get("label", -1))
        y = torch.tensor([int(r[k]) for r in rows])
        x = torch.tensor([[float(v) for i, v in enumerate(r) if i != k % len(r)] for r in rows])
    return x, y


def replay(d, model, prepare, make_opt, loss, input_shape, data_opts, epochs, batch, loop=None):
    """Train again from the files alone (init.safetensors with strict = false
    semantics, train.csv) and check that the result is expected.safetensors
    bit for bit: the files say what the generator computed."""
    init = read_safetensors(os.path.join(d, "init.safetensors"))
    own = model.state_dict()
    usable = {k: v for k, v in init.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(usable, strict=False)
    if prepare:
        prepare(model)
    x, y = read_data_csv(os.path.join(d, "train.csv"), data_opts)
    x = x.reshape((x.shape[0],) + tuple(input_shape))
    run_training(model, make_opt, loss, x, y, epochs, batch, loop)
    want = read_safetensors(os.path.join(d, "expected.safetensors"))
    got = model.state_dict()
    assert list(want) == list(got), (d, list(want), list(got))
    for k in want:
        assert want[k].dtype == got[k].dtype and torch.equal(want[k], got[k]), (d, k)


def sgd(**kw):
    return lambda params: torch.optim.SGD(params, **kw)


def adam(cls=torch.optim.Adam, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=None):
    kw = {} if weight_decay is None else {"weight_decay": weight_decay}
    return lambda params: cls(params, lr=lr, betas=(beta1, beta2), eps=eps, **kw)


def mlp(n_in, hidden, n_out, act=("relu", nn.ReLU), tail=()):
    return [L("linear(%d, %d)" % (n_in, hidden), nn.Linear(n_in, hidden)),
            L(act[0], act[1]()),
            L("linear(%d, %d)" % (hidden, n_out), nn.Linear(hidden, n_out))] + list(tail)


def train_cases():
    g = lambda name: torch.Generator().manual_seed(zlib.crc32(name.encode()))
    dsgd, dsgd_fn = "sgd(lr = 0.1)", sgd(lr=0.1)

    # ---- each loss with a plain sgd; 14 rows, batch 4: the last batch has 2
    train("loss_mse", [4], mlp(4, 6, 2, ("tanh", nn.Tanh)), "mse", dsgd, dsgd_fn,
          make_data(14, 4, targets=2, g=g("mse")), "targets = 2",
          "mse on two float targets")
    train("loss_l1", [4], mlp(4, 5, 3), "l1", dsgd, dsgd_fn,
          make_data(14, 4, targets=3, g=g("l1")), "targets = 3",
          "l1 on three float targets")
    train("loss_bce", [5], mlp(5, 4, 1, tail=[L("sigmoid", nn.Sigmoid())]), "bce", dsgd, dsgd_fn,
          make_data(14, 5, targets=1, kind="binary", g=g("bce")), "targets = 1",
          "bce on a model that ends in sigmoid; one 0/1 target")
    train("loss_bce_with_logits", [5], mlp(5, 6, 3), "bce_with_logits", dsgd, dsgd_fn,
          make_data(14, 5, targets=3, kind="mixed", g=g("bcel")), "targets = 3",
          "bce_with_logits, three targets, soft and hard")
    train("loss_cross_entropy", [6], mlp(6, 8, 4), "cross_entropy", dsgd, dsgd_fn,
          make_data(14, 6, label=4, g=g("ce")), "label = -1",
          "cross_entropy with a class index in the last column")
    train("loss_cross_entropy_label0", [6], mlp(6, 8, 4), "cross_entropy", dsgd, dsgd_fn,
          make_data(14, 6, label=4, g=g("ce0")), "label = 0",
          "cross_entropy with the class index in the FIRST column (label = 0)", label_col=0)
    train("loss_cross_entropy_probs", [6], mlp(6, 8, 4), "cross_entropy", dsgd, dsgd_fn,
          make_data(14, 6, targets=4, kind="prob", g=g("cep")), "targets = 4",
          "cross_entropy with probability-row targets (some one-hot)")
    train("loss_nll", [6], mlp(6, 8, 4, tail=[L("log_softmax", nn.LogSoftmax(dim=-1))]), "nll",
          dsgd, dsgd_fn, make_data(14, 6, label=4, g=g("nll")), "label = -1",
          "nll on a model that ends in log_softmax")

    # ---- each optimizer, same model and data
    opt_data = make_data(14, 6, label=3, g=g("opt"))
    for name, text, fn in [
            ("sgd", "sgd(lr = 0.1)", sgd(lr=0.1)),
            ("sgd_momentum", "sgd(lr = 0.1, momentum = 0.9)", sgd(lr=0.1, momentum=0.9)),
            ("sgd_dampening", "sgd(lr = 0.1, momentum = 0.9, dampening = 0.1)",
             sgd(lr=0.1, momentum=0.9, dampening=0.1)),
            ("sgd_nesterov", "sgd(lr = 0.1, momentum = 0.9, nesterov = true)",
             sgd(lr=0.1, momentum=0.9, nesterov=True)),
            ("sgd_weight_decay", "sgd(lr = 0.1, weight_decay = 0.01)", sgd(lr=0.1, weight_decay=0.01)),
            ("adam", "adam()", adam()),
            ("adam_weight_decay",
             "adam(lr = 0.01, beta1 = 0.8, beta2 = 0.99, eps = 1e-6, weight_decay = 0.05)",
             adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.05)),
            ("adamw", "adamw(lr = 0.01, weight_decay = 0.1)",
             adam(torch.optim.AdamW, lr=0.01, weight_decay=0.1)),
            ("adamw_default", "adamw(lr = 0.01)", adam(torch.optim.AdamW, lr=0.01))]:
        train("opt_" + name, [6], mlp(6, 8, 3), "cross_entropy", text, fn, opt_data, "label = -1",
              "optimizer %s (torch.optim semantics), cross_entropy" % text)

    # ---- the activations without a training case elsewhere
    train("act_silu", [5], mlp(5, 7, 3, ("silu", nn.SiLU)), "cross_entropy", dsgd, dsgd_fn,
          make_data(14, 5, label=3, g=g("silu")), "label = -1",
          "silu (nn.SiLU) trained: its gradient s * (1 + x * (1 - s))")
    train("act_elu", [5], mlp(5, 7, 3, ("elu(1.7)", lambda: nn.ELU(1.7))), "cross_entropy", dsgd,
          dsgd_fn, make_data(14, 5, label=3, g=g("elu")), "label = -1",
          "elu(1.7) (nn.ELU(alpha = 1.7), the argument given positionally) trained")
    train("act_softplus", [5],
          mlp(5, 7, 3, ("softplus(beta = 1.5, threshold = 1)", lambda: nn.Softplus(1.5, 1))),
          "cross_entropy", dsgd, dsgd_fn, make_data(14, 5, label=3, g=g("softplus")), "label = -1",
          "softplus(beta = 1.5, threshold = 1) trained: both branches of the gradient")

    # ---- batch norm in training mode: batch statistics, running stats updated
    train("batchnorm1d", [5],
          [L("linear(5, 6)", nn.Linear(5, 6)),
           L("batchnorm1d(6, momentum = 0.2)", nn.BatchNorm1d(6, momentum=0.2)),
           L("relu", nn.ReLU()), L("linear(6, 3)", nn.Linear(6, 3))],
          "cross_entropy", "sgd(lr = 0.1, momentum = 0.9)", sgd(lr=0.1, momentum=0.9),
          make_data(14, 5, label=3, g=g("bn")), "label = -1",
          "batchnorm1d trained: running_mean/var (unbiased variance, momentum 0.2)\n"
          "and num_batches_tracked (I64) are part of the saved state_dict;\n"
          "init holds non-trivial running statistics", setup=bn_setup)

    train("batchnorm2d", [2, 5, 4],
          [L("conv2d(2, 3, 3, padding = 1)", nn.Conv2d(2, 3, 3, padding=1)),
           L("batchnorm2d(3, eps = 1e-3, momentum = 0.3)", nn.BatchNorm2d(3, eps=1e-3, momentum=0.3)),
           L("relu", nn.ReLU()), L("avgpool2d(3, stride = 2, padding = 1)", nn.AvgPool2d(3, 2, 1)),
           L("flatten", nn.Flatten()), L("linear(18, 3)", nn.Linear(18, 3))],
          "cross_entropy", "sgd(lr = 0.1, momentum = 0.9)", sgd(lr=0.1, momentum=0.9),
          make_data(14, 40, label=3, g=g("bn2")), "label = -1",
          "batchnorm2d trained: statistics over batch, height and width; running\n"
          "stats with momentum 0.3; avgpool2d with padding in the backward pass",
          setup=bn_setup)
    train("batchnorm1d_cl", [3, 4],
          [L("batchnorm1d(3)", nn.BatchNorm1d(3)), L("softmax(dim = 1)", nn.Softmax(dim=1)),
           L("flatten", nn.Flatten()), L("linear(12, 2)", nn.Linear(12, 2))],
          "mse", "sgd(lr = 0.2)", sgd(lr=0.2),
          make_data(14, 12, targets=2, g=g("bn1cl")), "targets = 2",
          "batchnorm1d on [channels, length] samples (statistics over batch and\n"
          "length), then softmax over the channels (dim = 1), trained",
          setup=bn_setup)

    # ---- a small CNN, one epoch, 10 rows (batches 4, 4, 2)
    train("cnn", [1, 6, 6],
          [L("conv2d(1, 3, 3, padding = 1)", nn.Conv2d(1, 3, 3, padding=1)), L("relu", nn.ReLU()),
           L("maxpool2d(2)", nn.MaxPool2d(2)), L("flatten", nn.Flatten()),
           L("linear(27, 3)", nn.Linear(27, 3))],
          "cross_entropy", "sgd(lr = 0.05)", sgd(lr=0.05),
          make_data(10, 36, label=3, g=g("cnn")), "label = -1",
          "a small CNN trained for one epoch", epochs=1)

    # ---- fine-tuning: strict = false, a frozen body, a new head whose fresh
    # initialisation is the literal in the model; init's head has 5 outputs.
    head_w = [[0.3, -0.2, 0.1, 0.05], [-0.15, 0.25, -0.35, 0.2], [0.05, 0.1, 0.2, -0.3]]
    head_b = [0.01, -0.02, 0.03]

    def ft_init(model):
        t = collections.OrderedDict()
        t["0.weight"] = model[0].weight.detach().clone()
        t["0.bias"] = model[0].bias.detach().clone()
        t["head.weight"] = torch.randn(5, 4)        # another shape: skipped, warning
        t["head.bias"] = torch.randn(5)
        return t

    def ft_prepare(model):
        for p in model[0].parameters():
            p.requires_grad_(False)

    train("finetune", [6],
          [L("linear(6, 4)", nn.Linear(6, 4)), L("relu", nn.ReLU()),
           literal_linear(4, 3, head_w, head_b, label="head")],
          "cross_entropy", "sgd(lr = 0.1, momentum = 0.9)", sgd(lr=0.1, momentum=0.9),
          make_data(14, 6, label=3, g=g("ft")), "label = -1",
          "fine-tuning: init.safetensors has head.weight [5, 4] and head.bias [5],\n"
          "so with strict = false they are skipped (a warning each) and the head\n"
          "starts from its literal; layer 0 is frozen and must stay bit-identical",
          init_tensors=ft_init, prepare=ft_prepare,
          extra=("strict    = false", "freeze    = [0]"), exact=("0.weight", "0.bias"))

    # ---- freeze by name: a named layer, and an unnamed one by its
    # state_dict name ("2"); adam moves everything else.
    def freeze_fc_2(model):
        for i in (0, 2):
            for p in model[i].parameters():
                p.requires_grad_(False)

    train("freeze_names", [5],
          [L("linear(5, 6)", nn.Linear(5, 6), "fc"), L("relu", nn.ReLU()),
           L("linear(6, 6)", nn.Linear(6, 6)), L("tanh", nn.Tanh()),
           L("linear(6, 3)", nn.Linear(6, 3))],
          "cross_entropy", "adam(lr = 0.01)", adam(lr=0.01),
          make_data(14, 5, label=3, g=g("frz")), "label = -1",
          'freeze = ["fc", "2"]: the named layer and the unnamed layer 2 stay\n'
          "bit-identical; the last linear trains with adam",
          prepare=freeze_fc_2, extra=('freeze    = ["fc", "2"]',),
          exact=("fc.weight", "fc.bias", "2.weight", "2.bias"))


    # ---- a second audit's mixes: conv2d without bias (stride 2, padding 1)
    # on a non-square input, batchnorm2d, leaky_relu, maxpool2d and avgpool2d
    # with padding and stride != kernel, gelu, dropout(p = 0) as the identity,
    # sgd with nesterov and weight decay; 13 rows in batches of 5, 5, 3.
    train("conv_mix", [2, 9, 7],
          [L("conv2d(2, 4, 3, stride = 2, padding = 1, bias = false)",
             nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False)),
           L("batchnorm2d(4, momentum = 0.2)", nn.BatchNorm2d(4, momentum=0.2)),
           L("leaky_relu(0.2)", nn.LeakyReLU(0.2)),
           L("maxpool2d(3, stride = 2, padding = 1)", nn.MaxPool2d(3, stride=2, padding=1)),
           L("conv2d(4, 3, 3, padding = 2)", nn.Conv2d(4, 3, 3, padding=2)),
           L("gelu", nn.GELU()),
           L("avgpool2d(2, stride = 1, padding = 1)", nn.AvgPool2d(2, stride=1, padding=1)),
           L("flatten", nn.Flatten()), L("dropout(p = 0)", nn.Dropout(0.0)),
           L("linear(90, 5)", nn.Linear(90, 5))],
          "cross_entropy", "sgd(lr = 0.05, momentum = 0.9, nesterov = true, weight_decay = 0.01)",
          sgd(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
          make_data(13, 126, label=5, g=g("convmix")), "label = -1",
          "conv2d without bias, stride 2, padding 1, on a [2, 9, 7] input; batchnorm2d;\n"
          "leaky_relu(0.2); maxpool2d(3, 2, 1); conv2d padding 2; gelu; avgpool2d(2, 1, 1)\n"
          "(count_include_pad); dropout(p = 0) is the identity in training; nesterov sgd\n"
          "with weight decay; batches of 5, 5 and 3", batch=5, setup=bn_setup)
    train("softmax_chw_bce", [2, 6, 5],
          [L("conv2d(2, 3, [3, 2], stride = 2, padding = [1, 0])",
             nn.Conv2d(2, 3, (3, 2), stride=2, padding=(1, 0))),
           L("softmax(dim = 1)", nn.Softmax(dim=1)), L("flatten", nn.Flatten()),
           L("linear(18, 3)", nn.Linear(18, 3)), L("sigmoid", nn.Sigmoid())],
          "bce", "adam(lr = 0.02, beta1 = 0.7, beta2 = 0.95, eps = 1e-4, weight_decay = 0.03)",
          adam(lr=0.02, beta1=0.7, beta2=0.95, eps=1e-4, weight_decay=0.03),
          make_data(11, 60, targets=3, kind="mixed", g=g("smchw")), "targets = 3",
          "softmax over the channels of a [c, h, w] output, flatten, sigmoid and bce\n"
          "on soft and hard targets; adam with non-default betas, eps and weight decay",
          epochs=4)


# --------------------------------------------------------------- eval

def loop_cases():
    """LANGUAGE.md §10: each schedule per epoch and per step, a list
    (SequentialLR), onecycle's momentum and beta1 cycling, clip_grad_norm,
    label_smoothing. 14 rows in batches of 4: 4 steps per epoch."""
    g = lambda name: torch.Generator().manual_seed(zlib.crc32(name.encode()))
    data = make_data(14, 6, label=3, g=g("loop"))
    cases = [
        ("sched_steplr_epoch", 'steplr(2, gamma = 0.5)', [("steplr", 2, 0.5)], False, "sgd"),
        ("sched_steplr_step", 'steplr(3, gamma = 0.7, per = "step")', [("steplr", 3, 0.7)], True, "adam"),
        ("sched_cosine_epoch", 'cosine(4)', [("cosine", 4, None)], False, "sgd"),
        ("sched_cosine_step", 'cosine(10, eta_min = 0.001, per = "step")', [("cosine", 10, 0.001)], True,
         "adam"),
        ("sched_warmup_epoch", 'linear_warmup(3)', [("linear_warmup", 3, None)], False, "sgd"),
        ("sched_warmup_step", 'linear_warmup(5, start_factor = 0.1, per = "step")',
         [("linear_warmup", 5, 0.1)], True, "adam"),
        ("sched_onecycle_epoch", 'onecycle(0.2, 5)', [("onecycle", 5, 0.2)], False, "sgd"),
        ("sched_onecycle_step", 'onecycle(0.05, 20, per = "step")', [("onecycle", 20, 0.05)], True, "adam"),
        ("sched_onecycle_sgd_step", 'onecycle(0.3, 20, per = "step")', [("onecycle", 20, 0.3)], True, "sgd"),
        ("sched_sequential_step", '[linear_warmup(5, per = "step"), cosine(15, per = "step")]',
         [("linear_warmup", 5, None), ("cosine", 15, None)], True, "adam"),
        ("sched_sequential_epoch", '[linear_warmup(2), steplr(1, gamma = 0.8)]',
         [("linear_warmup", 2, None), ("steplr", 1, 0.8)], False, "sgd"),
    ]
    opts = {"sgd": ("sgd(lr = 0.1, momentum = 0.9)", sgd(lr=0.1, momentum=0.9)),
            "adam": ("adam(lr = 0.01)", adam(lr=0.01))}
    for name, text, parts, per_step, on in cases:
        train(name, [6], mlp(6, 8, 3), "cross_entropy", opts[on][0], opts[on][1], data, "label = -1",
              "schedule = %s with %s (torch.optim.lr_scheduler)" % (text, opts[on][0]), epochs=5,
              extra=["schedule  = %s" % text], loop={"schedule": parts, "per_step": per_step})
    train("clip_grad_norm", [6], mlp(6, 8, 3), "cross_entropy", "sgd(lr = 0.5, momentum = 0.9)",
          sgd(lr=0.5, momentum=0.9), data, "label = -1",
          "clip_grad_norm = 0.3 (torch.nn.utils.clip_grad_norm_ before every step)",
          extra=["clip_grad_norm = 0.3"], loop={"clip": 0.3})
    train("label_smoothing", [6], mlp(6, 8, 3), "cross_entropy(label_smoothing = 0.2)", "sgd(lr = 0.2)",
          sgd(lr=0.2), data, "label = -1", "cross_entropy(label_smoothing = 0.2)",
          loop={"smoothing": 0.2})
    train("loop_all", [6], mlp(6, 8, 3), "cross_entropy(label_smoothing = 0.1)", "adamw(lr = 0.02)",
          adam(torch.optim.AdamW, lr=0.02), data, "label = -1",
          "schedule list, clipping and label smoothing together", epochs=4,
          extra=['schedule  = [linear_warmup(4, per = "step"), onecycle(0.05, 12, per = "step")]',
                 "clip_grad_norm = 1.0"],
          loop={"schedule": [("linear_warmup", 4, None), ("onecycle", 12, 0.05)], "per_step": True,
                "clip": 1.0, "smoothing": 0.1})


def eval_case(name, input_shape, layers, loss, data, data_opts, comment, setup=None, acc=None):
    """acc(out, y): the accuracy a PyTorch user computes when the targets are
    not class indices (argmax for class indices is the default)."""
    seed_for("eval/" + name)
    model = sequential(layers)
    if setup:
        setup(model)
    model.eval()
    x, y = data
    with torch.no_grad():
        out = model(x.reshape((x.shape[0],) + tuple(input_shape)))
        lines = ["loss=%s" % fmt(LOSSES[loss](out, y).item())]
        if acc is not None:
            lines.append("accuracy=%s" % fmt(acc(out, y).item()))
        elif y.dtype == torch.int64:
            lines.append("accuracy=%s" % fmt((out.argmax(dim=1) == y).float().mean().item()))
    d = case_dir("eval", name)
    body = nnet_model(input_shape, layers) + "\n" + "\n".join([
        "train net {",
        '    data      = csv("data.csv", %s)' % data_opts,
        "    loss      = %s" % loss,
        "    optimizer = sgd(lr = 0.1)",
        "}"]) + "\n"
    write_nnet(d, comment, body)
    write_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
    write_csv(os.path.join(d, "data.csv"), data_rows(x, y))
    with open(os.path.join(d, "expected_eval.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    CASES.append("eval/" + name)


def eval_seq_smoothing_case():
    """eval of a sequence output [T, C] with integer targets [T] (csv
    targets = T, -100 ignored) and cross_entropy(label_smoothing = 0.3):
    PyTorch's F.cross_entropy(out.view(-1, C), y.view(-1), label_smoothing=0.3)."""
    name = "seq_label_smoothing"
    seed_for("eval/" + name)
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.e = nn.Embedding(6, 3)
            self.fc = nn.Linear(3, 5)

        def forward(self, i):
            return self.fc(self.e(i))
    model = Tagger().eval()
    x = torch.randint(0, 6, (9, 4), generator=g)
    y = torch.randint(0, 5, (9, 4), generator=g)
    y[0, 2] = -100
    y[3, :] = -100
    with torch.no_grad():
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, 5), y.reshape(-1), label_smoothing=0.3)
        keep = y != -100
        acc = (out.argmax(-1) == y)[keep].float().mean()
    d = case_dir("eval", name)
    write_nnet(d, "eval of a sequence tagger with label_smoothing: the smoothed loss over the\n"
               "positions not ignored (-100), as F.cross_entropy(..., label_smoothing=0.3)",
               "model net {\n    input idx [4] int\n    e  = embedding(6, 3)\n    fc = linear(3, 5)\n"
               "    forward {\n        return fc(e(idx))\n    }\n}\n\ntrain net {\n"
               '    data      = csv("data.csv", targets = 4)\n'
               "    loss      = cross_entropy(label_smoothing = 0.3)\n"
               "    optimizer = sgd(lr = 0.1)\n    batch     = 4\n}\n")
    write_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
    write_csv(os.path.join(d, "data.csv"), [[str(int(v)) for v in list(x[i]) + list(y[i])] for i in range(9)])
    with open(os.path.join(d, "expected_eval.txt"), "w") as f:
        f.write("loss=%s\naccuracy=%s\n" % (fmt(loss.item()), fmt(acc.item())))
    CASES.append("eval/" + name)


def eval_cases():
    g = lambda name: torch.Generator().manual_seed(zlib.crc32(name.encode()))
    # 12 rows, fewer than the default batch of 32: the mean over the file and
    # the mean of batch means coincide.
    eval_case("classifier", [6],
              [L("linear(6, 8)", nn.Linear(6, 8)), L("batchnorm1d(8)", nn.BatchNorm1d(8)),
               L("relu", nn.ReLU()), L("dropout", nn.Dropout()), L("linear(8, 3)", nn.Linear(8, 3))],
              "cross_entropy", make_data(12, 6, label=3, g=g("evc")), "label = -1",
              "eval: loss and accuracy in eval mode (running statistics, no dropout)",
              setup=bn_setup)
    eval_case("regression", [4], mlp(4, 5, 2, ("tanh", nn.Tanh)), "mse",
              make_data(12, 4, targets=2, g=g("evr")), "targets = 2",
              "eval of a regression: loss only")
    # 45 rows: more than one batch of 32, the last one partial; the loss is
    # the mean over all samples, not the mean of the batch means.
    eval_case("classifier_45", [6], mlp(6, 8, 4), "cross_entropy",
              make_data(45, 6, label=4, g=g("ev45")), "label = -1",
              "eval over 45 rows (batches of 32 and 13): loss is the mean over all samples")
    eval_case("bce", [6], mlp(6, 8, 1, tail=[L("sigmoid", nn.Sigmoid())]), "bce",
              make_data(45, 6, targets=1, kind="binary", g=g("evb")), "targets = 1",
              "bce with a 0/1 target column is a classification: accuracy of p > 0.5",
              acc=lambda o, y: ((o > 0.5).float() == y).float().mean())
    eval_case("bce_with_logits_multilabel", [6], mlp(6, 8, 3), "bce_with_logits",
              make_data(45, 6, targets=3, kind="binary", g=g("evbl")), "targets = 3",
              "bce_with_logits on three 0/1 targets (multi-label): accuracy of\n"
              "logit > 0 over every output, as ((out > 0) == y).float().mean()",
              acc=lambda o, y: ((o > 0).float() == y).float().mean())
    eval_case("cross_entropy_probs", [6], mlp(6, 8, 4), "cross_entropy",
              make_data(45, 6, targets=4, kind="prob", g=g("evcp")), "targets = 4",
              "cross_entropy with one-hot / probability rows: accuracy compares the\n"
              "argmax of the output with the argmax of the target row",
              acc=lambda o, y: (o.argmax(dim=1) == y.argmax(dim=1)).float().mean())
    # the train block's loss is the smoothed one: eval (and the validation loss,
    # and so early stopping) report it, as a PyTorch loop with one criterion does
    eval_case("label_smoothing", [6], mlp(6, 8, 4), "cross_entropy(label_smoothing = 0.2)",
              make_data(45, 6, label=4, g=g("evls")), "label = -1",
              "eval with cross_entropy(label_smoothing = 0.2): the smoothed loss, as\n"
              "F.cross_entropy(out, y, label_smoothing=0.2)")
    eval_case("label_smoothing_probs", [6], mlp(6, 8, 4), "cross_entropy(label_smoothing = 0.2)",
              make_data(45, 6, targets=4, kind="prob", g=g("evlsp")), "targets = 4",
              "eval with label_smoothing on probability rows: (1 - eps) t + eps / k",
              acc=lambda o, y: (o.argmax(dim=1) == y.argmax(dim=1)).float().mean())
    eval_seq_smoothing_case()


# --------------------------------------------------------------- main

# --------------------------------------------------------------- kernel values

SCHED_CASES = [
    # (nnet text, [(kind, n, a or None)], optimizer, steps)
    ("steplr(3, gamma = 0.5)", [("steplr", 3, 0.5)], "sgd", 12),
    ("steplr(4)", [("steplr", 4, None)], "adam", 13),
    ("cosine(10)", [("cosine", 10, None)], "sgd", 25),
    ("cosine(7, eta_min = 0.001)", [("cosine", 7, 0.001)], "adam", 20),
    ("linear_warmup(5)", [("linear_warmup", 5, None)], "sgd", 10),
    ("linear_warmup(4, start_factor = 0.25)", [("linear_warmup", 4, 0.25)], "adam", 8),
    ("onecycle(0.5, 20)", [("onecycle", 20, 0.5)], "sgd", 20),
    ("onecycle(0.01, 15)", [("onecycle", 15, 0.01)], "adam", 15),
    ("onecycle(0.1, 3)", [("onecycle", 3, 0.1)], "sgd", 3),
    ("[linear_warmup(5), cosine(20)]", [("linear_warmup", 5, None), ("cosine", 20, None)], "sgd", 30),
    ("[steplr(2, gamma = 0.9), onecycle(0.2, 10)]", [("steplr", 2, 0.9), ("onecycle", 10, 0.2)],
     "adam", 12),
    ("[cosine(4), linear_warmup(3), steplr(2)]",
     [("cosine", 4, None), ("linear_warmup", 3, None), ("steplr", 2, None)], "sgd", 14),
    ("[onecycle(0.3, 6), cosine(5, eta_min = 0.01)]",
     [("onecycle", 6, 0.3), ("cosine", 5, 0.01)], "sgd", 15),
]


def make_scheduler(opt, kind, n, a):
    S = torch.optim.lr_scheduler
    if kind == "steplr":
        return S.StepLR(opt, step_size=n, gamma=0.1 if a is None else a)
    if kind == "cosine":
        return S.CosineAnnealingLR(opt, T_max=n, eta_min=0 if a is None else a)
    if kind == "linear_warmup":
        return S.LinearLR(opt, start_factor=1 / n if a is None else a, end_factor=1.0, total_iters=n)
    return S.OneCycleLR(opt, max_lr=a, total_steps=n)


def schedule(opt, parts):
    """The train block's schedule as torch builds it: one scheduler, or a
    list as SequentialLR with the lengths of all but the last as milestones."""
    scheds = [make_scheduler(opt, *p) for p in parts]
    if len(scheds) == 1:
        return scheds[0]
    miles, at = [], 0
    for kind, n, _ in parts[:-1]:
        at += n
        miles.append(at)
    return torch.optim.lr_scheduler.SequentialLR(opt, scheds, milestones=miles)


def kernel_values():
    """sched.txt: per case the nnet text, the optimizer, and after
    construction and every step the group's lr and momentum (sgd) or beta1
    (adam), as exact hex floats. clip.txt and smooth.txt: inputs and
    PyTorch's results."""
    d = os.path.join(OUT, "kernels")
    os.makedirs(d)
    lines = ["# schedule | optimizer | steps | lr after 0..steps | momentum or beta1 after 0..steps"]
    for text, parts, optname, steps in SCHED_CASES:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = (torch.optim.SGD([p], lr=0.1, momentum=0.9) if optname == "sgd"
               else torch.optim.Adam([p], lr=0.01))
        sch = schedule(opt, parts)
        g = opt.param_groups[0]
        mom = lambda: g["momentum"] if optname == "sgd" else g["betas"][0]
        lrs, moms = [g["lr"]], [mom()]
        for _ in range(steps):
            opt.step()
            sch.step()
            lrs.append(g["lr"])
            moms.append(mom())
        lines.append("%s | %s | %d | %s | %s" % (text, optname, steps,
                     " ".join(float(v).hex() for v in lrs), " ".join(float(v).hex() for v in moms)))
    with open(os.path.join(d, "sched.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    seed_for("kernels/clip")
    lines = ["# max_norm | sizes | gradients (%.9g) | total norm | clipped gradients"]
    for max_norm in (0.5, 2.0, 100.0):
        sizes = [6, 1, 9, 4]
        gs = [torch.randn(n) * 0.7 for n in sizes]
        ps = [torch.nn.Parameter(torch.zeros(n)) for n in sizes]
        for pp, gg in zip(ps, gs):
            pp.grad = gg.clone()
        tot = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        flat = lambda ts: " ".join(fmt(v) for t in ts for v in t.tolist())
        lines.append("%s | %s | %s | %s | %s" % (fmt(max_norm), " ".join(map(str, sizes)), flat(gs),
                                                  fmt(float(tot)), flat([pp.grad for pp in ps])))
    with open(os.path.join(d, "clip.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    seed_for("kernels/smooth")
    lines = ["# eps | n k | logits | labels | loss | dloss/dlogits"]
    for eps, n, k in ((0.1, 5, 4), (0.3, 7, 10), (0.0, 3, 3), (0.05, 20, 70)):
        x = (torch.randn(n, k) * 2).requires_grad_()
        y = torch.randint(0, k, (n,))
        loss = F.cross_entropy(x, y, label_smoothing=eps)
        loss.backward()
        lines.append("%s | %d %d | %s | %s | %s | %s" % (
            fmt(eps), n, k, " ".join(fmt(v) for v in x.detach().flatten().tolist()),
            " ".join(str(int(v)) for v in y.tolist()), fmt(float(loss)),
            " ".join(fmt(v) for v in x.grad.flatten().tolist())))
    with open(os.path.join(d, "smooth.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    CASES.append("kernels/sched.txt, clip.txt, smooth.txt")


def self_check():
    """The writer round-trips and the slide network gives the slide's numbers."""
    exp = os.path.join(OUT, "infer", "slide", "expected.csv")
    first = [float(v) for v in open(exp).readline().split(",")]
    assert abs(first[0] - 0.9696) < 1e-6 and abs(first[1] - 0.7527) < 1e-6, first
    prod = os.path.join(OUT, "infer", "slide_product", "expected.csv")
    first = [float(v) for v in open(prod).readline().split(",")]
    assert abs(first[0] - 0.9696) < 1e-6 and abs(first[1] - 0.7527) < 1e-6, first
    st = read_safetensors(os.path.join(OUT, "train", "batchnorm1d", "expected.safetensors"))
    assert st["1.num_batches_tracked"].dtype == torch.int64
    assert int(st["1.num_batches_tracked"]) == 10 + 3 * 4, st["1.num_batches_tracked"]
    ft_i = read_safetensors(os.path.join(OUT, "train", "finetune", "init.safetensors"))
    ft_e = read_safetensors(os.path.join(OUT, "train", "finetune", "expected.safetensors"))
    assert torch.equal(ft_i["0.weight"], ft_e["0.weight"]) and torch.equal(ft_i["0.bias"], ft_e["0.bias"])
    assert list(ft_e["head.weight"].shape) == [3, 4]


def main():
    for k in KINDS:
        shutil.rmtree(os.path.join(OUT, k), ignore_errors=True)
    infer_cases()
    fixtures_layers.infer_cases(sys.modules[__name__])
    train_cases()
    fixtures_layers.train_cases(sys.modules[__name__])
    loop_cases()
    eval_cases()
    seq_fixtures.seq_cases(sys.modules[__name__])
    fixtures_tensor.cases(sys.modules[__name__])
    kernel_values()
    self_check()
    import make_graph_fixtures      # graph models (LANGUAGE.md §7-§8): their own generator
    make_graph_fixtures.main()
    import make_tie_fixtures        # weight tying (LANGUAGE.md §8)
    make_tie_fixtures.main()
    import make_seq2_fixtures       # attention, rnn states, sequence losses, the GPT's ten steps
    make_seq2_fixtures.main()
    import make_probe_fixtures      # an outside probe's combinations of layers, optimizers, schedules
    make_probe_fixtures.main()
    import fixtures_cnn             # the CNN examples (infer/example_*, train/example_digits_resnet)
    fixtures_cnn.main()
    print("%d fixture cases written under %s" % (len(CASES), os.path.relpath(OUT)))
    for c in CASES:
        print("  " + c)


if __name__ == "__main__":
    sys.exit(main())
