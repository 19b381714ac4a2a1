"""PyTorch-agreement fixtures of weight tying (LANGUAGE.md §8):
`lm_head = linear(E, V, bias = false, weight = wte.weight)` is PyTorch's
`self.lm_head.weight = self.wte.weight`: one tensor, in the state_dict
under both names, its gradient the sum of both uses, updated once.

    /usr/bin/python3 tests/pytorch/make_tie_fixtures.py

Writes tests/fixtures/infer/tie_* and tests/fixtures/train/tie_* in the
formats of make_fixtures.py (which calls this module last, as it does
make_graph_fixtures). The train cases read a text() file of byte tokens
below the vocabulary (sample i: x = bytes[iT .. iT + T - 1], targets the
next bytes) and take cross_entropy over every position, as
F.cross_entropy(out.view(-1, V), y.view(-1)). tie_lm_head_adam's init holds
only the owner's name (wte.weight): the tie's may be absent from a file.
"""
import collections
import glob
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

V, E, T = 11, 8, 6

LM_NNET = """model net {
    input idx [%d] int
    wte = embedding(%d, %d)
    ln  = layernorm(%d)
    fc  = linear(%d, %d)
    lm_head = linear(%d, %d, bias = false, weight = wte.weight)
    forward {
        h = wte(idx)
        h = h + tanh(fc(ln(h)))
        return lm_head(h)
    }
}
""" % (T, V, E, E, E, E, E, V)


class LM(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, E)
        self.ln = nn.LayerNorm(E)
        self.fc = nn.Linear(E, E)
        self.lm_head = nn.Linear(E, V, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        h = self.wte(idx.long())
        h = h + torch.tanh(self.fc(self.ln(h)))
        return self.lm_head(h)


# the tie in the middle of the state_dict, a tied layer with its own bias,
# another layer after it
HEAD_NNET = """model net {
    input idx [%d] int
    wte  = embedding(%d, %d)
    head = linear(%d, %d, weight = wte.weight)
    out  = linear(%d, %d)
    forward {
        return out(relu(head(wte(idx))))
    }
}
""" % (T, V, E, E, V, V, V)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, E)
        self.head = nn.Linear(E, V)
        self.head.weight = self.wte.weight
        self.out = nn.Linear(V, V)

    def forward(self, idx):
        return self.out(F.relu(self.head(self.wte(idx.long()))))


CASES = []


def index_rows(n, g):
    x = torch.randint(0, V, (n, T), generator=g)
    x.view(-1)[:V] = torch.arange(V)
    return x


def infer(name, nnet, module, comment, n=4):
    mf.seed_for("infer/" + name)
    model = module()
    model.eval()
    assert model.state_dict()["wte.weight"].data_ptr() == \
        [v for k, v in model.state_dict().items() if k != "wte.weight" and v.shape == (V, E)][0].data_ptr()
    x = index_rows(n, torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = model(x)
    d = mf.case_dir("infer", name)
    mf.write_nnet(d, comment, nnet)
    mf.write_safetensors(os.path.join(d, "weights.safetensors"), model.state_dict())
    mf.write_csv(os.path.join(d, "input.csv"), [["%d" % v for v in r] for r in x.tolist()])
    mf.write_csv(os.path.join(d, "expected.csv"), mf.float_rows(y))
    CASES.append("infer/" + name)


def train(name, nnet, module, optimizer, make_opt, comment, owner_only=False, epochs=2, batch=4,
          nbytes=67, freeze=None):
    mf.seed_for("train/" + name)
    model = module()
    if freeze:      # requires_grad off on the layer's parameters: the shared one too
        for p in getattr(model, freeze).parameters():
            p.requires_grad = False
    init = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items()
                                   if not (owner_only and k == "lm_head.weight"))
    g = torch.Generator().manual_seed(11)
    data = torch.randint(0, V, (nbytes,), generator=g)
    n = (nbytes - 1) // T
    x = torch.stack([data[i * T:i * T + T] for i in range(n)])
    y = torch.stack([data[i * T + 1:i * T + T + 1] for i in range(n)])
    opt = make_opt([p for p in model.parameters() if p.requires_grad])
    assert len(list(model.parameters())) == len(model.state_dict()) - 1  # the tie counted once
    model.train()
    for _ in range(epochs):
        for b in range(0, n, batch):
            opt.zero_grad()
            out = model(x[b:b + batch])
            F.cross_entropy(out.reshape(-1, V), y[b:b + batch].reshape(-1)).backward()
            opt.step()
    d = mf.case_dir("train", name)
    text = "\n".join(["train net {",
                      '    data      = text("train.txt", %d)' % T,
                      "    loss      = cross_entropy",
                      "    optimizer = %s" % optimizer,
                      "    epochs    = %d" % epochs,
                      "    batch     = %d" % batch,
                      "    shuffle   = false",
                      "    seed      = 1",
                      '    init      = "init.safetensors"'] +
                     (['    freeze    = ["%s"]' % freeze] if freeze else []) + ["}"]) + "\n"
    mf.write_nnet(d, comment, nnet + "\n" + text)
    mf.write_safetensors(os.path.join(d, "init.safetensors"), init)
    mf.write_safetensors(os.path.join(d, "expected.safetensors"), model.state_dict())
    with open(os.path.join(d, "train.txt"), "wb") as f:
        f.write(bytes(data.tolist()))
    if freeze:
        with open(os.path.join(d, "exact.txt"), "w") as f:
            f.write("".join(k + "\n" for k, p in model.state_dict(keep_vars=True).items()
                            if not p.requires_grad))
    CASES.append("train/" + name)


def cases():
    infer("tie_lm_head", LM_NNET, LM, "lm_head tied to the token embedding (weight = wte.weight): "
          "one tensor, both names in the weights")
    infer("tie_head_bias", HEAD_NNET, Head, "a tied linear with its own bias, a layer after it: "
          "the tie in the middle of the state_dict")
    train("tie_lm_head_sgd", LM_NNET, LM, "sgd(lr = 0.5)", mf.sgd(lr=0.5),
          "tied embedding / lm_head trained with SGD: the shared gradient sums both uses")
    train("tie_lm_head_adam", LM_NNET, LM, "adam(lr = 0.01)", mf.adam(lr=0.01),
          "tied embedding / lm_head trained with Adam (updated once); init holds only wte.weight",
          owner_only=True, epochs=3)
    train("tie_head_bias_sgd", HEAD_NNET, Head, "sgd(lr = 0.3, momentum = 0.9)", mf.sgd(lr=0.3, momentum=0.9),
          "a tied linear with its own bias, SGD with momentum")
    train("tie_frozen_head", HEAD_NNET, Head, "sgd(lr = 0.3)", mf.sgd(lr=0.3),
          "freeze = [\"head\"] freezes the tensor head shares with wte (requires_grad), and head.bias",
          freeze="head")


def pth_files():
    """tests/data/tie: torch.save of the tie_lm_head fixture's state_dict
    (both names, one storage), without the tie's name, and with the tie's
    values changed (refused), for tests/golden/cli/program_tie.sh."""
    d = os.path.join(os.path.dirname(mf.OUT), "data", "tie")
    os.makedirs(d, exist_ok=True)
    sd = mf.read_safetensors(os.path.join(mf.OUT, "infer", "tie_lm_head", "weights.safetensors"))
    model = LM()
    model.load_state_dict(sd)
    torch.save(model.state_dict(), os.path.join(d, "tied.pth"))
    owner = collections.OrderedDict((k, v) for k, v in model.state_dict().items() if k != "lm_head.weight")
    torch.save(owner, os.path.join(d, "owner.pth"))
    differ = collections.OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    differ["lm_head.weight"][2, 1] += 0.5
    torch.save(differ, os.path.join(d, "differ.pth"))


def main():
    for d in glob.glob(os.path.join(mf.OUT, "*", "tie_*")):
        shutil.rmtree(d)
    cases()
    pth_files()
    print("%d fixture cases written: %s" % (len(CASES), " ".join(CASES)))


if __name__ == "__main__":
    main()
