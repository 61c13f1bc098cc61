"""Read a torch model as a graph of primitive ops (fx), and fold BatchNorm into the synapse before it.

The graph keeps what spiking conversion needs: Linear, Conv2d, ReLU, AvgPool2d (and global average
pooling), Flatten, `+` (skip connections) and `torch.cat` along channels, each op listing the ops it
reads. A module called more than once (a shared ReLU, a reused layer) becomes one op per call. Dropout and
Identity vanish; a trailing Softmax / LogSoftmax is dropped (argmax is unchanged). MaxPool2d is refused:
a max of spike trains is not a spike train of the max; `replace_maxpool="avg"` swaps in AvgPool2d.
"""
from __future__ import annotations

import copy
import dataclasses
import operator
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import UnsupportedModelError

SUPPORTED = ("Linear, Conv2d, BatchNorm1d/2d, ReLU, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Identity, "
             "+ (skip connections), torch.cat on channels (and a trailing Softmax/LogSoftmax)")
SYNAPSE_KINDS = ("linear", "conv")
INPUT_OP = "input"
MAXPOOL_HINT = ("max pooling has no spiking equivalent on Loihi; pass --replace-maxpool avg to use AvgPool2d "
                "instead (the ANN's accuracy is reported before and after)")


@dataclasses.dataclass
class Op:
    """One primitive of the ANN. kind: input, linear, conv, bn, relu, avgpool, flatten, add, cat."""

    kind: str
    name: str
    index: int
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    inputs: list[str] = dataclasses.field(default_factory=list)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _avgpool(name, index, kernel, stride, padding, ceil_mode=False, where="AvgPool2d") -> Op:
    k, s, p = _pair(kernel), _pair(stride if stride is not None else kernel), _pair(padding)
    if s != k or p != (0, 0) or ceil_mode:
        raise UnsupportedModelError(f"layer {index} '{name}' ({where}): only stride == kernel_size, padding 0, "
                                    f"ceil_mode=False are supported (got kernel {k}, stride {s}, padding {p})")
    return Op("avgpool", name, index, {"kernel": k})


def _module_op(mod: nn.Module, name: str, index: int, replace_maxpool: str | None) -> Op | None:
    """Map one module to an Op; None means 'pass through' (Dropout, Identity)."""
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
        return _avgpool(name, index, mod.kernel_size, mod.stride, mod.padding, mod.ceil_mode)
    if t is nn.MaxPool2d:
        if replace_maxpool == "avg":
            return _avgpool(name, index, mod.kernel_size, mod.stride, mod.padding, mod.ceil_mode, "MaxPool2d as AvgPool2d")
        raise UnsupportedModelError(f"layer {index} '{name}' (MaxPool2d): {MAXPOOL_HINT}")
    if t is nn.AdaptiveAvgPool2d:
        return Op("avgpool", name, index, {"adaptive": _pair(mod.output_size)})
    if t is nn.Flatten:
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise UnsupportedModelError(f"layer {index} '{name}' (Flatten): only start_dim=1, end_dim=-1 is supported")
        return Op("flatten", name, index)
    if t in (nn.Dropout, nn.Dropout2d, nn.Identity):
        return None
    if t in (nn.Softmax, nn.LogSoftmax):
        return Op("softmax", name, index)
    raise UnsupportedModelError(f"layer {index} '{name}' ({t.__name__}) is not supported; supported layers: {SUPPORTED}")


class AnnGraph:
    """The model's ops in a topological order (the first op is the input), BatchNorm folded."""

    def __init__(self, ops: list[Op], output: str):
        self.ops = ops
        self.output = output
        self._by_name = {op.name: op for op in ops}

    def op(self, name: str) -> Op:
        return self._by_name[name]

    def consumers(self, name: str) -> list[Op]:
        return [op for op in self.ops if name in op.inputs]

    @property
    def body(self) -> list[Op]:
        """Every op but the input."""
        return [op for op in self.ops if op.kind != "input"]

    # ---- chains ---------------------------------------------------------------------------------------
    @classmethod
    def from_chain(cls, ops: list[Op]) -> "AnnGraph":
        """A chain of ops (each reads the one before; the first reads the input)."""
        chain = [Op("input", INPUT_OP, -1)]
        for op in ops:
            chain.append(dataclasses.replace(op, inputs=[chain[-1].name]))
        return cls(chain, chain[-1].name)

    def non_chain_op(self) -> Op | None:
        """The first op that breaks the chain (reads something other than the op before, or is read twice)."""
        prev = INPUT_OP
        for op in self.body:
            if op.inputs != [prev]:
                return op
            prev = op.name
        for op in self.body:
            if len(self.consumers(op.name)) > 1:
                return op
        return None if prev == self.output else self.op(self.output)

    def chain(self, what: str) -> list[Op]:
        """The ops in order, for a chain; `what` (a method) needs one, and a branching model is an error."""
        bad = self.non_chain_op()
        if bad is not None:
            raise UnsupportedModelError(f"{what} takes chain models; this one branches at op '{bad.name}' ({bad.kind}); "
                                        "use --method rate for residual and branching models")
        return self.body

    # ---- evaluation -----------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, record: bool = False):
        """The model in float64 on x. With record=True also {op name: output} for every op."""
        values = {INPUT_OP: x}
        for op in self.body:
            values[op.name] = apply_op(op, [values[i] for i in op.inputs])
        out = values[self.output]
        return (out, values) if record else out

    def shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Output shape (without the batch) of every op."""
        with torch.no_grad():
            _, values = self.forward(torch.zeros((1,) + tuple(input_shape), dtype=torch.float64), record=True)
        return {k: tuple(v.shape[1:]) for k, v in values.items()}


def apply_op(op: Op, xs: list[torch.Tensor]) -> torch.Tensor:
    """One op on its inputs, in their float type (the graph's parameters are float64; a float32 input runs the
    op in float32)."""
    p = op.params
    x = xs[0] if xs else None

    def param(name):
        return torch.from_numpy(p[name]).to(x.dtype)

    if op.kind == "linear":
        return torch.nn.functional.linear(x, param("weight"), param("bias"))
    if op.kind == "conv":
        return torch.nn.functional.conv2d(x, param("weight"), param("bias"),
                                          p["stride"], p["padding"], p["dilation"], p["groups"])
    if op.kind == "relu":
        return torch.relu(x)
    if op.kind == "avgpool":
        return torch.nn.functional.avg_pool2d(x, p["kernel"])
    if op.kind == "flatten":
        return x.flatten(1)
    if op.kind == "add":
        return xs[0] + xs[1]
    if op.kind == "cat":
        return torch.cat(xs, dim=1)
    if op.kind == "bn":
        scale = p["gamma"] / np.sqrt(p["var"] + p["eps"])
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - param("mean").reshape(shape)) * torch.from_numpy(scale).to(x.dtype).reshape(shape) \
            + param("beta").reshape(shape)
    raise ValueError(f"op kind {op.kind}")


def forward_ops(ops: list[Op], x: torch.Tensor, record: bool = False):
    """Run a chain of ops in float64 (each op reads the one before). With record=True also every op's output."""
    outs = []
    for op in ops:
        x = apply_op(op, [x])
        outs.append(x)
    return (x, outs) if record else x


# ---- reading torch models ---------------------------------------------------------------------------------

def read_model(model: nn.Module, input_shape: tuple[int, ...] | None = None,
               replace_maxpool: str | None = None) -> AnnGraph:
    """The model as an AnnGraph, BatchNorm folded. input_shape (without the batch) resolves global
    average pooling; replace_maxpool="avg" reads MaxPool2d as AvgPool2d."""
    if replace_maxpool not in (None, "avg"):
        raise ValueError(f"replace_maxpool must be 'avg' or None, got {replace_maxpool!r}")
    check_finite(model)
    ops, output = _sequential(model, replace_maxpool) if isinstance(model, nn.Sequential) else \
        _traced(model, replace_maxpool)
    graph = _fold_batchnorm(AnnGraph(ops, output))
    last = graph.op(graph.output)
    if last.kind == "softmax":  # argmax is unchanged by a trailing softmax
        graph = AnnGraph([op for op in graph.ops if op is not last], last.inputs[0])
    for op in graph.ops:
        if op.kind == "softmax":
            raise UnsupportedModelError(f"layer {op.index} '{op.name}' (Softmax) is only supported as the last layer")
    if not any(op.kind in SYNAPSE_KINDS for op in graph.ops):
        raise UnsupportedModelError("the model has no Linear or Conv2d layer to convert")
    if input_shape is not None:
        _resolve_adaptive(graph, input_shape)
    return graph


def check_finite(model: nn.Module) -> None:
    """Every parameter and buffer a finite number, and BatchNorm variances >= 0: else one line naming the
    tensor (a NaN weight would otherwise flow into a NaN graph)."""
    import torch

    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if not torch.is_floating_point(t):
            continue
        bad = ~torch.isfinite(t.detach())
        if bool(bad.any()):
            raise UnsupportedModelError(f"model tensor '{name}' holds {float(t.detach()[bad].reshape(-1)[0])} at "
                                        f"{int(bad.sum())} place(s); weights and BatchNorm statistics must be finite")
    for name, m in model.named_modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and m.running_var is not None and \
                bool((m.running_var < 0).any()):
            raise UnsupportedModelError(f"BatchNorm '{name}': running_var holds {float(m.running_var.min())} < 0; a "
                                        "variance cannot be negative")


def read_chain(model: nn.Module) -> list[Op]:
    """The ops of a chain model in order (BatchNorm folded, Dropout/Identity dropped)."""
    return read_model(model).chain("read_chain")


def _sequential(model: nn.Module, replace_maxpool) -> tuple[list[Op], str]:
    ops = [Op("input", INPUT_OP, -1)]

    def leaves(m, prefix=""):
        out = []
        for name, child in m.named_children():
            full = f"{prefix}{name}"
            out += leaves(child, f"{full}.") if isinstance(child, nn.Sequential) else [(full, child)]
        return out

    prev = INPUT_OP
    for index, (name, mod) in enumerate(leaves(model)):
        op = _module_op(mod, name, index, replace_maxpool)
        if op is None:
            continue
        op.inputs = [prev]
        ops.append(op)
        prev = op.name
    return ops, prev


def _traced(model: nn.Module, replace_maxpool) -> tuple[list[Op], str]:
    import torch.fx

    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # fx raises many types
        raise UnsupportedModelError(
            f"cannot trace {type(model).__name__}.forward ({type(e).__name__}: {str(e).splitlines()[0]}); "
            "pass an nn.Sequential or a module whose forward torch.fx can trace (no data-dependent control flow)"
        ) from None
    modules = dict(gm.named_modules())
    ops: list[Op] = []
    alias: dict[str, str] = {}  # fx node name -> the op name that holds its value
    shape_nodes: set[str] = set()  # x.size() and friends: shapes, not data
    uses: dict[str, int] = {}
    output = None
    for index, node in enumerate(gm.graph.nodes):
        data_in = [alias[n.name] for n in node.all_input_nodes if n.name not in shape_nodes]
        label = getattr(node.target, "__name__", node.target)
        if node.op == "placeholder":
            if any(op.kind == "input" for op in ops):
                raise UnsupportedModelError(f"the model's forward takes more than one input ('{node.name}'); "
                                            "neurokit converts single-input models")
            ops.append(Op("input", INPUT_OP, -1))
            alias[node.name] = INPUT_OP
            continue
        if node.op == "output":
            if not isinstance(node.args[0], torch.fx.Node):
                raise UnsupportedModelError("the model returns several values; neurokit converts single-output models")
            output = alias[node.args[0].name]
            continue
        if node.op == "call_method" and node.target in ("size", "dim"):
            shape_nodes.add(node.name)
            continue
        if node.op == "call_module":
            target = str(node.target)
            uses[target] = uses.get(target, 0) + 1
            name = target if uses[target] == 1 else f"{target}:{uses[target]}"
            op = _module_op(modules[node.target], name, index, replace_maxpool)
            if op is not None and op.kind in SYNAPSE_KINDS + ("bn",):
                op.params = copy.deepcopy(op.params)  # a reused module: each call folds its own BatchNorm
        else:
            op = _function_op(node, index, replace_maxpool)
        if op is None:  # passes its input through
            alias[node.name] = data_in[0]
            continue
        expected = {"add": 2}.get(op.kind, len(data_in) if op.kind == "cat" else 1)
        if len(data_in) != expected:
            raise UnsupportedModelError(f"op '{node.name}' ({label}) reads {len(data_in)} tensors; neurokit supports "
                                        f"it with {expected}")
        op.inputs = data_in
        ops.append(op)
        alias[node.name] = op.name
    return ops, output


def _function_op(node, index: int, replace_maxpool) -> Op | None:
    f, name = node.target, node.name
    args = node.args
    if node.op == "call_function" and f in (torch.relu, torch.nn.functional.relu) or \
            node.op == "call_method" and f in ("relu", "relu_"):
        return Op("relu", name, index)
    if node.op == "call_function" and f in (operator.add, operator.iadd, torch.add):
        tensors = [a for a in args if isinstance(a, torch.fx.Node)]
        if len(tensors) != 2 or node.kwargs.get("alpha", 1) != 1:
            raise UnsupportedModelError(f"op '{name}' adds a constant or scales a term; neurokit supports x + y of "
                                        "two tensors (skip connections)")
        return Op("add", name, index)
    if node.op == "call_function" and f in (torch.cat, torch.concat):
        dim = node.kwargs.get("dim", args[1] if len(args) > 1 else 0)
        if dim != 1:
            raise UnsupportedModelError(f"op '{name}' concatenates along dim {dim}; neurokit supports torch.cat on "
                                        "channels (dim=1)")
        return Op("cat", name, index)
    if node.op == "call_function" and f is torch.flatten or node.op == "call_method" and f == "flatten":
        start = node.kwargs.get("start_dim", args[1] if len(args) > 1 else 0)
        if start != 1:
            raise UnsupportedModelError(f"op '{name}' flattens from dim {start}; neurokit supports flatten(x, 1)")
        return Op("flatten", name, index)
    if node.op == "call_method" and f in ("view", "reshape"):
        return Op("flatten", name, index)  # convert() checks the graph against the model's own forward
    if node.op == "call_function" and f is torch.nn.functional.avg_pool2d:
        kw = node.kwargs
        return _avgpool(name, index, kw.get("kernel_size", args[1] if len(args) > 1 else None),
                        kw.get("stride", args[2] if len(args) > 2 else None), kw.get("padding", 0),
                        kw.get("ceil_mode", False), "avg_pool2d")
    if node.op == "call_function" and f is torch.nn.functional.adaptive_avg_pool2d:
        return Op("avgpool", name, index, {"adaptive": _pair(node.kwargs.get("output_size", args[1]))})
    if node.op == "call_function" and f in (torch.nn.functional.max_pool2d, torch.max_pool2d):
        if replace_maxpool == "avg":
            kw = node.kwargs
            return _avgpool(name, index, kw.get("kernel_size", args[1] if len(args) > 1 else None),
                            kw.get("stride", args[2] if len(args) > 2 else None), kw.get("padding", 0), False,
                            "max_pool2d as avg_pool2d")
        raise UnsupportedModelError(f"op '{name}' (max_pool2d): {MAXPOOL_HINT}")
    if node.op == "call_function" and f in (torch.nn.functional.dropout,):
        return None
    label = getattr(f, "__name__", f)
    raise UnsupportedModelError(f"op '{name}' ({node.op} {label}) is not supported; supported layers: {SUPPORTED}")


def _fold_batchnorm(graph: AnnGraph) -> AnnGraph:
    """BN(y) = gamma (y - mean) / sqrt(var + eps) + beta, folded into the weights and bias of y's layer."""
    rename: dict[str, str] = {}
    kept = []
    for op in graph.ops:
        op.inputs = [rename.get(i, i) for i in op.inputs]
        if op.kind != "bn":
            kept.append(op)
            continue
        prev = graph.op(op.inputs[0])
        if prev.kind not in SYNAPSE_KINDS:
            raise UnsupportedModelError(
                f"layer {op.index} '{op.name}' (BatchNorm) must directly follow a Linear or Conv2d to be folded"
            )
        if len(graph.consumers(prev.name)) != 1:
            raise UnsupportedModelError(f"layer {op.index} '{op.name}' (BatchNorm): the output of '{prev.name}' is "
                                        "also used without the BatchNorm, so it cannot be folded")
        p = op.params
        scale = p["gamma"] / np.sqrt(p["var"] + p["eps"])
        w = prev.params["weight"]
        if w.shape[0] != scale.shape[0]:
            raise UnsupportedModelError(f"layer {op.index} '{op.name}': BatchNorm has {scale.shape[0]} features, "
                                        f"the layer before it has {w.shape[0]} outputs")
        prev.params["weight"] = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        prev.params["bias"] = (prev.params["bias"] - p["mean"]) * scale + p["beta"]
        prev.params.setdefault("folded", []).append(op.name)
        rename[op.name] = prev.name
    return AnnGraph(kept, rename.get(graph.output, graph.output))


def _resolve_adaptive(graph: AnnGraph, input_shape: tuple[int, ...]) -> None:
    """Global average pooling -> AvgPool2d of the map's size; a view / reshape must be a flatten."""
    values = {INPUT_OP: torch.zeros((1,) + tuple(input_shape), dtype=torch.float64)}
    with torch.no_grad():
        for op in graph.body:  # in order: a pool's input shape is known when it is reached
            xs = [values[i] for i in op.inputs]
            if op.kind == "avgpool" and "adaptive" in op.params:
                h, w = xs[0].shape[2:]
                out = op.params.pop("adaptive")
                if h % out[0] or w % out[1]:
                    raise UnsupportedModelError(f"op '{op.name}' (adaptive average pooling) maps {h}x{w} to {out}, "
                                                "which no fixed AvgPool2d does; use sizes that divide")
                op.params["kernel"] = (h // out[0], w // out[1])
            values[op.name] = apply_op(op, xs)
