"""Group the ANN chain into spiking layers and emit the normalized NIR graph."""
from __future__ import annotations

import dataclasses
import json

import nir
import numpy as np
import torch

from ..errors import UnsupportedModelError
from ..network import RESET_KEY, V_INIT_KEY
from .chain import Op, forward_ops



@dataclasses.dataclass
class SpikingGroup:
    """Pooling/flatten ops, one synapse (Linear/Conv2d), then a neuron (after ReLU, or the output layer)."""

    pre: list[Op]
    synapse: Op
    activation_op: int  # index into the op list whose output the neuron layer stands for
    has_relu: bool


def group_ops(ops: list[Op]) -> list[SpikingGroup]:
    groups: list[SpikingGroup] = []
    pre: list[Op] = []
    i = 0
    while i < len(ops):
        op = ops[i]
        if op.kind in ("avgpool", "flatten"):
            pre.append(op)
            i += 1
            continue
        if op.kind == "relu":
            raise UnsupportedModelError(
                f"layer {op.index} '{op.name}' (ReLU) does not directly follow a Linear or Conv2d; "
                "put pooling after the ReLU"
            )
        # op is a synapse
        has_relu = i + 1 < len(ops) and ops[i + 1].kind == "relu"
        if not has_relu and i + 1 < len(ops):
            nxt = ops[i + 1]
            raise UnsupportedModelError(
                f"layer {nxt.index} '{nxt.name}' follows layer {op.index} '{op.name}' without a ReLU between them; "
                "only the last Linear/Conv2d may lack a ReLU"
            )
        groups.append(SpikingGroup(pre=pre, synapse=op, activation_op=i + 1 if has_relu else i, has_relu=has_relu))
        pre = []
        i += 2 if has_relu else 1
    if pre:
        raise UnsupportedModelError(f"layer {pre[0].index} '{pre[0].name}' ({pre[0].kind}) after the last Linear/Conv2d "
                                    "is not supported")
    return groups


def build_graph(ops: list[Op], groups: list[SpikingGroup], scales: list[float], input_shape: tuple[int, ...],
                info: dict, v_init: float = 0.0, neuron_metadata: list[dict] | None = None) -> nir.NIRGraph:
    """Normalized NIR graph: Input -> [SumPool2d|Flatten]* -> Conv2d|Affine -> IF (reset by subtraction) ... -> Output."""
    shapes = _op_output_shapes(ops, input_shape)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(input_shape))}
    order = ["input"]
    shape = tuple(input_shape)
    lam_prev = 1.0  # inputs enter as constant current: their scale needs no threshold
    for li, (g, lam) in enumerate(zip(groups, scales)):
        pool_factor = 1.0
        for op in g.pre:
            if op.kind == "avgpool":
                k = op.params["kernel"]
                name = f"pool{li}"
                nodes[name] = nir.SumPool2d(kernel_size=np.array(k), stride=np.array(k), padding=np.array((0, 0)))
                pool_factor /= k[0] * k[1]  # AvgPool = SumPool with 1/k^2 folded into the next weights
            else:
                name = f"flatten{li}"
                nodes[name] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            shape = shapes[ops.index(op)]
            order.append(name)
        p = g.synapse.params
        w = p["weight"] * (lam_prev / lam) * pool_factor
        b = p["bias"] / lam
        meta = {"source_layer": g.synapse.name, "lambda": lam}
        if g.synapse.kind == "conv":
            name = f"conv{li}"
            nodes[name] = nir.Conv2d(input_shape=np.array(shape[1:]), weight=w, stride=np.array(p["stride"]),
                                     padding=np.array(p["padding"]), dilation=np.array(p["dilation"]),
                                     groups=p["groups"], bias=b, metadata=meta)
        else:
            name = f"affine{li}"
            nodes[name] = nir.Affine(weight=w, bias=b, metadata=meta)
        order.append(name)
        shape = shapes[ops.index(g.synapse)]
        neuron = f"if{li}"
        nodes[neuron] = nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                               metadata={RESET_KEY: "subtract", V_INIT_KEY: float(v_init),
                                         **(neuron_metadata[li] if neuron_metadata else {})})
        order.append(neuron)
        lam_prev = lam
    nodes["output"] = nir.Output(output_type=np.array(shape))
    order.append("output")
    edges = list(zip(order[:-1], order[1:]))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neurokit": json.dumps(info)})


def _op_output_shapes(ops: list[Op], input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    with torch.no_grad():
        _, outs = forward_ops(ops, torch.zeros((1,) + tuple(input_shape), dtype=torch.float64), record=True)
    return [tuple(o.shape[1:]) for o in outs]
