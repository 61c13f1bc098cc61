"""The spiking network as a directed graph: populations of neurons and projections between them.

This module holds the graph type and the rules every stage and backend shares.

- A **population** is a group of neurons of one model (neurokit.neurons: CUBA integrate-and-fire / LIF,
  single-spike phase coding) with a shape, e.g. (C, H, W) or (n,), and that model's parameters.
- A **projection** carries the spikes of one population (or the network's input, source "input") to
  another: a dense or convolution synapse (pooling and flatten folded into it exactly), its weights, its
  geometry and its delay. A population sums every projection into it and may feed several; a projection
  from a population to itself or to an earlier one makes the graph recurrent. The representation and the
  file formats hold cycles; backends say when they cannot run one.

Discrete-time semantics (they are Lava's): the network's input counts as the spikes of the source
"input" at every step (current coding: a held graded value; rate coding: Bernoulli spikes). At step t a
population receives, from each projection into it, W . s_source(t - 1) (one step of synaptic delay per
projection, as Lava's Dense and Conv have), summed; its neuron model turns that into spikes at step t.
Each sample starts from the model's initial state with nothing in flight. The class is read from one
population, `Network.output` (neurokit.network.readout_of).

Float networks (neurokit.lower.from_nir) are normalized: every neuron fires at v > 1 (thresholds) and
weights are in thresholds per unit of input. Quantized networks (quantize.QuantizedNet, a subclass) hold
the integers Lava's fixed_pt models take, with the arithmetic they were built for.
"""
from __future__ import annotations

import dataclasses
import math
from collections import deque

import numpy as np
import torch

from .errors import UnsupportedModelError

INPUT = "input"  # the source name of projections that read the network's input
READOUT_KEY = "readout"  # network metadata: how the class is read from the output population
READOUTS = ("spikes", "potential")
SYNAPSE_KINDS = ("dense", "conv")


class GraphError(UnsupportedModelError):
    """The graph is malformed (a missing node, a shape mismatch, a population with no input) or has a
    structure the asked-for stage cannot handle (a cycle)."""


@dataclasses.dataclass
class Projection:
    """Synapses from `source` (a population, or INPUT) to `target`. Weights in torch layout: dense
    (n_out, n_in), conv (C_out, C_in / groups, kH, kW); float (thresholds per unit of input) in a float
    network, Lava's 8-bit-scale integers in a quantized one (QProjection)."""

    name: str
    source: str
    target: str
    kind: str  # "dense" | "conv"
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    weight: np.ndarray
    stride: tuple[int, int] = dataclasses.field(default=(1, 1), kw_only=True)
    padding: tuple[int, int] = dataclasses.field(default=(0, 0), kw_only=True)
    dilation: tuple[int, int] = dataclasses.field(default=(1, 1), kw_only=True)
    groups: int = dataclasses.field(default=1, kw_only=True)
    delay: int = dataclasses.field(default=1, kw_only=True)  # steps; Lava's Dense and Conv have exactly 1
    folded: tuple[str, ...] = dataclasses.field(default=(), kw_only=True)  # NIR nodes folded into it

    @property
    def n_neurons(self) -> int:
        return int(math.prod(self.out_shape))  # math.prod, not np.prod: ~20x less per call (engine at batch 1)

    @property
    def n_inputs(self) -> int:
        return int(math.prod(self.in_shape))


@dataclasses.dataclass
class Population:
    """Neurons of one model. `neuron` holds the model's parameters (a dataclass whose class attribute
    `model` names a neurokit.neurons model), float or fixed point."""

    name: str
    shape: tuple[int, ...]
    neuron: object

    @property
    def n_neurons(self) -> int:
        return int(math.prod(self.shape))

    @property
    def model(self):
        """The neuron model (neurokit.neurons.NeuronModel) that runs this population."""
        from .neurons import model_of

        return model_of(self.neuron)


@dataclasses.dataclass
class Network:
    input_shape: tuple[int, ...]
    populations: list[Population]
    projections: list[Projection]
    output: str  # the population the class is read from
    metadata: dict = dataclasses.field(default_factory=dict)

    # ---- lookups ------------------------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise GraphError(f"the network has no population '{name}'")

    def incoming(self, name: str) -> list[Projection]:
        """Projections into population `name`, in the network's order (the order their inputs are summed)."""
        return [p for p in self.projections if p.target == name]

    def outgoing(self, name: str) -> list[Projection]:
        return [p for p in self.projections if p.source == name]

    def source_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.input_shape) if name == INPUT else tuple(self.population(name).shape)

    @property
    def output_population(self) -> Population:
        return self.population(self.output)

    # ---- structure ----------------------------------------------------------------------------------
    def cycle(self) -> list[str] | None:
        """Population names around one cycle (the first found), or None for a feed-forward graph."""
        succ = {p.name: [q.target for q in self.outgoing(p.name)] for p in self.populations}
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(n):
            state[n] = 1
            stack.append(n)
            for m in succ.get(n, []):
                if state.get(m) == 1:
                    return stack[stack.index(m):] + [m]
                if m not in state:
                    found = visit(m)
                    if found:
                        return found
            stack.pop()
            state[n] = 2
            return None

        for p in self.populations:
            if p.name not in state:
                found = visit(p.name)
                if found:
                    return found
        return None

    def back_edges(self) -> set[str]:
        """Names of the projections that close a cycle: into a population still open on a depth-first walk
        from the input (a population feeding itself or one it is fed by). Empty for feed-forward graphs."""
        back, state = set(), {}

        def visit(n):
            state[n] = 1
            for q in self.outgoing(n):
                if state.get(q.target) == 1:
                    back.add(q.name)
                elif q.target not in state:
                    visit(q.target)
            state[n] = 2

        for start in [INPUT] + [p.name for p in self.populations]:
            if start not in state:
                visit(start)
        return back

    def order(self, what: str = "this stage", cycles: bool = False) -> list[Population]:
        """Populations in topological order (each after every population that projects into it), ties in
        the network's own order. A recurrent graph is an error naming its cycle: `what` cannot run it;
        with cycles=True the projections that close a cycle (back_edges) are left out of the order."""
        skip = self.back_edges() if cycles else set()
        indeg = {p.name: 0 for p in self.populations}
        for q in self.projections:
            if q.source != INPUT and q.name not in skip:
                indeg[q.target] += 1
        ready = deque(p.name for p in self.populations if indeg[p.name] == 0)
        out = []
        while ready:
            n = ready.popleft()
            out.append(self.population(n))
            for q in self.outgoing(n):
                if q.name in skip:
                    continue
                indeg[q.target] -= 1
                if indeg[q.target] == 0:
                    ready.append(q.target)
        if len(out) < len(self.populations):
            loop = self.cycle() or []
            raise GraphError(f"the network is recurrent (cycle {' -> '.join(loop)}); {what} runs feed-forward "
                             "graphs only")
        return out

    def per_projection(self, values, what: str) -> dict:
        """One value for every projection: `values` itself, or a dict {population or projection name: value}
        (a projection's own entry wins over its target's; missing: None). A name the network lacks is an
        error that starts with `what` ("weight bits name", ...)."""
        if not isinstance(values, dict):
            return {q.name: values for q in self.projections}
        unknown = sorted(set(values) - {p.name for p in self.populations} - {q.name for q in self.projections})
        if unknown:
            raise ValueError(f"{what} layer '{unknown[0]}', which the network does not have; "
                             f"its layers: {', '.join(p.name for p in self.populations)}")
        return {q.name: values.get(q.name, values.get(q.target)) for q in self.projections}

    def is_chain(self) -> bool:
        """input -> p0 -> p1 -> ... -> output, one projection into each population from the one before."""
        prev = INPUT
        for p in self.populations:
            inc = self.incoming(p.name)
            if len(inc) != 1 or inc[0].source != prev:
                return False
            prev = p.name
        return prev == self.output

    def validate(self) -> "Network":
        """Names unique, every projection between existing nodes with matching shapes, every population
        with at least one input, the output a population. Returns self."""
        names = [p.name for p in self.populations]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise GraphError(f"two populations are named '{dup[0]}'; population names must be unique")
        if INPUT in names:
            raise GraphError(f"a population is named '{INPUT}', the name reserved for the network's input")
        pnames = [q.name for q in self.projections]
        dup = sorted({n for n in pnames if pnames.count(n) > 1})
        if dup:
            raise GraphError(f"two projections are named '{dup[0]}'; projection names must be unique")
        known = set(names)
        for q in self.projections:
            for end, role in ((q.source, "source"), (q.target, "target")):
                if end != INPUT and end not in known:
                    raise GraphError(f"projection '{q.name}' names {role} '{end}', which is not a population of the "
                                     "network; add it or remove the projection")
            if q.target == INPUT:
                raise GraphError(f"projection '{q.name}' targets the network's input; only populations receive")
            if q.kind not in SYNAPSE_KINDS:
                raise GraphError(f"projection '{q.name}' has kind {q.kind!r}; neurokit knows {', '.join(SYNAPSE_KINDS)}")
            if not isinstance(q.delay, (int, np.integer)) or q.delay < 1:
                raise GraphError(f"projection '{q.name}' has a delay of {q.delay!r} steps; a synapse delivers after a "
                                 "whole number of steps, at least 1 (Lava's Dense and Conv: exactly 1)")
            src = self.source_shape(q.source)
            if tuple(src) != tuple(q.in_shape):
                raise GraphError(f"projection '{q.name}' expects a {tuple(q.in_shape)} input but its source "
                                 f"'{q.source}' is {tuple(src)}; fix the graph's shapes")
            tgt = self.population(q.target).shape
            if int(np.prod(tgt)) != q.n_neurons or tuple(tgt) != tuple(q.out_shape):
                raise GraphError(f"projection '{q.name}' produces {tuple(q.out_shape)} but its target '{q.target}' "
                                 f"is {tuple(tgt)}; fix the graph's shapes")
        for p in self.populations:
            if not self.incoming(p.name):
                raise GraphError(f"population '{p.name}' has no input (no projection into it); connect it or "
                                 "remove it")
        if self.output not in known:
            raise GraphError(f"the network's output '{self.output}' is not a population of the network")
        return self


# ---- the shared rules ----------------------------------------------------------------------------------

def readout_of(net) -> str:
    """'spikes': the class is the argmax of the output population's spike counts. 'potential': the argmax
    of its integrated input, spike count + v / threshold at the window's end (reset by subtraction keeps
    the sum). A neuron model may fix the readout (a phase-coded output is always read by its latched
    potential)."""
    forced = net.output_population.model.forced_readout
    if forced is not None:
        return forced
    mode = net.metadata.get(READOUT_KEY, "spikes")
    if mode not in READOUTS:
        raise UnsupportedModelError(f"the network's metadata readout={mode!r}; neurokit knows {', '.join(READOUTS)}")
    return mode


WINDOWS_KEY = "windows"  # network metadata: how a windowed (spiking) network's sample windows line up
WINDOWS = ("synchronous", "pipelined")


def windows_of(net) -> str:
    """'synchronous': every population restarts at each sample's first step and the input reaches a layer at
    depth d after d steps, so a sample's T steps shrink to T - d there (neurokit's ConversionLIF drops what
    is in flight at a window start). 'pipelined': a population at depth d restarts d steps after the input
    (Lava's LIFReset with reset_offset = d + 1, as netx sets it layer by layer), so every layer sees its
    sample's whole T steps; latency T + D, one sample every T steps. Stream networks (sigma-delta) have no
    windows and read 'pipelined' here."""
    mode = net.metadata.get(WINDOWS_KEY, "synchronous")
    if mode not in WINDOWS:
        raise UnsupportedModelError(f"the network's metadata windows={mode!r}; neurokit knows {', '.join(WINDOWS)}")
    return mode


def depths(net, shortest: bool = False) -> dict:
    """Projections from the input to each population along its longest (or shortest) path, the projections
    that close a cycle left out (Network.back_edges): the step a population's window starts at (every
    projection delivers after one step). A projection with a longer delay shifts what it delivers within
    the target's window; it does not move the window."""
    pick = min if shortest else max
    back = net.back_edges()
    d = {INPUT: 0}
    for pop in net.order("depths", cycles=True):
        d[pop.name] = pick(d[q.source] + 1 for q in net.incoming(pop.name) if q.name not in back)
    return d


def check_pipelined(net) -> dict:
    """Depth per population of a network with pipelined windows; every path into a population must be equally
    long, or one of them would deliver its spikes into the wrong window."""
    longest, shortest = depths(net), depths(net, shortest=True)
    back = net.back_edges()
    for q in net.projections:
        if q.name in back and longest[q.source] != longest[q.target]:
            raise UnsupportedModelError(f"projection {q.name} closes a cycle from {q.source} (depth "
                                        f"{longest[q.source]}) to {q.target} (depth {longest[q.target]}): pipelined "
                                        "windows need a recurrent projection between populations of one depth (a "
                                        "population feeding itself, or one beside it)")
    for p in net.populations:
        if longest[p.name] != shortest[p.name]:
            raise UnsupportedModelError(f"population {p.name} is reached by paths of {shortest[p.name]} and "
                                        f"{longest[p.name]} synaptic delays; pipelined windows need equal paths "
                                        "(a skip connection would deliver into the wrong window)")
    return longest


def latency(net) -> int | None:
    """Steps a network needs before its output population holds its answer, when its neuron model says
    (phase coding); None when any T works."""
    return net.output_population.model.latency(net.output_population.neuron)


def conv_out_hw(in_hw, kernel, stride, padding, dilation) -> tuple[int, int]:
    return tuple((int(in_hw[i]) + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i in range(2))


def project(proj: Projection, x: torch.Tensor, weight=None) -> torch.Tensor:
    """W . x of one projection in float (x: (N, *in_shape) tensor), (N, *out_shape). weight: another
    array of the projection's shape to apply instead (e.g. its integers)."""
    w = torch.as_tensor(proj.weight if weight is None else weight, dtype=x.dtype)
    if proj.kind == "conv":
        return torch.nn.functional.conv2d(x.reshape((len(x),) + tuple(proj.in_shape)), w, None, tuple(proj.stride),
                                          tuple(proj.padding), tuple(proj.dilation), proj.groups)
    return (x.reshape(len(x), -1) @ w.reshape(w.shape[0], -1).T).reshape((len(x),) + tuple(proj.out_shape))


def fanout(proj: Projection) -> np.ndarray:
    """Structural fan-out of each presynaptic neuron of `proj` (shape proj.in_shape): the synapses its
    spike walks, zero weights included."""
    if proj.kind == "dense":
        return np.full(proj.in_shape, float(proj.n_neurons))
    x = torch.zeros((1,) + tuple(proj.in_shape), dtype=torch.float64, requires_grad=True)
    k = torch.ones(np.shape(proj.weight), dtype=torch.float64)
    y = torch.nn.functional.conv2d(x, k, None, tuple(proj.stride), tuple(proj.padding), tuple(proj.dilation),
                                   proj.groups)
    y.sum().backward()
    return x.grad[0].numpy()
