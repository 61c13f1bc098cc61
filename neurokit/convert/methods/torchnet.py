"""The ANN graph as a trainable torch module, for the methods that fine-tune or distill.

`AnnModule(ann)` holds one torch layer per synapse op (BatchNorm already folded) and runs the graph with any
activation in place of each hidden ReLU; `to_ann()` writes the trained weights back into a copy of the graph.
`ChainModule(ops)` is the same for a chain, with the per-population helpers the spiking student of
lasnn steps through (`groups`, `pre`, `layer`, `to_ops`).
`train(...)` is the one minibatch loop every method uses (Adam, cosine schedule, fixed seed).
"""
from __future__ import annotations

import copy
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..ann import INPUT_OP, SYNAPSE_KINDS, AnnGraph, Op, apply_op
from ..to_nir import group_ops, spiking_structure

SHIFT = 2  # +-pixel roll augmentation for fine-tuning on images, as examples/mnist_cnn/train.py


def _torch_layer(op: Op) -> nn.Module:
    p = op.params
    w = torch.tensor(p["weight"], dtype=torch.float32)
    if op.kind == "conv":
        m = nn.Conv2d(w.shape[1] * p["groups"], w.shape[0], tuple(w.shape[2:]), stride=p["stride"],
                      padding=p["padding"], dilation=p["dilation"], groups=p["groups"])
    else:
        m = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        m.weight.copy_(w)
        m.bias.copy_(torch.tensor(p["bias"], dtype=torch.float32))
    return m


class AnnModule(nn.Module):
    """The synapse ops of an ANN graph as nn.Conv2d / nn.Linear (float32), in graph order. The hidden
    populations are the ReLUs before the output (neurokit.convert.to_nir.spiking_structure order).
    input_shape is needed for models that concatenate."""

    def __init__(self, ann: AnnGraph, input_shape: tuple[int, ...] | None = None):
        super().__init__()
        self.ann = ann
        self.synapse_ops = [op for op in ann.body if op.kind in SYNAPSE_KINDS]
        self.synapses = nn.ModuleList(_torch_layer(op) for op in self.synapse_ops)
        self._index = {op.name: i for i, op in enumerate(self.synapse_ops)}
        self.structure = spiking_structure(ann, input_shape)
        self.shapes = ann.shapes(input_shape) if input_shape is not None else None
        relus = [spec.op for spec in self.structure if spec.has_relu and spec.op != ann.output]
        self.hidden = {name: i for i, name in enumerate(relus)}  # ReLU op -> hidden population index

    def term_input(self, term, x: torch.Tensor) -> torch.Tensor:
        """What one term of a population adds (neurokit.convert.to_nir.Term), without bias: its synapse's
        weights (the slice a torch.cat gives it) on its pooled / flattened source x, or x itself."""
        for op in term.pre:
            x = apply_op(op, [x])
        if term.synapse is None:
            if term.channels is None:
                return x
            a, n = term.channels
            out = x.new_zeros((len(x),) + tuple(self.shapes[term.target]))
            out[:, a:a + n] = x
            return out
        m = self.synapses[self._index[term.synapse.name]]
        w = m.weight if term.channels is None else m.weight[:, term.channels[0]:sum(term.channels)]
        if isinstance(m, nn.Conv2d):
            return nn.functional.conv2d(x, w, None, m.stride, m.padding, m.dilation, m.groups)
        return nn.functional.linear(x, w)

    def population_bias(self, index: int) -> torch.Tensor:
        """The bias of population `index`: the sum of its synapses' biases, shaped to broadcast over it."""
        biases = [self.synapses[self._index[s.name]].bias for s in self.structure[index].synapses]
        if not biases:
            return torch.zeros((), dtype=self.synapses[0].weight.dtype)
        b = sum(biases)
        conv = self.structure[index].synapses[0].kind == "conv"
        return b.reshape(-1, 1, 1) if conv else b

    def forward(self, x: torch.Tensor, activation: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
                record: bool = False):
        """Logits; activation(i, z) replaces the ReLU of hidden population i (default ReLU). With record=True
        also the list of every hidden population's activation output."""
        values = {INPUT_OP: x}
        outs = [None] * len(self.hidden)
        for op in self.ann.body:
            xs = [values[i] for i in op.inputs]
            if op.kind in SYNAPSE_KINDS:
                y = self.synapses[self._index[op.name]](xs[0])
            elif op.kind == "relu" and op.name in self.hidden:
                i = self.hidden[op.name]
                y = torch.relu(xs[0]) if activation is None else activation(i, xs[0])
                outs[i] = y
            else:
                y = apply_op(op, xs)
            values[op.name] = y
        out = values[self.ann.output]
        return (out, outs) if record else out

    def to_ann(self) -> AnnGraph:
        """A copy of the graph with this module's weights."""
        ops = copy.deepcopy(self.ann.ops)
        for op in ops:
            if op.name in self._index:
                m = self.synapses[self._index[op.name]]
                op.params["weight"] = m.weight.detach().double().numpy().copy()
                op.params["bias"] = m.bias.detach().double().numpy().copy()
        return AnnGraph(ops, self.ann.output)


class ChainModule(AnnModule):
    """AnnModule of a chain of ops: synapse i feeds population i."""

    def __init__(self, ops: list[Op]):
        super().__init__(AnnGraph.from_chain(ops))
        self.ops = ops
        self.groups = group_ops(ops)

    def pre(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Pooling / flatten ops before spiking layer `index`."""
        for op in self.groups[index].pre:
            x = nn.functional.avg_pool2d(x, op.params["kernel"]) if op.kind == "avgpool" else x.flatten(1)
        return x

    def layer(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation of spiking layer `index` from the previous layer's output."""
        return self.synapses[index](self.pre(index, x))

    def to_ops(self) -> list[Op]:
        """A copy of the chain with this module's weights."""
        return self.to_ann().body


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


def accuracy(module: AnnModule, x: np.ndarray, y: np.ndarray, activation=None, batch: int = 500) -> float:
    module.eval()
    with torch.no_grad():
        pred = np.concatenate([module(torch.as_tensor(x[i:i + batch], dtype=torch.float32), activation).argmax(1).numpy()
                               for i in range(0, len(x), batch)])
    return float(np.mean(pred == np.asarray(y)))


def shift_for(x: np.ndarray) -> int:
    """SHIFT for images of 16 pixels a side or more; none for tiny images (8x8 digits) or non-images."""
    return SHIFT if x.ndim == 4 and min(x.shape[2:]) >= 16 else 0


def clipped_output_scale(module: AnnModule, calibration: np.ndarray, activation, percentile: float,
                         batch: int = 500) -> float:
    """Percentile of the positive outputs of `module` run with `activation` in place of each ReLU."""
    module.eval()
    with torch.no_grad():
        out = np.concatenate([module(torch.as_tensor(calibration[i:i + batch], dtype=torch.float32),
                                     activation).numpy().ravel() for i in range(0, len(calibration), batch)])
    pos = out[out > 0]
    return float(np.percentile(pos, percentile)) if pos.size else 1.0
