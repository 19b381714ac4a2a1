"""PyTorch fixtures of the version-2 layers (LANGUAGE.md §9): conv2d with
dilation, groups and padding = "same", conv1d, conv_transpose2d, maxpool1d,
avgpool1d, the pools' ceil_mode, adaptive_avg_pool2d, upsample (nearest, bilinear, linear) and
layernorm, each in
inference and in training (sequence models). Called by make_fixtures.py,
whose helpers (infer, train, L, ...) it uses: the cases are written like
its own, into the same folders.

    /usr/bin/python3 tests/pytorch/fixtures_layers.py

rewrites only these cases (their folders are deleted first), leaving every
other fixture as it is."""
import os
import shutil
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class LayerNormNoBias(nn.Module):
    """nn.LayerNorm(shape, bias=False) of PyTorch >= 2.1 (Debian's torch
    predates it): a weight, no bias."""

    def __init__(self, shape, eps=1e-5):
        super().__init__()
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.shape))

    def reset_parameters(self):
        nn.init.ones_(self.weight)

    def forward(self, x):
        return F.layer_norm(x, self.shape, self.weight, None, self.eps)


def ln_setup(model):
    """Non-trivial layernorm weights and biases, as if trained."""
    g = torch.Generator().manual_seed(11)
    for m in model.modules():
        if isinstance(m, (nn.LayerNorm, LayerNormNoBias)) and getattr(m, "weight", None) is not None:
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                if getattr(m, "bias", None) is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3)


def infer_cases(fx):
    L, infer = fx.L, fx.infer
    infer("conv2d_dilation_groups", [4, 9, 9],
          [L("conv2d(4, 6, 3, stride = 2, padding = 2, dilation = 2, groups = 2)",
             nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2))],
          "conv2d with dilation 2 and 2 groups: weight [6, 2, 3, 3]; [4,9,9] -> [6,4,4]")
    infer("conv2d_depthwise", [6, 8, 8],
          [L("conv2d(6, 12, 3, padding = 1, groups = 6)", nn.Conv2d(6, 12, 3, padding=1, groups=6)),
           L("relu", nn.ReLU()),
           L("conv2d(12, 5, 1)", nn.Conv2d(12, 5, 1))],
          "a depthwise conv2d (groups = in_channels, two outputs per channel), relu,\n"
          "then a pointwise one: a depthwise-separable pair")
    infer("conv2d_depthwise_s2", [4, 9, 8],
          [L("conv2d(4, 4, [3, 2], stride = 2, padding = [1, 0], dilation = [1, 2], groups = 4, bias = false)",
             nn.Conv2d(4, 4, (3, 2), stride=2, padding=(1, 0), dilation=(1, 2), groups=4, bias=False))],
          "depthwise, stride 2, a [3, 2] kernel with dilation [1, 2], no bias")
    infer("conv2d_padding_same", [3, 7, 6],
          [L('conv2d(3, 4, 3, padding = "same", dilation = 2)', nn.Conv2d(3, 4, 3, padding="same", dilation=2))],
          'conv2d(padding = "same") keeps [7, 6] (dilation 2: padding 2)')
    infer("conv1d", [4, 11],
          [L("conv1d(4, 6, 3, stride = 2, padding = 1, dilation = 2, groups = 2)",
             nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2)),
           L("tanh", nn.Tanh()),
           L("conv1d(6, 3, 1)", nn.Conv1d(6, 3, 1))],
          "conv1d on [channels, length], stride, padding, dilation and groups;\n"
          "then a pointwise conv1d: [4,11] -> [6,5] -> [3,5]")
    infer("conv_transpose2d", [4, 3, 4],
          [L("conv_transpose2d(4, 6, 3, stride = 2, padding = 1, output_padding = 1, groups = 2, dilation = [1, 2])",
             nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=(1, 2)))],
          "conv_transpose2d: weight [in, out/groups, kh, kw] = [4, 3, 3, 3];\n"
          "[4,3,4] -> [6,6,10]")
    infer("conv_transpose2d_k2s2", [3, 4, 5],
          [L("conv_transpose2d(3, 2, 2, stride = 2, bias = false)",
             nn.ConvTranspose2d(3, 2, 2, stride=2, bias=False))],
          "the U-Net upsampler: kernel 2, stride 2 doubles [4, 5] to [8, 10]")
    infer("maxpool1d", [3, 10], [L("maxpool1d(3, stride = 2, padding = 1)", nn.MaxPool1d(3, stride=2, padding=1))],
          "maxpool1d on mostly negative values: the padding is -inf", shift=-2.0)
    infer("avgpool1d", [3, 11],
          [L("avgpool1d(4, stride = 3, padding = 2)", nn.AvgPool1d(4, stride=3, padding=2)),
           L("avgpool1d(2)", nn.AvgPool1d(2))],
          "avgpool1d with padding (count_include_pad = True), then the default stride")
    infer("pool_ceil_mode", [3, 7, 8],
          [L("maxpool2d(2, ceil_mode = true)", nn.MaxPool2d(2, ceil_mode=True)),
           L("avgpool2d(3, 2, 1, ceil_mode = true)", nn.AvgPool2d(3, 2, 1, ceil_mode=True)),
           L("maxpool2d([3, 2], stride = [2, 3], ceil_mode = true)",
             nn.MaxPool2d((3, 2), stride=(2, 3), ceil_mode=True))],
          "ceil_mode = true keeps the last partial window (PyTorch's keyword):\n"
          "[3,7,8] -> [3,4,4] -> [3,3,3] (divisor clipped to the padded input)\n"
          "-> [3,2,1]", shift=-1.0)
    infer("pool1d_ceil_mode", [3, 11],
          [L("maxpool1d(3, ceil_mode = true)", nn.MaxPool1d(3, ceil_mode=True)),
           L("avgpool1d(3, 2, 1, ceil_mode = true)", nn.AvgPool1d(3, 2, 1, ceil_mode=True))],
          "maxpool1d and avgpool1d with ceil_mode = true: [3,11] -> [3,4] -> [3,3]", shift=-1.0)
    infer("adaptive_avg_pool2d", [3, 7, 5],
          [L("adaptive_avg_pool2d([3, 2])", nn.AdaptiveAvgPool2d((3, 2)))],
          "adaptive_avg_pool2d: overlapping windows [floor(i·7/3), ceil((i+1)·7/3))")
    infer("adaptive_avg_pool2d_1", [4, 6, 6],
          [L("adaptive_avg_pool2d(1)", nn.AdaptiveAvgPool2d(1)), L("flatten", nn.Flatten()),
           L("linear(4, 2)", nn.Linear(4, 2))],
          "global average pooling (output_size = 1) before a linear head, as ResNet")
    infer("upsample", [2, 3, 4], [L("upsample(2)", nn.Upsample(scale_factor=2, mode="nearest"))],
          "upsample(2), nearest: each value repeated 2x2")
    infer("upsample_frac", [2, 5, 4],
          [L('upsample(scale_factor = [1.5, 0.75], mode = "nearest")',
             nn.Upsample(scale_factor=(1.5, 0.75), mode="nearest"))],
          "upsample by 1.5 and 0.75: PyTorch's source index floor(dst / scale)")
    infer("upsample_1d", [2, 5], [L("upsample(3)", nn.Upsample(scale_factor=3))],
          "upsample of a [channels, length] sample")
    infer("upsample_bilinear", [2, 3, 4],
          [L('upsample(2, mode = "bilinear")', nn.Upsample(scale_factor=2, mode="bilinear"))],
          "upsample(2), bilinear (align_corners = false): source (dst + 0.5) / 2 - 0.5")
    infer("upsample_bilinear_frac", [2, 5, 4],
          [L('upsample(scale_factor = [1.5, 3], mode = "bilinear")',
             nn.Upsample(scale_factor=(1.5, 3), mode="bilinear")),
           L('upsample(scale_factor = 1.7, mode = "bilinear", align_corners = true)',
             nn.Upsample(scale_factor=1.7, mode="bilinear", align_corners=True))],
          "bilinear by 1.5 and 3 (source (dst + 0.5) / scale - 0.5), then by 1.7 with\n"
          "align_corners: [2,5,4] -> [2,7,12] -> [2,11,20]")
    infer("upsample_linear_1d", [2, 5],
          [L('upsample(2.5, mode = "linear")', nn.Upsample(scale_factor=2.5, mode="linear"))],
          "upsample of a [channels, length] sample, mode linear, by 2.5")
    infer("layernorm", [5, 6], [L("layernorm(6)", nn.LayerNorm(6))],
          "layernorm over the last dimension, non-trivial weight and bias", setup=ln_setup)
    infer("layernorm_2d", [3, 4, 5],
          [L("layernorm([4, 5], eps = 1e-3)", nn.LayerNorm([4, 5], eps=1e-3))],
          "layernorm over the last two dimensions, eps = 1e-3", setup=ln_setup)
    infer("layernorm_plain", [7], [L("linear(7, 6)", nn.Linear(7, 6)),
                                   L("layernorm(6, elementwise_affine = false)",
                                     nn.LayerNorm(6, elementwise_affine=False))],
          "layernorm without weight and bias (no parameters)")
    infer("layernorm_nobias", [2, 6], [L("layernorm(6, bias = false)", LayerNormNoBias(6))],
          "layernorm(bias = false): a weight only (PyTorch >= 2.1)", setup=ln_setup)


def train_cases(fx):
    L, train, make_data, sgd = fx.L, fx.train, fx.make_data, fx.sgd
    g = lambda name: torch.Generator().manual_seed(fx.zlib.crc32(name.encode()))
    dsgd, dsgd_fn = "sgd(lr = 0.1)", sgd(lr=0.1)
    msgd, msgd_fn = "sgd(lr = 0.05, momentum = 0.9)", sgd(lr=0.05, momentum=0.9)

    def case(name, shape, layers, comment, opt=(dsgd, dsgd_fn), setup=None, classes=3):
        n_in = 1
        for d in shape:
            n_in *= d
        train(name, shape, layers, "cross_entropy", opt[0], opt[1],
              make_data(14, n_in, label=classes, g=g(name)), "label = -1", comment, setup=setup)

    case("conv2d_dilation_groups", [4, 7, 7],
         [L("conv2d(4, 6, 3, stride = 2, padding = 2, dilation = 2, groups = 2)",
            nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)),
          L("relu", nn.ReLU()), L("flatten", nn.Flatten()), L("linear(96, 3)", nn.Linear(96, 3))],
         "conv2d with dilation and groups trained (its weight [6, 2, 3, 3])")
    case("conv2d_depthwise", [3, 6, 6],
         [L("conv2d(3, 6, 3, padding = 1, groups = 3)", nn.Conv2d(3, 6, 3, padding=1, groups=3)),
          L("relu", nn.ReLU()), L("conv2d(6, 4, 1)", nn.Conv2d(6, 4, 1)),
          L("flatten", nn.Flatten()), L("linear(144, 3)", nn.Linear(144, 3))],
         "depthwise then pointwise conv2d trained, sgd with momentum", opt=(msgd, msgd_fn))
    case("conv1d_pools", [4, 12],
         [L("conv1d(4, 6, 3, padding = 1, groups = 2)", nn.Conv1d(4, 6, 3, padding=1, groups=2)),
          L("relu", nn.ReLU()), L("maxpool1d(2)", nn.MaxPool1d(2)),
          L("conv1d(6, 4, 2, dilation = 2)", nn.Conv1d(6, 4, 2, dilation=2)),
          L("avgpool1d(3, stride = 2, padding = 1)", nn.AvgPool1d(3, stride=2, padding=1)),
          L("flatten", nn.Flatten()), L("linear(8, 3)", nn.Linear(8, 3))],
         "conv1d, maxpool1d, dilated conv1d, avgpool1d with padding, trained:\n"
         "[4,12] -> [6,12] -> [6,6] -> [4,4] -> [4,2]")
    case("pool_ceil_mode", [2, 5, 7],
         [L("conv2d(2, 3, 3, padding = 1)", nn.Conv2d(2, 3, 3, padding=1)),
          L("maxpool2d(2, ceil_mode = true)", nn.MaxPool2d(2, ceil_mode=True)), L("relu", nn.ReLU()),
          L("avgpool2d(3, 2, 1, ceil_mode = true)", nn.AvgPool2d(3, 2, 1, ceil_mode=True)),
          L("flatten", nn.Flatten()), L("linear(18, 3)", nn.Linear(18, 3))],
         "maxpool2d and avgpool2d with ceil_mode = true trained (the partial\n"
         "windows' gradients): [3,5,7] -> [3,3,4] -> [3,2,3]")
    case("conv_transpose2d", [2, 3, 3],
         [L("conv_transpose2d(2, 4, 3, stride = 2, padding = 1, output_padding = 1, groups = 2)",
            nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2)),
          L("tanh", nn.Tanh()), L("flatten", nn.Flatten()), L("linear(144, 3)", nn.Linear(144, 3))],
         "conv_transpose2d with groups and output_padding trained: [2,3,3] -> [4,6,6]")
    case("resize", [2, 5, 5],
         [L("conv2d(2, 3, 1)", nn.Conv2d(2, 3, 1)), L("upsample(2)", nn.Upsample(scale_factor=2)),
          L("conv2d(3, 3, 3)", nn.Conv2d(3, 3, 3)),
          L("adaptive_avg_pool2d(3)", nn.AdaptiveAvgPool2d(3)),
          L("flatten", nn.Flatten()), L("linear(27, 3)", nn.Linear(27, 3))],
         "upsample (nearest) and adaptive_avg_pool2d between convolutions, trained:\n"
         "[2,5,5] -> [3,10,10] -> [3,8,8] -> [3,3,3]")
    case("resize_bilinear", [2, 5, 5],
         [L("conv2d(2, 3, 1)", nn.Conv2d(2, 3, 1)),
          L('upsample(2, mode = "bilinear")', nn.Upsample(scale_factor=2, mode="bilinear")),
          L("conv2d(3, 3, 3)", nn.Conv2d(3, 3, 3)),
          L('upsample(1.5, mode = "bilinear", align_corners = true)',
            nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True)),
          L("flatten", nn.Flatten()), L("linear(432, 3)", nn.Linear(432, 3))],
         "bilinear upsample between convolutions, trained (its gradient reaches the\n"
         "first conv): [2,5,5] -> [3,10,10] -> [3,8,8] -> [3,12,12]")
    case("layernorm", [8],
         [L("linear(8, 6)", nn.Linear(8, 6)), L("layernorm(6)", nn.LayerNorm(6)),
          L("relu", nn.ReLU()), L("linear(6, 3)", nn.Linear(6, 3))],
         "layernorm between two linears trained (weight and bias move)", setup=ln_setup)
    case("layernorm_2d", [3, 4],
         [L("conv1d(3, 3, 1)", nn.Conv1d(3, 3, 1)),
          L("layernorm([3, 4], eps = 1e-3)", nn.LayerNorm([3, 4], eps=1e-3)),
          L("flatten", nn.Flatten()), L("linear(12, 3)", nn.Linear(12, 3))],
         "layernorm over two dimensions trained", setup=ln_setup)
    case("layernorm_nobias", [6],
         [L("linear(6, 5)", nn.Linear(6, 5)), L("layernorm(5, bias = false)", LayerNormNoBias(5)),
          L("linear(5, 3)", nn.Linear(5, 3))],
         "layernorm(bias = false) trained: a weight only", setup=ln_setup)


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_fixtures as fx
    before = set()
    for kind in ("infer", "train"):
        d = os.path.join(fx.OUT, kind)
        before |= {kind + "/" + c for c in os.listdir(d)} if os.path.isdir(d) else set()

    # the folders of these cases only: infer/train a dry run into a list first
    mine = []
    real_infer, real_train = fx.infer, fx.train
    fx.infer = lambda name, *a, **k: mine.append("infer/" + name)
    fx.train = lambda name, *a, **k: mine.append("train/" + name)
    infer_cases(fx)
    train_cases(fx)
    fx.infer, fx.train = real_infer, real_train
    for c in mine:
        shutil.rmtree(os.path.join(fx.OUT, c), ignore_errors=True)
    infer_cases(fx)
    train_cases(fx)
    print("%d layer fixture cases written under %s" % (len(mine), os.path.relpath(fx.OUT)))


if __name__ == "__main__":
    sys.exit(main())
