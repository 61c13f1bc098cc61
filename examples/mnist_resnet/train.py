"""Train the bundled MNIST ResNet on neurokit's fixed MNIST split: a stem convolution, two residual blocks
(the second with a 1 x 1 projection shortcut), average pooling and a linear read-out.

    python examples/mnist_resnet/train.py      # writes examples/mnist_resnet/mnist_resnet.pt (under 1 min on 2 cores)

    stem    conv 1->8 3x3, BN, ReLU                                    28 x 28
    block1  conv 8->8, BN, ReLU, conv 8->8, BN, + x, ReLU              28 x 28
            AvgPool 2                                                  14 x 14
    block2  conv 8->16, BN, ReLU, conv 16->16, BN, + BN(conv1x1(x)), ReLU
            AvgPool 2, Flatten, Linear 784->10

The checkpoint holds the weights only (torch.save(model.state_dict())); neurokit rebuilds the model with
--arch examples/mnist_resnet/train.py:MnistResNet, so loading the checkpoint runs no code.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn

from neurokit.convert.methods.torchnet import shift_for, train
from neurokit.data import load_mnist


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = nn.Conv2d(c_out, c_out, 3, padding=1), nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if c_in == c_out else nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class MnistResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block1 = Block(8, 8)
        self.pool1 = nn.AvgPool2d(2)
        self.block2 = Block(8, 16)
        self.pool2 = nn.AvgPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 10))

    def forward(self, x):
        x = self.pool1(self.block1(self.stem(x)))
        return self.head(self.pool2(self.block2(x)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", default=str(Path(__file__).with_name("mnist_resnet.pt")))
    args = ap.parse_args()

    torch.set_num_threads(2)
    data = load_mnist()
    model = MnistResNet()
    t0 = time.time()
    # neurokit's one training loop (Adam, cosine schedule, +-2 pixel shifts: 4,000 images are few)
    train(model.parameters(), lambda xb, yb: nn.functional.cross_entropy(model(xb), yb), data.x_train,
          data.y_train, args.epochs, lr=3e-3, shift=shift_for(data.x_train), log=print)
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(data.x_test)).argmax(1).numpy() == data.y_test).mean()
    torch.save(model.state_dict(), args.out)  # weights only: loading them runs no code
    print(f"test accuracy {acc:.4f}; wrote {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
