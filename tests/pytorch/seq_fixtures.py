"""Fixture cases of the sequence layers (LANGUAGE.md §9): embedding, lstm,
gru, gelu(approximate = "tanh"). Called by make_fixtures.py's main() with
that module, whose writers and helpers (infer, train, L, ...) it uses, so
the cases land in tests/fixtures/{infer,train}/seq_* like every other case.

nnc's sequence layers are nn.Sequential children here through thin
subclasses that keep PyTorch's parameter names: an LSTM/GRU passes on its
output sequence (batch first), an embedding reads indices carried as floats.
"""
import torch
import torch.nn as nn


class SeqLSTM(nn.LSTM):
    def forward(self, x):
        return super().forward(x)[0]


class SeqGRU(nn.GRU):
    def forward(self, x):
        return super().forward(x)[0]


class FloatEmbedding(nn.Embedding):
    def forward(self, x):
        return super().forward(x.long())


class Flatten(nn.Flatten):
    pass


def index_rows(n, t, num, g):
    """n samples of t indices in [0, num), every index used somewhere."""
    x = torch.randint(0, num, (n, t), generator=g)
    x.view(-1)[:num] = torch.arange(num)
    return x.float()


def rnn_text(kind, i, h, layers=1, bias=True, dropout=0.0, bidir=False):
    a = ["%d" % i, "%d" % h]
    if layers != 1:
        a.append("num_layers = %d" % layers)
    if not bias:
        a.append("bias = false")
    if dropout:
        a.append("dropout = %g" % dropout)
    if bidir:
        a.append("bidirectional = true")
    cls = SeqLSTM if kind == "lstm" else SeqGRU
    return mf_L("%s(%s)" % (kind, ", ".join(a)),
                cls(i, h, num_layers=layers, bias=bias, dropout=dropout, bidirectional=bidir,
                    batch_first=True))


mf_L = None


def seq_cases(mf):
    global mf_L
    mf_L = mf.L
    L = mf.L
    g = torch.Generator().manual_seed(12)

    # ---- inference, one per layer form
    mf.infer("seq_lstm", [6, 3], [rnn_text("lstm", 3, 5)], "lstm(3, 5): the output sequence [6, 5]")
    mf.infer("seq_lstm_2l_bi", [5, 3], [rnn_text("lstm", 3, 4, layers=2, bidir=True)],
             "two bidirectional LSTM layers: [5, 8], forward direction first")
    mf.infer("seq_lstm_nobias", [4, 2], [rnn_text("lstm", 2, 3, bias=False, layers=2)],
             "lstm without biases, two layers")
    mf.infer("seq_gru", [6, 3], [rnn_text("gru", 3, 5)], "gru(3, 5): gate order r, z, n")
    mf.infer("seq_gru_2l_bi", [5, 4], [rnn_text("gru", 4, 3, layers=2, bidir=True)],
             "two bidirectional GRU layers")
    mf.infer("seq_embedding", [7], [L("embedding(11, 4, padding_idx = 3)",
                                      FloatEmbedding(11, 4, padding_idx=3))],
             "embedding: rows of the table by index (indices as floats)",
             inputs=index_rows(5, 7, 11, g))
    mf.infer("seq_gelu_tanh", [9], [L("linear(9, 6)", nn.Linear(9, 6)),
                                    L('gelu(approximate = "tanh")', nn.GELU(approximate="tanh"))],
             "gelu with the tanh approximation")

    # ---- training: forward and gradients of each layer through a step or more
    x, y = mf.make_data(12, 18, label=3, g=g)
    mf.train("seq_lstm_adam", [6, 3],
             [rnn_text("lstm", 3, 4), L("flatten", Flatten()), L("linear(24, 3)", nn.Linear(24, 3))],
             "cross_entropy", "adam(lr = 0.01)", mf.adam(lr=0.01), (x, y), "label = -1",
             "an LSTM sequence classifier, Adam, three epochs of three batches")
    x, y = mf.make_data(10, 20, targets=2, g=g)
    mf.train("seq_gru_2l_bi_sgd", [5, 4],
             [rnn_text("gru", 4, 3, layers=2, bidir=True), L("flatten", Flatten()),
              L("linear(30, 2)", nn.Linear(30, 2))],
             "mse", "sgd(lr = 0.1, momentum = 0.9)", mf.sgd(lr=0.1, momentum=0.9), (x, y),
             "targets = 2", "two bidirectional GRU layers, SGD with momentum, regression")
    x, y = mf.make_data(12, 15, label=4, g=g)
    mf.train("seq_lstm_2l", [5, 3],
             [rnn_text("lstm", 3, 4, layers=2, bias=False), L("flatten", Flatten()),
              L("linear(20, 4)", nn.Linear(20, 4))],
             "cross_entropy", "sgd(lr = 0.3)", mf.sgd(lr=0.3), (x, y), "label = -1",
             "two LSTM layers without biases, SGD")
    xi = index_rows(12, 6, 9, g)
    yi = torch.randint(0, 3, (12,), generator=g)
    mf.train("seq_embedding", [6],
             [L("embedding(9, 5, padding_idx = 0)", FloatEmbedding(9, 5, padding_idx=0)),
              L("flatten", Flatten()), L("linear(30, 3)", nn.Linear(30, 3))],
             "cross_entropy", "sgd(lr = 0.5)", mf.sgd(lr=0.5), (xi, yi), "label = -1",
             "embedding + linear: row 0 (padding_idx) gets no gradient")
    x, y = mf.make_data(8, 6, targets=3, g=g)
    mf.train("seq_gelu_tanh", [6],
             [L("linear(6, 5)", nn.Linear(6, 5)), L('gelu(approximate = "tanh")', nn.GELU(approximate="tanh")),
              L("linear(5, 3)", nn.Linear(5, 3))],
             "mse", "sgd(lr = 0.1)", mf.sgd(lr=0.1), (x, y), "targets = 3",
             "gelu(approximate = \"tanh\") between two linear layers")
    # padding_idx = none written out (the default of LANGUAGE.md's table, PyTorch's None);
    # its own generator, so that the cases above keep their bytes
    g2 = torch.Generator().manual_seed(13)
    mf.infer("seq_embedding_none", [6], [L("embedding(8, 3, padding_idx = none)",
                                           FloatEmbedding(8, 3, padding_idx=None))],
             "embedding with padding_idx = none: no padding row",
             inputs=index_rows(4, 6, 8, g2))


def main():
    """Regenerate only these cases (tests/fixtures/*/seq_*), leaving the
    others' files as they are."""
    import glob
    import os
    import shutil
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_fixtures as mf
    for d in glob.glob(os.path.join(mf.OUT, "*", "seq_*")):
        shutil.rmtree(d)
    seq_cases(mf)
    print("%d fixture cases written: %s" % (len(mf.CASES), " ".join(mf.CASES)))


if __name__ == "__main__":
    main()
