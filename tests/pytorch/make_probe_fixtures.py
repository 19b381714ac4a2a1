"""Training-agreement fixtures of an outside probe (session 9): each layer and
function of LANGUAGE.md §4 and §9 in a tiny model, trained 3 epochs from a
fixed init with one of the optimizers of §5/§10 and, for some, a schedule,
in the combinations the other generators do not write (groups with dilation
and stride, conv_transpose2d with output_padding and dilation, pools with
ceil_mode and padding, adaptive pooling that does not divide, upsample by
[1, 2], batch norm in train mode with a frozen layer, chunk/split/cat/
permute/keepdim on negative dims, per-sample broadcasting, a tied embedding
with AdamW's decay, OneCycleLR cycling Adam's beta1, SequentialLR per step).

    /usr/bin/python3 tests/pytorch/make_probe_fixtures.py

Writes tests/fixtures/train/probe_* (make_fixtures.py runs it last; alone it
replaces only those folders) in make_fixtures.py's train format, plus
losses.txt: PyTorch's train loss per epoch (the mean over the epoch's
samples, what `--log` writes). Cases with Adam avoid a bias right before a
normalisation: its true gradient is zero, and Adam would scale rounding
noise up to a step of lr, which no two implementations share.
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

OPTS = {
    "sgd_nesterov": ("sgd(lr = 0.05, momentum = 0.9, nesterov = true)",
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_damp_wd": ("sgd(lr = 0.05, momentum = 0.5, dampening = 0.1, weight_decay = 0.01)",
                    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.1,
                                              weight_decay=0.01)),
    "sgd_nesterov_wd": ("sgd(lr = 0.05, momentum = 0.9, nesterov = true, weight_decay = 0.05)",
                        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                                  weight_decay=0.05)),
    "adam_wd": ("adam(lr = 0.01, weight_decay = 0.001)",
                lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.001)),
    "adam_betas": ("adam(lr = 0.02, beta1 = 0.8, beta2 = 0.99, eps = 1e-6)",
                   lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    "adamw": ("adamw(lr = 0.01)", lambda p: torch.optim.AdamW(p, lr=0.01)),
    "adamw_wd": ("adamw(lr = 0.02, weight_decay = 0.1)",
                 lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.1)),
}

LR = torch.optim.lr_scheduler
# name: (train-block text, scheduler factory, stepped per batch)
SCHEDS = {
    "steplr": ("steplr(1, gamma = 0.5)", lambda o: LR.StepLR(o, 1, 0.5), False),
    "cosine_step": ('cosine(6, eta_min = 0.001, per = "step")',
                    lambda o: LR.CosineAnnealingLR(o, 6, 0.001), True),
    "onecycle_step": ('onecycle(0.05, 9, per = "step")', lambda o: LR.OneCycleLR(o, 0.05, 9), True),
    "warmup_cosine_step": ('[linear_warmup(3, per = "step"), cosine(6, per = "step")]',
                           lambda o: LR.SequentialLR(o, [LR.LinearLR(o, 1 / 3, total_iters=3),
                                                         LR.CosineAnnealingLR(o, 6)], [3]), True),
    "warmup_epoch": ("linear_warmup(2, start_factor = 0.25)",
                     lambda o: LR.LinearLR(o, 0.25, total_iters=2), False),
}


class Fwd(nn.Module):
    """A module from named layers and a forward function (a .nnet forward)."""

    def __init__(self, layers, fwd):
        super().__init__()
        for k, v in layers:
            setattr(self, k, v)
        self.fwd = fwd

    def forward(self, *xs):
        return self.fwd(self, *xs)


def fwd(layers, f):
    return lambda: Fwd(layers(), f)


def named_seq(*pairs):
    return nn.Sequential(collections.OrderedDict(pairs))


def causal(t):
    return torch.triu(torch.full((t, t), float("-inf")), 1)


def train(name, nnet, module, shapes, comment, opt, sched=None, loss="ce", classes=3, rows=10,
          batch=4, epochs=3, ints=None, freeze=(), extra=()):
    """Batches in file order (the last partial), mean losses, model.train();
    ints: {input index: number of classes} for `int` inputs; freeze: the
    parameter names PyTorch holds with requires_grad = False."""
    mf.seed_for("train/probe_" + name)
    model = module()
    init = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    g = torch.Generator().manual_seed(11)
    xs = [torch.randint(0, ints[i], (rows,) + s, generator=g) if ints and i in ints
          else torch.randn((rows,) + s, generator=g) for i, s in enumerate(shapes)]
    if loss == "ce":
        y = torch.randint(0, classes, (rows,), generator=g)
        lossf, data_opts, ycols = F.cross_entropy, "label = -1", [["%d" % int(v)] for v in y]
    else:
        with torch.no_grad():
            n = model(*[x[:1] for x in xs]).numel()
        y = torch.randn((rows, n), generator=g)
        lossf, data_opts = F.mse_loss, "targets = %d" % n
        ycols = [[mf.fmt(v) for v in r] for r in y.tolist()]
    for p in freeze:
        model.get_parameter(p).requires_grad_(False)
    text, make_opt = OPTS[opt]
    o = make_opt([p for p in model.parameters() if p.requires_grad])
    stext, make_sched, per_step = SCHEDS[sched] if sched else (None, None, False)
    sch = make_sched(o) if sched else None
    model.train()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for b in range(0, rows, batch):
            o.zero_grad()
            out = model(*[x[b:b + batch] for x in xs])
            out = out.reshape(out.shape[0], -1)
            l = lossf(out, y[b:b + batch])
            l.backward()
            total += float(l) * out.shape[0]
            o.step()
            if sch and per_step:
                sch.step()
        if sch and not per_step:
            sch.step()
        losses.append(total / rows)
    d = mf.case_dir("train", "probe_" + name)
    keys = list(extra) + (["schedule  = " + stext] if stext else [])
    mf.write_nnet(d, comment, nnet + "\n" + mf.nnet_train(data_opts, "cross_entropy" if loss == "ce"
                                                          else "mse", text, epochs, batch, keys))
    mf.write_safetensors(os.path.join(d, "init.safetensors"), init)
    mf.write_safetensors(os.path.join(d, "expected.safetensors"), model.state_dict())
    flat = torch.cat([x.reshape(rows, -1).to(torch.float32) for x in xs], 1).tolist()
    mf.write_csv(os.path.join(d, "train.csv"),
                 [[mf.fmt(v) for v in r] + ycols[i] for i, r in enumerate(flat)])
    with open(os.path.join(d, "losses.txt"), "w") as f:
        f.write("".join(mf.fmt(v) + "\n" for v in losses))
    CASES.append("train/probe_" + name)


# ---------------------------------------------------------------- convolutions and pools

def conv_cases():
    train("conv2d_groups_dilation", """model net {
    input x [4, 9, 9]
    c  = conv2d(4, 6, 3, stride = 2, padding = 1, dilation = 2, groups = 2)
    fc = linear(96, 3)
    forward { return fc(flatten(relu(c(x)))) }
}""", fwd(lambda: [("c", nn.Conv2d(4, 6, 3, 2, 1, 2, 2)), ("fc", nn.Linear(96, 3))],
          lambda s, x: s.fc(torch.flatten(F.relu(s.c(x)), 1))), [(4, 9, 9)],
          "conv2d with stride, padding, dilation and groups; SGD Nesterov, StepLR", "sgd_nesterov",
          "steplr")
    train("conv1d_pools_ceil", """model net {
    input [3, 11]
    conv1d(3, 4, 3, stride = 2, padding = 2, dilation = 2)
    relu
    maxpool1d(2, stride = 1, padding = 1)
    avgpool1d(3, stride = 2, padding = 1, ceil_mode = true)
    flatten
    linear(16, 3)
}""", lambda: nn.Sequential(nn.Conv1d(3, 4, 3, 2, 2, 2), nn.ReLU(), nn.MaxPool1d(2, 1, 1),
                            nn.AvgPool1d(3, 2, 1, ceil_mode=True), nn.Flatten(), nn.Linear(16, 3)),
          [(3, 11)], "conv1d strided and dilated, 1-d pools with padding and ceil_mode; Adam",
          "adam_wd")
    train("conv_transpose2d_dilation", """model net {
    input [4, 3, 3]
    conv_transpose2d(4, 6, 3, stride = 2, padding = 1, output_padding = 1, groups = 2)
    tanh
    conv_transpose2d(6, 2, 2, stride = 1, padding = 0, dilation = 2)
    flatten
}""", lambda: nn.Sequential(nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2), nn.Tanh(),
                            nn.ConvTranspose2d(6, 2, 2, 1, 0, dilation=2), nn.Flatten()),
          [(4, 3, 3)], "conv_transpose2d with output_padding and groups, then dilation; mse, AdamW",
          "adamw", loss="mse")
    train("pool2d_ceil_padding", """model net {
    input [2, 7, 8]
    maxpool2d(3, stride = 2, padding = 1, ceil_mode = true)
    avgpool2d(2, stride = 2, padding = 1, ceil_mode = true)
    flatten
    linear(18, 3)
}""", lambda: nn.Sequential(nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                            nn.AvgPool2d(2, 2, 1, ceil_mode=True), nn.Flatten(), nn.Linear(18, 3)),
          [(2, 7, 8)], "2-d pools with padding and ceil_mode (a last window in the padding); "
          "SGD with dampening and weight decay", "sgd_damp_wd")
    train("adaptive_not_dividing", """model net {
    input x [3, 5, 7]
    c  = conv2d(3, 2, 1)
    fc = linear(12, 3)
    forward { return fc(flatten(adaptive_avg_pool2d(c(x), [3, 2]))) }
}""", fwd(lambda: [("c", nn.Conv2d(3, 2, 1)), ("fc", nn.Linear(12, 3))],
          lambda s, x: s.fc(torch.flatten(F.adaptive_avg_pool2d(s.c(x), (3, 2)), 1))),
          [(3, 5, 7)], "adaptive_avg_pool2d 5x7 -> 3x2: overlapping windows of unequal sizes; Adam",
          "adam_wd")
    train("upsample_nearest_pair", """model net {
    input [2, 3, 4]
    conv2d(2, 2, 1)
    upsample(2)
    conv2d(2, 1, 3, padding = 1)
    upsample(scale_factor = [1, 2])
    flatten
}""", lambda: nn.Sequential(nn.Conv2d(2, 2, 1), nn.Upsample(scale_factor=2),
                            nn.Conv2d(2, 1, 3, padding=1), nn.Upsample(scale_factor=(1, 2)),
                            nn.Flatten()),
          [(2, 3, 4)], "upsample (nearest) by 2 and by [1, 2]; mse, SGD Nesterov", "sgd_nesterov",
          loss="mse")


# ---------------------------------------------------------------- normalisation, embeddings

BN_FROZEN = """model net {
    input [3, 4, 4]
    conv2d(3, 4, 3)
    bn = batchnorm2d(4)
    relu
    flatten
    fc = linear(16, 3)
}"""


def norm_cases():
    train("batchnorm_train", """model net {
    input [3, 4, 4]
    conv2d(3, 4, 3, bias = false)
    batchnorm2d(4, eps = 0.001, momentum = 0.3)
    relu
    flatten
    linear(16, 6)
    batchnorm1d(6)
    linear(6, 3)
}""", lambda: nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4, 0.001, 0.3),
                            nn.ReLU(), nn.Flatten(), nn.Linear(16, 6), nn.BatchNorm1d(6),
                            nn.Linear(6, 3)),
          [(3, 4, 4)], "batchnorm2d and batchnorm1d in train mode, 11 rows in batches of 4 "
          "(the last of 3); SGD with dampening and weight decay", "sgd_damp_wd", rows=11)
    train("frozen_batchnorm", BN_FROZEN,
          lambda: named_seq(("0", nn.Conv2d(3, 4, 3)), ("bn", nn.BatchNorm2d(4)), ("2", nn.ReLU()),
                            ("3", nn.Flatten()), ("fc", nn.Linear(16, 3))),
          [(3, 4, 4)], "a frozen batch norm keeps weight and bias but, in train mode, still "
          "updates its running statistics (PyTorch: requires_grad = False)", "sgd_nesterov_wd",
          freeze=["bn.weight", "bn.bias"], extra=['freeze    = ["bn"]'])
    train("layernorm_2d_noaffine", """model net {
    input x [3, 4, 5]
    ln  = layernorm([4, 5], eps = 0.0001)
    ln2 = layernorm(5, elementwise_affine = false)
    fc  = linear(60, 3)
    forward { return fc(flatten(ln2(ln(x)))) }
}""", fwd(lambda: [("ln", nn.LayerNorm([4, 5], 1e-4)),
                   ("ln2", nn.LayerNorm(5, elementwise_affine=False)), ("fc", nn.Linear(60, 3))],
          lambda s, x: s.fc(torch.flatten(s.ln2(s.ln(x)), 1))),
          [(3, 4, 5)], "layernorm over the last 2 dims, and one without parameters; Adam",
          "adam_wd")
    train("embedding_padding_idx", """model net {
    input idx [5] int
    emb = embedding(7, 3, padding_idx = 2)
    fc  = linear(15, 3)
    forward { return fc(flatten(emb(idx))) }
}""", fwd(lambda: [("emb", nn.Embedding(7, 3, padding_idx=2)), ("fc", nn.Linear(15, 3))],
          lambda s, x: s.fc(torch.flatten(s.emb(x), 1))),
          [(5,)], "embedding with padding_idx (its row gets no gradient); Adam", "adam_wd",
          ints={0: 7})


# ---------------------------------------------------------------- sequences and attention

class Rnn(nn.Module):
    def __init__(self, cls):
        super().__init__()
        self.r = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True)
        self.fc = nn.Linear(8, 3)
        self.fh = nn.Linear(16, 3)

    def forward(self, x):
        o, h = self.r(x)
        if isinstance(h, tuple):
            h = h[0] + h[1]
        return self.fc(o.mean(1)) + self.fh(torch.flatten(h.transpose(0, 1), 1))


class Mha(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.MultiheadAttention(8, 2, batch_first=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        y = self.a(x, x, x, attn_mask=causal(x.shape[1]), need_weights=False)[0]
        return self.fc(y.sum(1))


class Sdpa(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(6, 6)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        b = x.shape[0]
        q = self.q(x).reshape(b, 5, 2, 3).transpose(1, 2)
        att = torch.softmax(q @ q.transpose(-1, -2) / 3 ** 0.5 + causal(5), -1) @ q
        return self.fc(att.transpose(1, 2).reshape(b, 5, 6).mean(-2))


def seq_cases():
    train("lstm_bi2_states", """model net {
    input x [5, 3]
    r  = lstm(3, 4, num_layers = 2, bidirectional = true)
    fc = linear(8, 3)
    fh = linear(16, 3)
    forward {
        o, h, c = r(x)
        return fc(mean(o, 1)) + fh(flatten(h + c))
    }
}""", lambda: Rnn(nn.LSTM), [(5, 3)], "a 2-layer bidirectional lstm: output and final states "
          "trained; Adam", "adam_wd")
    train("gru_bi2_states", """model net {
    input x [5, 3]
    r  = gru(3, 4, 2, bidirectional = true)
    fc = linear(8, 3)
    fh = linear(16, 3)
    forward {
        o, h = r(x)
        return fc(mean(o, dim = 1)) + fh(flatten(h))
    }
}""", lambda: Rnn(nn.GRU), [(5, 3)], "a 2-layer bidirectional gru: output and final state; "
          "SGD Nesterov, StepLR", "sgd_nesterov", "steplr")
    train("mha_causal_sum", """model net {
    input x [4, 8]
    a  = multihead_attention(8, 2)
    fc = linear(8, 3)
    forward { return fc(sum(a(x, x, x, is_causal = true), 1)) }
}""", Mha, [(4, 8)], "multihead_attention with is_causal (PyTorch: the mask as attn_mask); "
          "SGD Nesterov", "sgd_nesterov")
    train("sdpa_causal_heads", """model net {
    input x [5, 6]
    q  = linear(6, 6)
    fc = linear(6, 3)
    forward {
        h = transpose(reshape(q(x), [5, 2, 3]), 1, 2)
        a = scaled_dot_product_attention(h, h, h, is_causal = true)
        return fc(mean(reshape(transpose(a, 1, 2), [5, 6]), -2))
    }
}""", Sdpa, [(5, 6)], "causal self-attention over 2 heads by reshape/transpose; SGD Nesterov",
          "sgd_nesterov")


# ---------------------------------------------------------------- tensor functions

class Shapes(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 6)
        self.fc = nn.Linear(15, 3)
        self.w = nn.Linear(3, 4, bias=False)

    def forward(self, x, y):
        h = self.l(x)
        a, b, c = torch.chunk(h, 3, -1)
        p, q = torch.split(h, 4, 2)
        z = torch.cat([a * b, c - q], dim=-2).permute(0, 2, 1)
        m = z.mean(-1, keepdim=True) + z.sum([1, 2], keepdim=True)
        r = self.w(y) @ p.transpose(1, 2)
        return self.fc(torch.cat([torch.flatten(z * m, 1), r.sum(-1)], 1))


class Broadcast(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(4, 4)
        self.fc = nn.Linear(24, 3)

    def forward(self, x, y):
        return self.fc(torch.flatten((self.l(x) * y - 0.5 * y + 2) / (1 + y * y), 1))


class TiedActs(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(11, 6)
        self.ln = nn.LayerNorm(6)
        self.lm_head = nn.Linear(6, 11, bias=False)
        self.lm_head.weight = self.wte.weight
        self.fc = nn.Linear(44, 3)

    def forward(self, x):
        h = self.lm_head(self.ln(self.wte(x)))
        a = (F.elu(h, 0.7) + F.softplus(-h) + F.leaky_relu(h, 0.2) + F.gelu(h, approximate="tanh")
             + F.log_softmax(h, 1) + F.silu(h))
        return self.fc(torch.flatten(a, 1))


def tensor_cases():
    train("shape_functions", """model net {
    input x [3, 4]
    input y [3, 3]
    l  = linear(4, 6)
    fc = linear(15, 3)
    w  = linear(3, 4, bias = false)
    forward {
        h = l(x)
        a, b, c = chunk(h, 3, -1)
        p, q = split(h, 4, 2)
        z = permute(cat([a * b, c - q], dim = -2), [0, 2, 1])
        m = mean(z, -1, keepdim = true) + sum(z, [1, 2], keepdim = true)
        r = w(y) @ transpose(p, 1, 2)
        return fc(cat([flatten(z * m), sum(r, -1)], 1))
    }
}""", Shapes, [(3, 4), (3, 3)], "chunk, split, cat, permute, mean/sum with keepdim and "
          "negative dims, @ of [3, 4] by [4, 3]; Adam, StepLR", "adam_wd", "steplr")
    train("broadcast_values", """model net {
    input x [3, 1, 4]
    input y [1, 2, 1]
    l  = linear(4, 4)
    fc = linear(24, 3)
    forward { return fc(flatten((l(x) * y - 0.5 * y + 2) / (1 + y * y))) }
}""", Broadcast, [(3, 1, 4), (1, 2, 1)], "broadcasting [3, 1, 4] with [1, 2, 1] in *, -, / and "
          "with numbers; AdamW, cosine per step", "adamw", "cosine_step")
    train("tied_adamw_activations", """model net {
    input x [4] int
    wte     = embedding(11, 6)
    ln      = layernorm(6)
    lm_head = linear(6, 11, bias = false, weight = wte.weight)
    fc      = linear(44, 3)
    forward {
        h = lm_head(ln(wte(x)))
        return fc(flatten(elu(h, alpha = 0.7) + softplus(-h) + leaky_relu(h, 0.2) + gelu(h, approximate = "tanh") + log_softmax(h, 1) + silu(h)))
    }
}""", TiedActs, [(4,)], "a tied embedding decayed once per step by AdamW; the activation "
          "functions of §9 with their keywords", "adamw_wd", ints={0: 11})


# ---------------------------------------------------------------- optimizers and schedules

def schedule_cases():
    train("onecycle_adam_betas", """model net {
    input [5]
    linear(5, 4)
    gelu
    linear(4, 3)
}""", lambda: nn.Sequential(nn.Linear(5, 4), nn.GELU(), nn.Linear(4, 3)), [(5,)],
          "OneCycleLR per step with Adam: it cycles beta1 between 0.85 and 0.95",
          "adam_betas", "onecycle_step")
    train("warmup_cosine_adamw", """model net {
    input [5]
    linear(5, 4)
    tanh
    linear(4, 3)
}""", lambda: nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)), [(5,)],
          "SequentialLR per step: linear warmup for 3 steps then cosine; AdamW with decay 0.1",
          "adamw_wd", "warmup_cosine_step")
    train("warmup_epoch_nesterov_wd", """model net {
    input [5]
    linear(5, 4)
    sigmoid
    linear(4, 3)
    log_softmax
}""", lambda: nn.Sequential(nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.LogSoftmax(-1)),
          [(5,)], "linear warmup per epoch (start_factor 0.25); SGD Nesterov with weight decay",
          "sgd_nesterov_wd", "warmup_epoch")


def main():
    d = os.path.join(mf.OUT, "train")
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if name.startswith("probe_"):
            shutil.rmtree(os.path.join(d, name))
    conv_cases()
    norm_cases()
    seq_cases()
    tensor_cases()
    schedule_cases()
    print("probe fixtures: %d cases" % len(CASES))


if __name__ == "__main__":
    sys.exit(main())
