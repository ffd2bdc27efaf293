"""The refinery's ResNets (models/factory.cpp, models/resnet.cpp) as PyTorch modules, for the
files `refine_app export MODEL --format pytorch OUT.safetensors` writes:

    from refinery_resnet import load_export
    model, meta = load_export("model_pytorch.safetensors")   # load_state_dict(strict=True), eval mode
    x = (pixels / 255 - mean) / std, NCHW float32, mean/std from meta; logits = model(x)

Every architecture of the factory: resnet8/20/56 (CIFAR stem, basic blocks, widths 16/32/64),
resnet18/34 and their -cifar variants (torchvision's basic-block ResNets), resnet50 (the blog's
Keras ResNet50: bottlenecks, a bias on every conv, the stride on a stage's first 1x1 conv, batch
norm epsilon 1.001e-5) and resnet50-cifar. Padding is symmetric, k // 2 on a k x k conv; the
ImageNet stem is a 7x7/2 conv (padding 3) and a 3x3/2 max pool (padding 1), which equal Keras'
ZeroPadding2D + 'valid' layers (bench/blog_resnet_twin.py keeps those literally). Names equal the
export's: stem.conv, stem.bn, stage1.block0.conv1, ..., shortcut.conv, shortcut.bn, fc.
"""
import json

import torch
from torch import nn

CIFAR = dict(block="basic", stem="cifar", stem_width=16, widths=(16, 32, 64), bias=False, v1=False, eps=1e-5)
TORCHVISION = dict(block="basic", stem="imagenet", stem_width=64, widths=(64, 128, 256, 512), bias=False, v1=False, eps=1e-5)
KERAS50 = dict(block="bottleneck", stem="imagenet", stem_width=64, widths=(64, 128, 256, 512), bias=True, v1=True, eps=1.001e-5)
ARCHS = {"resnet8": (CIFAR, (1, 1, 1)), "resnet20": (CIFAR, (3, 3, 3)), "resnet56": (CIFAR, (9, 9, 9)),
         "resnet18": (TORCHVISION, (2, 2, 2, 2)), "resnet34": (TORCHVISION, (3, 4, 6, 3)), "resnet50": (KERAS50, (3, 4, 6, 3))}


class ConvBn(nn.Module):
    def __init__(self, cin, cout, k, stride, c):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=c["bias"])
        self.bn = nn.BatchNorm2d(cout, eps=c["eps"])

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    """Basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1 to 4x width) block, projection shortcut where the shape changes."""

    def __init__(self, cin, width, stride, c):
        super().__init__()
        out = width if c["block"] == "basic" else 4 * width
        if c["block"] == "basic":
            ks, strides, outs = (3, 3), (stride, 1), (width, width)
        else:
            ks, strides, outs = (1, 3, 1), ((stride, 1, 1) if c["v1"] else (1, stride, 1)), (width, width, out)
        self.n = len(ks)
        for i, (k, s, o) in enumerate(zip(ks, strides, outs), start=1):
            setattr(self, f"conv{i}", nn.Conv2d(cin if i == 1 else outs[i - 2], o, k, s, padding=k // 2, bias=c["bias"]))
            setattr(self, f"bn{i}", nn.BatchNorm2d(o, eps=c["eps"]))
        self.shortcut = ConvBn(cin, out, 1, stride, c) if (stride != 1 or cin != out) else None

    def forward(self, x):
        h = x
        for i in range(1, self.n + 1):
            h = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(h))
            h = torch.relu(h) if i < self.n else h
        return torch.relu(h + (self.shortcut(x) if self.shortcut is not None else x))


class RefineryResNet(nn.Module):
    def __init__(self, arch, classes, in_channels):
        super().__init__()
        base = arch.removesuffix("-cifar")  # resnet18/34/50 with the CIFAR stem (3x3/1 conv, no pool)
        c, blocks = ARCHS[base]
        c = dict(c, stem="cifar") if base != arch else c
        self.stem = nn.Module()
        imagenet = c["stem"] == "imagenet"
        self.stem.conv = nn.Conv2d(in_channels, c["stem_width"], 7 if imagenet else 3, 2 if imagenet else 1,
                                   padding=3 if imagenet else 1, bias=c["bias"])
        self.stem.bn = nn.BatchNorm2d(c["stem_width"], eps=c["eps"])
        self.pool = nn.MaxPool2d(3, 2, padding=1) if imagenet else nn.Identity()
        cin, self.stages = c["stem_width"], []
        for s, (n, w) in enumerate(zip(blocks, c["widths"])):
            stage = nn.Sequential()
            for b in range(n):
                stage.add_module(f"block{b}", Block(cin, w, 2 if (s > 0 and b == 0) else 1, c))
                cin = w if c["block"] == "basic" else 4 * w
            setattr(self, f"stage{s + 1}", stage)
            self.stages.append(stage)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.stem.bn(self.stem.conv(x))))
        for stage in self.stages:
            x = stage(x)
        return self.fc(x.mean(dim=(2, 3)))


def load_export(path):
    """The model of an exported file (strict load, eval mode) and the file's metadata, with
    normalization_mean/std and class_names parsed."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(path, "pt") as f:
        meta = dict(f.metadata())
    for key in ("normalization_mean", "normalization_std", "class_names"):
        meta[key] = json.loads(meta[key])
    model = RefineryResNet(meta["arch"], int(meta["classes"]), int(meta["in_channels"]))
    model.load_state_dict(load_file(path), strict=True)
    return model.eval(), meta
