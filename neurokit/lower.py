"""Stage: lower a NIR graph to the network a chip runs (neurokit.network.Network).

Loihi has no pooling or flatten node: a synapse maps the spikes of one population onto the next. Each path
from a neuron (or the Input) through SumPool2d / AvgPool2d / Flatten nodes and one Affine / Linear /
Conv2d node into a neuron becomes one projection, the pooling folded into its weights exactly. An edge
from a neuron straight into a neuron (through pooling or flatten only) is an identity projection: a
depthwise 1 x 1 convolution of weight 1 (k x k of 1 / k**2 with an AvgPool2d of kernel k folded in), or the
identity matrix for vectors. Several paths into one neuron add up, as NIR's edges do.

Each population is normalized to threshold 1: its neuron model (neurokit.neurons) reads its node and gives
a gain per neuron (r / v_threshold for NIR's IF), folded into every projection into it and into the bias,
which is the sum of the biases of the Affine / Conv2d nodes that project into it.
"""
from __future__ import annotations

import json

import nir
import numpy as np

from .errors import UnsupportedModelError
from .network import INPUT, GraphError, Network, Population, Projection, conv_out_hw
from .neurons import model_for_nir

SUPPORTED_NODES = "Input, Output, Affine, Linear, Conv2d, Scale, SumPool2d, AvgPool2d, Flatten, IF"
PASS_THROUGH = (nir.SumPool2d, nir.AvgPool2d, nir.Flatten)
SYNAPSES = (nir.Affine, nir.Linear, nir.Conv2d, nir.Scale)


def _pair(v) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(a[0]), int(a[-1]))


class _Lowering:
    def __init__(self, graph: nir.NIRGraph):
        self.nodes = graph.nodes
        self.pred: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.succ: dict[str, list[str]] = {n: [] for n in self.nodes}
        for edge in graph.edges:
            a, b = edge
            for end in (a, b):
                if end not in self.nodes:
                    raise GraphError(f"NIR edge ({a!r}, {b!r}) names node '{end}', which is not in the graph; add the "
                                     "node or remove the edge")
            self.pred[b].append(a)
            self.succ[a].append(b)
        inputs = [n for n, node in self.nodes.items() if isinstance(node, nir.Input)]
        outputs = [n for n, node in self.nodes.items() if isinstance(node, nir.Output)]
        if len(inputs) != 1:
            raise UnsupportedModelError(f"the NIR graph has {len(inputs)} Input nodes; neurokit needs exactly one")
        if len(outputs) != 1:
            raise UnsupportedModelError(f"the NIR graph has {len(outputs)} Output nodes; neurokit needs exactly one")
        self.input, self.output = inputs[0], outputs[0]
        self.input_shape = tuple(int(s) for s in np.atleast_1d(self.nodes[self.input].input_type["input"]))
        self.models = {}
        for name, node in self.nodes.items():
            if isinstance(node, (nir.Input, nir.Output) + PASS_THROUGH + SYNAPSES):
                continue
            if not isinstance(node, nir.IF):
                raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}) is not supported; supported: "
                                            f"{SUPPORTED_NODES}")
            self.models[name] = model_for_nir(name, node)
        self.shapes: dict[str, tuple] = {}
        self.visiting: set[str] = set()

    # ---- paths into a neuron ----------------------------------------------------------------------------
    def is_source(self, name: str) -> bool:
        return name == self.input or name in self.models

    def walk_back(self, name: str, target: str) -> tuple[str, list[str]]:
        """From node `name` back through pooling / flatten to a neuron or the Input: (source, ops in
        forward order)."""
        ops = []
        while not self.is_source(name):
            node = self.nodes[name]
            if isinstance(node, SYNAPSES) and ops and target in self.models:
                raise UnsupportedModelError(f"NIR node '{ops[0]}' ({type(self.nodes[ops[0]]).__name__}) sits between "
                                            f"synapse '{name}' and its neuron; only Conv2d/Affine -> neuron is supported")
            if isinstance(node, SYNAPSES):
                raise UnsupportedModelError(f"NIR node '{ops[0] if ops else target}' follows synapse '{name}' "
                                            "without a neuron between; neurokit needs Conv2d/Affine -> neuron")
            if isinstance(node, nir.Output):
                raise GraphError(f"NIR node '{target}' reads the Output node '{name}'; the Output must be last")
            if len(self.pred[name]) != 1:
                raise GraphError(f"NIR node '{name}' ({type(node).__name__}) has {len(self.pred[name])} inputs; "
                                 "pooling and flatten take exactly one")
            ops.insert(0, name)
            name = self.pred[name][0]
        return name, ops

    def paths_into(self, neuron: str) -> list[tuple[str, list[str], str | None]]:
        """(source, pooling/flatten ops, synapse node or None) for every path into `neuron`."""
        out = []
        if not self.pred[neuron]:
            raise GraphError(f"NIR neuron '{neuron}' has no input (no edge into it); connect it or remove it")
        for p in self.pred[neuron]:
            node = self.nodes[p]
            if isinstance(node, SYNAPSES):
                if not self.pred[p]:
                    raise GraphError(f"NIR node '{p}' ({type(node).__name__}) has no input (no edge into it)")
                for q in self.pred[p]:
                    source, ops = self.walk_back(q, p)
                    out.append((source, ops, p))
            elif isinstance(node, PASS_THROUGH):
                source, ops = self.walk_back(p, neuron)
                out.append((source, ops, None))
            else:
                out.append((p, [], None))
        return out

    # ---- shapes ---------------------------------------------------------------------------------------
    def shape_of(self, name: str) -> tuple:
        """A source's output shape: the Input's, or a neuron's (from its parameters, else from its inputs)."""
        if name == self.input:
            return self.input_shape
        if name in self.shapes:
            return self.shapes[name]
        node = self.nodes[name]
        own = np.shape(getattr(node, "v_threshold", ()))
        if len(own) and int(np.prod(own)) > 1:
            self.shapes[name] = tuple(int(s) for s in own)
            return self.shapes[name]
        if name in self.visiting:
            raise GraphError(f"NIR neuron '{name}' lies on a cycle and its parameters have no shape; give r and "
                             "v_threshold the population's shape")
        self.visiting.add(name)
        self.shapes[name] = self.out_shape(*self.paths_into(name)[0])
        self.visiting.discard(name)
        return self.shapes[name]

    def out_shape(self, source, ops, syn) -> tuple:
        """The shape a path's projection produces (before any weights are read)."""
        shape = _pooled_shape(self.shape_of(source), [(o, self.nodes[o]) for o in ops])
        node = self.nodes[syn] if syn else None
        if isinstance(node, nir.Conv2d):
            if isinstance(node.padding, str):
                raise UnsupportedModelError(f"NIR node '{syn}': string padding '{node.padding}' is not supported; "
                                            "use integer padding")
            w = np.asarray(node.weight)
            hw = conv_out_hw(shape[1:], w.shape[2:], _pair(node.stride), _pair(node.padding), _pair(node.dilation))
            return (int(w.shape[0]),) + hw
        if isinstance(node, (nir.Affine, nir.Linear)):
            return (int(np.asarray(node.weight).shape[0]),)
        return tuple(shape)  # identity (an edge, or a Scale node)

    # ---- the network ----------------------------------------------------------------------------------
    def network(self, metadata: dict) -> Network:
        if len(self.pred[self.output]) != 1 or self.pred[self.output][0] not in self.models:
            raise UnsupportedModelError("the NIR graph's Output must follow exactly one neuron node; it reads "
                                        f"{self.pred[self.output] or 'nothing'}")
        paths = {name: self.paths_into(name) for name in self.models}
        used = {self.input, self.output} | set(self.models)
        for name in self.models:
            for source, ops, syn in paths[name]:
                used.update(ops + ([syn] if syn else []))
        stray = [n for n in self.nodes if n not in used]
        if stray:
            raise GraphError(f"NIR node '{stray[0]}' ({type(self.nodes[stray[0]]).__name__}) is on no path into a "
                             "neuron; remove it or connect it")
        populations, projections = [], []
        gains = {}
        for name, model in self.models.items():
            shape = self.shape_of(name)
            params, gain = model.from_nir(name, self.nodes[name], shape)
            populations.append(Population(name, shape, params))
            gains[name] = gain
        by_name = {p.name: p for p in populations}
        for pop in populations:
            syn_count = {}
            for _, _, syn in paths[pop.name]:
                syn_count[syn] = syn_count.get(syn, 0) + 1
            seen_bias = set()
            for source, ops, syn in paths[pop.name]:
                src = INPUT if source == self.input else source
                if syn is None:
                    name = f"{src}_to_{pop.name}"
                elif syn_count[syn] > 1:
                    name = f"{syn}_from_{src}"
                else:
                    name = syn
                proj, bias = self.projection(name, src, source, ops, syn, pop)
                gain = gains[pop.name]
                _apply_gain(proj, gain, pop.name)
                projections.append(proj)
                if syn is not None and syn not in seen_bias:
                    seen_bias.add(syn)
                    pop.neuron.bias = pop.neuron.bias + np.broadcast_to(bias, pop.shape) * gain
        names = [p for p in projections if p.name in by_name]
        if names:
            raise GraphError(f"NIR projection name '{names[0].name}' is also a neuron's name; rename one")
        return Network(self.input_shape, populations, projections, self.pred[self.output][0], metadata).validate()

    def projection(self, name, src, source, ops, syn, pop) -> tuple[Projection, np.ndarray]:
        in_shape = self.shape_of(source)
        folded = tuple(ops) + ((syn,) if syn else ())
        node = self.nodes[syn] if syn else None
        if isinstance(node, nir.Conv2d):
            proj, bias = _conv_projection(name, src, pop.name, syn, node, [(o, self.nodes[o]) for o in ops], in_shape)
        elif isinstance(node, (nir.Affine, nir.Linear)):
            proj, bias = _dense_projection(name, src, pop.name, syn, node, [(o, self.nodes[o]) for o in ops], in_shape)
        else:  # an edge neuron -> neuron (scale 1) or through a Scale node
            scale = np.asarray(node.scale, np.float64) if node is not None else 1.0
            proj, bias = _identity_projection(name, src, pop.name, [(o, self.nodes[o]) for o in ops], in_shape, scale,
                                              syn)
        proj.folded = folded
        if tuple(proj.out_shape) != tuple(pop.shape):
            raise GraphError(f"projection '{name}' into '{pop.name}' produces {tuple(proj.out_shape)} but the neuron "
                             f"is {tuple(pop.shape)}; fix the graph's shapes")
        return proj, bias


def from_nir(graph: nir.NIRGraph) -> Network:
    """The float network of a NIR graph (neurokit's own graphs, and any graph of the supported nodes)."""
    meta = graph.metadata.get("neurokit") if isinstance(graph.metadata, dict) else None
    return _Lowering(graph).network(json.loads(meta) if isinstance(meta, str) else {})


# ---- folding pooling into synapses ------------------------------------------------------------------------

def _pool_kernel(pname, pool, shape) -> tuple[int, int]:
    k, s, p = _pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding)
    if s != k or p != (0, 0):
        raise UnsupportedModelError(f"NIR node '{pname}': pooling needs stride == kernel_size and padding 0 "
                                    f"(got kernel {k}, stride {s}, padding {p})")
    if len(shape) != 3:
        raise UnsupportedModelError(f"NIR node '{pname}': pooling needs a (C, H, W) input, got {shape}")
    return k


def _pooled_shape(shape, pending) -> tuple:
    """A (C, H, W) or flat shape after pooling / flatten nodes [(name, node)]."""
    shape = tuple(shape)
    for name, node in pending:
        if isinstance(node, nir.Flatten):
            shape = (int(np.prod(shape)),)
        else:
            k = _pool_kernel(name, node, shape)
            shape = (shape[0], shape[1] // k[0], shape[2] // k[1])
    return shape


def _pool_factor(pool, k) -> float:
    return 1.0 / (k[0] * k[1]) if isinstance(pool, nir.AvgPool2d) else 1.0


def _conv_projection(name, source, target, syn_name, syn: nir.Conv2d, pending, in_shape):
    w = np.asarray(syn.weight, np.float64)
    if w.ndim != 4:
        raise UnsupportedModelError(f"NIR node '{syn_name}' (Conv2d): weight must be 4-D (C_out, C_in, kH, kW)")
    if isinstance(syn.padding, str):
        raise UnsupportedModelError(f"NIR node '{syn_name}': string padding '{syn.padding}' is not supported; "
                                    "use integer padding")
    stride, padding, dilation = _pair(syn.stride), _pair(syn.padding), _pair(syn.dilation)
    groups = int(syn.groups)
    shape = tuple(in_shape)
    # Pool shapes first (forward), then fold them into the kernel (backward, last pool first).
    pools = []
    for pname, pool in pending:
        if isinstance(pool, nir.Flatten):
            raise UnsupportedModelError(f"NIR node '{pname}' (Flatten) before Conv2d '{syn_name}' is not supported")
        k = _pool_kernel(pname, pool, shape)
        pools.append((pname, pool, k, shape))
        shape = (shape[0], shape[1] // k[0], shape[2] // k[1])
    if len(shape) != 3:
        raise UnsupportedModelError(f"NIR node '{syn_name}' (Conv2d) gets a {shape} input; it needs (C, H, W)")
    conv_in = shape
    if w.shape[1] * groups != conv_in[0]:
        raise GraphError(f"NIR node '{syn_name}' (Conv2d) expects {w.shape[1] * groups} input channels, "
                         f"gets {conv_in[0]}")
    out_shape = (w.shape[0],) + conv_out_hw(conv_in[1:], w.shape[2:], stride, padding, dilation)
    if min(out_shape) < 1:
        raise GraphError(f"NIR node '{syn_name}' (Conv2d): a {conv_in} input gives an empty {out_shape} output")
    w, stride, padding, dilation = _fold_pools(w, pools, stride, padding, dilation)
    bias = np.zeros(w.shape[0]) if syn.bias is None else np.asarray(syn.bias, np.float64).reshape(-1)
    if bias.size == 1 and w.shape[0] > 1:
        bias = np.full(w.shape[0], float(bias[0]))
    bias = np.broadcast_to(bias.reshape(-1, 1, 1), out_shape).copy()
    proj = Projection(name, source, target, "conv", tuple(in_shape), out_shape, w, stride=stride, padding=padding,
                      dilation=dilation, groups=groups)
    return proj, bias


def _fold_pools(w, pools, stride, padding, dilation):
    """A conv over a pooled map == a conv over the full map with each tap spread over a k x k block."""
    for pname, pool, k, pshape in reversed(pools):
        if any(pshape[1 + i] % k[i] for i in range(2)) and padding != (0, 0):
            raise UnsupportedModelError(f"NIR node '{pname}': a {pshape[1:]} map does not divide by pool kernel {k}; "
                                        "with padding in the next Conv2d the fold would not be exact")
        kh = k[0] * (dilation[0] * (w.shape[2] - 1) + 1)
        kw = k[1] * (dilation[1] * (w.shape[3] - 1) + 1)
        big = np.zeros(w.shape[:2] + (kh, kw))
        for a in range(w.shape[2]):
            for b in range(w.shape[3]):
                r, c = k[0] * dilation[0] * a, k[1] * dilation[1] * b
                big[:, :, r:r + k[0], c:c + k[1]] = w[:, :, a:a + 1, b:b + 1]
        w = big * _pool_factor(pool, k)
        stride = (stride[0] * k[0], stride[1] * k[1])
        padding = (padding[0] * k[0], padding[1] * k[1])
        dilation = (1, 1)
    return w, stride, padding, dilation


def _dense_projection(name, source, target, syn_name, syn, pending, in_shape):
    w = np.asarray(syn.weight, np.float64)
    if w.ndim != 2:
        raise UnsupportedModelError(f"NIR node '{syn_name}': weight must be 2-D (out, in), got shape {w.shape}")
    bias = np.asarray(syn.bias, np.float64).reshape(-1) if isinstance(syn, nir.Affine) else np.zeros(w.shape[0])
    if bias.size not in (1, w.shape[0]):
        raise GraphError(f"NIR node '{syn_name}': bias of {bias.size} values for {w.shape[0]} outputs")
    w = _fold_dense_pools(w, syn_name, pending, in_shape)
    return Projection(name, source, target, "dense", tuple(in_shape), (w.shape[0],), w), \
        np.broadcast_to(bias, (w.shape[0],)).copy()


def _fold_dense_pools(w, syn_name, pending, in_shape):
    shape = tuple(in_shape)
    pools = []
    for pname, op in pending:
        if isinstance(op, nir.Flatten):
            shape = (int(np.prod(shape)),)
        else:
            if len(shape) != 3:
                raise UnsupportedModelError(f"NIR node '{pname}': pooling after Flatten is not supported")
            k = _pool_kernel(pname, op, shape)
            pools.append((op, k, shape))
            shape = (shape[0], shape[1] // k[0], shape[2] // k[1])
    if len(shape) != 1:
        raise UnsupportedModelError(f"NIR node '{syn_name}' (Affine) gets a {shape} input; insert a Flatten before it")
    if w.shape[1] != shape[0]:
        raise GraphError(f"NIR node '{syn_name}' expects {w.shape[1]} inputs, gets {shape[0]}")
    for op, k, pshape in reversed(pools):
        c, hp, wp = pshape[0], pshape[1] // k[0], pshape[2] // k[1]
        full = np.zeros((w.shape[0],) + tuple(pshape))
        up = np.repeat(np.repeat(w.reshape(w.shape[0], c, hp, wp), k[0], axis=2), k[1], axis=3)
        full[:, :, :hp * k[0], :wp * k[1]] = up * _pool_factor(op, k)
        w = full.reshape(w.shape[0], -1)
    return w


def _identity_projection(name, source, target, pending, in_shape, scale=1.0, scale_node=None):
    """Neuron -> neuron (with pooling / flatten only), each element times `scale` (NIR's Scale node: an array
    of the pooled shape): a depthwise 1 x 1 convolution (the scale uniform within each channel) or a diagonal
    matrix."""
    pooled = _pooled_shape(in_shape, pending)
    where = scale_node or name
    try:
        scale = np.broadcast_to(np.asarray(scale, np.float64), pooled)
    except ValueError:
        raise GraphError(f"NIR node '{where}' (Scale) has shape {np.shape(scale)} but reads {pooled}") from None
    if len(pooled) == 3:
        per_channel = scale.reshape(pooled[0], -1)
        if np.any(per_channel != per_channel[:, :1]):
            raise UnsupportedModelError(f"NIR node '{where}' (Scale): the scale must be uniform within each channel "
                                        "(a depthwise 1 x 1 synapse)")
        c = pooled[0]
        conv = nir.Conv2d(input_shape=np.array(pooled[1:]), weight=per_channel[:, 0].reshape(c, 1, 1, 1), stride=1,
                          padding=0, dilation=1, groups=c, bias=np.zeros(c))
        return _conv_projection(name, source, target, where, conv, pending, in_shape)
    weight = np.diag(scale.reshape(-1))
    return _dense_projection(name, source, target, where, nir.Linear(weight=weight), pending, in_shape)


def _apply_gain(proj: Projection, gain: np.ndarray, target: str) -> None:
    """Fold the target's per-neuron gain into the projection's weights (uniform per channel for conv)."""
    if proj.kind == "conv":
        per_channel = gain.reshape(proj.out_shape[0], -1)
        if np.any(per_channel != per_channel[:, :1]):
            raise UnsupportedModelError(f"NIR neuron '{target}': r / v_threshold must be uniform within each channel")
        proj.weight = proj.weight * per_channel[:, 0].reshape(-1, 1, 1, 1)
    else:
        proj.weight = proj.weight * gain.reshape(-1, 1)
