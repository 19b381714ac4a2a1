"""PyTorch-agreement fixtures of the sequence pieces of LANGUAGE.md §9-§10
that need graph models: scaled_dot_product_attention, multihead_attention,
the final states of lstm/gru, sequence losses ([T, C] outputs with [T]
integer targets, ignore_index, label_smoothing) and the GPT example's first
ten training steps.

    /usr/bin/python3 tests/pytorch/make_seq2_fixtures.py

Writes tests/fixtures/{infer,train}/seq2_* in the formats of make_fixtures.py
(which calls this module last, so a full regeneration keeps these cases);
run alone it replaces only the seq2_* folders.

The PyTorch here is Debian's 1.13, which has neither
F.scaled_dot_product_attention nor MultiheadAttention's is_causal: attention
is PyTorch 2's math reference (softmax(q·kᵀ/√E, masked by tril(ones(L, S))
when causal)·v), and a causal multihead_attention is nn.MultiheadAttention
given that boolean mask as attn_mask, which is what is_causal means in
PyTorch 2.

A train case may carry losses.txt: the loss of every epoch (one batch per
epoch there, so of every step), compared with the program's --log.
"""
import collections
import math
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402
import make_graph_fixtures as mgf  # noqa: E402

ROOT = mf.ROOT
CASES = []


def sdpa(q, k, v, causal=False):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, -1) @ v


def causal_mask(tq, tk):
    """nn.MultiheadAttention's boolean attn_mask: True where not allowed."""
    return ~torch.ones(tq, tk, dtype=torch.bool).tril()


def mha(attn, q, k, v, causal):
    mask = causal_mask(q.shape[1], k.shape[1]) if causal else None
    return attn(q, k, v, attn_mask=mask, need_weights=False)[0]


def randomize_biases(model, g):
    """nn.MultiheadAttention starts its biases at zero: make them count."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)


def setup_biases(model):
    randomize_biases(model, torch.Generator().manual_seed(11))


# ---------------------------------------------------------------- attention

def sdpa_model(t, e, ev, causal, heads=0, tk=None):
    """q from x, k and v from y (or x); heads > 0 splits the features into
    heads [H, T, E/H] with reshape and transpose."""
    tk = tk or t
    two = tk != t
    c = "true" if causal else "false"
    split = (lambda z, n: "transpose(reshape(%s, [%d, %d, %d]), 1, 2)" % (z, n, heads, e // heads)) if heads \
        else (lambda z, n: z)
    vsplit = (lambda z, n: "transpose(reshape(%s, [%d, %d, %d]), 1, 2)" % (z, n, heads, ev // heads)) if heads \
        else (lambda z, n: z)
    merge = "flatten(transpose(a, 1, 2), 2)" if heads else "a"
    src = "y" if two else "x"
    nnet = """model net {
    input x [%d, 6]
%s    fq = linear(6, %d)
    fk = linear(6, %d)
    fv = linear(6, %d)
    head = linear(%d, 3)
    forward {
        a = scaled_dot_product_attention(%s, %s, %s, is_causal = %s)
        return head(flatten(%s))
    }
}
""" % (t, "    input y [%d, 6]\n" % tk if two else "", e, e, ev, t * ev, split("fq(x)", t),
       split("fk(%s)" % src, tk), vsplit("fv(%s)" % src, tk), c, merge)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fq = nn.Linear(6, e)
            self.fk = nn.Linear(6, e)
            self.fv = nn.Linear(6, ev)
            self.head = nn.Linear(t * ev, 3)

        def forward(self, x, y=None):
            y = x if y is None else y
            q, k, v = self.fq(x), self.fk(y), self.fv(y)
            if heads:
                q = q.reshape(-1, t, heads, e // heads).transpose(1, 2)
                k = k.reshape(-1, tk, heads, e // heads).transpose(1, 2)
                v = v.reshape(-1, tk, heads, ev // heads).transpose(1, 2)
            a = sdpa(q, k, v, causal)
            if heads:
                a = a.transpose(1, 2).flatten(2)
            return self.head(torch.flatten(a, 1))
    shapes = [(t, 6)] + ([(tk, 6)] if two else [])
    return nnet, Net, shapes


def mha_model(t, e, heads, causal, bias=True, tk=None, self_attn=True):
    """mha(q, k, v): self-attention on one value, or q, k, v from three
    different linear maps (tk keys from a second input when tk is given)."""
    tk = tk or t
    two = tk != t
    c = "true" if causal else "false"
    b = "" if bias else ", bias = false"
    call = "attn(h, h, h, is_causal = %s)" % c if self_attn else \
        "attn(fq(x), fk(%s), fv(%s), is_causal = %s)" % (("y" if two else "x",) * 2 + (c,))
    nnet = """model net {
    input x [%d, 6]
%s    fq = linear(6, %d)
    fk = linear(6, %d)
    fv = linear(6, %d)
    attn = multihead_attention(%d, %d%s)
    head = linear(%d, 3)
    forward {
        h = fq(x)
        return head(flatten(%s))
    }
}
""" % (t, "    input y [%d, 6]\n" % tk if two else "", e, e, e, e, heads, b, t * e, call)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fq = nn.Linear(6, e)
            self.fk = nn.Linear(6, e)
            self.fv = nn.Linear(6, e)
            self.attn = nn.MultiheadAttention(e, heads, bias=bias, batch_first=True)
            self.head = nn.Linear(t * e, 3)

        def forward(self, x, y=None):
            y = x if y is None else y
            if self_attn:
                h = self.fq(x)
                a = mha(self.attn, h, h, h, causal)
            else:
                a = mha(self.attn, self.fq(x), self.fk(y), self.fv(y), causal)
            return self.head(torch.flatten(a, 1))
    shapes = [(t, 6)] + ([(tk, 6)] if two else [])
    return nnet, Net, shapes


def attention_cases():
    sd = [  # name, (t, e, ev, causal, heads, tk), comment
        ("seq2_sdpa_t5", (5, 4, 3, False, 0, None), "sdpa on [T, E] per sample, T = 5, Ev != E"),
        ("seq2_sdpa_t5_causal", (5, 4, 4, True, 0, None), "causal sdpa, T = 5"),
        ("seq2_sdpa_t70_causal", (70, 4, 2, True, 0, None),
         "causal sdpa, T = 70: two blocks of queries, the second partial (kernel blocks of 64)"),
        ("seq2_sdpa_t130_heads", (130, 8, 4, False, 2, None),
         "sdpa on [H, T, E] (two heads by reshape/transpose), T = 130: three blocks"),
        ("seq2_sdpa_t67_heads_causal", (67, 8, 8, True, 2, None), "causal sdpa, two heads, T = 67"),
        ("seq2_sdpa_cross", (7, 4, 3, False, 0, 9), "cross-attention: 7 queries, 9 keys"),
        ("seq2_sdpa_cross_causal", (9, 4, 3, True, 0, 5),
         "causal with 9 queries and 5 keys: PyTorch's tril(ones(L, S)), top-left aligned"),
    ]
    for name, (t, e, ev, causal, heads, tk), comment in sd:
        nnet, net, shapes = sdpa_model(t, e, ev, causal, heads, tk)
        mgf.infer(name, nnet, net, shapes, comment)
        mgf.train(name, nnet, net, shapes, 3, comment + "; trained (SGD)", rows=8, epochs=2)
    mh = [  # name, (t, e, heads, causal, bias, tk, self_attn), comment
        ("seq2_mha_self", (6, 8, 2, False, True, None, True), "multihead_attention(8, 2): self-attention"),
        ("seq2_mha_self_causal", (6, 8, 2, True, True, None, True),
         "multihead_attention, is_causal = true (PyTorch: the tril mask as attn_mask)"),
        ("seq2_mha_t70_causal", (70, 8, 4, True, True, None, True),
         "causal multihead_attention, four heads, T = 70 (two query blocks)"),
        ("seq2_mha_nobias", (5, 6, 3, False, False, None, True), "multihead_attention without biases"),
        ("seq2_mha_qkv", (5, 8, 2, True, True, None, False),
         "query, key and value from three different values"),
        ("seq2_mha_cross", (5, 8, 4, False, True, 8, False), "cross-attention: 5 queries, 8 keys and values"),
    ]
    for name, (t, e, heads, causal, bias, tk, self_attn), comment in mh:
        nnet, net, shapes = mha_model(t, e, heads, causal, bias, tk, self_attn)
        mgf.infer(name, nnet, net, shapes, comment, setup=setup_biases)
        mgf.train(name, nnet, net, shapes, 3, comment + "; trained (SGD)", rows=8, epochs=2,
                  setup=setup_biases)


# ---------------------------------------------------------------- rnn states

def rnn_model(kind, i, h, layers, bidir, head):
    dirs = 2 if bidir else 1
    opts = ("" if layers == 1 else ", num_layers = %d" % layers) + (", bidirectional = true" if bidir else "")
    names = "out, h, c" if kind == "lstm" else "out, h"
    ret = "head(flatten(cat([%s], 1)))" % ("h, c" if kind == "lstm" else "h") if head else names
    nnet = """model net {
    input x [6, %d]
    rnn = %s(%d, %d%s)
%s    forward {
        %s = rnn(x)
        return %s
    }
}
""" % (i, kind, i, h, opts, "    head = linear(%d, 3)\n" % ((2 if kind == "lstm" else 1) * layers * dirs * h)
       if head else "", names, ret)
    cls = nn.LSTM if kind == "lstm" else nn.GRU

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = cls(i, h, num_layers=layers, bidirectional=bidir, batch_first=True)
            if head:
                self.head = nn.Linear((2 if kind == "lstm" else 1) * layers * dirs * h, 3)

        def forward(self, x):
            out, st = self.rnn(x)
            st = list(st) if kind == "lstm" else [st]
            st = [s.transpose(0, 1) for s in st]       # [layers·dirs, B, H] -> batch first
            if head:
                return self.head(torch.flatten(torch.cat(st, 1), 1))
            return [out] + st
    return nnet, Net


def rnn_cases():
    for kind in ("lstm", "gru"):
        nnet, net = rnn_model(kind, 3, 4, 2, True, False)
        mgf.infer("seq2_%s_states" % kind, nnet, net, [(6, 3)],
                  "%s: the output sequence and the final states, two bidirectional layers" % kind)
        nnet, net = rnn_model(kind, 3, 4, 2, True, True)
        mgf.train("seq2_%s_states" % kind, nnet, net, [(6, 3)], 3,
                  "a classifier on the final states of two bidirectional %s layers: gradients flow "
                  "in through h%s" % (kind, " and c" if kind == "lstm" else ""), rows=8, epochs=2)
        nnet, net = rnn_model(kind, 3, 5, 1, False, True)
        mgf.train("seq2_%s_states_1l" % kind, nnet, net, [(6, 3)], 3,
                  "a classifier on the final states of one %s layer" % kind, rows=8, epochs=2)


# ---------------------------------------------------------------- sequence losses

TAGGER = """model net {
    input idx [7] int
    emb = embedding(10, 6)
    rnn = gru(6, 5)
    fc  = linear(5, 4)
    forward {
        out, h = rnn(emb(idx))
        return %s
    }
}
"""


class Tagger(nn.Module):
    def __init__(self, logsm):
        super().__init__()
        self.emb = nn.Embedding(10, 6)
        self.rnn = nn.GRU(6, 5, batch_first=True)
        self.fc = nn.Linear(5, 4)
        self.logsm = logsm

    def forward(self, idx):
        y = self.fc(self.rnn(self.emb(idx))[0])
        return F.log_softmax(y, -1) if self.logsm else y


def write_train(name, comment, nnet, train_block, init, expected, rows, files=(), losses=None):
    d = mf.case_dir("train", name)
    mf.write_nnet(d, comment, nnet + "\n" + train_block)
    mf.write_safetensors(os.path.join(d, "init.safetensors"), init)
    mf.write_safetensors(os.path.join(d, "expected.safetensors"), expected)
    if rows is not None:
        mf.write_csv(os.path.join(d, "train.csv"), rows)
    for fname, data in files:
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)
    if losses is not None:
        mf.write_csv(os.path.join(d, "losses.txt"), [[mf.fmt(v)] for v in losses])
    CASES.append("train/" + name)


def seq_loss_case(name, loss, smoothing, optimizer, make_opt, comment, epochs=3, batch=4, rows=10):
    """A tagger ([7] tokens -> [7, 4]) trained on [7] targets, about one in
    five of them -100 (ignored), batches in file order."""
    mf.seed_for("train/" + name)
    model = Tagger(loss == "nll")
    init = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    g = torch.Generator().manual_seed(21)
    x = torch.randint(0, 10, (rows, 7), generator=g)
    y = torch.randint(0, 4, (rows, 7), generator=g)
    y[torch.rand(rows, 7, generator=g) < 0.2] = -100
    y[0, :] = -100                  # a sample with no counted position
    y[1, :4] = torch.arange(4)
    opt = make_opt(model.parameters())
    model.train()
    losses = []
    for _ in range(epochs):
        tot = 0.0
        for b in range(0, rows, batch):
            opt.zero_grad()
            out = model(x[b:b + batch]).reshape(-1, 4)
            t = y[b:b + batch].reshape(-1)
            if loss == "nll":
                lv = F.nll_loss(out, t, ignore_index=-100)
            else:
                lv = F.cross_entropy(out, t, ignore_index=-100, label_smoothing=smoothing)
            lv.backward()
            opt.step()
            tot += float(lv) * min(batch, rows - b)
        losses.append(tot / rows)
    nloss = loss if not smoothing else "cross_entropy(label_smoothing = %g)" % smoothing
    nnet = TAGGER % ("log_softmax(fc(out), dim = 2)" if loss == "nll" else "fc(out)")
    block = "\n".join(["train net {", '    data      = csv("train.csv")', "    loss      = %s" % nloss,
                       "    optimizer = %s" % optimizer, "    epochs    = %d" % epochs,
                       "    batch     = %d" % batch, "    shuffle   = false", "    seed      = 1",
                       '    init      = "init.safetensors"', "}"]) + "\n"
    data = [["%d" % v for v in x[r].tolist()] + ["%d" % v for v in y[r].tolist()] for r in range(rows)]
    write_train(name, comment, nnet, block, init, model.state_dict(), data,
                losses=losses if batch >= rows else None)


def seq_loss_cases():
    seq_loss_case("seq2_tagger_ce", "cross_entropy", 0.0, "sgd(lr = 0.5)", lambda p: torch.optim.SGD(p, lr=0.5),
                  "[7, 4] outputs, [7] targets with -100 (ignored) positions: "
                  "F.cross_entropy(out.view(-1, C), y.view(-1))")
    seq_loss_case("seq2_tagger_nll", "nll", 0.0, "sgd(lr = 0.5)", lambda p: torch.optim.SGD(p, lr=0.5),
                  "nll on log_softmax over [7, 4] with ignored positions")
    seq_loss_case("seq2_tagger_smooth", "cross_entropy", 0.1, "adam(lr = 0.01)",
                  lambda p: torch.optim.Adam(p, lr=0.01),
                  "label_smoothing = 0.1 on a sequence output, ignored positions left out of the mean")
    seq_loss_case("seq2_tagger_smooth_full", "cross_entropy", 0.3, "sgd(lr = 0.5)",
                  lambda p: torch.optim.SGD(p, lr=0.5),
                  "label_smoothing = 0.3, the whole data in one batch: the loss of every step", epochs=5,
                  batch=10)


# ---------------------------------------------------------------- the GPT example

def gpt_text(n):
    """n bytes of sentences of a small grammar (deterministic, generated here)."""
    s = ["the cat", "a dog", "the bird", "my friend", "the old man", "a small child"]
    v = ["sees", "likes", "finds", "follows", "hears", "draws"]
    o = ["the moon", "a red ball", "the river", "a green tree", "the house", "a blue fish"]
    g = torch.Generator().manual_seed(7)
    out = ""
    while len(out) < n:
        i = torch.randint(0, 6, (3,), generator=g).tolist()
        out += "%s %s %s.\n" % (s[i[0]], v[i[1]], o[i[2]])
    return out[:n].encode()


class GptBlock(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)

    def forward(self, x):
        h = self.ln_1(x)
        x = x + mha(self.attn, h, h, h, True)
        return x + self.proj(F.gelu(self.fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, ctx, width, heads, layers):
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(ctx, width)
        self.h = nn.Sequential(*[GptBlock(width, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, vocab, bias=False)
        self.lm_head.weight = self.wte.weight     # tied: `weight = wte.weight`, one tensor

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        return self.lm_head(self.ln_f(self.h(x)))


def gpt_case():
    """examples/gpt.nnet's model (read from the example, so the two cannot
    drift apart; lm_head tied to wte, both names in the state_dict) trained
    ten steps: AdamW, the example's warm-up + cosine schedule per step,
    batch 16 of 64 bytes, one batch per epoch."""
    src = open(os.path.join(ROOT, "examples", "gpt.nnet")).read()
    model_text = src[:src.index("\ntrain gpt")] + "\n"
    model_text = model_text[model_text.index("\nlet ") + 1:]      # without the example's own header
    lets = dict((ln.split()[1], int(ln.split()[3])) for ln in src.splitlines() if ln.startswith("let "))
    assert "lm_head = linear(width, vocab, bias = false, weight = wte.weight)" in model_text, \
        "update Gpt: the example's lm_head is no longer tied to wte"
    assert "h = sequential(gpt_block(width, heads), gpt_block(width, heads))\n" in model_text
    vocab, ctx, width, heads = lets["vocab"], lets["ctx"], lets["width"], lets["heads"]
    name, steps, batch, lr = "seq2_gpt_10steps", 10, 16, 1e-2
    mf.seed_for("train/" + name)
    model = Gpt(vocab, ctx, width, heads, 2)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():           # GPT-2's init: N(0, 0.02), and non-zero biases and norms
        for k, p in model.named_parameters():
            if k.endswith("bias") or ".ln_" in k or k.startswith("ln_f"):
                p.copy_((1.0 if k.endswith("weight") else 0.0) + torch.randn(p.shape, generator=g) * 0.05)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    init = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    text = gpt_text(batch * ctx + 1)
    data = torch.tensor(list(text), dtype=torch.long)
    x = torch.stack([data[i * ctx:(i + 1) * ctx] for i in range(batch)])
    y = torch.stack([data[i * ctx + 1:(i + 1) * ctx + 1] for i in range(batch)])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    sch = mf.schedule(opt, [("linear_warmup", 20, None), ("cosine", 300, None)])
    model.train()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        loss.backward()
        opt.step()
        sch.step()
        losses.append(float(loss))
    block = src[src.index("\ntrain gpt") + 1:]
    block = block.replace('text("gpt_train.txt", ctx)', 'text("train.txt", ctx)')
    block = block.replace("    epochs    = 4\n", "    epochs    = %d\n" % steps)
    block = block.replace("    seed      = 1\n",
                          '    seed      = 1\n    shuffle   = false\n    init      = "init.safetensors"\n')
    assert 'text("train.txt", ctx)' in block and "epochs    = %d" % steps in block and "batch     = 16" in block
    assert "adamw(lr = 1e-2, weight_decay = 0.1)" in block
    assert '[linear_warmup(20, per = "step"), cosine(300, per = "step")]' in block
    write_train(name, "examples/gpt.nnet's model, ten AdamW steps (one batch of 16 x 64 bytes per epoch) "
                "from the same initial weights as PyTorch:\nthe loss of every step and the final parameters",
                model_text, block, init, model.state_dict(), None, files=[("train.txt", text)], losses=losses)


def main():
    for kind in ("infer", "train"):
        top = os.path.join(mf.OUT, kind)
        for d in os.listdir(top) if os.path.isdir(top) else []:
            if d.startswith("seq2_"):
                shutil.rmtree(os.path.join(top, d))
    n0 = len(mgf.CASES)
    attention_cases()
    rnn_cases()
    seq_loss_cases()
    gpt_case()
    CASES[:0] = mgf.CASES[n0:]
    print("seq2 fixtures: %d cases" % len(CASES))


if __name__ == "__main__":
    sys.exit(main())
