"""Train the bundled digits CNN (conv-BN-ReLU x2, average pooling, dense) on sklearn's 8x8 digits.

    python examples/digits_cnn/train.py            # writes examples/digits_cnn/digits_cnn.pt (about 20 s on 1 core)

neurokit's second benchmark network: small enough that every conversion method trains in seconds, real data
with no download (neurokit.data.load_digits: 1,297 train / 500 test images, fixed split).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurokit.data import load_digits


def make_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(32 * 4 * 4, 10),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out", default=str(Path(__file__).with_name("digits_cnn.pt")))
    args = ap.parse_args()

    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(1)
    data = load_digits()
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 32):
            idx = perm[i:i + 32]
            xb = torch.roll(x[idx], shifts=tuple(np.random.randint(-1, 2, size=2)), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        if (epoch + 1) % 10 == 0 or epoch + 1 == args.epochs:
            model.eval()
            with torch.no_grad():
                acc = (model(torch.from_numpy(data.x_test)).argmax(1).numpy() == data.y_test).mean()
            print(f"epoch {epoch + 1:2d}  loss {loss.item():.3f}  test acc {acc:.4f}  ({time.time() - t0:.0f} s)")
    model.eval()
    torch.save(model.state_dict(), args.out)  # weights only: loading them runs no code
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
