"""Find the spiking populations of an ANN graph and emit the normalized NIR graph.

A population stands for the output of each ReLU, and of the model's output op. Its input is a sum of
terms, each a source population (or the input) seen through average pooling / flatten / channel
concatenation and then one Linear / Conv2d (BatchNorm folded), or through pooling alone: an identity
term, as a skip connection `x + f(x)` makes. Linearity does the rest: `conv(a + b)` is two terms with one
weight, `torch.cat` splits a synapse's weight along its input channels. What is not linear up to the next
ReLU (a Linear feeding a Linear, pooling between a synapse and its ReLU) is refused with the layer named.

Normalization (Rueckauer et al. 2017), one scale per population whatever its number of inputs: a term
from source s into population p gets weight W lambda_s / lambda_p (lambda_input = 1), the population's
bias b / lambda_p, where lambda is what one threshold (one spike per step) stands for.
"""
from __future__ import annotations

import dataclasses
import json

import nir
import numpy as np

from ..errors import UnsupportedModelError
from ..neurons import Cuba, model_of
from .ann import INPUT_OP, SYNAPSE_KINDS, AnnGraph, Op


@dataclasses.dataclass
class Term:
    """One input of a population: `source` (a population's op, or the input) through `pre` (pooling and
    flatten, in order) and `synapse` (None: identity). channels = (first, count): where the source sits in a
    torch.cat, in units of the synapse's input features (identity: of the population's own features)."""

    source: str
    pre: list[Op]
    synapse: Op | None
    channels: tuple[int, int] | None = None
    target: str = ""  # the op whose output the population stands for


@dataclasses.dataclass
class PopulationSpec:
    op: str  # the op whose output the population stands for
    has_relu: bool
    terms: list[Term]

    @property
    def synapses(self) -> list[Op]:
        """The synapse ops feeding it, each once (each adds its bias once)."""
        out = []
        for t in self.terms:
            if t.synapse is not None and all(t.synapse is not s for s in out):
                out.append(t.synapse)
        return out


def spiking_structure(graph: AnnGraph, input_shape: tuple[int, ...] | None = None) -> list[PopulationSpec]:
    """One PopulationSpec per ReLU (and the output op when no ReLU ends the model), in graph order.
    input_shape (without the batch) is needed when the model concatenates."""
    shapes = graph.shapes(input_shape) if input_shape is not None else None
    pops = [op.name for op in graph.body if op.kind == "relu"]
    if graph.output not in pops:
        pops.append(graph.output)
    reader = _Reader(graph, set(pops), shapes)
    out = [PopulationSpec(name, graph.op(name).kind == "relu", reader.population_terms(graph.op(name))) for name in pops]
    for spec in out:
        for t in spec.terms:
            t.target = spec.op
    for op in graph.body:
        if op.kind == "relu" and op.name != graph.output and not graph.consumers(op.name):
            raise UnsupportedModelError(f"layer {op.index} '{op.name}' (ReLU) feeds nothing; neurokit converts "
                                        "models whose every branch reaches the output")
    return out


class _Reader:
    def __init__(self, graph: AnnGraph, pops: set, shapes: dict):
        self.graph, self.pops, self.shapes = graph, pops, shapes

    def population_terms(self, op: Op) -> list[Term]:
        """A ReLU population sums the terms of the ReLU's input; the output op is itself the sum."""
        return self.terms(op.inputs[0], op) if op.kind == "relu" else self.expand(op)

    def terms(self, name: str, reader: Op) -> list[Term]:
        if name == INPUT_OP or name in self.pops:
            return [Term(name, [], None)]
        return self.expand(self.graph.op(name), reader)

    def expand(self, op: Op, reader: Op | None = None) -> list[Term]:
        """The terms of a pre-activation expression op."""
        if op.kind in SYNAPSE_KINDS:
            return [Term(s, pre, op, ch) for s, pre, ch in self.features(op.inputs[0], op)]
        if op.kind == "add":
            return self.terms(op.inputs[0], op) + self.terms(op.inputs[1], op)
        if op.kind in ("avgpool", "flatten"):
            return [Term(s, pre + [op], None, self._after(op, ch)) for s, pre, ch in self.features(op.inputs[0], op)]
        if op.kind == "cat":
            return [Term(s, pre, None, ch) for s, pre, ch in self._cat(op)]
        raise UnsupportedModelError(f"op '{op.name}' ({op.kind}) cannot feed '{reader.name if reader else op.name}'")

    def features(self, name: str, reader: Op) -> list[tuple[str, list[Op], tuple | None]]:
        """A linear expression without synapse: (source, pre ops, channels) terms."""
        if name == INPUT_OP or name in self.pops:
            return [(name, [], None)]
        op = self.graph.op(name)
        if op.kind in ("avgpool", "flatten"):
            return [(s, pre + [op], self._after(op, ch)) for s, pre, ch in self.features(op.inputs[0], op)]
        if op.kind == "add":
            return self.features(op.inputs[0], op) + self.features(op.inputs[1], op)
        if op.kind == "cat":
            return self._cat(op)
        if op.kind in SYNAPSE_KINDS:
            if reader.kind == "avgpool":
                raise UnsupportedModelError(f"layer {reader.index} '{reader.name}' (AvgPool2d) pools the output of "
                                            f"layer {op.index} '{op.name}' before its ReLU; put pooling after the ReLU")
            raise UnsupportedModelError(
                f"layer {reader.index} '{reader.name}' follows layer {op.index} '{op.name}' without a ReLU between "
                "them; only the last Linear/Conv2d may lack a ReLU")
        raise UnsupportedModelError(f"op '{op.name}' ({op.kind}) cannot feed '{reader.name}'")

    def _cat(self, op: Op):
        if self.shapes is None:
            raise ValueError("spiking_structure needs the input shape of a model that concatenates")
        out, offset = [], 0
        for i in op.inputs:
            width = self.shapes[i][0]
            for s, pre, ch in self.features(i, op):
                out.append((s, pre, (offset + (ch[0] if ch else 0), ch[1] if ch else width)))
            offset += width
        return out

    def _after(self, op: Op, ch):
        """Channels of a cat seen after `op`: a flatten turns channels into features (x H x W)."""
        if ch is None or op.kind != "flatten":
            return ch
        shape = self.shapes[op.inputs[0]]
        per = int(np.prod(shape[1:])) if len(shape) == 3 else 1
        return (ch[0] * per, ch[1] * per)


# ---- the NIR graph ---------------------------------------------------------------------------------------

def term_shapes(term: Term, source_shape: tuple) -> list[tuple]:
    """The shape after the source and after each pre op of a term (a cat branch has its own channels)."""
    shapes = [tuple(source_shape)]
    for op in term.pre:
        s = shapes[-1]
        if op.kind == "avgpool":
            k = op.params["kernel"]
            shapes.append((s[0], s[1] // k[0], s[2] // k[1]))
        else:
            shapes.append((int(np.prod(s)),))
    return shapes


def term_weight(term: Term, in_shape: tuple, out_shape: tuple) -> np.ndarray:
    """The term's weight in torch layout (a cat branch's slice of its synapse; identity: ones)."""
    if term.synapse is not None:
        w = term.synapse.params["weight"]
        if term.channels is None:
            return w
        a, n = term.channels
        if term.synapse.kind == "conv" and term.synapse.params["groups"] != 1:
            raise UnsupportedModelError(f"layer '{term.synapse.name}' (grouped Conv2d) reads a torch.cat; neurokit "
                                        "splits only ungrouped convolutions along their inputs")
        return w[:, a:a + n]
    if len(in_shape) == 3 and len(out_shape) == 3:
        c_out, c_in = out_shape[0], in_shape[0]
        if term.channels is None:
            return np.ones((c_in, 1, 1, 1))  # depthwise
        w = np.zeros((c_out, c_in, 1, 1))
        a, _ = term.channels
        w[a + np.arange(c_in), np.arange(c_in), 0, 0] = 1.0
        return w
    n_in, n_out = int(np.prod(in_shape)), int(np.prod(out_shape))
    a = term.channels[0] if term.channels else 0
    w = np.zeros((n_out, n_in))
    w[a + np.arange(n_in), np.arange(n_in)] = 1.0
    return w


def build_graph(graph: AnnGraph, structure: list[PopulationSpec], scales: list[float], input_shape: tuple,
                info: dict, v_init: float = 0.0, neurons: list | None = None) -> nir.NIRGraph:
    """Normalized NIR graph: Input -> per term [SumPool2d | Flatten]* -> Conv2d | Affine -> IF ... -> Output.
    Population k is node if{k}; its j-th term's nodes carry the suffix _j (j > 0). neurons: float neuron
    parameters per population (neurokit.neurons), default integrate-and-fire with reset by subtraction."""
    shapes = graph.shapes(input_shape)
    pop_index = {spec.op: k for k, spec in enumerate(structure)}
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(input_shape))}
    edges = []
    for k, (spec, lam) in enumerate(zip(structure, scales)):
        pop = f"if{k}"
        out_shape = shapes[spec.op]
        biased = set()
        for j, term in enumerate(spec.terms):
            suffix = f"_{j}" if j else ""
            src = "input" if term.source == INPUT_OP else f"if{pop_index[term.source]}"
            lam_src = 1.0 if term.source == INPUT_OP else scales[pop_index[term.source]]
            tshapes = term_shapes(term, shapes[term.source])
            prev, pool_factor = src, 1.0
            for i, op in enumerate(term.pre):
                tag = f"{k}{suffix}" + (f"_{i}" if sum(o.kind == op.kind for o in term.pre) > 1 else "")
                if op.kind == "avgpool":
                    kernel = op.params["kernel"]
                    name = f"pool{tag}"
                    nodes[name] = nir.SumPool2d(kernel_size=np.array(kernel), stride=np.array(kernel),
                                                padding=np.array((0, 0)))
                    pool_factor /= kernel[0] * kernel[1]  # AvgPool = SumPool with 1/k^2 folded into the next weights
                else:
                    name = f"flatten{tag}"
                    nodes[name] = nir.Flatten(input_type={"input": np.array(tshapes[i])}, start_dim=0, end_dim=-1)
                edges.append((prev, name))
                prev = name
            in_shape = tshapes[-1]
            w = term_weight(term, in_shape, out_shape) * (lam_src / lam) * pool_factor
            syn = term.synapse
            first = syn is not None and id(syn) not in biased
            b = (syn.params["bias"] / lam) if first else np.zeros(int(w.shape[0]))
            if syn is not None:
                biased.add(id(syn))
            meta = {"source_layer": syn.name if syn is not None else f"identity from {term.source}", "lambda": lam}
            if syn is None and term.channels is None:  # a skip: x times lambda(source) / lambda(population)
                name = f"skip{k}{suffix}"
                nodes[name] = nir.Scale(scale=np.full(in_shape, (lam_src / lam) * pool_factor), metadata=meta)
            elif w.ndim == 4:
                p = syn.params if syn is not None else {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1),
                                                        "groups": in_shape[0] if term.channels is None else 1}
                name = f"{'conv' if syn is not None else 'skip'}{k}{suffix}"
                nodes[name] = nir.Conv2d(input_shape=np.array(in_shape[1:]), weight=w, stride=np.array(p["stride"]),
                                         padding=np.array(p["padding"]), dilation=np.array(p["dilation"]),
                                         groups=p["groups"], bias=b, metadata=meta)
            else:
                name = f"{'affine' if syn is not None else 'skip'}{k}{suffix}"
                nodes[name] = nir.Affine(weight=w, bias=b, metadata=meta)
            edges += [(prev, name), (name, pop)]
        params = neurons[k] if neurons and neurons[k] is not None else \
            Cuba(bias=np.zeros(out_shape), v_init=np.full(out_shape, float(v_init)), reset="subtract")
        nodes[pop] = model_of(params).to_nir(params, out_shape)
        nodes[pop].metadata.setdefault("v_init", float(v_init))
    last = f"if{len(structure) - 1}"
    nodes["output"] = nir.Output(output_type=np.array(shapes[structure[-1].op]))
    edges.append((last, "output"))
    grouped = any(isinstance(n, nir.Conv2d) and int(n.groups) > 1 for n in nodes.values())
    # NIR's type check reads a grouped Conv2d's input channels from its weight (C_in / groups), wrongly: a model
    # with grouped convolutions is written unchecked (neurokit.lower checks every shape itself)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neurokit": json.dumps(info)}, type_check=not grouped)


def population_macs(structure: list[PopulationSpec], macs: dict[str, int]) -> dict[str, int]:
    """ANN multiply-accumulates behind each population (its synapse ops), keyed if{k}."""
    return {f"if{k}": int(sum(macs.get(s.name, 0) for s in spec.synapses)) for k, spec in enumerate(structure)}


@dataclasses.dataclass
class SpikingGroup:
    """A population of a chain model: pooling / flatten ops, one synapse, then its ReLU (or the output)."""

    pre: list[Op]
    synapse: Op
    activation_op: int  # index into the op list of the op whose output the population stands for
    has_relu: bool


def group_ops(ops: list[Op]) -> list[SpikingGroup]:
    """The populations of a chain of ops, for the methods that train a chain (neurokit.convert.methods)."""
    groups = []
    names = [op.name for op in ops]
    by_name = {op.name: op for op in ops}  # the caller's own op objects, not from_chain's copies
    for spec in spiking_structure(AnnGraph.from_chain(ops)):
        (term,) = spec.terms  # a chain: one term per population
        if term.synapse is None:
            raise UnsupportedModelError(f"op '{spec.op}' adds a population without a Linear/Conv2d; the training "
                                        "methods need one synapse per ReLU (use --method rate)")
        groups.append(SpikingGroup([by_name[o.name] for o in term.pre], by_name[term.synapse.name],
                                   names.index(spec.op), spec.has_relu))
    return groups
