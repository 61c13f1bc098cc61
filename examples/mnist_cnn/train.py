"""Train the bundled MNIST CNN (conv-BN-ReLU x2, average pooling, dense) on neurokit's fixed MNIST split.

    python examples/mnist_cnn/train.py            # writes examples/mnist_cnn/mnist_cnn.pt (about 1 min on 2 cores)

The checkpoint holds the weights only (torch.save(model.state_dict())); neurokit rebuilds the model with
--arch examples/mnist_cnn/train.py:make_model, so loading the checkpoint runs no code.
The bias terms are kept on purpose: bias as constant current is part of what conversion must handle.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurokit.data import load_mnist


def make_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(16 * 7 * 7, 10),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--out", default=str(Path(__file__).with_name("mnist_cnn.pt")))
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(2)
    data = load_mnist()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            # small random shifts: 4,000 images are few
            xb = torch.roll(x[idx], shifts=tuple(np.random.randint(-2, 3, size=2)), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(torch.from_numpy(data.x_test)).argmax(1).numpy() == data.y_test).mean()
        print(f"epoch {epoch + 1:2d}  loss {loss.item():.3f}  test acc {acc:.4f}  ({time.time() - t0:.0f} s)")
    model.eval()
    torch.save(model.state_dict(), args.out)  # weights only: loading them runs no code
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
