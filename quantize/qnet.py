"""The quantized network, and its file: a NIR graph whose float parameters are the exact dequantized
values and whose node metadata hold the integers Lava's fixed_pt models take. Any NIR reader can load
it as a float graph; `load_quantized` gets the integers back bit for bit."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nir
import numpy as np

from neurokit.network import LayerGeometry, phase_bounds

FORMAT = "neurokit-quantized/1"


PHASE_TOP = (1 << 31) - 1  # hi of a phase layer's last phase: above any 24-bit v


@dataclasses.dataclass
class QPhase:
    """A phase layer's integers (neurokit.network.PhaseCode in fixed point): the accumulator decays as
    u <- trunc(u * decay / 4096) during the integration window; thresholds[j] (raw v units, like vth << 6)
    is the least v that sends value index j (value base**-j). base and in_base are the effective bases
    the integers stand for (in_base = 4096 / decay), shift as converted."""

    decay: int
    thresholds: np.ndarray  # int32 (window,), non-increasing, >= 1
    window: int
    offset: int
    base: float
    shift: float
    in_base: float
    integrate: int  # steps of the integration window

    def bounds(self) -> tuple[list, list]:
        """Integer lo[k], hi[k] per phase: v in [lo, hi) fires at phase k; the last phase's hi lies above
        any 24-bit v."""
        return phase_bounds([int(x) for x in self.thresholds], PHASE_TOP)

    def metadata(self) -> dict:
        return {"neuron": "phase", "phase_decay": np.int64(self.decay),
                "phase_thresholds": np.asarray(self.thresholds, np.int32), "phase_window": np.int64(self.window),
                "phase_offset": np.int64(self.offset), "phase_base": float(self.base),
                "phase_shift": float(self.shift), "phase_in_base": float(self.in_base),
                "phase_integrate": np.int64(self.integrate)}

    @classmethod
    def from_metadata(cls, meta: dict) -> "QPhase":
        return cls(decay=int(meta["phase_decay"]), thresholds=np.asarray(meta["phase_thresholds"], np.int32),
                   window=int(meta["phase_window"]), offset=int(meta["phase_offset"]),
                   base=float(meta["phase_base"]), shift=float(meta["phase_shift"]),
                   in_base=float(meta["phase_in_base"]), integrate=int(meta["phase_integrate"]))


@dataclasses.dataclass
class QLayer(LayerGeometry):
    weight: np.ndarray  # int32, Lava's 8-bit scale (mantissa << (8 - nwb + is_mixed)), torch layout
    weight_exp: int
    weight_bits: int
    sign_mode: int
    vth: int
    bias_mant: np.ndarray  # int32 per neuron (out_shape)
    bias_exp: int
    du: int
    dv: int
    reset: str
    graded_input_bits: int = 0  # >0: this layer receives graded (multi-bit) messages
    v_init: np.ndarray | None = None  # int32 initial v per neuron, raw state units (None: 0)
    phase: QPhase | None = None  # single-spike phase coding (None: integrate-and-fire)

    def __post_init__(self):
        if self.v_init is None:
            self.v_init = np.zeros(self.out_shape, np.int32)

    def dequantized(self, input_scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Normalized float weight and bias this layer computes (threshold 1)."""
        w = self.weight.astype(np.float64) * 2.0 ** self.weight_exp / self.vth
        if self.graded_input_bits:
            w = w * input_scale
        b = self.bias_mant.astype(np.float64) * 2.0 ** self.bias_exp / (self.vth * 64.0)
        return w, b


@dataclasses.dataclass
class QuantizedNet:
    input_shape: tuple[int, ...]
    input_scale: float  # integer input levels per input unit
    input_bits: int
    input_signed: bool
    layers: list[QLayer]
    profile: str
    metadata: dict = dataclasses.field(default_factory=dict)

    def encode_input(self, x: np.ndarray) -> np.ndarray:
        from .discretize import quantize_input

        return quantize_input(x, self.input_scale, self.input_bits, self.input_signed)


_INT_FIELDS = ("weight_exp", "weight_bits", "sign_mode", "vth", "bias_exp", "du", "dv", "groups", "graded_input_bits")
_TUPLE_FIELDS = ("in_shape", "out_shape", "stride", "padding", "dilation")


def to_nir(q: QuantizedNet) -> nir.NIRGraph:
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(q.input_shape))}
    order = ["input"]
    shape = q.input_shape
    for layer in q.layers:
        w, b = layer.dequantized(q.input_scale)
        meta = {f: np.int64(getattr(layer, f)) for f in _INT_FIELDS}
        meta.update({f: np.array(getattr(layer, f), np.int64) for f in _TUPLE_FIELDS})
        meta.update(kind=layer.kind, weight_int=layer.weight.astype(np.int32), bias_mant=layer.bias_mant.astype(np.int32))
        if layer.kind == "conv":
            syn = nir.Conv2d(input_shape=np.array(shape[1:]), weight=w, stride=np.array(layer.stride),
                             padding=np.array(layer.padding), dilation=np.array(layer.dilation), groups=layer.groups,
                             bias=np.zeros(w.shape[0]), metadata=meta)
        else:
            if len(shape) != 1:
                flat = f"{layer.name}_flatten"
                nodes[flat] = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
                order.append(flat)
            syn = nir.Affine(weight=w, bias=np.zeros(w.shape[0]), metadata=meta)
        nodes[f"{layer.name}_synapse"] = syn
        order.append(f"{layer.name}_synapse")
        # Bias lives in the neuron on Loihi; NIR IF has none, so it stays in metadata (and in weight-free
        # float form in the neuron's metadata for readers that want it).
        nodes[layer.name] = nir.IF(r=np.ones(layer.out_shape), v_threshold=np.ones(layer.out_shape),
                                   v_reset=np.zeros(layer.out_shape),
                                   metadata={"reset_mode": layer.reset, "bias": b,
                                             "v_init": layer.v_init / (layer.vth * 64.0),
                                             "v_init_int": layer.v_init.astype(np.int32),
                                             **(layer.phase.metadata() if layer.phase is not None else {})})
        order.append(layer.name)
        shape = layer.out_shape
    nodes["output"] = nir.Output(output_type=np.array(shape))
    order.append("output")
    header = {"format": FORMAT, "input_scale": q.input_scale, "input_bits": q.input_bits,
              "input_signed": q.input_signed, "profile": q.profile, "metadata": q.metadata}
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])),
                        metadata={"neurokit_quantized": json.dumps(header)})


def from_nir(graph: nir.NIRGraph) -> QuantizedNet:
    from neurokit.errors import FileFormatError

    raw = graph.metadata.get("neurokit_quantized") if isinstance(graph.metadata, dict) else None
    if raw is None:
        raise FileFormatError("this NIR graph is not a neurokit quantized network (no 'neurokit_quantized' "
                              "metadata); run 'neurokit quantize' on it first")
    try:
        header = json.loads(raw)
        if header.get("format") != FORMAT:
            raise FileFormatError(f"quantized network format {header.get('format')!r} is not {FORMAT!r}; re-run "
                                  "'neurokit quantize'")
        return _read_quantized(graph, header)
    except (KeyError, StopIteration, ValueError, TypeError, AttributeError) as e:
        what = f"missing {e}" if isinstance(e, KeyError) else (str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise FileFormatError(f"damaged quantized network ({what}); re-run 'neurokit quantize'") from None


def _read_quantized(graph: nir.NIRGraph, header: dict) -> QuantizedNet:
    layers = []
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.IF):
            continue
        meta = graph.nodes[f"{name}_synapse"].metadata
        layers.append(QLayer(
            name=name, kind=str(meta["kind"]), weight=np.asarray(meta["weight_int"], np.int32),
            bias_mant=np.asarray(meta["bias_mant"], np.int32), reset=str(node.metadata["reset_mode"]),
            v_init=np.asarray(node.metadata["v_init_int"], np.int32),
            phase=QPhase.from_metadata(node.metadata) if node.metadata.get("neuron") == "phase" else None,
            **{f: int(meta[f]) for f in _INT_FIELDS},
            **{f: tuple(int(v) for v in meta[f]) for f in _TUPLE_FIELDS},
        ))
    order = {n: i for i, (n, _) in enumerate(graph.edges)}
    layers.sort(key=lambda l: order[l.name])
    inp = next(n for n in graph.nodes.values() if isinstance(n, nir.Input))
    return QuantizedNet(
        input_shape=tuple(int(s) for s in inp.input_type["input"]), input_scale=float(header["input_scale"]),
        input_bits=int(header["input_bits"]), input_signed=bool(header["input_signed"]), layers=layers,
        profile=str(header["profile"]), metadata=header.get("metadata", {}),
    )


def save_quantized(q: QuantizedNet, path: str | Path) -> None:
    from neurokit.io import write_nir

    write_nir(to_nir(q), path)


def load_quantized(path: str | Path) -> QuantizedNet:
    from neurokit.io import read_nir

    return from_nir(read_nir(path))
