"""Sigma-delta neurons (Lava's lava.proc.sdn.SigmaDelta; lava-dl netx's SDNN layers): stock Loihi 2
neurons, the way Intel deploys ANNs on Loihi 2 (PilotNet SDNN).

    sigma <- sigma + a_in                      the sum of every delta received: W . (source activation)
    act   <- relu(sigma + bias)                the ANN's activation
    delta <- act - act_prev + residue
    send delta as a graded spike if |delta| >= vth (the delta threshold), else keep it as residue

With vth = 0 a population's act equals the ANN's ReLU output exactly (up to fixed-point rounding) as soon
as its input has arrived: one step per synaptic delay. vth > 0 trades accuracy for fewer messages.

Semantics neurokit applies (one set of rules for every backend):
- A sigma-delta network runs as one stream, as on the chip: SigmaDelta has no reset (netx warns and
  ignores reset_interval). Sample k is held for T steps, steps kT .. kT + T - 1.
- The input is delta-coded, as netx's input layer (a Delta process with vth 0) does: the first
  projections receive (x_t - x_(t-1)) << spike_exp, x being the integer input frame (x_(-1) = 0).
- Pipelined readout: a population at depth d (synaptic delays from the input) sees sample k in steps
  kT + d .. kT + T - 1 + d; sample k's scores are the output population's act at step kT + T - 1 + D.
  Latency T + D steps, throughput one sample per T steps. Messages are counted in each population's
  window.

Fixed point follows netx: spike_exp = state_exp = 6; the process holds vth << 12 and bias << 12. A
population's integer scale V is its state units per activation unit, so it sends V >> 6 message units
per activation unit, and a weight w (activation units per source activation unit) becomes
w * V * 2**state_exp / V_source (for the input, V_source / 2**state_exp is the input's integer levels per
unit times 2**spike_exp).

NIR has no sigma-delta primitive: neurokit writes an IF node (r = 1, threshold 1) whose metadata carry
neuron = "sigma_delta" and the delta threshold; the bias stays in the Affine / Conv2d nodes before it.
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import nir
import numpy as np

from ..arithmetic import SDN_MESSAGE_BITS, SDN_SPIKE_EXP, SDN_STATE_EXP
from ..errors import UnsupportedModelError
from .base import QuantizedNeuron, broadcast, register

NEURON_KEY = "neuron"
NAME = "sigma_delta"


@dataclasses.dataclass
class SigmaDelta:
    """Float parameters in activation units (normalized: the population's scale is 1)."""

    model: ClassVar[str] = NAME
    bias: np.ndarray  # activation units, one per neuron
    vth: float = 0.0  # delta threshold, activation units


@dataclasses.dataclass
class QSigmaDelta:
    """Fixed-point parameters as netx's SDNN layer takes them (vThMant, bias) plus the population's scale."""

    model: ClassVar[str] = NAME
    scale: int  # V: state units per activation unit
    bias: np.ndarray  # int32 per neuron; Lava holds bias << (spike_exp + state_exp)
    vth: int  # vThMant; Lava holds vth << (spike_exp + state_exp)
    spike_exp: int = SDN_SPIKE_EXP
    state_exp: int = SDN_STATE_EXP
    relu: bool = True  # False: Lava's UNIT activation, act = sigma + bias (how neurokit holds netx's Sigma output)

    @property
    def shift(self) -> int:
        return self.spike_exp + self.state_exp


class SigmaDeltaModel:
    name = NAME
    forced_readout = "potential"  # the output population's act
    rate_coded = False
    takes_rate_input = False  # it reads the delta-coded input
    u_wraps = True  # int32 state, as Lava's numpy model
    stream = True  # runs as one stream without reset (neurokit.backends.engine.stream)
    graded_output_bits = SDN_MESSAGE_BITS
    bias_shift = SDN_SPIKE_EXP + SDN_STATE_EXP  # the process holds bias << 12
    plans_scales = True  # no threshold fixes V: quantize plans the scales of all layers together

    # ---- files ----------------------------------------------------------------------------------------
    def matches_nir(self, node) -> bool:
        return isinstance(node, nir.IF) and (node.metadata or {}).get(NEURON_KEY) == NAME

    def from_nir(self, name: str, node: nir.IF, shape: tuple):
        r = broadcast(name, "r", node.r, shape)
        vth = broadcast(name, "v_threshold", node.v_threshold, shape)
        if np.any(vth <= 0) or not np.all(np.isfinite(vth)) or not np.all(np.isfinite(r)):
            raise UnsupportedModelError(f"NIR neuron '{name}': r and v_threshold must be finite, v_threshold positive")
        delta = float((node.metadata or {}).get("delta_threshold", 0.0))
        if not np.isfinite(delta) or delta < 0:
            raise UnsupportedModelError(f"NIR neuron '{name}': delta_threshold must be a number >= 0, got {delta}")
        # act is relu(r I / v_threshold) in units of v_threshold: fold r / v_threshold into the projections.
        # The neuron's own bias (beyond its synapses'): neurokit's offset on a layer without ReLU (sdnn.py).
        own = broadcast(name, "metadata bias_offset", (node.metadata or {}).get("bias_offset", 0.0), shape)
        return SigmaDelta(bias=own, vth=delta), r / vth

    def to_nir(self, params: SigmaDelta, shape: tuple):
        own = np.asarray(params.bias, np.float64)
        offset = float(own.flat[0]) if own.size and np.all(own == own.flat[0]) else own
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                      metadata={NEURON_KEY: NAME, "delta_threshold": float(params.vth), "bias_offset": offset})

    def to_qnir(self, q: QSigmaDelta, shape: tuple, arith):
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape), metadata={
            NEURON_KEY: NAME, "delta_threshold": q.vth * 2.0 ** q.shift / q.scale,
            "bias": np.asarray(q.bias, np.float64) * 2.0 ** q.shift / q.scale,
            "scale": np.int64(q.scale), "bias_int": np.asarray(q.bias, np.int32), "vth": np.int64(q.vth),
            "spike_exp": np.int64(q.spike_exp), "state_exp": np.int64(q.state_exp), "relu": np.int64(q.relu)})

    def from_qnir(self, name: str, node, shape: tuple) -> QSigmaDelta:
        m = node.metadata
        q = QSigmaDelta(scale=int(m["scale"]), bias=np.asarray(m["bias_int"], np.int32).reshape(shape),
                        vth=int(m["vth"]), spike_exp=int(m["spike_exp"]), state_exp=int(m["state_exp"]),
                        relu=bool(int(m.get("relu", 1))))
        if (q.spike_exp, q.state_exp) != (SDN_SPIKE_EXP, SDN_STATE_EXP) or q.scale < 1 or q.vth < 0:
            raise UnsupportedModelError(f"population {name}: sigma-delta with spike_exp={q.spike_exp}, state_exp="
                                        f"{q.state_exp}, scale={q.scale}, vth={q.vth}; neurokit runs netx's "
                                        f"spike_exp = state_exp = 6, scale >= 1, vth >= 0")
        return q

    # ---- quantization -----------------------------------------------------------------------------------
    def scaled_bias(self, net, pop) -> np.ndarray:
        return np.asarray(pop.neuron.bias, np.float64)

    def scale_caps(self, pop, bias: np.ndarray, lim, headroom: float, demand: dict) -> dict:
        """Upper bounds on V besides the weights': the calibration data's largest sigma and act (with a
        margin) stay within the 24-bit state, and their largest change fits a graded spike of netx's 16
        message bits (Lava's simulator would not clip a wider one; the chip does)."""
        from quantize.discretize import sigma_delta_caps

        peak = max(demand["u_max"], demand["demand_max"], -demand["demand_min"])
        return sigma_delta_caps(bias, lim, peak, self.graded_output_bits)

    def message_scale(self, params) -> float:
        """Message units per activation unit of what this population sends."""
        return self.message_units(params.scale) if isinstance(params, QSigmaDelta) else 1.0

    def message_units(self, scale: float) -> float:
        """Message units per activation unit sent by a population of scale V: V >> state_exp."""
        return scale / 2.0 ** SDN_STATE_EXP

    def quantize(self, net, pop, scale: int, lim, profile) -> QuantizedNeuron:
        from quantize.discretize import quantize_sigma_delta

        p: SigmaDelta = pop.neuron
        bias, vth, bstats, tstats = quantize_sigma_delta(self.scaled_bias(net, pop), p.vth, scale,
                                                         SDN_SPIKE_EXP + SDN_STATE_EXP)
        q = QSigmaDelta(scale=scale, bias=bias, vth=vth)
        report = {"neuron": NAME, "reset": "none (stream)", "delta_threshold": {"float": float(p.vth), "int": vth,
                                                                                 **tstats}}
        return QuantizedNeuron(q, bstats, report, [])

    def headroom(self, projections, pop, demand: dict, profile, x_int, arith) -> dict:
        from quantize.headroom import sigma_delta_headroom

        return sigma_delta_headroom(pop, demand, profile)

    def integer_scale(self, params) -> int:
        return int(params.scale)

    def netx_neuron(self, pop, net) -> tuple[dict, np.ndarray]:
        """netx's SDNN neuron for this population and its bias (neurokit.netx), or NetxExportError."""
        from ..netx import NetxExportError

        p = pop.neuron
        if not isinstance(p, QSigmaDelta) or (p.spike_exp, p.state_exp) != (SDN_SPIKE_EXP, SDN_STATE_EXP):
            raise NetxExportError(f"population {pop.name}: netx's SDNN layers hold integer sigma-delta neurons with "
                                  f"spike_exp {SDN_SPIKE_EXP} and state_exp {SDN_STATE_EXP}; quantize it first")
        if not p.relu:  # netx's Sigma layer: act = sigma, no bias, no threshold, sent every step
            if p.vth or np.any(p.bias) or pop.name != net.output:
                raise NetxExportError(f"population {pop.name}: a sigma-delta population without ReLU; netx holds only "
                                      "its Sigma output layer (the last layer, no bias, no delta threshold)")
            return {"type": "SDNN", "vThMant": 0, "sigma_output": 1}, np.asarray(p.bias)
        return {"type": "SDNN", "vThMant": int(p.vth)}, np.asarray(p.bias)

    def stock_loihi2(self, params) -> str | None:
        return None  # SigmaDelta: stock on Loihi 2 (netx SDNN)

    def check_integers(self, pop, need) -> None:
        """Lava's SigmaDelta formats: bias 16 bits signed, vth within the 24-bit state once shifted by 12."""
        p, n = pop.neuron, f"population {pop.name}"
        b = np.asarray(p.bias)
        need(p.scale >= 1, f"{n}: scale", p.scale, "1 or more")
        need(0 <= p.vth < 1 << 11, f"{n}: vth", p.vth, "0..2047 (24 bits once shifted by 12)")
        need(b.size == 0 or np.abs(b).max() < 1 << 15, f"{n}: bias", f"up to {np.abs(b).max()}", "16 signed bits")

    # ---- simulation -------------------------------------------------------------------------------------
    def engine(self, pop, xp, arith):
        from ..backends.engine.sigma_delta import SigmaDeltaNeurons

        return SigmaDeltaNeurons.build(pop, xp)

    def lava(self, pop, fixed: bool, steps: int, stock: bool = False, offset: int | None = None):
        from lava.proc.sdn.process import SigmaDelta as LavaSigmaDelta

        from ..layout import lava_shape, to_lava

        p = pop.neuron
        shape = lava_shape(pop.shape)
        if fixed:
            from lava.proc.sdn.process import ActivationMode

            mode = ActivationMode.RELU if getattr(p, "relu", True) else ActivationMode.UNIT
            return LavaSigmaDelta(shape=shape, vth=int(p.vth), bias=to_lava(np.asarray(p.bias).reshape(pop.shape)).astype(np.int32),
                                  spike_exp=p.spike_exp, state_exp=p.state_exp, act_mode=mode)
        return LavaSigmaDelta(shape=shape, vth=float(p.vth), bias=to_lava(np.asarray(p.bias, np.float64).reshape(pop.shape)))

    state_vars = ("sigma", "act")  # what StateRecorder records as u and v

    def output_scale(self, params, arith) -> float:
        return float(params.scale) if isinstance(params, QSigmaDelta) else 1.0

    def scores(self, counts: np.ndarray, v: np.ndarray) -> np.ndarray:
        return v  # act, in activation units

    def latency(self, params) -> int | None:
        return None

    def input_read_steps(self, params, steps: int) -> int:
        return 1  # the delta-coded input sends each sample once


SIGMA_DELTA = register(SigmaDeltaModel())
