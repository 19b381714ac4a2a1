#!/usr/bin/python3
"""PyTorch fixtures of the CNN examples (examples/mobilenet_block.nnet,
unet.nnet, digits_resnet.nnet): the same networks as torch.nn modules with
the same state_dict names, in inference (infer/example_*) and trained for
one epoch (train/example_digits_resnet: batch norm in training mode inside
blocks, the residual add's gradient, shared-input gradients summed).

    /usr/bin/python3 tests/pytorch/fixtures_cnn.py

rewrites only these cases. model.nnet is the example's text without its
train block, so the fixture checks the example itself."""
import collections
import os
import re
import shutil
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as fx  # noqa: E402

EXAMPLES = os.path.join(fx.ROOT, "examples")


def bn(c):
    return nn.BatchNorm2d(c)


class DSConv(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False)
        self.bn1 = bn(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = bn(cout)

    def forward(self, x):
        return F.relu(self.bn2(self.pw(F.relu(self.bn1(self.dw(x))))))


class MobileNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), bn(16), nn.ReLU())
        self.blocks = nn.Sequential(DSConv(16, 32), DSConv(32, 64, stride=2), DSConv(64, 64))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        h = F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1)
        return self.fc(torch.flatten(h, 1))


def double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), bn(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), bn(cout), nn.ReLU())


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1, self.enc2, self.bottom = double_conv(1, 16), double_conv(16, 32), double_conv(32, 64)
        self.up2 = nn.ConvTranspose2d(64, 32, 2, stride=2)
        self.dec2 = double_conv(64, 32)
        self.up1 = nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.dec1 = double_conv(32, 16)
        self.head = nn.Conv2d(16, 10, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottom(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return torch.flatten(F.adaptive_avg_pool2d(self.head(d1), 1), 1)


class Basic(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.conv1 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn1 = bn(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = bn(planes)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + x)


class Down(nn.Module):
    def __init__(self, inplanes, planes):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=2, padding=1, bias=False)
        self.bn1 = bn(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = bn(planes)
        self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=2, bias=False), bn(planes))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.downsample(x))


class DigitsResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = bn(16)
        self.layer1 = nn.Sequential(Basic(16), Basic(16))
        self.layer2 = nn.Sequential(Down(16, 32), Basic(32))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        h = self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


def model_text(example):
    """The example's blocks and model, without its train block."""
    text = open(os.path.join(EXAMPLES, example + ".nnet")).read()
    return re.sub(r"\ntrain \w+ \{.*?\n\}\n", "\n", text, flags=re.S)


def case_dir(kind, name):
    d = os.path.join(fx.OUT, kind, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def infer_case(name, example, model, comment):
    fx.seed_for("infer/" + name)
    m = model()
    fx.bn_setup(m)
    m.eval()
    x = fx.make_inputs(4, [1, 8, 8], scale=1.0)
    with torch.no_grad():
        y = m(x)
    d = case_dir("infer", name)
    fx.write_nnet(d, comment, model_text(example))
    fx.write_safetensors(os.path.join(d, "weights.safetensors"), m.state_dict())
    fx.write_csv(os.path.join(d, "input.csv"), fx.float_rows(x))
    fx.write_csv(os.path.join(d, "expected.csv"), fx.float_rows(y))
    fx.CASES.append("infer/" + name)


def train_case(name, example, model, comment, epochs=1, batch=5):
    fx.seed_for("train/" + name)
    m = model()
    fx.bn_setup(m)
    init = collections.OrderedDict((k, v.clone()) for k, v in m.state_dict().items())
    g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    x, y = fx.make_data(12, 64, label=10, g=g)
    x = x.reshape(12, 1, 8, 8)
    opt_text, opt = "sgd(lr = 0.05, momentum = 0.9)", fx.sgd(lr=0.05, momentum=0.9)
    fx.run_training(m, opt, "cross_entropy", x, y, epochs, batch)
    d = case_dir("train", name)
    fx.write_nnet(d, comment, model_text(example) + "\n" +
                  fx.nnet_train("label = -1", "cross_entropy", opt_text, epochs, batch)
                  .replace("train net", "train " + re.search(r"model (\w+)", model_text(example)).group(1)))
    fx.write_safetensors(os.path.join(d, "init.safetensors"), init)
    fx.write_safetensors(os.path.join(d, "expected.safetensors"), m.state_dict())
    fx.write_csv(os.path.join(d, "train.csv"), fx.data_rows(x.reshape(12, -1), y))
    fx.CASES.append("train/" + name)


def main():
    torch.set_num_threads(1)
    infer_case("example_mobilenet_block", "mobilenet_block", MobileNet,
               "examples/mobilenet_block.nnet against the same torch.nn network:\n"
               "depthwise-separable blocks, names blocks.1.dw.weight, stem.1.running_var")
    infer_case("example_unet", "unet", UNet,
               "examples/unet.nnet against the same torch.nn network: concatenated skips,\n"
               "conv_transpose2d, blocks with sequence bodies (enc1.0.weight)")
    infer_case("example_digits_resnet", "digits_resnet", DigitsResNet,
               "examples/digits_resnet.nnet against the same torch.nn network: residual adds,\n"
               "a downsample shortcut (layer2.0.downsample.1.running_mean)")
    train_case("example_digits_resnet", "digits_resnet", DigitsResNet,
               "examples/digits_resnet.nnet trained for an epoch of 12 digits in batches of 5:\n"
               "batch norm in training mode inside blocks, gradients through the adds")
    train_case("example_unet", "unet", UNet,
               "examples/unet.nnet trained for an epoch: gradients through cat,\n"
               "conv_transpose2d and max pooling")
    print("\n".join(fx.CASES))


if __name__ == "__main__":
    sys.exit(main())
