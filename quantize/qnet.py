"""The quantized network, and its file.

The file is a NIR graph whose float parameters are the exact dequantized values (any NIR reader can load
it as a float graph) and whose node metadata hold the integers Lava's fixed_pt models take. The graph is
stored explicitly: the header names every population (shape, neuron model) and every projection (source,
target) in order, so nothing depends on node naming or edge order; the edges say the same and are checked
against the header. Recurrent graphs are stored like any other.

Files written by neurokit 0.1 (format neurokit-quantized/1, chains of layers) still load.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nir
import numpy as np

from neurokit.arithmetic import LOIHI2, Arithmetic, UnsupportedArithmeticError
from neurokit.network import INPUT, Network, Population, Projection
from neurokit.neurons import model_for_nir, model_named

FORMAT = "neurokit-quantized/2"
FORMAT_V1 = "neurokit-quantized/1"


@dataclasses.dataclass(kw_only=True)
class QProjection(Projection):
    """A projection's integers: weight holds Lava's 8-bit-scale values (mantissa << (8 - nwb + is_mixed))."""

    weight_exp: int
    weight_bits: int
    sign_mode: int
    graded_input_bits: int = 0  # > 0: it carries graded messages (the network's input, sigma-delta spikes)

    def dequantized(self, source_scale: float, vth: int, arith: Arithmetic = LOIHI2) -> np.ndarray:
        """The normalized float weight it computes into a population of scale vth (threshold 1), for a source
        sending `source_scale` message units per activation unit (QuantizedNet.source_scale)."""
        w = arith.weight_value(self.weight, self.weight_exp, vth)
        return w * source_scale if self.graded_input_bits else w


@dataclasses.dataclass(kw_only=True)
class QuantizedNet(Network):
    input_scale: float  # integer input levels per input unit
    input_bits: int
    input_signed: bool
    profile: str
    arithmetic: Arithmetic = LOIHI2

    def source_scale(self, proj) -> float:
        """Message units per activation unit that the source of `proj` sends: the input's integer levels per
        unit (times 2**spike_exp when delta-coded), a sigma-delta population's V >> state_exp, 1 for spikes."""
        from neurokit.arithmetic import SDN_SPIKE_EXP
        from neurokit.encoding import encoding_of

        if proj.source == INPUT:
            enc = encoding_of(self)
            return 1.0 if enc == "rate" else self.input_scale * (2.0 ** SDN_SPIKE_EXP if enc == "delta" else 1.0)
        src = self.population(proj.source)
        return src.model.message_scale(src.neuron)

    def encode_input(self, x: np.ndarray) -> np.ndarray:
        from .discretize import quantize_input

        return quantize_input(x, self.input_scale, self.input_bits, self.input_signed)


_INT_FIELDS = ("weight_exp", "weight_bits", "sign_mode", "groups", "graded_input_bits", "delay")
_TUPLE_FIELDS = ("in_shape", "out_shape", "stride", "padding", "dilation")


def to_nir(q: QuantizedNet) -> nir.NIRGraph:
    arith = q.arithmetic
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(q.input_shape))}
    edges = []
    taken = {"input", "output"} | {p.name for p in q.populations} | {p.name for p in q.projections}
    for pop in q.populations:
        for proj in q.incoming(pop.name):
            w = proj.dequantized(q.source_scale(proj), pop.model.integer_scale(pop.neuron), arith)
            meta = {f: np.int64(getattr(proj, f)) for f in _INT_FIELDS}
            meta.update({f: np.array(getattr(proj, f), np.int64) for f in _TUPLE_FIELDS})
            meta.update(kind=proj.kind, source=proj.source, target=proj.target,
                        weight_int=np.asarray(proj.weight, np.int32))
            src = "input" if proj.source == INPUT else proj.source
            if proj.kind == "conv":
                nodes[proj.name] = nir.Conv2d(input_shape=np.array(proj.in_shape[1:]), weight=w,
                                              stride=np.array(proj.stride), padding=np.array(proj.padding),
                                              dilation=np.array(proj.dilation), groups=proj.groups,
                                              bias=np.zeros(w.shape[0]), metadata=meta)
            else:
                if len(proj.in_shape) != 1:
                    flat = f"{proj.name}_flatten"
                    if flat in taken:
                        raise ValueError(f"node name {flat!r} is taken; rename projection {proj.name}")
                    nodes[flat] = nir.Flatten(input_type={"input": np.array(proj.in_shape)}, start_dim=0, end_dim=-1)
                    edges.append((src, flat))
                    src = flat
                nodes[proj.name] = nir.Affine(weight=w.reshape(w.shape[0], -1), bias=np.zeros(w.shape[0]),
                                              metadata=meta)
            edges += [(src, proj.name), (proj.name, pop.name)]
        # Bias lives in the neuron on Loihi; NIR's IF has none, so it travels in the neuron's metadata.
        nodes[pop.name] = pop.model.to_qnir(pop.neuron, pop.shape, arith)
    nodes["output"] = nir.Output(output_type=np.array(q.population(q.output).shape))
    edges.append((q.output, "output"))
    header = {"format": FORMAT, "input_scale": q.input_scale, "input_bits": q.input_bits,
              "input_signed": q.input_signed, "profile": q.profile, "metadata": q.metadata,
              "arithmetic": arith.to_dict(), "output": q.output,
              "populations": [{"name": p.name, "shape": list(p.shape), "model": p.model.name} for p in q.populations],
              "projections": [{"name": p.name, "source": p.source, "target": p.target} for p in q.projections]}
    # type_check=False: NIR reads a grouped Conv2d's input channels from its weight (C_in / groups), wrongly
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"neurokit_quantized": json.dumps(header)},
                        type_check=False)


def from_nir(graph: nir.NIRGraph) -> QuantizedNet:
    from neurokit.errors import FileFormatError, NeurokitError

    raw = graph.metadata.get("neurokit_quantized") if isinstance(graph.metadata, dict) else None
    if raw is None:
        raise FileFormatError("this NIR graph is not a neurokit quantized network (no 'neurokit_quantized' "
                              "metadata); run 'neurokit quantize' on it first")
    try:
        header = json.loads(raw)
        fmt = header.get("format")
        if fmt == FORMAT_V1:
            return _read_v1(graph, header)
        if fmt != FORMAT:
            raise FileFormatError(f"quantized network format {fmt!r} is not {FORMAT!r}; re-run 'neurokit quantize'")
        return _read(graph, header)
    except (FileFormatError, UnsupportedArithmeticError):
        raise
    except (NeurokitError, KeyError, StopIteration, ValueError, TypeError, AttributeError, IndexError) as e:
        what = f"missing {e}" if isinstance(e, KeyError) else (str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise FileFormatError(f"damaged quantized network ({what}); re-run 'neurokit quantize'") from None


def _projection(name: str, meta: dict, source: str, target: str) -> QProjection:
    return QProjection(name=name, source=source, target=target, kind=str(meta["kind"]),
                       weight=np.asarray(meta["weight_int"], np.int32),
                       **{f: int(meta[f]) for f in _INT_FIELDS if f in meta},
                       **{f: tuple(int(v) for v in meta[f]) for f in _TUPLE_FIELDS})


def _read(graph: nir.NIRGraph, header: dict) -> QuantizedNet:
    arith = Arithmetic.from_dict(header["arithmetic"])
    populations = []
    for entry in header["populations"]:
        name, shape = str(entry["name"]), tuple(int(s) for s in entry["shape"])
        node = graph.nodes[name]
        model = model_for_nir(name, node)
        if model.name != entry["model"]:
            raise ValueError(f"population {name} is stored as {entry['model']} but its node reads as {model.name}")
        populations.append(Population(name, shape, model_named(entry["model"]).from_qnir(name, node, shape)))
    edges = set(map(tuple, graph.edges))
    projections = []
    for entry in header["projections"]:
        name, source, target = str(entry["name"]), str(entry["source"]), str(entry["target"])
        node = graph.nodes[name]
        meta = node.metadata
        if (str(meta["source"]), str(meta["target"])) != (source, target):
            raise ValueError(f"projection {name}: the header and its node disagree on source and target")
        src = "input" if source == INPUT else source
        if (name, target) not in edges or (src, name) not in edges and (f"{name}_flatten", name) not in edges:
            raise ValueError(f"projection {name}: the graph's edges do not connect {source} -> {name} -> {target}")
        projections.append(_projection(name, meta, source, target))
    inp = next(n for n in graph.nodes.values() if isinstance(n, nir.Input))
    qnet = QuantizedNet(
        input_shape=tuple(int(s) for s in inp.input_type["input"]), populations=populations,
        projections=projections, output=str(header["output"]), metadata=header.get("metadata", {}),
        input_scale=float(header["input_scale"]), input_bits=int(header["input_bits"]),
        input_signed=bool(header["input_signed"]), profile=str(header["profile"]), arithmetic=arith,
    ).validate()
    check_integers(qnet)
    return qnet


def check_integers(q: QuantizedNet) -> None:
    """Every integer of a quantized network within the format it claims (a tampered or damaged file would
    otherwise run: Lava clips some values silently and wraps others), or one line naming the value."""
    from neurokit.errors import FileFormatError

    def need(ok: bool, what: str, value, allowed: str):
        if not ok:
            raise FileFormatError(f"{what} = {value}, outside {allowed}; re-run 'neurokit quantize'")

    need(np.isfinite(q.input_scale) and q.input_scale > 0, "input_scale", q.input_scale, "positive finite numbers")
    need(1 <= q.input_bits <= 24, "input_bits", q.input_bits, "1..24")
    for p in q.projections:
        w = np.asarray(p.weight)
        need(p.sign_mode in (1, 2, 3), f"projection {p.name}: sign_mode", p.sign_mode, "1 (mixed), 2, 3")
        need(1 <= p.weight_bits <= 9, f"projection {p.name}: weight_bits", p.weight_bits, "1..9")
        need(-16 <= p.weight_exp <= 16, f"projection {p.name}: weight_exp", p.weight_exp, "-16..16")
        need(0 <= p.graded_input_bits <= 32, f"projection {p.name}: graded_input_bits", p.graded_input_bits, "0..32")
        need(p.delay == 1, f"projection {p.name}: delay", p.delay, "1 (one synaptic delay)")
        limit = 1 << 8 if p.kind == "dense" else 1 << 23
        need(w.size == 0 or (int(w.min()) >= -limit and int(w.max()) < limit), f"projection {p.name}: weights",
             f"[{int(w.min())}, {int(w.max())}]", f"[-{limit}, {limit - 1}]")
    for pop in q.populations:
        pop.model.check_integers(pop, need)


def _read_v1(graph: nir.NIRGraph, header: dict) -> QuantizedNet:
    """neurokit 0.1's chain files: layer L is the IF node L with its synapse in node 'L_synapse' (the
    integers of both in the synapse's metadata), layers in edge order."""
    from neurokit.neurons import QCuba, QPhase, QPhaseNeuron

    order = {n: i for i, (n, _) in enumerate(graph.edges)}
    layers = sorted((n for n, node in graph.nodes.items() if isinstance(node, nir.IF)), key=lambda n: order[n])
    populations, projections = [], []
    source = INPUT
    for name in layers:
        node, meta = graph.nodes[name], graph.nodes[f"{name}_synapse"].metadata
        shape = tuple(int(v) for v in meta["out_shape"])
        bias = np.asarray(meta["bias_mant"], np.int32).reshape(shape)
        if node.metadata.get("neuron") == "phase":
            neuron = QPhaseNeuron(vth=int(meta["vth"]), bias_mant=bias, bias_exp=int(meta["bias_exp"]),
                                  code=QPhase.from_metadata(node.metadata))
        else:
            neuron = QCuba(vth=int(meta["vth"]), bias_mant=bias, bias_exp=int(meta["bias_exp"]), du=int(meta["du"]),
                           dv=int(meta["dv"]), v_init=np.asarray(node.metadata["v_init_int"], np.int32).reshape(shape),
                           reset=str(node.metadata["reset_mode"]))
        populations.append(Population(name, shape, neuron))
        projections.append(_projection(f"{name}_synapse", meta, source, name))
        source = name
    inp = next(n for n in graph.nodes.values() if isinstance(n, nir.Input))
    return QuantizedNet(
        input_shape=tuple(int(s) for s in inp.input_type["input"]), populations=populations,
        projections=projections, output=source, metadata=header.get("metadata", {}),
        input_scale=float(header["input_scale"]), input_bits=int(header["input_bits"]),
        input_signed=bool(header["input_signed"]), profile=str(header["profile"]),
    ).validate()


def save_quantized(q: QuantizedNet, path: str | Path) -> None:
    from neurokit.io import write_nir

    write_nir(to_nir(q), path)


def load_quantized(path: str | Path) -> QuantizedNet:
    from neurokit.io import read_nir

    return from_nir(read_nir(path))
