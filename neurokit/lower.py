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

Foreign graphs (snnTorch, Norse, ...: any graph neurokit did not write) are read under a dialect
(neurokit.dialects): LIF, CubaLIF, LI, CubaLI, I, IF and Threshold nodes become Loihi's CUBA compartment
under that framework's rules. Nested NIRGraph nodes are flattened (inner nodes named "outer.inner"); a
Conv1d is a Conv2d over a (C, 1, L) map; a Delay node adds its steps to the projection it sits on; an
edge back to a population that feeds it (a recurrent layer) is a projection like any other.
"""
from __future__ import annotations

import json

import nir
import numpy as np

from .errors import UnsupportedModelError
from .network import INPUT, GraphError, Network, Population, Projection, conv_out_hw
from .neurons import CUBA, model_for_nir

SUPPORTED_NODES = ("Input, Output, Affine, Linear, Conv1d, Conv2d, Scale, SumPool2d, AvgPool2d, Flatten, Delay, IF, "
                   "LIF, CubaLIF, LI, CubaLI, I, Threshold, NIRGraph")
PASS_THROUGH = (nir.SumPool2d, nir.AvgPool2d, nir.Flatten, nir.Delay)
SYNAPSES = (nir.Affine, nir.Linear, nir.Conv2d, nir.Conv1d, nir.Scale)
FOREIGN_NEURONS = (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI, nir.I, nir.Threshold)


def flatten_graph(graph: nir.NIRGraph, prefix: str = "") -> tuple[dict, list]:
    """(nodes, edges) with every nested NIRGraph node replaced by its own nodes, named "outer.inner"; an edge
    into the subgraph goes to what its Input feeds, an edge out of it leaves from what feeds its Output."""
    nodes, edges = {}, []
    entry, exit_ = {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = flatten_graph(node, full + ".")
            ins = [n for n, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [n for n, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise GraphError(f"nested NIR graph '{full}' has {len(ins)} Input and {len(outs)} Output nodes; "
                                 "neurokit reads subgraphs with one of each")
            first = [b for a, b in inner_edges if a == f"{full}.{ins[0]}"]
            last = [a for a, b in inner_edges if b == f"{full}.{outs[0]}"]
            for n in (f"{full}.{ins[0]}", f"{full}.{outs[0]}"):
                inner_nodes.pop(n)
            inner_edges = [(a, b) for a, b in inner_edges if a not in (f"{full}.{ins[0]}",) and
                           b not in (f"{full}.{outs[0]}",)]
            nodes.update(inner_nodes)
            edges.extend(inner_edges)
            entry[name], exit_[name] = first, last
        else:
            nodes[full] = node
    for edge in graph.edges:
        a, b = edge
        for end in (a, b):
            if end not in graph.nodes:
                raise GraphError(f"NIR edge ({a!r}, {b!r}) names node '{end}', which is not in the graph; add the "
                                 "node or remove the edge")
        for x in exit_.get(a, [prefix + a]):
            for y in entry.get(b, [prefix + b]):
                edges.append((x, y))
    return nodes, edges


def _conv1d_as_2d(node: nir.Conv1d) -> nir.Conv2d:
    """A Conv1d over (C, L) is a Conv2d over (C, 1, L) with a 1 x K kernel."""
    w = np.asarray(node.weight, np.float64)
    if w.ndim != 3:
        raise UnsupportedModelError("NIR Conv1d: weight must be 3-D (C_out, C_in, K)")
    if isinstance(node.padding, str):
        raise UnsupportedModelError(f"NIR Conv1d: string padding '{node.padding}' is not supported; use integers")
    one = lambda v: int(np.atleast_1d(np.asarray(v)).astype(int)[0])  # noqa: E731
    return nir.Conv2d(input_shape=None, weight=w[:, :, None, :], stride=(1, one(node.stride)),
                      padding=(0, one(node.padding)), dilation=(1, one(node.dilation)), groups=int(node.groups),
                      bias=node.bias)


def _pair(v) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(a[0]), int(a[-1]))


class _Lowering:
    def __init__(self, graph: nir.NIRGraph, dialect=None, dt: float | None = None):
        nodes, edges = flatten_graph(graph)
        self.one_d = {n for n, v in nodes.items() if isinstance(v, nir.Conv1d)}
        self.nodes = {n: _conv1d_as_2d(v) if isinstance(v, nir.Conv1d) else v for n, v in nodes.items()}
        self.dialect, self.dt, self.notes = dialect, dt, []
        self.pred: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.succ: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in edges:
            self.pred[b].append(a)
            self.succ[a].append(b)
        inputs = [n for n, node in self.nodes.items() if isinstance(node, nir.Input)]
        outputs = [n for n, node in self.nodes.items() if isinstance(node, nir.Output)]
        if len(inputs) != 1:
            raise UnsupportedModelError(f"the NIR graph has {len(inputs)} Input nodes; neurokit needs exactly one")
        if len(outputs) != 1:
            raise UnsupportedModelError(f"the NIR graph has {len(outputs)} Output nodes; neurokit needs exactly one")
        self.input, self.output = inputs[0], outputs[0]
        self.nir_input_shape = tuple(int(s) for s in np.atleast_1d(self.nodes[self.input].input_type["input"]))
        if dialect is not None and dialect.input_batch and len(self.nir_input_shape) > 1 and self.nir_input_shape[0] == 1:
            self.nir_input_shape = self.nir_input_shape[1:]  # the exporter kept its sample's batch dimension
        self.input_shape = self.nir_input_shape
        if len(self.input_shape) == 2 and any(self.nodes[b].__class__ is nir.Conv2d and b in self.one_d
                                              for b in self.succ[self.input]):
            self.input_shape = (self.input_shape[0], 1, self.input_shape[1])  # a Conv1d reads it
        self.models, self.foreign = {}, {}
        for name, node in self.nodes.items():
            if isinstance(node, (nir.Input, nir.Output) + PASS_THROUGH + SYNAPSES):
                continue
            own = (node.metadata or {}).get("neuron") if isinstance(getattr(node, "metadata", None), dict) else None
            if isinstance(node, FOREIGN_NEURONS) and own is not None and dialect is None:
                self.models[name] = model_for_nir(name, node)  # neurokit's own leaky CUBA node
                continue
            if isinstance(node, FOREIGN_NEURONS) or (isinstance(node, nir.IF) and dialect is not None):
                if dialect is None:
                    from .dialects import DIALECTS

                    raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}): the graph does not say "
                                                "which framework wrote it, and frameworks step this node differently; "
                                                f"pass --dialect ({', '.join(DIALECTS)})")
                self.models[name] = CUBA
                self.foreign[name] = node
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
            delays = []  # Delay nodes between the synapse and the neuron
            while isinstance(self.nodes[p], nir.Delay) and len(self.pred[p]) == 1 and \
                    isinstance(self.nodes[self.pred[p][0]], SYNAPSES + (nir.Delay,)):
                delays.append(p)
                p = self.pred[p][0]
            node = self.nodes[p]
            if isinstance(node, SYNAPSES) and delays:
                for q in self.pred[p]:
                    source, ops = self.walk_back(q, p)
                    out.append((source, ops + delays, p))
            elif isinstance(node, SYNAPSES):
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
        """A source's output shape: the Input's, or a neuron's: what its first input path not on a cycle
        through it produces, else its parameters' shape."""
        if name == self.input:
            return self.input_shape
        if name in self.shapes:
            return self.shapes[name]
        self.visiting.add(name)
        shape = None
        for path in self.paths_into(name):
            if path[0] not in self.visiting:
                shape = self.out_shape(*path)
                break
        self.visiting.discard(name)
        if shape is None:
            node = self.nodes[name]
            own = max((np.shape(getattr(node, f, ())) for f in ("v_threshold", "tau", "tau_mem", "r", "threshold")),
                      key=lambda sh: int(np.prod(sh)) if len(sh) else 0)
            if not len(own) or int(np.prod(own)) <= 1:
                raise GraphError(f"NIR neuron '{name}' lies on a cycle and its parameters have no shape; give its "
                                 "parameters the population's shape")
            shape = tuple(int(s) for s in own)
        self.shapes[name] = tuple(shape)
        return self.shapes[name]

    def shaping(self, ops) -> list:
        """The pooling and flatten nodes of a path (a Delay changes no shape), as (name, node)."""
        return [(o, self.nodes[o]) for o in ops if not isinstance(self.nodes[o], nir.Delay)]

    def delay_steps(self, ops, where: str) -> int:
        """Steps the Delay nodes on a path add to its synapse's one step."""
        total = 0
        for o in ops:
            node = self.nodes[o]
            if not isinstance(node, nir.Delay):
                continue
            if self.dt is None:
                raise UnsupportedModelError(f"NIR node '{o}' (Delay) is in time units and no time step is known: "
                                            "pass --dialect or --dt")
            d = np.asarray(node.delay, np.float64) / self.dt
            if d.size == 0 or not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(d != d.flat[0]) or \
                    abs(d.flat[0] - round(d.flat[0])) > 1e-6:
                raise UnsupportedModelError(f"NIR node '{o}' (Delay): delay / dt = {d.reshape(-1)[:3]} steps; neurokit "
                                            f"delays a projection ({where}) by one whole number of steps")
            total += int(round(d.flat[0]))
        return total

    def out_shape(self, source, ops, syn) -> tuple:
        """The shape a path's projection produces (before any weights are read)."""
        shape = _pooled_shape(self.shape_of(source), self.shaping(ops))
        node = self.nodes[syn] if syn else None
        if isinstance(node, nir.Conv2d):
            if isinstance(node.padding, str):
                raise UnsupportedModelError(f"NIR node '{syn}': string padding '{node.padding}' is not supported; "
                                            "use integer padding")
            w = np.asarray(node.weight)
            flat = [o for o, n in self.shaping(ops) if isinstance(n, nir.Flatten)]
            if flat:
                raise UnsupportedModelError(f"NIR node '{flat[0]}' (Flatten) before Conv2d '{syn}' is not supported")
            if len(shape) != 3 or w.ndim != 4:
                raise UnsupportedModelError(f"NIR node '{syn}' (Conv2d) gets a {tuple(shape)} input; it needs (C, H, W)")
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
            if name in self.foreign:
                params, gain = self.foreign_neuron(name, shape, paths[name])
            else:
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
                    added = np.broadcast_to(bias, pop.shape) * gain
                    p = pop.neuron
                    if pop.name in self.foreign and p.du < 1 and np.any(added):
                        # a synapse's bias is input current: it decays with u, as the framework computes it
                        p.u_bias = added if p.u_bias is None else p.u_bias + added
                    else:
                        p.bias = p.bias + added
        names = [p for p in projections if p.name in by_name]
        if names:
            raise GraphError(f"NIR projection name '{names[0].name}' is also a neuron's name; rename one")
        if self.dialect is not None:
            out = next(p for p in populations if p.name == self.pred[self.output][0])
            metadata = dict(metadata, dialect=self.dialect.rules() | {"dt": self.dt}, windows="pipelined",
                            readout="spikes" if out.neuron.fires else "potential", import_notes=list(self.notes))
        if self.input_shape != self.nir_input_shape:
            metadata = dict(metadata, nir_input_shape=list(self.nir_input_shape))
        return Network(self.input_shape, populations, projections, self.pred[self.output][0], metadata).validate()

    def foreign_neuron(self, name: str, shape: tuple, paths: list):
        """A foreign neuron node read under the dialect (neurokit.dialects) as CUBA parameters and a gain;
        paths: the paths into it (paths_into)."""
        from .dialects import read_neuron
        from .neurons import Cuba

        recurrent = any(source == name for source, _, _ in paths)
        r = read_neuron(self.dialect, name, self.nodes[name], shape, self.dt, recurrent)
        self.notes.extend(r.notes)
        params = Cuba(bias=r.bias, v_init=r.v_init, reset=r.reset, du=r.du, dv=r.dv, reset_amount=r.reset_amount,
                      fires=r.fires, threshold_ge=r.threshold_ge, tau=r.tau, refractory=r.refractory)
        return params, r.gain

    def projection(self, name, src, source, ops, syn, pop) -> tuple[Projection, np.ndarray]:
        in_shape = self.shape_of(source)
        folded = tuple(ops) + ((syn,) if syn else ())
        node = self.nodes[syn] if syn else None
        shaping = self.shaping(ops)
        if isinstance(node, nir.Conv2d):
            proj, bias = _conv_projection(name, src, pop.name, syn, node, shaping, in_shape)
        elif isinstance(node, (nir.Affine, nir.Linear)):
            proj, bias = _dense_projection(name, src, pop.name, syn, node, shaping, in_shape)
        else:  # an edge neuron -> neuron (scale 1) or through a Scale node
            scale = np.asarray(node.scale, np.float64) if node is not None else 1.0
            proj, bias = _identity_projection(name, src, pop.name, shaping, in_shape, scale, syn)
        proj.folded = folded
        proj.delay = 1 + self.delay_steps(ops, name)
        if node is not None and "delay_steps" in (node.metadata or {}):  # neurokit's own graphs
            proj.delay = int(node.metadata["delay_steps"])
        if tuple(proj.out_shape) != tuple(pop.shape):
            raise GraphError(f"projection '{name}' into '{pop.name}' produces {tuple(proj.out_shape)} but the neuron "
                             f"is {tuple(pop.shape)}; fix the graph's shapes")
        return proj, bias


def from_nir(graph: nir.NIRGraph, dialect: str | None = None, dt: float | None = None,
             reset: str | None = None, spikes: str = "single") -> Network:
    """The float network of a NIR graph: neurokit's own graphs, and foreign graphs read under `dialect`
    (neurokit.dialects; default: the framework the graph's metadata names). dt overrides the dialect's time
    step, reset its reset rule (NIR has no reset-mode field: snnTorch writes v_reset = 0 for both its
    reset mechanisms). spikes: "single" (one spike per neuron and step, all Loihi's LIF sends) or "multi"
    (sinabs' default MultiSpike, refused: no exporter writes which one a net used)."""
    if spikes not in ("single", "multi"):
        raise UnsupportedModelError(f"--spikes {spikes!r}: expected single or multi")
    if spikes == "multi":
        raise UnsupportedModelError("--spikes multi: the framework's neurons send several spikes per step (sinabs' "
                                    "MultiSpike); Loihi 2's LIF sends one per step: train and export with one spike "
                                    "per step (sinabs SingleSpike)")
    from .dialects import detect, dialect_named

    meta = graph.metadata.get("neurokit") if isinstance(graph.metadata, dict) else None
    rules = None
    if meta is None:
        name = dialect or detect(graph)
        if name is not None:
            rules = dialect_named(name)
            dt = rules.dt if dt is None else dt
            if reset is not None:
                rules = rules.with_reset(reset)
    elif dialect is not None:
        raise UnsupportedModelError(f"--dialect {dialect}: this graph was written by neurokit, which states its own "
                                    "rules; drop --dialect")
    return _Lowering(graph, rules, dt).network(json.loads(meta) if isinstance(meta, str) else {})


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


def to_nir(net: Network) -> nir.NIRGraph:
    """neurokit's NIR graph of a float network (what `neurokit import` writes): the Input, one Affine or
    Conv2d node per projection (its weights as they stand, normalized; a Flatten before a dense projection
    from a map; a delay other than 1 in the node's metadata delay_steps), one node per population (its
    model's), and the network's metadata. from_nir reads it back to the same network."""
    nodes = {"input": nir.Input(input_type=np.array(net.input_shape))}
    edges = []
    for p in net.populations:
        nodes[p.name] = p.model.to_nir(p.neuron, p.shape)
        if not isinstance(nodes[p.name], nir.CubaLIF) and np.any(p.neuron.bias):
            nodes[p.name].metadata["bias"] = np.asarray(p.neuron.bias, np.float64)
    for q in net.projections:
        source = "input" if q.source == INPUT else q.source
        w = np.asarray(q.weight, np.float64)
        if q.kind == "conv":
            node = nir.Conv2d(input_shape=np.array(q.in_shape[1:]), weight=w, stride=np.array(q.stride),
                              padding=np.array(q.padding), dilation=np.array(q.dilation), groups=q.groups,
                              bias=np.zeros(w.shape[0]))
        else:
            if len(q.in_shape) > 1:
                flat = f"{q.name}.flatten"
                nodes[flat] = nir.Flatten(input_type={"input": np.array(q.in_shape)}, start_dim=0, end_dim=-1)
                edges.append((source, flat))
                source = flat
            node = nir.Affine(weight=w.reshape(len(w), -1), bias=np.zeros(len(w)))
        if q.delay != 1:
            node.metadata["delay_steps"] = int(q.delay)
        nodes[q.name] = node
        edges += [(source, q.name), (q.name, q.target)]
    nodes["output"] = nir.Output(output_type=np.array(net.output_population.shape))
    edges.append((net.output, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neurokit": json.dumps(net.metadata)}, type_check=False)
