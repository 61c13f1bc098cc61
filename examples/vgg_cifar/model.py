"""A VGG-style CNN shaped for CIFAR-10 (3 x 32 x 32), to check how a bigger net fits Loihi 2.

    python examples/vgg_cifar/model.py --out runs/vgg_cifar   # vgg_cifar.pt + random_cifar.npz
    neurokit fit runs/vgg_cifar/vgg_cifar.pt --data runs/vgg_cifar/random_cifar.npz --calibration 64

conv64-conv64-pool-conv128-conv128-pool-conv256-pool-dense10. The weights are random (untrained) and the
data are random images: placement depends on the shapes, the weight widths and which weights are zero,
not on what the net has learned.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurokit.data import random_images


def make_model(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(
        *block(3, 64), *block(64, 64), nn.AvgPool2d(2),
        *block(64, 128), *block(128, 128), nn.AvgPool2d(2),
        *block(128, 256), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(256 * 4 * 4, 10),
    ).eval()


def random_cifar(n: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images in [0, 1), CIFAR-shaped, with random labels: calibration data for conversion."""
    return random_images(n, (3, 32, 32), seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/vgg_cifar", help="folder for vgg_cifar.pt and random_cifar.npz")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(make_model(), out / "vgg_cifar.pt")
    np.savez(out / "random_cifar.npz", **random_cifar())
    print(f"wrote {out / 'vgg_cifar.pt'} and {out / 'random_cifar.npz'}")


if __name__ == "__main__":
    main()
