"""Single-spike phase coding (neurokit/convert/methods/phase.py, Hwang & Kung 2024) as a neuron model.

During its integration window, steps offset .. offset + I - 1 (I = `integrate`: the sender's window, or 1
for a population that reads the held network input), u <- u / in_base + input + bias; at the window's
last step v <- u (latched) and u <- 0; during the next K = `window` steps (phases k = 0 .. K - 1) it
spikes at most once, at the phase k whose value base**-(K-1-k) codes v (thresholds shift * base**-j).
Inputs outside the integration window are ignored; each sample runs one window per population.
Fixed point: u <- clip(trunc(u * D / 4096) + (a_in << 6) + bias, +-(2**23 - 1)) with D = 4096 / in_base
rounded; the thresholds are integers in raw v units.

It is neurokit's own neuron program (the Lava process PhaseNeuron, floating_pt and fixed_pt): Loihi 2
needs custom microcode for it, which neurokit does not provide.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import nir
import numpy as np

from ..errors import UnsupportedModelError
from .base import QuantizedNeuron, ThresholdScale, broadcast, register
from .cuba import NEURON_KEY

PHASE_KEYS = ("phase_base", "phase_shift", "phase_window", "phase_offset", "phase_in_base", "phase_integrate")
PHASE_TOP = (1 << 31) - 1  # hi of the last phase: above any 24-bit v


@dataclasses.dataclass(frozen=True)
class PhaseCode:
    """The code of one population (float; the fixed-point form is QPhase).

    It integrates during steps offset .. offset + integrate - 1 (u decays by 1 / in_base per step: in_base
    is the code base of the population that sends to it; integrate = window for a phase-coded input, 1 for
    the held input), latches v = u at that window's last step, and in the next `window` steps fires at most
    once: at phase k, value index j = window - 1 - k, iff thresholds[j] <= v < thresholds[j - 1] (no upper
    bound for j = 0), where thresholds[j] = shift * base**-j. That spike stands for the value base**-j."""

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


@dataclasses.dataclass
class QPhase:
    """A phase code's integers: the accumulator decays as u <- trunc(u * decay / 4096) during the
    integration window; thresholds[j] (raw v units, like vth << 6) is the least v that sends value index j
    (value base**-j). base and in_base are the effective bases the integers stand for (in_base = 4096 /
    decay), shift as converted."""

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
        return {NEURON_KEY: "phase", "phase_decay": np.int64(self.decay),
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
class Phase:
    """Float parameters of a phase-coded population."""

    model: ClassVar[str] = "phase"
    bias: np.ndarray  # thresholds per step of the integration window
    code: PhaseCode


@dataclasses.dataclass
class QPhaseNeuron:
    """Fixed-point parameters: vth is the scale the weights and bias were quantized to (one threshold =
    vth << 6 raw units); the code's thresholds are raw v units."""

    model: ClassVar[str] = "phase"
    vth: int
    bias_mant: np.ndarray
    bias_exp: int
    code: QPhase


def phase_bounds(thresholds, top):
    """Per phase k: the interval [lo[k], hi[k]) of v that fires at phase k; thresholds[j] for value index
    j = K - 1 - k, hi of the last phase = `top` (above any v)."""
    thr = list(thresholds)
    k_count = len(thr)
    lo = [thr[k_count - 1 - k] for k in range(k_count)]
    hi = [thr[k_count - 2 - k] if k < k_count - 1 else top for k in range(k_count)]
    return lo, hi


def fire_phases(spikes, v, lo, hi, first: int, steps: int) -> None:
    """The fire window of a phase population, starting at step `first`: spikes[first + k] = lo[k] <= v < hi[k]
    (at most one spike per neuron, the intervals being disjoint); steps beyond `steps` are not run."""
    for k in range(min(len(lo), steps - first)):
        spikes[first + k] = (v >= lo[k]) & (v < hi[k])


class PhaseModel(ThresholdScale):
    name = "phase"
    forced_readout = "potential"  # the output population's latched v
    rate_coded = False
    takes_rate_input = False  # it integrates a held current; Bernoulli input spikes are not a phase code
    u_wraps = False  # the accumulator saturates
    stream = False  # each sample runs in a fresh window
    bias_shift = None  # the bias has its own exponent
    plans_scales = False  # V per population, from its threshold's and weights' limits
    graded_output_bits = 0  # binary spikes
    state_vars = ("u", "v")  # the accumulator and the latched potential

    # ---- files ----------------------------------------------------------------------------------------
    def matches_nir(self, node) -> bool:
        return isinstance(node, nir.IF) and (node.metadata or {}).get(NEURON_KEY) == "phase"

    def from_nir(self, name: str, node: nir.IF, shape: tuple):
        r = broadcast(name, "r", node.r, shape)
        vth = broadcast(name, "v_threshold", node.v_threshold, shape)
        if np.any(vth <= 0) or not np.all(np.isfinite(vth)):
            raise UnsupportedModelError(f"NIR neuron '{name}': v_threshold must be positive")
        meta = node.metadata or {}
        missing = [k for k in PHASE_KEYS if k not in meta]
        if missing:
            raise UnsupportedModelError(f"NIR neuron '{name}': phase neuron without metadata {missing}")
        code = PhaseCode(base=float(meta["phase_base"]), shift=float(meta["phase_shift"]),
                         window=int(meta["phase_window"]), offset=int(meta["phase_offset"]),
                         in_base=float(meta["phase_in_base"]), integrate=int(meta["phase_integrate"]))
        return Phase(bias=np.zeros(shape), code=code), r / vth

    def to_nir(self, params: Phase, shape: tuple):
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                      metadata={"reset_mode": "zero", "v_init": 0.0, **params.code.metadata()})

    def to_qnir(self, q: QPhaseNeuron, shape: tuple, arith):
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape), metadata={
            "reset_mode": "zero", "bias": arith.bias_value(q.bias_mant, q.bias_exp, q.vth),
            "vth": np.int64(q.vth), "bias_mant": np.asarray(q.bias_mant, np.int32),
            "bias_exp": np.int64(q.bias_exp), **q.code.metadata()})

    def from_qnir(self, name: str, node, shape: tuple) -> QPhaseNeuron:
        m = node.metadata
        return QPhaseNeuron(vth=int(m["vth"]), bias_mant=np.asarray(m["bias_mant"], np.int32).reshape(shape),
                            bias_exp=int(m["bias_exp"]), code=QPhase.from_metadata(m))

    # ---- quantization -----------------------------------------------------------------------------------
    def scaled_bias(self, net, pop) -> np.ndarray:
        # The float bias carries 1 / G, G = sum of the float decay's powers over the integration window; the
        # integer decay D / 4096 has its own G: correct the bias for it (a population reading the held input
        # integrates one step: G = 1 either way).
        code = pop.neuron.code
        return np.asarray(pop.neuron.bias, np.float64) * self._gain_fix(code)

    def _gain_fix(self, code: PhaseCode) -> float:
        from quantize.discretize import phase_decay, phase_gain

        exact = float(np.sum(code.in_base ** -np.arange(code.integrate, dtype=np.float64)))
        return exact / phase_gain(phase_decay(code.in_base), code.integrate)

    def quantize(self, net, pop, vth: int, lim, profile) -> QuantizedNeuron:
        from quantize.discretize import phase_decay, quantize_bias, quantize_phase_thresholds

        code: PhaseCode = pop.neuron.code
        bmant, bexp, bstats = quantize_bias(self.scaled_bias(net, pop), vth, lim)
        decay = phase_decay(code.in_base)
        receivers = {phase_decay(net.population(q.target).neuron.code.in_base) for q in net.outgoing(pop.name)
                     if isinstance(net.population(q.target).neuron, Phase)}
        if len(receivers) > 1:
            raise UnsupportedModelError(f"population {pop.name} sends one phase code to receivers of different bases; "
                                        "phase coding needs one base per sender")
        code_base = 4096.0 / receivers.pop() if receivers else code.base  # what the receivers decode
        thr, tstats = quantize_phase_thresholds(code.shift, code_base, code.window, vth, lim)
        q = QPhase(decay=decay, thresholds=thr, window=code.window, offset=code.offset, base=code_base,
                   shift=code.shift, in_base=4096.0 / decay, integrate=code.integrate)
        report = {"neuron": "phase", "reset": "zero", "phase": {
            "window": code.window, "offset": code.offset, "integrate": code.integrate, "decay": decay,
            "in_base": code.in_base, "in_base_effective": 4096.0 / decay, "base": code.base,
            "base_effective": code_base, "shift": code.shift, "bias_gain_correction": self._gain_fix(code),
            "thresholds": tstats}}
        notes = ["phase neuron (single-spike phase coding): runs on neurokit's PhaseNeuron; on Loihi 2 it needs a "
                 "custom neuron program (see neurokit/convert/methods/phase.py)"]
        if tstats["distinct"] < code.window:
            notes.append(f"only {tstats['distinct']} of {code.window} phase thresholds are distinct integers: some "
                         "phases never fire")
        return QuantizedNeuron(QPhaseNeuron(vth=vth, bias_mant=bmant, bias_exp=bexp, code=q), bstats, report, notes)

    def netx_neuron(self, pop, net):
        from ..netx import NetxExportError

        raise NetxExportError(f"population {pop.name}: the phase neuron is neurokit's own program; netx has no such "
                              "layer")

    def stock_loihi2(self, params) -> str | None:
        return "the phase neuron is a custom neuron program (no Loihi 2 microcode)"

    def check_integers(self, pop, need) -> None:
        p, n = pop.neuron, f"population {pop.name}"
        b = np.asarray(p.bias_mant)
        need(0 <= p.vth < 1 << 17, f"{n}: vth", p.vth, "0..131071")
        need(b.size == 0 or np.abs(b).max() < 1 << 15, f"{n}: bias_mant", f"up to {np.abs(b).max()}", "16 signed bits")
        need(1 <= p.code.decay <= 4096, f"{n}: decay", p.code.decay, "1..4096")

    # ---- simulation -------------------------------------------------------------------------------------
    def engine(self, pop, xp, arith):
        if isinstance(pop.neuron, QPhaseNeuron):
            from ..backends.engine.fixed import FixedPhaseNeurons

            return FixedPhaseNeurons.build(pop, xp, arith)
        from ..backends.engine.floating import FloatPhaseNeurons

        return FloatPhaseNeurons.build(pop, xp)

    def lava(self, pop, fixed: bool, steps: int, stock: bool = False, offset: int | None = None):
        from ..layout import lava_shape, to_lava
        from ..backends.lava.proc.process import PhaseNeuron

        if stock:
            raise UnsupportedModelError("phase-coded populations need neurokit's PhaseNeuron (a custom neuron program "
                                        "on Loihi 2, which neurokit does not provide); Lava's stock LIF cannot run them")
        p = pop.neuron
        code = p.code
        lo, hi = code.bounds()
        shape = lava_shape(pop.shape)
        if fixed:
            return PhaseNeuron(shape=shape, bias_mant=to_lava(np.asarray(p.bias_mant).reshape(pop.shape)).astype(np.int32),
                               bias_exp=p.bias_exp, decay=int(code.decay), lo=np.array(lo, np.int32),
                               hi=np.array(hi, np.int32), window=code.window, offset=code.offset,
                               integrate=code.integrate, reset_interval=steps)
        return PhaseNeuron(shape=shape, bias_mant=to_lava(np.asarray(p.bias, np.float64).reshape(pop.shape)), bias_exp=0,
                           decay=code.decay_factor, lo=np.array(lo, np.float64), hi=np.array(hi, np.float64),
                           window=code.window, offset=code.offset, integrate=code.integrate, reset_interval=steps)

    def output_scale(self, params, arith) -> float:
        return float(arith.threshold_raw(params.vth)) if isinstance(params, QPhaseNeuron) else 1.0

    def scores(self, counts: np.ndarray, v: np.ndarray) -> np.ndarray:
        return v  # the latched potential

    def latency(self, params) -> int | None:
        return params.code.offset + params.code.integrate

    def input_read_steps(self, params, steps: int) -> int:
        """It reads the held input during its integration window only, so a deployment sends it that often."""
        code = params.code
        return max(0, min(steps, code.offset + code.integrate) - code.offset)


PHASE = register(PhaseModel())
