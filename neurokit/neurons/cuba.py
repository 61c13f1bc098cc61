"""Loihi's CUBA compartment, the core of integrate-and-fire, LIF and CubaLIF (Lava's LIF process family):

    u <- u (1 - du) + a_in                  (fixed point: trunc(u (4096 - du - 1) / 4096) + (a_in << 6), u wraps)
    v <- v (1 - dv) + u + bias              (fixed point: trunc(v (4096 - dv) / 4096) + u + bias, v saturates)
    spike if v > threshold, then v -= threshold ("subtract") or v = 0 ("zero")

Integrate-and-fire, what rate conversion produces, is du = 1 (u holds only this step's input) and dv = 0.
Reset to zero is Lava's own LIF (LIFReset on Loihi 2, stock microcode); reset by subtraction, which rate
conversion needs, runs on neurokit's ConversionLIF (Lava's LIF arithmetic with that reset), which has no
Loihi 2 microcode.

NIR carries this model as an IF node: NIR has no reset-mode or initial-potential field, so neurokit writes
them into the node's metadata (reset_mode, v_init) and reads them back; a foreign IF node without them
resets to zero (NIR's own IF semantics, v_reset = 0) and starts at v = 0. The bias of a population is
the sum of the biases of the Affine / Conv2d nodes that project into it (NIR's IF has none).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar

import nir
import numpy as np

from ..errors import UnsupportedModelError
from .base import QuantizedNeuron, ThresholdScale, broadcast, register

RESET_KEY = "reset_mode"
V_INIT_KEY = "v_init"
NEURON_KEY = "neuron"  # NIR metadata naming the neurokit model of an IF node ("if" = this one)
RESET_MODES = ("subtract", "zero")


@dataclasses.dataclass
class Cuba:
    """Float parameters, normalized to threshold 1 (Lava floating_pt)."""

    model: ClassVar[str] = "cuba"
    bias: np.ndarray  # thresholds per step, one per neuron
    v_init: np.ndarray  # thresholds, one per neuron
    reset: str = "subtract"
    du: float = 1.0  # u <- u (1 - du) + a_in: 1 means u holds only this step's input
    dv: float = 0.0  # v <- v (1 - dv) + u + bias: 0 means no leak
    # what foreign graphs need (neurokit.dialects); the defaults are Lava's LIF
    reset_amount: float = 1.0  # thresholds a subtracting reset removes
    fires: bool = True  # False: a leaky integrator (NIR LI, I), read by its potential
    threshold_ge: bool = False  # spike at v >= threshold (SpikingJelly, sinabs) instead of v > threshold
    u_bias: np.ndarray | None = None  # added to u every step (a synapse's bias into a decaying current)
    tau: dict | None = None  # the time constants asked for, in steps ({"u": .., "v": ..}; None: no leak)
    refractory: int = 0  # steps after a spike in which v stays at 0 while u integrates (Lava's LIFRefractory)

    @property
    def lava_compartment(self) -> bool:
        """Whether Lava's LIF arithmetic computes this population as it stands (no foreign extras)."""
        return (self.fires and not self.threshold_ge and self.reset_amount == 1.0 and not self.refractory
                and (self.u_bias is None or not np.any(self.u_bias)))


@dataclasses.dataclass
class QCuba:
    """Fixed-point parameters, as Lava's LIF takes them (raw v units: the threshold is vth << 6)."""

    model: ClassVar[str] = "cuba"
    vth: int
    bias_mant: np.ndarray  # int32, one per neuron
    bias_exp: int
    du: int
    dv: int
    v_init: np.ndarray  # int32, raw v units
    reset: str
    reset_raw: int | None = None  # raw v a subtracting reset removes (None: the threshold, vth << 6)
    fires: bool = True  # False: the threshold is out of reach (a leaky integrator read by its potential)
    u_init: np.ndarray | None = None  # int32 raw u at each window start (None: 0)
    refractory: int = 0  # steps after a spike in which v stays at 0 (u integrates)


def check_reset(name: str, mode) -> str:
    if mode not in RESET_MODES:
        raise UnsupportedModelError(f"NIR neuron '{name}': metadata {RESET_KEY}={mode!r}; expected one of {RESET_MODES}")
    return str(mode)


class CubaModel(ThresholdScale):
    name = "cuba"
    forced_readout = None
    rate_coded = True
    takes_rate_input = True
    u_wraps = True
    stream = False  # each sample runs in a fresh window (ConversionLIF / LIFReset reset_interval)
    bias_shift = None  # the bias has its own exponent
    plans_scales = False  # V per population, from its threshold's and weights' limits
    graded_output_bits = 0  # binary spikes
    state_vars = ("u", "v")  # what StateRecorder records as u and v

    # ---- files ----------------------------------------------------------------------------------------
    def matches_nir(self, node) -> bool:
        neuron = str((node.metadata or {}).get(NEURON_KEY, "if"))
        return (isinstance(node, nir.IF) and neuron == "if") or (isinstance(node, nir.CubaLIF) and neuron == "cuba")

    def from_nir(self, name: str, node, shape: tuple):
        if isinstance(node, nir.CubaLIF):
            return self._from_cuba_node(name, node, shape)
        return self._from_if_node(name, node, shape)

    def _from_cuba_node(self, name: str, node: nir.CubaLIF, shape: tuple):
        """neurokit's own leaky CUBA population (what `neurokit import` writes): the exact parameters in the
        node's metadata; its NIR fields (tau_syn = 1 / du, tau_mem = 1 / dv steps, threshold 1) for other
        readers."""
        m = node.metadata
        try:
            tau = {k: (None if not np.isfinite(float(m[f"tau_{k}"])) else float(m[f"tau_{k}"])) for k in ("u", "v")}
            du, dv = float(m["du"]), float(m["dv"])
            params = Cuba(bias=broadcast(name, "metadata bias", m["bias"], shape),
                          v_init=broadcast(name, f"metadata {V_INIT_KEY}", m[V_INIT_KEY], shape),
                          reset=check_reset(name, m[RESET_KEY]), du=du, dv=dv,
                          reset_amount=float(m["reset_amount"]), fires=bool(int(m["fires"])),
                          threshold_ge=bool(int(m["threshold_ge"])),
                          u_bias=broadcast(name, "metadata u_bias", m["u_bias"], shape), tau=tau,
                          refractory=int(m.get("refractory", 0)))
        except KeyError as e:
            raise UnsupportedModelError(f"NIR neuron '{name}' (neurokit CubaLIF): metadata {e} is missing") from None
        if not (0 <= du <= 1 and 0 <= dv <= 1):
            raise UnsupportedModelError(f"NIR neuron '{name}': du, dv = {du}, {dv}; decays lie in [0, 1]")
        for what in ("bias", "v_init", "u_bias"):
            if not np.all(np.isfinite(getattr(params, what))):
                raise UnsupportedModelError(f"NIR neuron '{name}': metadata {what} holds NaN or Inf")
        return params, np.ones(shape)

    def _from_if_node(self, name: str, node: nir.IF, shape: tuple):
        r = broadcast(name, "r", node.r, shape)
        vth = broadcast(name, "v_threshold", node.v_threshold, shape)
        v_reset = broadcast(name, "v_reset", node.v_reset, shape)
        if not np.all(np.isfinite(r)) or not np.all(np.isfinite(vth)):
            raise UnsupportedModelError(f"NIR neuron '{name}': r and v_threshold must be finite numbers")
        if np.any(vth <= 0):
            raise UnsupportedModelError(f"NIR neuron '{name}': v_threshold must be positive")
        if np.any(v_reset != 0):
            raise UnsupportedModelError(f"NIR neuron '{name}': non-zero v_reset is not supported")
        meta = node.metadata or {}
        reset = check_reset(name, meta.get(RESET_KEY, "zero"))  # NIR's own IF semantics reset to v_reset
        v_init = broadcast(name, f"metadata {V_INIT_KEY}", meta.get(V_INIT_KEY, 0.0), shape) / vth
        bias = broadcast(name, "metadata bias", meta.get("bias", 0.0), shape) / vth
        # v / vth obeys the same dynamics with input r I / vth and threshold 1
        return Cuba(bias=bias, v_init=v_init, reset=reset), r / vth

    def to_nir(self, params: Cuba, shape: tuple):
        """An IF node for integrate-and-fire (biases on the synapses that feed it, as the converter writes
        them); anything else (leaks, a framework's rules) as a CubaLIF node with metadata neuron="cuba"."""
        if (params.du, params.dv) != (1.0, 0.0) or not params.lava_compartment:
            ones = np.ones(shape)
            nan = float("nan")
            tau = params.tau or {}
            u_bias = np.zeros(shape) if params.u_bias is None else np.asarray(params.u_bias, np.float64)
            return nir.CubaLIF(tau_syn=ones / max(params.du, 1e-12), tau_mem=ones / max(params.dv, 1e-12), r=ones,
                               v_leak=np.zeros(shape), v_threshold=ones, v_reset=np.zeros(shape), metadata={
                NEURON_KEY: "cuba", RESET_KEY: params.reset, "du": float(params.du), "dv": float(params.dv),
                "bias": np.asarray(params.bias, np.float64), V_INIT_KEY: np.asarray(params.v_init, np.float64),
                "reset_amount": float(params.reset_amount), "fires": int(params.fires),
                "threshold_ge": int(params.threshold_ge), "u_bias": u_bias,
                "refractory": int(params.refractory),
                "tau_u": tau.get("u") if tau.get("u") is not None else nan,
                "tau_v": tau.get("v") if tau.get("v") is not None else nan})
        v0 = np.asarray(params.v_init, np.float64)
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                      metadata={RESET_KEY: params.reset,
                                V_INIT_KEY: float(v0.flat[0]) if v0.size and np.all(v0 == v0.flat[0]) else v0})

    def to_qnir(self, q: QCuba, shape: tuple, arith):
        """A NIR IF node whose float parameters a plain NIR reader can use and whose metadata holds the integers."""
        return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape), metadata={
            NEURON_KEY: "if", RESET_KEY: q.reset,
            "bias": arith.bias_value(q.bias_mant, q.bias_exp, q.vth),
            V_INIT_KEY: arith.state_value(q.v_init, q.vth),
            "vth": np.int64(q.vth), "bias_mant": np.asarray(q.bias_mant, np.int32), "bias_exp": np.int64(q.bias_exp),
            "du": np.int64(q.du), "dv": np.int64(q.dv), "v_init_int": np.asarray(q.v_init, np.int32),
            "fires": np.int64(q.fires), "reset_raw": np.int64(-1 if q.reset_raw is None else q.reset_raw),
            "u_init_int": np.zeros(shape, np.int32) if q.u_init is None else np.asarray(q.u_init, np.int32),
            "refractory": np.int64(q.refractory)})

    def from_qnir(self, name: str, node, shape: tuple) -> QCuba:
        m = node.metadata
        return QCuba(vth=int(m["vth"]), bias_mant=np.asarray(m["bias_mant"], np.int32).reshape(shape),
                     bias_exp=int(m["bias_exp"]), du=int(m["du"]), dv=int(m["dv"]),
                     v_init=np.asarray(m["v_init_int"], np.int32).reshape(shape), reset=check_reset(name, m[RESET_KEY]),
                     fires=bool(int(m.get("fires", 1))),
                     reset_raw=None if int(m.get("reset_raw", -1)) < 0 else int(m["reset_raw"]),
                     u_init=None if not np.any(m.get("u_init_int", 0)) else
                     np.asarray(m["u_init_int"], np.int32).reshape(shape), refractory=int(m.get("refractory", 0)))

    # ---- quantization -----------------------------------------------------------------------------------
    def scaled_bias(self, net, pop) -> np.ndarray:
        """The bias into v; a bias into a decaying u adds its steady state u_bias / du (see quantize)."""
        p = pop.neuron
        if p.u_bias is not None and np.any(p.u_bias):
            return np.asarray(p.bias, np.float64) + np.asarray(p.u_bias, np.float64) / p.du
        return np.asarray(p.bias, np.float64)

    def quantize(self, net, pop, vth: int, lim, profile) -> QuantizedNeuron:
        from quantize.discretize import quantize_bias, quantize_decay, quantize_v_init

        from quantize.discretize import decay_error

        p: Cuba = pop.neuron
        notes = []
        bias = self.scaled_bias(net, pop)
        u_init = None
        if p.u_bias is not None and np.any(p.u_bias):
            # Lava's LIF has no bias into u. A bias b into u adds B (1 - (1 - du)^(t + 1)) to u at step t,
            # B = b / du: exactly a bias B into v and u starting at -B each window (the -B decays as u does)
            steady = np.asarray(p.u_bias, np.float64) / p.du  # already in scaled_bias
            u_raw = np.round(-steady * vth * (1 << lim.threshold_shift))
            u_init = np.clip(u_raw, -lim.state_max, lim.state_max).astype(np.int32).reshape(pop.shape)
            notes.append("a synapse's bias into the decaying current: a bias b / du into v, u starting at -b / du "
                         "(exact up to rounding; Lava's stock LIFReset restarts u at 0, neurokit's ConversionLIF at "
                         "u_init)")
        bmant, bexp, bstats = quantize_bias(bias, vth, lim)
        du, dv = quantize_decay(p.du, lim, offset=1), quantize_decay(p.dv, lim, offset=0)
        decays = {"u": decay_error(pop.name, "du", p.du, du, lim, offset=1),
                  "v": decay_error(pop.name, "dv", p.dv, dv, lim, offset=0)}
        reset_raw = None
        if p.reset == "subtract" and p.reset_amount != 1.0:
            reset_raw = int(round(p.reset_amount * vth * (1 << lim.threshold_shift)))
            notes.append(f"reset subtracts {p.reset_amount:.6g} thresholds ({reset_raw} raw, rounded)")
        if p.threshold_ge:
            notes.append("the framework fires at v >= threshold; Loihi fires at v > threshold (they differ when v "
                         "lands exactly on it)")
        if not p.fires:
            notes.append("a leaky integrator (no spikes): Lava's LIF with the largest threshold, read by its v")
        if p.refractory:
            notes.append(f"v rests at 0 for {p.refractory} step after a spike (Lava's LIFRefractory, floating point only "
                         "in Lava 0.10)")
        q = QCuba(vth=vth, bias_mant=bmant, bias_exp=bexp, du=du, dv=dv,
                  v_init=quantize_v_init(p.v_init, vth, lim, pop.shape), reset=p.reset, reset_raw=reset_raw,
                  fires=p.fires, u_init=u_init, refractory=int(p.refractory))
        if p.reset == "subtract" and not profile.neuron.reset_by_subtraction:
            notes.append("reset by subtraction: runs on neurokit's ConversionLIF; the stock Loihi LIF resets to 0")
        report = {"neuron": "if" if (p.du, p.dv) == (1.0, 0.0) else "lif", "reset": p.reset, "decays": decays}
        return QuantizedNeuron(q, bstats, report, notes)

    def netx_neuron(self, pop, net) -> tuple[dict, np.ndarray]:
        """netx's CUBA neuron (Lava's LIFReset: du = iDecay - 1, dv = vDecay, bias_mant with bias_exp 6) for a
        stock population of a pipelined network, and its bias; else NetxExportError naming the field."""
        from ..netx import NETX_BIAS_EXP, NetxExportError
        from ..network import windows_of

        p = pop.neuron
        why = self.stock_loihi2(p) if isinstance(p, QCuba) else "not quantized"
        if why is None and windows_of(net) != "pipelined":
            why = "synchronous windows (netx restarts each layer at its own offset: convert with --method lif)"
        if why is not None:
            raise NetxExportError(f"population {pop.name}: {why}; netx's CUBA layers run Lava's stock LIFReset")
        raw = net.arithmetic.bias_raw(p.bias_mant, p.bias_exp)
        if np.any(raw % (1 << NETX_BIAS_EXP)):
            raise NetxExportError(f"population {pop.name}: bias_exp = {p.bias_exp}; netx fixes it at {NETX_BIAS_EXP} "
                                  "and this bias has finer bits; quantize with --netx")
        bias = raw >> NETX_BIAS_EXP
        if np.abs(bias).max(initial=0) > 4095:
            raise NetxExportError(f"population {pop.name}: bias up to {np.abs(bias).max()} << 6 exceeds LIF's 13-bit "
                                  "bias mantissa; quantize with --netx")
        return {"type": "CUBA", "vThMant": int(p.vth), "iDecay": int(p.du) + 1, "vDecay": int(p.dv)}, bias

    def stock_loihi2(self, params) -> str | None:
        """None when Loihi 2 runs the population with stock neurons (Lava LIF / LIFReset), else why not."""
        if params.reset == "subtract":
            return "ConversionLIF (reset by subtraction) has no Loihi 2 microcode"
        if getattr(params, "u_init", None) is not None and np.any(params.u_init):
            return "u starts each window below 0 (a synapse's bias into the current); Lava's LIFReset restarts u at 0"
        if getattr(params, "refractory", 0):
            return "a refractory step after each spike (Lava's LIFRefractory has no fixed-point model)"
        if isinstance(params, Cuba) and not params.lava_compartment:
            return "a framework's neuron rule Lava's LIF does not compute (>= threshold, or a bias into u)"
        if np.any(np.asarray(params.v_init) != 0):
            return "v starts above 0 (v_init); Lava's LIFReset restarts v at 0"
        return None

    def check_integers(self, pop, need) -> None:
        """Lava's LIF formats (lava/proc/lif/models.py PyLifModelBitAcc): vth 17 bits, du and dv 12 bits,
        bias_mant 13 bits signed, bias_exp 0..7, v 24 bits."""
        p, n = pop.neuron, f"population {pop.name}"
        need(0 <= p.vth < 1 << 17, f"{n}: vth", p.vth, "0..131071")
        need(0 <= p.du < 4096 and 0 <= p.dv < 4096, f"{n}: du, dv", (p.du, p.dv), "0..4095")
        need(-16 <= p.bias_exp <= 16, f"{n}: bias_exp", p.bias_exp, "-16..16")
        b, v = np.asarray(p.bias_mant), np.asarray(p.v_init)
        need(b.size == 0 or (b.min() >= -(1 << 15) and b.max() < 1 << 15), f"{n}: bias_mant",
             f"[{b.min()}, {b.max()}]", "16 signed bits")
        need(v.size == 0 or np.abs(v).max() < 1 << 23, f"{n}: v_init", f"up to {np.abs(v).max()}", "24 signed bits")
        need(p.reset_raw is None or 0 < p.reset_raw < 1 << 24, f"{n}: reset_raw", p.reset_raw, "1..2**24 - 1")
        need(0 <= p.refractory < 1 << 8, f"{n}: refractory", p.refractory, "0..255 steps")
        ui = np.asarray(0 if p.u_init is None else p.u_init)
        need(ui.size == 0 or np.abs(ui).max() < 1 << 23, f"{n}: u_init", f"up to {np.abs(ui).max()}", "24 signed bits")

    # ---- simulation -------------------------------------------------------------------------------------
    def engine(self, pop, xp, arith):
        if isinstance(pop.neuron, QCuba):
            from ..backends.engine.fixed import FixedNeurons

            return FixedNeurons.build(pop, xp, arith)
        from ..backends.engine.floating import FloatNeurons

        return FloatNeurons.build(pop, xp)

    def lava(self, pop, fixed: bool, steps: int, stock: bool = False, offset: int | None = None,
             recurrent: bool = False):
        """The population as a Lava process with windows of `steps` steps.

        offset None (synchronous windows): ConversionLIF restarting at steps 1, 1 + T, ... (dropping what
        arrives then), or with stock=True Lava's LIFReset at the same steps.
        offset given (pipelined windows: the Lava time step, modulo T, of each window's start, depth + 1):
        Lava's LIFReset when it computes the population exactly (reset to zero, u and v from 0, no recurrent
        input), else ConversionLIF with that offset (u restarting at u_init, v at v_init), integrating its
        sources' first messages and dropping only what a recurrent projection (recurrent=True: wired to its
        a_rec port) sends across the window start. With stock=True (Loihi 2's stock neurons only) such a
        population is an UnsupportedModelError.
        A population that does not fire (fires False) gets Lava's largest threshold (fixed_pt: arith.max_vth,
        as the engine; floating_pt: inf)."""
        from ..arithmetic import LOIHI2
        from ..backends.lava.proc.process import ConversionLIF
        from ..layout import lava_shape, to_lava

        p = pop.neuron
        shape = lava_shape(pop.shape)
        fires = bool(getattr(p, "fires", True))
        if fixed:
            params = dict(shape=shape, du=p.du, dv=p.dv, vth=p.vth if fires else LOIHI2.max_vth,
                          v=to_lava(np.asarray(p.v_init).reshape(pop.shape)).astype(np.int32),
                          bias_mant=to_lava(np.asarray(p.bias_mant).reshape(pop.shape)).astype(np.int32),
                          bias_exp=p.bias_exp)
            extra = dict(reset_amount=getattr(p, "reset_raw", None))
            if getattr(p, "refractory", 0):
                extra["refractory"] = int(p.refractory)
            u_init = getattr(p, "u_init", None)
            if u_init is not None and np.any(u_init):
                extra["u_init"] = to_lava(np.asarray(u_init).reshape(pop.shape)).astype(np.int32)
        else:
            params = dict(shape=shape, du=float(p.du), dv=float(p.dv), vth=1.0 if fires else float("inf"),
                          v=to_lava(np.asarray(p.v_init, np.float64).reshape(pop.shape)),
                          bias_mant=to_lava(np.asarray(p.bias, np.float64).reshape(pop.shape)), bias_exp=0)
            u_bias = getattr(p, "u_bias", None)
            amount = float(getattr(p, "reset_amount", 1.0))
            extra = dict(reset_amount=None if amount == 1.0 else amount,
                         threshold_ge=bool(getattr(p, "threshold_ge", False)),
                         u_bias=None if u_bias is None or not np.any(u_bias) else
                         to_lava(np.broadcast_to(np.asarray(u_bias, np.float64), pop.shape).copy()))
            if getattr(p, "refractory", 0):
                extra["refractory"] = int(p.refractory)
        from lava.proc.lif.process import LIFReset

        if offset is None:
            if stock:
                # netx's choice for hardware: periodic reset; what arrives at a window's first step is integrated
                for what, why in (("u_init", "u starts at u_init"), ("refractory", "refractory steps")):
                    if what in extra:
                        raise UnsupportedModelError(f"population {pop.name}: {why}; Lava's stock LIFReset cannot "
                                                    "run it: simulate it with lava-fixed or the engine")
                return LIFReset(reset_interval=steps, reset_offset=1 % steps, **params)
            return ConversionLIF(reset_mode=p.reset, reset_interval=steps, **extra, **params)
        why = ("a recurrent projection into it, whose input ConversionLIF drops at each window start"
               if recurrent else self.stock_loihi2(p))
        if why is None and "u_init" in extra:
            why = "u starts at u_init (a synapse's bias into the current); Lava's LIFReset restarts u at 0"
        if why is None and "refractory" in extra:
            why = "refractory steps after a spike; Lava's LIFReset has none"
        if why is None:
            # what arrives at a window's first step is this sample's (its sources started one step earlier)
            return LIFReset(reset_interval=steps, reset_offset=offset, **params)
        if stock:
            raise UnsupportedModelError(f"population {pop.name}: {why}; Lava's stock LIFReset cannot run it (no "
                                        "Loihi 2 microcode): simulate it with lava-fixed or the engine")
        return ConversionLIF(reset_mode=p.reset, reset_interval=steps, reset_offset=offset, keep_first_input=True,
                             **extra, **params)

    def output_scale(self, params, arith) -> float:
        return float(arith.threshold_raw(params.vth)) if isinstance(params, QCuba) else 1.0

    def scores(self, counts: np.ndarray, v: np.ndarray) -> np.ndarray:
        return v + counts  # the integrated input: reset by subtraction keeps the sum

    def latency(self, params) -> int | None:
        return None

    def input_read_steps(self, params, steps: int) -> int:
        return steps


CUBA = register(CubaModel())
