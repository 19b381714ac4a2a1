#!/usr/bin/python3
"""Write what the resnet18 example test compares against:

    /usr/bin/python3 tests/pytorch/resnet18_check.py WORKDIR

WORKDIR/resnet18.pth: torchvision's resnet18 state_dict with its own random
initialisation (no download), the batch norms given non-trivial running
statistics and affine parameters as if trained; WORKDIR/images.csv: two
3x224x224 images, one per row; WORKDIR/expected.csv: PyTorch's outputs in
eval mode (1000 logits per image). Exit 77 when torchvision is missing (the
test is then skipped)."""
import os
import sys

try:
    import torch
    import torchvision
except ImportError as e:
    print("resnet18_check: %s (needs Debian's python3-torchvision)" % e)
    sys.exit(77)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(2024)
    torch.set_num_threads(1)
    model = torchvision.models.resnet18(weights=None)
    g = torch.Generator().manual_seed(18)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.num_batches_tracked.fill_(100)
    model.eval()
    torch.save(model.state_dict(), os.path.join(out, "resnet18.pth"))
    x = torch.randn(2, 3, 224, 224, generator=g)
    with torch.no_grad():
        y = model(x)
    for name, t in (("images.csv", x), ("expected.csv", y)):
        with open(os.path.join(out, name), "w") as f:
            for row in t.reshape(t.shape[0], -1).tolist():
                f.write(",".join("%.9g" % v for v in row) + "\n")
    print("resnet18: outputs in [%.3f, %.3f]" % (float(y.min()), float(y.max())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
