"""PyTorch-agreement fixtures of graph models (LANGUAGE.md §7-§8): forward
blocks, blocks, sequential, several inputs and outputs.

    /usr/bin/python3 tests/pytorch/make_graph_fixtures.py

Writes tests/fixtures/infer/graph_* and tests/fixtures/train/graph_* in the
formats of make_fixtures.py (which calls this module after it clears the
kind folders, so a full regeneration keeps these cases). Each case is the
.nnet text next to the equivalent torch.nn.Module; loading the PyTorch
state_dict strictly into `nnc build --weights` checks the parameter names
(`layer1.0.conv1.weight`, `layer2.0.downsample.1.running_var`). Several
inputs are read from one CSV row one after the other, several outputs are
printed one after the other (§7); training takes the loss on the first
output.
"""
import collections
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

CASES = []


def rows_of(tensors):
    """One CSV row per sample: the tensors' values one after the other."""
    flat = [t.detach().reshape(t.shape[0], -1).to(torch.float32) for t in tensors]
    return [[mf.fmt(v) for v in row] for row in torch.cat(flat, 1).tolist()]


def outputs(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def infer(name, nnet, module, shapes, comment, n=4, setup=None):
    mf.seed_for("infer/" + name)
    model = module()
    if setup:
        setup(model)
    model.eval()
    xs = [mf.make_inputs(n, s) for s in shapes]
    with torch.no_grad():
        ys = outputs(model(*xs))
    d = mf.case_dir("infer", name)
    mf.write_nnet(d, comment, nnet)
    mf.write_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
    mf.write_csv(os.path.join(d, "input.csv"), rows_of(xs))
    mf.write_csv(os.path.join(d, "expected.csv"), rows_of(ys))
    CASES.append("infer/" + name)


def train(name, nnet, module, shapes, classes, comment, rows=12, epochs=2, batch=4, lr=0.1, setup=None,
          adamw=False):
    """cross_entropy on the first output, SGD (or AdamW, its default weight
    decay 0.01), batches in file order."""
    mf.seed_for("train/" + name)
    model = module()
    if setup:
        setup(model)
    init = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    g = torch.Generator().manual_seed(5)
    xs = [torch.randn((rows,) + tuple(s), generator=g) for s in shapes]
    y = torch.randint(0, classes, (rows,), generator=g)
    y[:classes] = torch.arange(classes)
    if adamw:
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for b in range(0, rows, batch):
            opt.zero_grad()
            out = outputs(model(*[x[b:b + batch] for x in xs]))[0]
            F.cross_entropy(out, y[b:b + batch]).backward()
            opt.step()
    d = mf.case_dir("train", name)
    mf.write_nnet(d, comment, nnet + "\n" + mf.nnet_train("label = -1", "cross_entropy",
                                                          ("adamw" if adamw else "sgd") + "(lr = %g)" % lr,
                                                          epochs, batch))
    mf.write_safetensors(os.path.join(d, "init.safetensors"), init)
    mf.write_safetensors(os.path.join(d, "expected.safetensors"), model.state_dict())
    data = rows_of(xs)
    mf.write_csv(os.path.join(d, "train.csv"), [r + ["%d" % int(y[i])] for i, r in enumerate(data)])
    CASES.append("train/" + name)


def bn_all(model):
    g = torch.Generator().manual_seed(7)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            mf.set_bn(m, g)


# ---------------------------------------------------------------- models

TWO_IO = """model net {
    input x [6]
    input y [4]
    fx   = linear(6, 5)
    fy   = linear(4, 3)
    head = linear(5, 2)
    forward {
        a = relu(fx(x))
        b = tanh(fy(y))
        return head(a), b, softmax(a, dim = 1)
    }
}
"""


class TwoIO(nn.Module):
    def __init__(self):
        super().__init__()
        self.fx = nn.Linear(6, 5)
        self.fy = nn.Linear(4, 3)
        self.head = nn.Linear(5, 2)

    def forward(self, x, y):
        a = F.relu(self.fx(x))
        return self.head(a), torch.tanh(self.fy(y)), F.softmax(a, dim=1)


SHARED = """model net {
    input x [5]
    fc  = linear(5, 5)
    out = linear(5, 3)
    forward {
        h = sigmoid(fc(x))
        h = tanh(fc(h))
        return out(h)
    }
}
"""


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 5)
        self.out = nn.Linear(5, 3)

    def forward(self, x):
        h = torch.sigmoid(self.fc(x))
        return self.out(torch.tanh(self.fc(h)))


# torchvision-style names: blocks in sequentials, a downsample sequential.
BLOCKS = """block cbr(cin, cout, stride = 1) {
    conv2d(cin, cout, 3, stride = stride, padding = 1, bias = false)
    batchnorm2d(cout)
    relu
}

block basic(cin, cout, stride = 1) {
    input x
    conv1 = conv2d(cin, cout, 3, stride = stride, padding = 1, bias = false)
    bn1   = batchnorm2d(cout)
    downsample = sequential(conv2d(cout, cout, 1, bias = false), batchnorm2d(cout))
    forward {
        h = relu(bn1(conv1(x)))
        return relu(downsample(h))
    }
}

model net {
    input x [2, 8, 8]
    stem   = cbr(2, 4)
    layer1 = sequential(basic(4, 4), basic(4, 6, stride = 2))
    pool   = avgpool2d(2)
    fc     = linear(24, 3)
    forward {
        h = pool(layer1(stem(x)))
        return fc(flatten(h))
    }
}
"""


class Cbr(nn.Sequential):
    def __init__(self, cin, cout, stride=1):
        super().__init__(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class Basic(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.downsample = nn.Sequential(nn.Conv2d(cout, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.downsample(h))


class Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Cbr(2, 4)
        self.layer1 = nn.Sequential(Basic(4, 4), Basic(4, 6, stride=2))
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(24, 3)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layer1(self.stem(x))), 1))


# A block instance in a version-1 sequence model: "0.0.weight", "1.weight".
SEQ_BLOCK = """block mlp(n, hidden = 7) {
    linear(n, hidden)
    relu
    fc2 = linear(hidden, n)
}

model net {
    input [4]
    mlp(4)
    linear(4, 3)
    body = mlp(3, hidden = 5)
}
"""


def Mlp(n, hidden=7):
    return nn.Sequential(collections.OrderedDict(
        [("0", nn.Linear(n, hidden)), ("1", nn.ReLU()), ("fc2", nn.Linear(hidden, n))]))


def SeqBlock():
    return nn.Sequential(collections.OrderedDict(
        [("0", Mlp(4)), ("1", nn.Linear(4, 3)), ("body", Mlp(3, hidden=5))]))


# Operators and functions: a residual add, the scalar forms, split, chunk,
# cat, reshape, permute, transpose, matmul, mean, sum; two inputs.
OPS = """model net {
    input x [8]
    input y [2, 4]
    fc1 = linear(8, 8)
    fc2 = linear(8, 8)
    forward {
        h = relu(fc1(x)) + x
        h = fc2(h) * 0.5 - 1
        h = 2 - h / 3
        h = 1 / (h * h + 1) + -h
        a, b = split(h, 4, 1)
        c1, c2, c3 = chunk(h, 3, dim = -1)
        t = cat([a, b * a, -a], 1)
        r = reshape(t, [3, 4])
        q = transpose(permute(r, [0, 2, 1]), 1, 2)
        s = mean(q, 1) * a - b
        m2 = y @ transpose(y, 1, 2)
        return s, flatten(m2), c2 / (c1 * c1 + 1), c3, sum(q, dim = 2, keepdim = true)
    }
}
"""


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 8)

    def forward(self, x, y):
        h = F.relu(self.fc1(x)) + x
        h = self.fc2(h) * 0.5 - 1
        h = 2 - h / 3
        h = 1 / (h * h + 1) + -h
        a, b = torch.split(h, 4, 1)
        c1, c2, c3 = torch.chunk(h, 3, dim=-1)
        t = torch.cat([a, b * a, -a], 1)
        r = t.reshape(t.shape[0], 3, 4)
        q = torch.transpose(r.permute(0, 2, 1), 1, 2)
        s = q.mean(1) * a - b
        m2 = y @ torch.transpose(y, 1, 2)
        return (s, torch.flatten(m2, 1), c2 / (c1 * c1 + 1), c3,
                torch.flatten(q.sum(dim=2, keepdim=True), 1))


# A block used twice (two instances) and an instance called twice.
RESID = """block res(c) {
    input x
    fc = linear(c, c)
    forward {
        return relu(fc(x)) + x
    }
}

model net {
    input x [6]
    r1   = res(6)
    r2   = res(6)
    head = linear(12, 3)
    forward {
        h = r1(r2(r1(x)))
        return head(cat([h, x], 1))
    }
}
"""


class Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc = nn.Linear(c, c)

    def forward(self, x):
        return F.relu(self.fc(x)) + x


class Resid(nn.Module):
    def __init__(self):
        super().__init__()
        self.r1 = Res(6)
        self.r2 = Res(6)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        h = self.r1(self.r2(self.r1(x)))
        return self.head(torch.cat([h, x], 1))


# LANGUAGE.md §8's BasicBlock (residual add inside a block) in a sequential,
# with functions called without a declaration.
BASIC = """block basic(cin, cout, stride = 1) {        # torchvision's BasicBlock
    input x
    conv1 = conv2d(cin, cout, 3, stride = stride, padding = 1, bias = false)
    bn1   = batchnorm2d(cout)
    conv2 = conv2d(cout, cout, 3, padding = 1, bias = false)
    bn2   = batchnorm2d(cout)
    forward {
        h = relu(bn1(conv1(x)))
        return relu(bn2(conv2(h)) + x)
    }
}

model net {
    input x [3, 6, 6]
    conv1  = conv2d(3, 4, 3, padding = 1)
    layer1 = sequential(basic(4, 4), basic(4, 4))
    fc     = linear(4, 3)
    forward {
        h = layer1(conv1(x))
        h = flatten(adaptive_avg_pool2d(h, 1))
        h = dropout(h, p = 0.1)
        return log_softmax(fc(h), dim = 1)
    }
}
"""


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + x)


class Basic2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(4, 4), BasicBlock(4, 4))
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        h = self.layer1(self.conv1(x))
        h = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
        return F.log_softmax(self.fc(h), dim=1)


def main():
    for kind in ("infer", "train"):
        for d in os.listdir(os.path.join(mf.OUT, kind)) if os.path.isdir(os.path.join(mf.OUT, kind)) else []:
            if d.startswith("graph_"):
                shutil.rmtree(os.path.join(mf.OUT, kind, d))
    infer("graph_two_io", TWO_IO, TwoIO, [(6,), (4,)],
          "two inputs, three outputs (a row: x then y; printed: head, b, softmax)")
    infer("graph_shared", SHARED, Shared, [(5,)], "a declared layer called twice shares its parameters")
    infer("graph_blocks", BLOCKS, Blocks, [(2, 8, 8)],
          "blocks, sequential and torchvision's nested state_dict names", setup=bn_all)
    infer("graph_seq_block", SEQ_BLOCK, SeqBlock, [(4,)], "block instances in a version-1 sequence")
    infer("graph_ops", OPS, Ops, [(8,), (2, 4)], "operators and tensor functions in forward")
    infer("graph_resid", RESID, Resid, [(6,)], "a block used twice, an instance called twice, cat")
    infer("graph_basic", BASIC, Basic2, [(3, 6, 6)], "LANGUAGE.md §8's BasicBlock in a sequential",
          setup=bn_all)
    train("graph_basic", BASIC.replace("p = 0.1", "p = 0.0"), Basic2, [(3, 6, 6)], 3,
          "BasicBlocks trained: batch norm in train mode inside blocks, residual adds", rows=8, setup=bn_all)
    train("graph_resid", RESID, Resid, [(6,)], 3, "training through residual adds, shared calls and cat")
    train("graph_shared", SHARED, Shared, [(5,)], 3, "training sums the gradients of both calls of fc")
    train("graph_two_io", TWO_IO, TwoIO, [(6,), (4,)], 2,
          "the loss is taken on the first output; rows hold x, y, then the label")
    train("graph_two_io_adamw", TWO_IO, TwoIO, [(6,), (4,)], 2,
          "fy feeds only the second output: no gradient reaches it, so PyTorch's grad stays None and "
          "AdamW leaves it as it was, its weight decay included", adamw=True)
    train("graph_blocks", BLOCKS, Blocks, [(2, 8, 8)], 3, "blocks with batch norm in train mode", rows=8)
    print("graph fixtures: %d cases" % len(CASES))


if __name__ == "__main__":
    sys.exit(main())
