"""PyTorch fixtures of the tensor ops of version 2 (LANGUAGE.md §7, §9) in
graph models: the operators + - * / @ with broadcasting and numbers,
matmul, cat, split/chunk (slice), transpose, permute, reshape, flatten,
mean, sum, softmax/log_softmax on any dim and dropout as functions, each in
inference and in training (a few SGD steps). make_fixtures.py calls
cases() with itself; the cases use its helpers (seed_for, case_dir,
write_nnet, ...) and are written like its own, into the same folders,
named tensor_*. Alone,

    /usr/bin/python3 tests/pytorch/fixtures_tensor.py

rewrites only these cases (their folders are deleted first), leaving every
other fixture as it is.

A case is the .nnet text of the model (inputs, declared layers, forward)
next to the torch.nn.Module that computes the same thing, its submodules
named as the declared layers so that the state_dicts agree. Several inputs
are read from one CSV row in declaration order, several outputs printed
in return order, and training takes the loss on the first output."""
import collections
import copy
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

fx = None   # make_fixtures, set by cases()


def nnet_text(inputs, decls, forward):
    lines = ["model net {"]
    lines += ["    input %s [%s]" % (k, ", ".join(str(d) for d in s)) for k, s in inputs]
    lines += ["    " + d for d in decls]
    lines += ["    forward {"] + ["        " + s for s in forward] + ["    }", "}"]
    return "\n".join(lines) + "\n"


def reset(model):
    for m in model.modules():
        if m is not model and hasattr(m, "reset_parameters"):
            m.reset_parameters()


def rows(ts):
    """One CSV row per sample: the tensors' values one after the other."""
    n = ts[0].shape[0]
    flat = torch.cat([t.detach().reshape(n, -1).float() for t in ts], dim=1)
    return [[fx.fmt(v) for v in r] for r in flat.tolist()]


def as_tuple(y):
    return y if isinstance(y, tuple) else (y,)


def infer(name, inputs, decls, forward, model, comment, n=5):
    fx.seed_for("infer/" + name)
    reset(model)
    model.eval()
    xs = [fx.make_inputs(n, s) for _, s in inputs]
    with torch.no_grad():
        ys = as_tuple(model(*xs))
    d = fx.case_dir("infer", name)
    fx.write_nnet(d, comment, nnet_text(inputs, decls, forward))
    fx.write_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
    fx.write_csv(os.path.join(d, "input.csv"), rows(xs))
    fx.write_csv(os.path.join(d, "expected.csv"), rows(ys))
    # replay from the files alone
    again = copy.deepcopy(model)
    again.load_state_dict(fx.read_safetensors(os.path.join(d, "weights.safetensors")), strict=True)
    vals = torch.tensor([[float(v) for v in line.split(",")] for line in open(os.path.join(d, "input.csv"))])
    xs2, k = [], 0
    for _, s in inputs:
        m = 1
        for v in s:
            m *= v
        xs2.append(vals[:, k:k + m].reshape((n,) + tuple(s)))
        k += m
    with torch.no_grad():
        assert rows(as_tuple(again(*xs2))) == rows(ys), d
    fx.CASES.append("infer/" + name)


def train(name, inputs, decls, forward, model, comment, rows_n=10, epochs=2, batch=4, lr=0.02):
    """SGD on mse of the first output against random targets, batches in
    file order (the last one partial), as the nnc program trains."""
    fx.seed_for("train/" + name)
    reset(model)
    init = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    g = torch.Generator().manual_seed(fx.zlib.crc32(name.encode()))
    xs = [torch.randn((rows_n,) + tuple(s), generator=g) for _, s in inputs]
    model.eval()    # the shape of the first output (batch norm's statistics untouched)
    with torch.no_grad():
        out0 = as_tuple(model(*[x[:1] for x in xs]))[0]
    k = out0[0].numel()
    y = torch.randn(rows_n, k, generator=g)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for b in range(0, rows_n, batch):
            opt.zero_grad()
            out = as_tuple(model(*[x[b:b + batch] for x in xs]))[0]
            loss = F.mse_loss(out.reshape(out.shape[0], -1), y[b:b + batch])
            assert torch.isfinite(loss), (name, loss)
            loss.backward()
            opt.step()
    d = fx.case_dir("train", name)
    body = nnet_text(inputs, decls, forward) + "\n" + fx.nnet_train("targets = %d" % k, "mse",
                                                                     "sgd(lr = %s)" % lr, epochs, batch)
    fx.write_nnet(d, comment, body)
    fx.write_safetensors(os.path.join(d, "init.safetensors"), init)
    fx.write_safetensors(os.path.join(d, "expected.safetensors"), model.state_dict())
    fx.write_csv(os.path.join(d, "train.csv"), [r + [fx.fmt(v) for v in t]
                                                for r, t in zip(rows(xs), y.tolist())])
    fx.CASES.append("train/" + name)


# ------------------------------------------------------------------ models

class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.conv2(h) + x)
        return self.fc(torch.mean(h, dim=[2, 3]))


RESIDUAL = (["conv1 = conv2d(4, 4, 3, padding = 1, bias = false)", "bn1 = batchnorm2d(4)",
             "conv2 = conv2d(4, 4, 3, padding = 1)", "fc = linear(4, 3)"],
            ["h = relu(bn1(conv1(x)))", "h = relu(conv2(h) + x)", "return fc(mean(h, [2, 3]))"])


class Arith(nn.Module):
    def __init__(self):
        super().__init__()
        self.fa = nn.Linear(4, 4)
        self.fb = nn.Linear(4, 1)

    def forward(self, x, s):
        a, b = self.fa(x), self.fb(x)            # [B, 3, 4], [B, 3, 1]
        c = (a + b) * s - a / (b * b + 1.0)      # s: [B, 1, 4]
        d = 2.0 - a * 0.5 + 3 / (a * a + 1.0) - b / 4
        return c - d, -a + s, s - b


ARITH = (["fa = linear(4, 4)", "fb = linear(4, 1)"],
         ["a = fa(x)", "b = fb(x)", "c = (a + b) * s - a / (b * b + 1.0)",
          "d = 2.0 - a * 0.5 + 3 / (a * a + 1.0) - b / 4", "return c - d, -a + s, s - b"])


class Matmul(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(6, 4)
        self.k = nn.Linear(6, 4)
        self.v = nn.Linear(6, 5)

    def forward(self, x, w, u):
        q, k, v = self.q(x), self.k(x), self.v(x)        # [B, 2, 3, 4/4/5]
        att = torch.softmax(q @ k.transpose(2, 3) / 2.0, dim=-1)
        o = torch.matmul(att, v)                          # [B, 2, 3, 5]
        m = o @ w                                         # w: [B, 1, 5, 2] broadcast
        vec = torch.matmul(u.unsqueeze(1), w[:, 0]).squeeze(1)   # per sample [5] @ [5, 2]
        return m, vec, torch.matmul(w[:, 0].transpose(1, 2), u.unsqueeze(2)).squeeze(2)


MATMUL = (["q = linear(6, 4)", "k = linear(6, 4)", "v = linear(6, 5)"],
          ["att = softmax(q(x) @ transpose(k(x), 2, 3) / 2.0, -1)", "o = matmul(att, v(x))",
           "w0 = reshape(w, [5, 2])", "return o @ w, u @ w0, matmul(transpose(w0, 1, 2), u)"])


class Movement(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 1)
        self.c2 = nn.Conv2d(3, 2, 3, padding=1)

    def forward(self, x):
        a, b = self.c1(x), self.c2(x)                     # [B, 4, 5, 6], [B, 2, 5, 6]
        h = torch.cat([a, b, a], dim=1)                   # [B, 10, 5, 6]
        p, q = torch.split(h, 5, dim=1)
        r1, r2, r3 = torch.chunk(h, 3, dim=-1)
        t = torch.transpose(p - q, 1, 3)                  # [B, 6, 5, 5]
        u = t.permute(0, 2, 3, 1)                         # [B, 5, 5, 6]
        w = u.reshape(u.shape[0], 25, -1)                 # [B, 25, 6]
        f = torch.flatten(torch.cat([r1, r3], -1), start_dim=2)   # [B, 10, 20]
        z = torch.sum(r2, dim=[1, -1], keepdim=True) + torch.mean(w, -1).sum(1).reshape(-1, 1, 1, 1)
        return w, f, z


MOVEMENT = (["c1 = conv2d(3, 4, 1)", "c2 = conv2d(3, 2, 3, padding = 1)"],
            ["a = c1(x)", "b = c2(x)", "h = cat([a, b, a], 1)", "p, q = split(h, 5, 1)",
             "r1, r2, r3 = chunk(h, 3, -1)", "t = transpose(p - q, 1, 3)", "u = permute(t, [0, 2, 3, 1])",
             "w = reshape(u, [25, -1])", "f = flatten(cat([r1, r3], -1), start_dim = 2)",
             "z = sum(r2, [1, -1], keepdim = true) + reshape(sum(mean(w, -1), 1), [1, 1, 1])",
             "return w, f, z"])


class Softmaxes(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 5)

    def forward(self, x):
        h = F.dropout(self.fc(x), 0.3, self.training)     # [B, 3, 4, 5]
        return (F.softmax(h, dim=1), F.log_softmax(h, dim=2), F.softmax(h, dim=-1),
                F.log_softmax(h, dim=-3))


SOFTMAXES = (["fc = linear(5, 5)"],
             ["h = dropout(fc(x), 0.3)",
              "return softmax(h, 1), log_softmax(h, 2), softmax(h, -1), log_softmax(h, -3)"])


class Chain(nn.Module):
    """One input, one output (the LLVM backend's fixture too)."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 5)

    def forward(self, x):
        h = self.fc(x)                                    # [B, 3, 4, 5]
        a = torch.cat([h, h * 2], 2)                      # [B, 3, 8, 5]
        p = a.transpose(1, 3).permute(0, 2, 1, 3)         # [B, 8, 5, 3]
        s1, s2 = torch.chunk(p, 2, 1)
        r = (s1 @ s2.transpose(2, 3)).reshape(x.shape[0], 20, 5)
        return r.sum(-1) / 3 - r.mean(2) + 1


CHAIN = (["fc = linear(5, 5)"],
         ["h = fc(x)", "a = cat([h, h * 2], 2)", "p = permute(transpose(a, 1, 3), [0, 2, 1, 3])",
          "s1, s2 = chunk(p, 2, 1)", "r = reshape(s1 @ transpose(s2, 2, 3), [20, 5])",
          "return sum(r, -1) / 3 - mean(r, 2) + 1"])


class Mlp2(nn.Module):
    """For training: operators, matmul, cat, slice, transpose and sum on the
    loss path, two inputs."""
    def __init__(self):
        super().__init__()
        self.fa = nn.Linear(4, 6)
        self.fb = nn.Linear(3, 6)
        self.head = nn.Linear(12, 4)

    def forward(self, x, z):
        a = torch.tanh(self.fa(x))                        # [B, 2, 6]
        b = torch.tanh(self.fb(z))                        # [B, 1, 6]
        g = a * b + a / 2 - 1                             # broadcast over dim 1
        m = g @ g.transpose(1, 2)                         # [B, 2, 2]
        h = torch.cat([g, torch.sigmoid(b) - a], dim=-1)  # [B, 2, 12]
        s, t = torch.split(h, [1, 1], dim=1)
        y = self.head((s * t).reshape(s.shape[0], -1)) + m.sum(-1).sum(-1, keepdim=True) * 0.1
        return y


MLP2 = (["fa = linear(4, 6)", "fb = linear(3, 6)", "head = linear(12, 4)"],
        ["a = tanh(fa(x))", "b = tanh(fb(z))", "g = a * b + a / 2 - 1", "m = g @ transpose(g, 1, 2)",
         "h = cat([g, sigmoid(b) - a], -1)", "s, t = split(h, [1, 1], 1)",
         "return head(reshape(s * t, [12])) + sum(sum(m, -1), -1, keepdim = true) * 0.1"])


class Conv3(nn.Module):
    """For training: permute, mean, flatten(start_dim) and a residual."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.fc = nn.Linear(15, 2)

    def forward(self, x):
        h = self.conv(x)                                  # [B, 3, 4, 5]
        h = torch.relu(h) + h.mean(dim=1, keepdim=True)
        p = h.permute(0, 2, 1, 3)                         # [B, 4, 3, 5]
        return self.fc(torch.flatten(p, start_dim=2)).sum(1)


CONV3 = (["conv = conv2d(2, 3, 3, padding = 1)", "fc = linear(15, 2)"],
         ["h = conv(x)", "h = relu(h) + mean(h, 1, keepdim = true)", "p = permute(h, [0, 2, 1, 3])",
          "return sum(fc(flatten(p, start_dim = 2)), 1)"])


def cases(mod):
    """Write every case with make_fixtures' helpers (mod: that module)."""
    global fx
    fx = mod
    infer("tensor_residual", [("x", [4, 5, 5])], *RESIDUAL, Residual(),
          "a residual block: relu(conv2(h) + x), then the global average pool\n"
          "mean(h, [2, 3]) before a linear head")
    infer("tensor_arith", [("x", [3, 4]), ("s", [1, 4])], *ARITH, Arith(),
          "+ - * / between values with broadcasting ([3, 4] with [3, 1] and [1, 4]),\n"
          "with numbers on either side, unary minus; three outputs, two inputs")
    infer("tensor_matmul", [("x", [2, 3, 6]), ("w", [1, 5, 2]), ("u", [5])], *MATMUL, Matmul(),
          "attention-shaped batched matmul ([2, 3, 4] @ [2, 4, 3]), a broadcast of the\n"
          "leading dim ([2, 3, 5] @ [1, 5, 2]), and 1-D operands on either side (per sample)")
    infer("tensor_movement", [("x", [3, 5, 6])], *MOVEMENT, Movement(),
          "cat on dim 1, split and chunk (slices), transpose, permute, reshape with -1,\n"
          "flatten(start_dim = 2), sum over [1, -1] with keepdim, mean on -1", n=4)
    infer("tensor_softmax_dims", [("x", [3, 4, 5])], *SOFTMAXES, Softmaxes(),
          "softmax and log_softmax on every dim of a [3, 4, 5] sample, after\n"
          "dropout as a function (the identity in inference)")
    infer("tensor_chain", [("x", [3, 4, 5])], *CHAIN, Chain(),
          "one input, one output: cat, transpose, permute, chunk, matmul, reshape,\n"
          "sum and mean, scalar operators")
    train("tensor_mlp2", [("x", [2, 4]), ("z", [1, 3])], *MLP2, Mlp2(),
          "two inputs; broadcast operators, matmul, cat, split, reshape and sum\n"
          "on the loss path: SGD, 2 epochs of 3 batches")
    train("tensor_conv3", [("x", [2, 4, 5])], *CONV3, Conv3(),
          "a channel-broadcast residual (relu(h) + mean(h, 1, keepdim)), permute,\n"
          "flatten(start_dim = 2), sum: SGD, 2 epochs")
    train("tensor_residual", [("x", [4, 5, 5])], *RESIDUAL, Residual(),
          "the residual block trained (batch norm in train mode, the add's gradient\n"
          "to both branches, the mean's to every position)", rows_n=8)


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_fixtures
    global fx
    fx = make_fixtures
    for kind in ("infer", "train"):
        d = os.path.join(fx.OUT, kind)
        if os.path.isdir(d):
            for c in os.listdir(d):
                if c.startswith("tensor_"):
                    shutil.rmtree(os.path.join(d, c))
    cases(make_fixtures)
    print("%d tensor fixture cases written under %s" % (len(fx.CASES), os.path.relpath(fx.OUT)))


if __name__ == "__main__":
    sys.exit(main())
