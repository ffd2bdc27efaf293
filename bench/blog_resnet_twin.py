"""The blog's Keras ResNet50 written in PyTorch, layer for layer as Keras builds it, so our engine's
models/resnet.cpp (config "resnet50" in models/factory.cpp) can be compared with a reference
framework. Shared by bench/make_trajectory_golden.py, bench/blog_twin_pytorch.py and
bench/compare_train_cpu.py.

Keras' structure is kept literally where ours takes a shortcut, so a comparison also checks the
shortcut: ZeroPadding2D(3) + 7x7/2 'valid' conv (ours: pad 3), ZeroPadding2D(1) + 3x3/2 max pool
(ours: pad 1, padding that never wins after a ReLU). Every conv has a bias, batch norm uses
Keras' epsilon 1.001e-5 and momentum 0.99 (PyTorch's 0.01), the stride of a stage's first block
sits on its first 1x1 conv (v1), kernels are glorot-uniform and biases zero.

Module and parameter names equal ours (stem.conv.weight, stage1.block0.conv1.weight, ...,
shortcut.conv.weight, fc.weight); `to_ours` / `from_ours` convert conv weights between PyTorch's
OIHW and our KRSC.
"""
import numpy as np
import torch
from torch import nn

BN_EPS = 1.001e-5
BN_MOMENTUM = 0.01  # PyTorch convention: running = 0.99 * running + 0.01 * batch


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class Projection(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, stride, bias=True)
        self.bn = bn(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class Bottleneck(nn.Module):
    """Keras conv_block (projection) or identity_block."""

    def __init__(self, cin, width, stride):
        super().__init__()
        out = 4 * width
        self.conv1 = nn.Conv2d(cin, width, 1, stride, bias=True)
        self.bn1 = bn(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, padding=1, bias=True)  # Keras 'same'
        self.bn2 = bn(width)
        self.conv3 = nn.Conv2d(width, out, 1, 1, bias=True)
        self.bn3 = bn(out)
        self.shortcut = Projection(cin, out, stride) if (stride != 1 or cin != out) else None

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        s = self.shortcut(x) if self.shortcut is not None else x
        return torch.relu(h + s)


class Stem(nn.Module):
    """keras_padding: Keras' explicit ZeroPadding2D layers (a comparison checks our shortcut);
    False: the conv's and the pool's own padding, as ours (a benchmark times no extra copies)."""

    def __init__(self, cin, width, keras_padding=True):
        super().__init__()
        self.pad_conv = nn.ZeroPad2d(3) if keras_padding else nn.Identity()
        self.conv = nn.Conv2d(cin, width, 7, 2, padding=0 if keras_padding else 3, bias=True)
        self.bn = bn(width)
        self.pad_pool = nn.ZeroPad2d(1) if keras_padding else nn.Identity()
        self.pool = nn.MaxPool2d(3, 2, padding=0 if keras_padding else 1)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(self.pad_conv(x))))
        return self.pool(self.pad_pool(x))


class BlogResNet(nn.Module):
    """Input NCHW. ResNet50 is stem_width 64, blocks (3, 4, 6, 3), widths (64, 128, 256, 512)."""

    def __init__(self, stem_width=64, blocks=(3, 4, 6, 3), widths=(64, 128, 256, 512),
                 classes=10, in_channels=3, keras_padding=True):
        super().__init__()
        self.stem = Stem(in_channels, stem_width, keras_padding)
        cin = stem_width
        for s, (n, w) in enumerate(zip(blocks, widths)):
            stage = nn.Module()
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                setattr(stage, f"block{b}", Bottleneck(cin, w, stride))
                cin = 4 * w
            setattr(self, f"stage{s + 1}", stage)
        self.num_stages = len(blocks)
        self.blocks = list(blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.stem(x)
        for s in range(self.num_stages):
            stage = getattr(self, f"stage{s + 1}")
            for b in range(self.blocks[s]):
                x = getattr(stage, f"block{b}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def keras_init_(model, seed):
    """glorot_uniform kernels (limit sqrt(6 / (fan_in + fan_out)), receptive field included),
    zero biases; batch norm gamma 1, beta 0, running mean 0, variance 1 (PyTorch's defaults)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight
            rf = w[0, 0].numel()  # 1 for a linear layer
            fan_in, fan_out = w.shape[1] * rf, w.shape[0] * rf
            limit = (6.0 / (fan_in + fan_out)) ** 0.5
            with torch.no_grad():
                w.copy_((torch.rand(w.shape, generator=g, dtype=torch.float64) * 2 - 1) * limit)
                m.bias.zero_()


def is_conv_weight(name, t):
    return name.endswith(".weight") and t.dim() == 4


def to_ours(model):
    """Parameters and running statistics by our names, conv weights KRSC, as float32 numpy."""
    out = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        t = t.detach().to(torch.float32)
        if is_conv_weight(name, t):
            t = t.permute(0, 2, 3, 1)
        out[name] = t.contiguous().numpy()
    return out


def from_ours(model, tensors):
    """Loads a dict of our-layout arrays (as to_ours makes) into the model."""
    sd = model.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            if name.endswith("num_batches_tracked"):
                continue
            v = torch.from_numpy(np.ascontiguousarray(tensors[name]))
            if is_conv_weight(name, t):
                v = v.permute(0, 3, 1, 2)
            t.copy_(v.to(t.dtype))
