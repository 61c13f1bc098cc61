"""A small ResNet shaped for CIFAR-10 (3 x 32 x 32), to check how a residual net converts, fits and runs.

    python examples/resnet_cifar/model.py --out runs/resnet_cifar   # resnet_cifar.pt + random_cifar.npz
    neurokit fit runs/resnet_cifar/resnet_cifar.pt --data runs/resnet_cifar/random_cifar.npz --calibration 64
    neurokit deploy runs/resnet_cifar/resnet_cifar.pt --data runs/resnet_cifar/random_cifar.npz --steps 16

A ResNet-8 in the style of He et al. 2016 (CIFAR variant): a 3 x 3 stem of 16 channels, three basic blocks
(16 channels at 32 x 32, 32 at 16 x 16, 64 at 8 x 8; the last two stride 2 with a 1 x 1 projection
shortcut), global average pooling and a linear read-out. Like examples/vgg_cifar the weights are random
(untrained) and the data are random images: conversion, placement and the engine/Lava agreement depend on
the graph, the shapes and the weights, not on what the net has learned. The checkpoint is the model traced
by torch.fx (a GraphModule), which loads without this file's classes; like every pickled model it is code.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurokit.data import random_images


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def make_model(seed: int = 0) -> nn.Module:
    """Random weights; BatchNorm statistics drawn so that folding them is not the identity."""
    torch.manual_seed(seed)
    model = ResNetCifar()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return torch.fx.symbolic_trace(model.eval())


def random_cifar(n: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images in [0, 1), CIFAR-shaped, with random labels: calibration data for conversion."""
    return random_images(n, (3, 32, 32), seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/resnet_cifar", help="folder for resnet_cifar.pt and random_cifar.npz")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(make_model(), out / "resnet_cifar.pt")
    np.savez(out / "random_cifar.npz", **random_cifar())
    print(f"wrote {out / 'resnet_cifar.pt'} and {out / 'random_cifar.npz'}")


if __name__ == "__main__":
    main()
