"""Read a torch model as a chain of primitive ops, and fold BatchNorm into the synapse before it."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import UnsupportedModelError

SUPPORTED = "Linear, Conv2d, BatchNorm1d/2d, ReLU, AvgPool2d, Flatten, Dropout, Identity (and a trailing Softmax/LogSoftmax)"


@dataclasses.dataclass
class Op:
    """One primitive of the ANN chain. `kind` is one of: linear, conv, bn, relu, avgpool, flatten."""

    kind: str
    name: str
    index: int
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _module_op(mod: nn.Module, name: str, index: int) -> Op | None:
    """Map one module to an Op; None means 'skip' (Dropout, Identity, trailing softmax)."""
    t = type(mod)
    if t is nn.Linear:
        b = mod.bias.detach().double().numpy() if mod.bias is not None else np.zeros(mod.out_features)
        return Op("linear", name, index, {"weight": mod.weight.detach().double().numpy().copy(), "bias": b.copy()})
    if t is nn.Conv2d:
        if isinstance(mod.padding, str) or mod.padding_mode != "zeros":
            raise UnsupportedModelError(
                f"layer {index} '{name}' (Conv2d): padding={mod.padding!r}, padding_mode={mod.padding_mode!r} "
                "is not supported; use integer zero padding"
            )
        b = mod.bias.detach().double().numpy() if mod.bias is not None else np.zeros(mod.out_channels)
        return Op("conv", name, index, {
            "weight": mod.weight.detach().double().numpy().copy(), "bias": b.copy(),
            "stride": _pair(mod.stride), "padding": _pair(mod.padding),
            "dilation": _pair(mod.dilation), "groups": int(mod.groups),
        })
    if t in (nn.BatchNorm1d, nn.BatchNorm2d):
        if mod.running_mean is None:
            raise UnsupportedModelError(f"layer {index} '{name}' ({t.__name__}) has no running statistics; "
                                        "construct it with track_running_stats=True")
        gamma = mod.weight.detach().double().numpy() if mod.affine else np.ones(mod.num_features)
        beta = mod.bias.detach().double().numpy() if mod.affine else np.zeros(mod.num_features)
        return Op("bn", name, index, {
            "mean": mod.running_mean.double().numpy(), "var": mod.running_var.double().numpy(),
            "eps": float(mod.eps), "gamma": gamma, "beta": beta,
        })
    if t is nn.ReLU:
        return Op("relu", name, index)
    if t is nn.AvgPool2d:
        k, s = _pair(mod.kernel_size), _pair(mod.stride if mod.stride is not None else mod.kernel_size)
        p = _pair(mod.padding)
        if s != k or p != (0, 0) or mod.ceil_mode:
            raise UnsupportedModelError(
                f"layer {index} '{name}' (AvgPool2d): only stride == kernel_size, padding 0, ceil_mode=False "
                f"are supported (got kernel {k}, stride {s}, padding {p})"
            )
        return Op("avgpool", name, index, {"kernel": k})
    if t is nn.Flatten:
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise UnsupportedModelError(f"layer {index} '{name}' (Flatten): only start_dim=1, end_dim=-1 is supported")
        return Op("flatten", name, index)
    if t in (nn.Dropout, nn.Dropout2d, nn.Identity):
        return None
    if t in (nn.Softmax, nn.LogSoftmax):
        return Op("softmax", name, index)
    raise UnsupportedModelError(
        f"layer {index} '{name}' ({t.__name__}) is not supported; supported layers: {SUPPORTED}"
    )


def _leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules in call order: Sequential directly, anything else through torch.fx."""
    if isinstance(model, nn.Sequential):
        out = []
        for name, child in model.named_children():
            if isinstance(child, nn.Sequential):
                out += [(f"{name}.{n}", m) for n, m in _leaf_modules(child)]
            else:
                out.append((name, child))
        return out
    return _traced_chain(model)


def _traced_chain(model: nn.Module) -> list[tuple[str, nn.Module]]:
    import torch.fx

    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # fx raises many types
        raise UnsupportedModelError(
            f"cannot trace {type(model).__name__}.forward ({type(e).__name__}: {str(e).splitlines()[0]}); "
            "pass an nn.Sequential or a module whose forward is a plain chain of layers"
        ) from None
    modules = dict(gm.named_modules())
    chain: list[tuple[str, nn.Module]] = []
    prev = None
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "output"):
            if node.op == "output" and node.args[0] is not prev:
                raise UnsupportedModelError("the model's output is not the last op of its chain; only chains are supported")
            continue
        if prev is not None and (len(node.all_input_nodes) != 1 or node.all_input_nodes[0] is not prev):
            raise UnsupportedModelError(
                f"op '{node.name}' does not take the previous op's output alone; branches and skips are not supported"
            )
        if node.op == "call_module":
            chain.append((str(node.target), modules[node.target]))
        elif node.op == "call_function" and node.target in (torch.relu, torch.nn.functional.relu):
            chain.append((node.name, nn.ReLU()))
        elif node.op == "call_function" and node.target is torch.flatten and node.args[1:2] == (1,):
            chain.append((node.name, nn.Flatten()))
        elif node.op == "call_method" and node.target in ("view", "reshape", "flatten"):
            chain.append((node.name, nn.Flatten()))
        elif node.op == "call_method" and node.target == "relu":
            chain.append((node.name, nn.ReLU()))
        else:
            raise UnsupportedModelError(
                f"op '{node.name}' ({node.op} {getattr(node.target, '__name__', node.target)}) is not supported; "
                f"supported layers: {SUPPORTED}"
            )
        prev = node
    return chain


def read_chain(model: nn.Module) -> list[Op]:
    """The model's ops in order, BatchNorm folded, Dropout/Identity dropped."""
    ops: list[Op] = []
    leaves = _leaf_modules(model)
    for index, (name, mod) in enumerate(leaves):
        op = _module_op(mod, name, index)
        if op is not None:
            ops.append(op)
    ops = _fold_batchnorm(ops)
    if ops and ops[-1].kind == "softmax":
        ops = ops[:-1]  # argmax is unchanged by a trailing softmax
    for op in ops:
        if op.kind == "softmax":
            raise UnsupportedModelError(f"layer {op.index} '{op.name}' (Softmax) is only supported as the last layer")
    if not any(op.kind in ("linear", "conv") for op in ops):
        raise UnsupportedModelError("the model has no Linear or Conv2d layer to convert")
    return ops


def _fold_batchnorm(ops: list[Op]) -> list[Op]:
    """BN(y) = gamma (y - mean) / sqrt(var + eps) + beta, folded into the weights and bias of y's layer."""
    out: list[Op] = []
    for op in ops:
        if op.kind != "bn":
            out.append(op)
            continue
        prev = out[-1] if out else None
        if prev is None or prev.kind not in ("linear", "conv"):
            raise UnsupportedModelError(
                f"layer {op.index} '{op.name}' (BatchNorm) must directly follow a Linear or Conv2d to be folded"
            )
        p = op.params
        scale = p["gamma"] / np.sqrt(p["var"] + p["eps"])
        w = prev.params["weight"]
        if w.shape[0] != scale.shape[0]:
            raise UnsupportedModelError(f"layer {op.index} '{op.name}': BatchNorm has {scale.shape[0]} features, "
                                        f"the layer before it has {w.shape[0]} outputs")
        prev.params["weight"] = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        prev.params["bias"] = (prev.params["bias"] - p["mean"]) * scale + p["beta"]
        prev.params.setdefault("folded", []).append(op.name)
    return out


def forward_ops(ops: list[Op], x: torch.Tensor, record: bool = False):
    """Run the chain in float64. With record=True also return the output of every op."""
    outs = []
    for op in ops:
        p = op.params
        if op.kind == "linear":
            x = torch.nn.functional.linear(x, torch.from_numpy(p["weight"]), torch.from_numpy(p["bias"]))
        elif op.kind == "conv":
            x = torch.nn.functional.conv2d(x, torch.from_numpy(p["weight"]), torch.from_numpy(p["bias"]),
                                           p["stride"], p["padding"], p["dilation"], p["groups"])
        elif op.kind == "relu":
            x = torch.relu(x)
        elif op.kind == "avgpool":
            x = torch.nn.functional.avg_pool2d(x, p["kernel"])
        elif op.kind == "flatten":
            x = x.flatten(1)
        outs.append(x)
    return (x, outs) if record else x
