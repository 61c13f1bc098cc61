"""The spiking network in hardware shape, read from a NIR graph.

Loihi has no pooling or flatten layer: a synapse maps spikes of one neuron population onto the next.
`from_nir` folds SumPool2d/AvgPool2d/Flatten into the following Conv2d/Affine exactly, and normalizes
each neuron population to threshold 1 (folding r / v_threshold into its weights and bias).

Discrete-time semantics shared by every backend (they are Lava's): at step t each layer receives
W . s_prev(t-1) (one step of synaptic delay per layer, the input counting as layer 0's spikes),
v += input + bias, spike if v > 1, then v -= 1 (reset by subtraction) or v = 0 (reset to zero).
v starts at v_init (NIR metadata, default 0) and u, the synaptic current, forgets every step.

Phase layers (IF metadata neuron = "phase", single-spike phase coding; see
neurokit/convert/methods/phase.py) keep the synaptic delay but replace the neuron: during its integration
window, steps offset .. offset + I - 1 (I = K, or 1 for the layer that takes the held input),
u <- u / in_base + input + bias; at the window's last step v <- u (latched) and u <- 0; during the next
K steps (phases k = 0 .. K - 1) it spikes at most once, at
the phase k whose value base**-(K-1-k) codes v (thresholds shift * base**-j). Inputs outside the
integration window are ignored; each sample runs one window per layer.
"""
from __future__ import annotations

import dataclasses
import json

import nir
import numpy as np

from .errors import UnsupportedModelError

RESET_KEY = "reset_mode"  # NIR has no reset-by-subtraction field: neurokit carries it in IF metadata
V_INIT_KEY = "v_init"  # nor an initial membrane potential
RESET_MODES = ("subtract", "zero")
NEURON_KEY = "neuron"  # "if" (default) or "phase" (single-spike phase coding)
PHASE_KEYS = ("phase_base", "phase_shift", "phase_window", "phase_offset", "phase_in_base", "phase_integrate")
SUPPORTED_NODES = "Input, Output, Affine, Linear, Conv2d, SumPool2d, AvgPool2d, Flatten, IF"


@dataclasses.dataclass
class LayerGeometry:
    """What a synapse + neuron population connects, float or quantized: shapes and convolution geometry."""

    name: str
    kind: str  # "dense" | "conv"
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: tuple[int, int] = dataclasses.field(default=(1, 1), kw_only=True)
    padding: tuple[int, int] = dataclasses.field(default=(0, 0), kw_only=True)
    dilation: tuple[int, int] = dataclasses.field(default=(1, 1), kw_only=True)
    groups: int = dataclasses.field(default=1, kw_only=True)

    @property
    def n_neurons(self) -> int:
        return int(np.prod(self.out_shape))

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.in_shape))


@dataclasses.dataclass(frozen=True)
class PhaseCode:
    """Single-spike phase coding of one layer (float; the quantized form is quantize.qnet.QPhase).

    The layer integrates during steps offset .. offset + integrate - 1 (u decays by 1 / in_base per step:
    in_base is the code base of the layer that sends to it; integrate = window for a phase-coded input,
    1 for the held input), latches v = u at that window's last step, and in the next `window` steps fires
    at most once: at phase k, value index
    j = window - 1 - k, iff thresholds[j] <= v < thresholds[j - 1] (no upper bound for j = 0), where
    thresholds[j] = shift * base**-j. That spike stands for the value base**-j."""

    base: float
    shift: float
    window: int
    offset: int
    in_base: float = 1.0
    integrate: int | None = None  # steps of the integration window (None: window)

    def __post_init__(self):
        if self.integrate is None:
            object.__setattr__(self, "integrate", self.window)
        if self.window < 1 or self.offset < 1 or self.integrate < 1:
            raise UnsupportedModelError(f"phase coding needs window, offset and integrate >= 1 (got {self.window}, "
                                        f"{self.offset}, {self.integrate})")
        if not self.base > 1 or not self.shift > 0 or not self.in_base >= 1:
            raise UnsupportedModelError(f"phase coding needs base > 1, shift > 0, in_base >= 1 (got {self.base}, "
                                        f"{self.shift}, {self.in_base})")

    def thresholds(self) -> np.ndarray:
        """shift * base**-j, j = 0 .. window - 1 (decreasing)."""
        return self.shift * float(self.base) ** -np.arange(self.window, dtype=np.float64)

    def values(self) -> np.ndarray:
        """base**-j: the value a spike with value index j stands for."""
        return float(self.base) ** -np.arange(self.window, dtype=np.float64)

    @property
    def latch_step(self) -> int:
        return self.offset + self.integrate - 1

    @property
    def decay_factor(self) -> float:
        """The accumulator's decay per step, 1 / in_base (the float engine and Lava floating_pt model)."""
        return 1.0 / float(self.in_base)

    def bounds(self) -> tuple[list, list]:
        """lo[k], hi[k] per phase: v in [lo, hi) fires at phase k (phase_bounds, no upper limit)."""
        return phase_bounds(self.thresholds(), np.inf)

    def metadata(self) -> dict:
        return {NEURON_KEY: "phase", "phase_base": float(self.base), "phase_shift": float(self.shift),
                "phase_window": int(self.window), "phase_offset": int(self.offset),
                "phase_in_base": float(self.in_base), "phase_integrate": int(self.integrate)}


def phase_bounds(thresholds, top):
    """Per phase k: the interval [lo[k], hi[k]) of v that fires at phase k; thresholds[j] for value index
    j = K - 1 - k, hi of the last phase = `top` (above any v)."""
    thr = list(thresholds)
    k_count = len(thr)
    lo = [thr[k_count - 1 - k] for k in range(k_count)]
    hi = [thr[k_count - 2 - k] if k < k_count - 1 else top for k in range(k_count)]
    return lo, hi


READOUT_KEY = "readout"  # graph metadata: how the class is read from the output layer
READOUTS = ("spikes", "potential")


def readout_of(net) -> str:
    """'spikes': the class is the argmax of the output layer's spike counts. 'potential': the argmax of its
    integrated input, spike count + v / threshold at the window's end (reset by subtraction keeps the
    sum); a phase-coded output layer is always read by its latched potential."""
    if net.layers[-1].phase is not None:
        return "potential"
    mode = net.metadata.get(READOUT_KEY, "spikes")
    if mode not in READOUTS:
        raise UnsupportedModelError(f"the network's metadata readout={mode!r}; neurokit knows {', '.join(READOUTS)}")
    return mode


def fire_phases(spikes, v, lo, hi, first: int, steps: int) -> None:
    """The fire window of a phase layer, starting at step `first`: spikes[first + k] = lo[k] <= v < hi[k]
    (at most one spike per neuron, the intervals being disjoint); steps beyond `steps` are not run."""
    for k in range(min(len(lo), steps - first)):
        spikes[first + k] = (v >= lo[k]) & (v < hi[k])


def phase_latency(net) -> int | None:
    """Steps until a phase net's last layer has latched its output (None for rate nets): run at least this."""
    code = net.layers[-1].phase  # a PhaseCode, or quantize's QPhase: both have offset and integrate
    return None if code is None else code.offset + code.integrate


@dataclasses.dataclass
class Layer(LayerGeometry):
    """One synapse + neuron population. Weights in torch layout; bias per neuron; threshold 1."""

    weight: np.ndarray
    bias: np.ndarray
    reset: str = "subtract"
    folded: tuple[str, ...] = ()  # NIR nodes folded into this synapse
    v_init: np.ndarray | None = None  # initial v per neuron, in thresholds (None: 0)
    phase: PhaseCode | None = None  # single-spike phase coding (None: integrate-and-fire)


@dataclasses.dataclass
class SpikingNet:
    input_shape: tuple[int, ...]
    layers: list[Layer]
    metadata: dict = dataclasses.field(default_factory=dict)


def graph_chain(graph: nir.NIRGraph) -> list[str]:
    """Node names from the single Input to the single Output; fails on branches."""
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise UnsupportedModelError(f"the NIR graph has {len(inputs)} Input nodes; neurokit needs exactly one")
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        if a not in succ or b not in succ:
            raise UnsupportedModelError(f"NIR edge ({a!r}, {b!r}) names a node that is not in the graph")
        succ[a].append(b)
    chain = [inputs[0]]
    while not isinstance(graph.nodes[chain[-1]], nir.Output):
        nxt = succ[chain[-1]]
        if len(nxt) != 1:
            raise UnsupportedModelError(
                f"NIR node '{chain[-1]}' has {len(nxt)} successors; only chains (no branches) are supported"
            )
        if nxt[0] in chain:
            raise UnsupportedModelError(f"NIR graph has a cycle through '{nxt[0]}'; recurrent graphs are not supported")
        chain.append(nxt[0])
    if len(chain) != len(graph.nodes):
        stray = sorted(set(graph.nodes) - set(chain))
        raise UnsupportedModelError(f"NIR nodes {stray} are not on the Input-Output chain")
    return chain


def from_nir(graph: nir.NIRGraph) -> SpikingNet:
    chain = graph_chain(graph)
    input_shape = tuple(int(s) for s in np.atleast_1d(graph.nodes[chain[0]].input_type["input"]))
    shape = input_shape
    layers: list[Layer] = []
    pending: list[tuple[str, nir.NIRNode]] = []  # pooling / flatten before the next synapse
    synapse = None
    for name in chain[1:-1]:
        node = graph.nodes[name]
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d, nir.Flatten)):
            if synapse is not None:
                raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}) sits between a synapse "
                                            "and its neuron; only Conv2d/Affine -> IF is supported")
            pending.append((name, node))
        elif isinstance(node, (nir.Affine, nir.Linear, nir.Conv2d)):
            if synapse is not None:
                raise UnsupportedModelError(f"NIR node '{name}' follows synapse '{synapse[0]}' without a neuron between")
            synapse = (name, node)
        elif isinstance(node, nir.IF):
            if synapse is None:
                raise UnsupportedModelError(f"NIR neuron '{name}' has no Affine/Linear/Conv2d before it")
            layer = _make_layer(name, node, synapse, pending, shape)
            layers.append(layer)
            shape = layer.out_shape
            pending, synapse = [], None
        else:
            raise UnsupportedModelError(
                f"NIR node '{name}' ({type(node).__name__}) is not supported; supported: {SUPPORTED_NODES}"
            )
    if synapse is not None or pending:
        raise UnsupportedModelError("the NIR graph does not end with a neuron layer before its Output")
    if not layers:
        raise UnsupportedModelError("the NIR graph has no neuron layer")
    meta = graph.metadata.get("neurokit") if isinstance(graph.metadata, dict) else None
    return SpikingNet(input_shape, layers, json.loads(meta) if isinstance(meta, str) else {})


def _pair(v) -> tuple[int, int]:
    a = np.atleast_1d(np.asarray(v)).astype(int)
    return (int(a[0]), int(a[-1]))


def _make_layer(name, neuron: nir.IF, synapse, pending, in_shape) -> Layer:
    syn_name, syn = synapse
    folded = tuple(n for n, _ in pending) + (syn_name,)
    if isinstance(syn, nir.Conv2d):
        layer = _conv_layer(name, syn_name, syn, pending, in_shape)
    else:
        layer = _dense_layer(name, syn_name, syn, pending, in_shape)
    layer.folded = folded
    _apply_neuron(layer, name, neuron)
    return layer


def _pool_kernel(pname, pool, shape) -> tuple[int, int]:
    k, s, p = _pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding)
    if s != k or p != (0, 0):
        raise UnsupportedModelError(f"NIR node '{pname}': pooling needs stride == kernel_size and padding 0 "
                                    f"(got kernel {k}, stride {s}, padding {p})")
    if len(shape) != 3:
        raise UnsupportedModelError(f"NIR node '{pname}': pooling needs a (C, H, W) input, got {shape}")
    return k


def _pool_factor(pool, k) -> float:
    return 1.0 / (k[0] * k[1]) if isinstance(pool, nir.AvgPool2d) else 1.0


def _conv_layer(name, syn_name, syn: nir.Conv2d, pending, in_shape) -> Layer:
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
    conv_in = shape
    if w.shape[1] * groups != conv_in[0]:
        raise UnsupportedModelError(f"NIR node '{syn_name}' (Conv2d) expects {w.shape[1] * groups} input channels, "
                                    f"gets {conv_in[0]}")
    out_hw = [(conv_in[1 + i] + 2 * padding[i] - dilation[i] * (w.shape[2 + i] - 1) - 1) // stride[i] + 1
              for i in range(2)]
    out_shape = (w.shape[0], out_hw[0], out_hw[1])
    for pname, pool, k, pshape in reversed(pools):
        if any(pshape[1 + i] % k[i] for i in range(2)) and padding != (0, 0):
            raise UnsupportedModelError(f"NIR node '{pname}': a {pshape[1:]} map does not divide by pool kernel {k}; "
                                        "with padding in the next Conv2d the fold would not be exact")
        # conv over the pooled map == conv over the full map with each tap spread over a k x k block
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
    bias = np.zeros(w.shape[0]) if syn.bias is None else np.asarray(syn.bias, np.float64).reshape(-1)
    if bias.size == 1 and w.shape[0] > 1:
        bias = np.full(w.shape[0], float(bias[0]))
    bias = np.broadcast_to(bias.reshape(-1, 1, 1), out_shape).copy()
    return Layer(name, "conv", tuple(in_shape), out_shape, w, bias, stride=stride, padding=padding,
                 dilation=dilation, groups=groups)


def _dense_layer(name, syn_name, syn, pending, in_shape) -> Layer:
    w = np.asarray(syn.weight, np.float64)
    if w.ndim != 2:
        raise UnsupportedModelError(f"NIR node '{syn_name}': weight must be 2-D (out, in), got shape {w.shape}")
    bias = np.asarray(syn.bias, np.float64).reshape(-1) if isinstance(syn, nir.Affine) else np.zeros(w.shape[0])
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
        raise UnsupportedModelError(f"NIR node '{syn_name}' expects {w.shape[1]} inputs, gets {shape[0]}")
    for op, k, pshape in reversed(pools):
        c, hp, wp = pshape[0], pshape[1] // k[0], pshape[2] // k[1]
        full = np.zeros((w.shape[0],) + tuple(pshape))
        up = np.repeat(np.repeat(w.reshape(w.shape[0], c, hp, wp), k[0], axis=2), k[1], axis=3)
        full[:, :, :hp * k[0], :wp * k[1]] = up * _pool_factor(op, k)
        w = full.reshape(w.shape[0], -1)
    return Layer(name, "dense", tuple(in_shape), (w.shape[0],), w, bias.copy())


def _apply_neuron(layer: Layer, name: str, neuron: nir.IF) -> None:
    shape = layer.out_shape
    try:
        r = np.broadcast_to(np.asarray(neuron.r, np.float64), shape)
        vth = np.broadcast_to(np.asarray(neuron.v_threshold, np.float64), shape)
        v_reset = np.broadcast_to(np.asarray(neuron.v_reset, np.float64), shape)
    except ValueError:
        raise UnsupportedModelError(f"NIR neuron '{name}': parameter shape {np.shape(neuron.r)} does not match "
                                    f"its input {shape}") from None
    if np.any(vth <= 0):
        raise UnsupportedModelError(f"NIR neuron '{name}': v_threshold must be positive")
    if np.any(v_reset != 0):
        raise UnsupportedModelError(f"NIR neuron '{name}': non-zero v_reset is not supported")
    meta = neuron.metadata or {}
    mode = meta.get(RESET_KEY, "zero")  # NIR's own IF semantics reset to v_reset
    if mode not in RESET_MODES:
        raise UnsupportedModelError(f"NIR neuron '{name}': metadata {RESET_KEY}={mode!r}; expected one of {RESET_MODES}")
    layer.reset = mode
    gain = r / vth  # v/vth obeys the same dynamics with input r*I/vth and threshold 1
    if layer.kind == "conv":
        per_channel = gain.reshape(shape[0], -1)
        if np.any(per_channel != per_channel[:, :1]):
            raise UnsupportedModelError(f"NIR neuron '{name}': r / v_threshold must be uniform within each channel")
        layer.weight = layer.weight * per_channel[:, 0].reshape(-1, 1, 1, 1)
    else:
        layer.weight = layer.weight * gain.reshape(-1, 1)
    layer.bias = layer.bias * gain
    try:
        layer.v_init = np.broadcast_to(np.asarray(meta.get(V_INIT_KEY, 0.0), np.float64), shape) / vth
    except ValueError:
        raise UnsupportedModelError(f"NIR neuron '{name}': metadata v_init does not match its shape {shape}") from None
    kind = str(meta.get(NEURON_KEY, "if"))
    if kind == "phase":
        missing = [k for k in PHASE_KEYS if k not in meta]
        if missing:
            raise UnsupportedModelError(f"NIR neuron '{name}': phase neuron without metadata {missing}")
        layer.phase = PhaseCode(base=float(meta["phase_base"]), shift=float(meta["phase_shift"]),
                                window=int(meta["phase_window"]), offset=int(meta["phase_offset"]),
                                in_base=float(meta["phase_in_base"]), integrate=int(meta["phase_integrate"]))
    elif kind != "if":
        raise UnsupportedModelError(f"NIR neuron '{name}': metadata {NEURON_KEY}={kind!r}; expected 'if' or 'phase'")
