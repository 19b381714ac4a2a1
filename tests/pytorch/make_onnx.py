#!/usr/bin/python3
"""make_onnx.py — ONNX fixtures for `nnc import` (tests/data/onnx), exported
with torch.onnx.export by Debian's python3-torch and python3-onnx:

  <case>/<case>.onnx   the exported model (batch dimension dynamic)
  <case>/input.csv     one sample per row, flattened
  <case>/expected.csv  PyTorch's outputs for those rows (%.9g)

Cases: an MLP (nn.Sequential: a chain, imported as a sequence), a CNN
(conv, batch norm, pooling, flatten, linear), a residual block (a graph:
forward with `h + x`), and an MLP whose flatten is x.view(x.size(0), -1)
(the Shape/Gather/Unsqueeze/Concat/Reshape chain folded at import), and a
LayerNorm and GELU written out as opset 13 nodes (imported as layernorm and
gelu); a CNN upsampling bilinearly (Resize mode linear, half_pixel and
align_corners); LSTM and GRU models (batch_first, 1 and 2 layers, bidirectional or
not) classifying their last step or final state, or returning the sequence
and the final states (torch's h_n compared with the batch moved first).
Run: /usr/bin/python3 tests/pytorch/make_onnx.py [CASE...] (only those
cases, "bad" the refused models, when named; deterministic: each case
seeds torch with its own number). The CSVs are checked by
tests/run_onnx_models.sh at abs 1e-4 + rel 1e-4.
"""
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "onnx")


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.conv2(h) + x)
        return self.fc(torch.flatten(h, 1))


class ViewMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc2(torch.tanh(self.fc1(x))), dim=1)


class LnGelu(nn.Module):
    """LayerNorm and GELU, which opset 13 has no node for: torch.onnx.export
    writes them out (ReduceMean/Sub/Pow/Sqrt/Div, Div/Erf/Add/Mul), and nnc
    imports them as layernorm and gelu."""
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.ln = nn.LayerNorm(16)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(self.act(self.ln(self.fc1(x))))


class RNNHead(nn.Module):
    """nn.LSTM / nn.GRU (batch_first) and a linear head: on the last time
    step of the output sequence ("seq"), on the last layer's final state h[-1]
    ("state"), on the one layer's h.squeeze(0) ("squeeze"); or no head: the
    sequence alone ("out", a chain), or the sequence and the final states
    ("all"; torch's h_n [layers*dirs, batch, H] is nnc's with the batch
    first)."""
    def __init__(self, kind, layers, bi, head):
        super().__init__()
        self.rnn = getattr(nn, kind)(3, 5, num_layers=layers, batch_first=True,
                                     bidirectional=bi)
        self.head = head
        self.fc = nn.Linear(5 * (2 if bi and head == "seq" else 1), 4)

    def forward(self, x):
        out, h = self.rnn(x)
        if self.head == "seq":
            return self.fc(out[:, -1])
        if self.head == "out":
            return out
        if self.head == "squeeze":
            return self.fc(h.squeeze(0))
        if self.head == "state":
            return self.fc((h[0] if isinstance(h, tuple) else h)[-1])
        return (out,) + (h if isinstance(h, tuple) else (h,))


def rnn_cases():
    yield "lstm_seq", 7, RNNHead("LSTM", 1, False, "seq"), (6, 3)
    yield "lstm_2l_bi_state", 8, RNNHead("LSTM", 2, True, "state"), (6, 3)
    yield "lstm_2l_all", 9, RNNHead("LSTM", 2, False, "all"), (4, 3)
    yield "gru_bi_seq", 10, RNNHead("GRU", 1, True, "seq"), (5, 3)
    yield "gru_2l_bi_all", 11, RNNHead("GRU", 2, True, "all"), (4, 3)
    yield "gru_squeeze", 14, RNNHead("GRU", 1, False, "squeeze"), (5, 3)
    yield "gru_chain", 12, RNNHead("GRU", 1, False, "out"), (5, 3)


def cases():
    yield "mlp", 1, nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16),
                                  nn.Sigmoid(), nn.Linear(16, 4)), (10,)
    yield "cnn_folded", 5, nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Dropout(0.2),
                                         nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)), (1, 6, 6)
    yield "cnn", 2, nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, stride=2), nn.ReLU(),
                                  nn.Flatten(), nn.Linear(8, 10)), (1, 8, 8)
    yield "residual", 3, Residual(), (4, 6, 6)
    yield "view_mlp", 4, ViewMLP(), (3, 4)
    yield "ln_gelu", 6, LnGelu(), (8,)
    yield "upsample_bilinear", 13, nn.Sequential(
        nn.Conv2d(2, 3, 1), nn.Upsample(scale_factor=2, mode="bilinear"), nn.ReLU(),
        nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True)), (2, 4, 5)
    yield from rnn_cases()


def randomise_bn(m, g):
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            with torch.no_grad():
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
                mod.weight.copy_(torch.rand(mod.num_features, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(mod.num_features, generator=g) * 0.1)


def export_opts(name):
    # cnn and residual keep their BatchNormalization nodes (PRESERVE, no
    # folding); the others are exported as torch.onnx.export does by default.
    if name in ("cnn", "residual"):
        return dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    return dict(do_constant_folding=True)


def write_csv(path, a):
    with open(path, "w") as f:
        for row in a.reshape(a.shape[0], -1):
            f.write(",".join("%.9g" % v for v in row) + "\n")


def bad_models():
    """Models nnc must refuse, built with onnx.helper: an operator nnc lacks
    (named node), an attribute nnc lacks, and a dynamic dimension other than
    the batch."""
    from onnx import TensorProto, helper
    d = os.path.join(OUT, "bad")
    os.makedirs(d, exist_ok=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    g = helper.make_graph([helper.make_node("NonZero", ["x"], ["y"], name="nz1")],
                          "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(d, "unsupported_op.onnx"))
    g = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1,
                                            foo=3)], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(d, "unsupported_attr.onnx"))
    xd = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "seq"])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g", [xd], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(d, "dynamic.onnx"))
    # recurrent nodes nnc's lstm/gru cannot run: an LSTM with clip, a GRU with
    # linear_before_reset = 0 (ONNX's default, not PyTorch's)
    ys = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1, "N", 4])
    for op, gates, name, attrs in (("LSTM", 4, "lstm_clip", dict(clip=1.0)),
                                   ("GRU", 3, "gru_lbr0", dict(linear_before_reset=0))):
        w = helper.make_tensor("W", TensorProto.FLOAT, [1, gates * 4, 3], [0.1] * gates * 12)
        r = helper.make_tensor("R", TensorProto.FLOAT, [1, gates * 4, 4], [0.1] * gates * 16)
        node = helper.make_node(op, ["xt", "W", "R"], ["y"], name="rnn1", hidden_size=4,
                                **attrs)
        tr = helper.make_node("Transpose", ["x"], ["xt"], name="t", perm=[1, 0, 2])
        xb = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3])
        g = helper.make_graph([tr, node], "g", [xb], [ys], initializer=[w, r])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
                  os.path.join(d, name + ".onnx"))
    # a Transpose moving the batch to dimension 1, returned: nnc keeps the
    # batch first (only LSTM/GRU final states are returned with it moved)
    xb = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3])
    yb = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, "N", 3])
    g = helper.make_graph([helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[1, 0, 2])],
                          "g", [xb], [yb])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
              os.path.join(d, "batch_moved.onnx"))


def main():
    only = sys.argv[1:]     # case names: (re)export those only
    if not only:
        shutil.rmtree(OUT, ignore_errors=True)
        os.makedirs(OUT)
    for name, seed, model, shape in cases():
        if not only or name in only:
            shutil.rmtree(os.path.join(OUT, name), ignore_errors=True)
            export_case(name, seed, model, shape)
    if not only or "bad" in only:
        bad_models()


def export_case(name, seed, model, shape):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    randomise_bn(model, g)
    model.eval()
    x = torch.randn((5,) + shape, generator=g)
    d = os.path.join(OUT, name)
    os.makedirs(d)
    path = os.path.join(d, name + ".onnx")
    with torch.no_grad():
        y = model(x)
    # several outputs (an RNN's sequence and final states): y, h, c; the
    # final states [layers*dirs, batch, H] are compared batch first
    ys = list(y) if isinstance(y, tuple) else [y]
    names = ["y", "h", "c"][:len(ys)]
    ys = [t.transpose(0, 1) if k else t for k, t in enumerate(ys)] if len(ys) > 1 else ys
    torch.onnx.export(model, x[:1], path, input_names=["x"], output_names=names,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                      opset_version=13, **export_opts(name))
    onnx.checker.check_model(onnx.load(path))
    write_csv(os.path.join(d, "input.csv"), x.numpy())
    write_csv(os.path.join(d, "expected.csv"),
              np.concatenate([t.reshape(t.shape[0], -1).numpy() for t in ys], axis=1))
    print(name, [n.op_type for n in onnx.load(path).graph.node])


if __name__ == "__main__":
    main()
