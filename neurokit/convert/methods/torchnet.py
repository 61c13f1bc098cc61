"""The ANN chain as a trainable torch module, for the methods that fine-tune or distill.

`ChainModule(ops)` holds one torch layer per synapse (BatchNorm already folded) and runs the chain with
any activation in place of each ReLU; `to_ops()` writes the trained weights back into a copy of the chain.
`train(...)` is the one minibatch loop every method uses (Adam, cosine schedule, fixed seed).
"""
from __future__ import annotations

import copy
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..ann import Op
from ..to_nir import group_ops

SHIFT = 2  # +-pixel roll augmentation for fine-tuning on images, as examples/mnist_cnn/train.py


class ChainModule(nn.Module):
    """Synapses of the chain as nn.Conv2d / nn.Linear (float32), grouped as the spiking layers are."""

    def __init__(self, ops: list[Op]):
        super().__init__()
        self.ops = ops
        self.groups = group_ops(ops)
        self.synapses = nn.ModuleList()
        for g in self.groups:
            p = g.synapse.params
            w = torch.tensor(p["weight"], dtype=torch.float32)
            if g.synapse.kind == "conv":
                m = nn.Conv2d(w.shape[1] * p["groups"], w.shape[0], tuple(w.shape[2:]), stride=p["stride"],
                              padding=p["padding"], dilation=p["dilation"], groups=p["groups"])
            else:
                m = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                m.weight.copy_(w)
                m.bias.copy_(torch.tensor(p["bias"], dtype=torch.float32))
            self.synapses.append(m)

    def pre(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Pooling / flatten ops before spiking layer `index`."""
        for op in self.groups[index].pre:
            x = nn.functional.avg_pool2d(x, op.params["kernel"]) if op.kind == "avgpool" else x.flatten(1)
        return x

    def layer(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation of spiking layer `index` from the previous layer's output."""
        return self.synapses[index](self.pre(index, x))

    def forward(self, x: torch.Tensor, activation: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
                record: bool = False):
        """Logits; activation(i, z) replaces the ReLU after hidden layer i (default ReLU). With record=True
        also the list of every hidden layer's activation output."""
        outs = []
        last = len(self.groups) - 1
        for i in range(len(self.groups)):
            x = self.layer(i, x)
            if i < last:
                x = torch.relu(x) if activation is None else activation(i, x)
                outs.append(x)
        return (x, outs) if record else x

    def to_ops(self) -> list[Op]:
        """A copy of the chain with this module's weights."""
        ops = copy.deepcopy(self.ops)
        by_name = {g.synapse.name: m for g, m in zip(self.groups, self.synapses)}
        for op in ops:
            if op.name in by_name and op.kind in ("conv", "linear"):
                m = by_name[op.name]
                op.params["weight"] = m.weight.detach().double().numpy().copy()
                op.params["bias"] = m.bias.detach().double().numpy().copy()
        return ops


def train(params, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: np.ndarray, y: np.ndarray,
          epochs: int, lr: float, batch: int = 64, seed: int = 0, shift: int = 0,
          log: Callable[[str], None] | None = None) -> list[float]:
    """Adam with a cosine schedule over `epochs` passes of (x, y); loss_fn(xb, yb) -> scalar.
    shift > 0 rolls each batch by up to +-shift pixels (a cheap augmentation for small image sets).
    Returns the mean loss of each epoch."""
    params = [p for p in params if p.requires_grad]
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        total, count = 0.0, 0
        for i in range(0, len(xt), batch):
            idx = order[i:i + batch]
            xb = xt[idx]
            if shift and xb.dim() == 4:
                dy, dx = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=gen))
                xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = loss_fn(xb, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            count += len(idx)
        sched.step()
        history.append(total / max(count, 1))
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f} ({time.perf_counter() - t0:.0f} s)")
    return history


def accuracy(module: ChainModule, x: np.ndarray, y: np.ndarray, activation=None, batch: int = 500) -> float:
    module.eval()
    with torch.no_grad():
        pred = np.concatenate([module(torch.as_tensor(x[i:i + batch], dtype=torch.float32), activation).argmax(1).numpy()
                               for i in range(0, len(x), batch)])
    return float(np.mean(pred == np.asarray(y)))


def shift_for(x: np.ndarray) -> int:
    """SHIFT for images of 16 pixels a side or more; none for tiny images (8x8 digits) or non-images."""
    return SHIFT if x.ndim == 4 and min(x.shape[2:]) >= 16 else 0


def clipped_output_scale(module: ChainModule, calibration: np.ndarray, activation, percentile: float,
                         batch: int = 500) -> float:
    """Percentile of the positive outputs of `module` run with `activation` in place of each ReLU."""
    module.eval()
    with torch.no_grad():
        out = np.concatenate([module(torch.as_tensor(calibration[i:i + batch], dtype=torch.float32),
                                     activation).numpy().ravel() for i in range(0, len(calibration), batch)])
    pos = out[out > 0]
    return float(np.percentile(pos, percentile)) if pos.size else 1.0
