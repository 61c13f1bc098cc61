"""Lava 0.10 floating_pt arithmetic for the float spiking network (neurokit.network.Network).

- Dense (PyDenseModelFloat): float64 sum of the weights of active inputs (graded: dot product).
- Conv (PyConvModelFloat): torch float32 conv (lava/proc/conv/utils.py conv), added to float64 state.
- LIF (AbstractPyLifModelFloat.subthr_dynamics): u <- u * (1 - du) + a_in; v <- v * (1 - dv) + u + bias,
  with du = 1, dv = 0 for integrate-and-fire; spike if v > vth (= 1); reset by subtraction or to zero.
Both one step later, as in Lava; several projections into one population add up in their order. Dense
sums are added in BLAS order, not numpy's: results agree with Lava to float64 rounding (spike for spike on
every network the tests run), not bit for bit.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .arrays import Reusable
from .fused import fused_float_kernel
from .geometry import ConvGeometry
from .phase import PhaseSchedule


@dataclasses.dataclass
class FloatSynapse:
    proj: object
    weight: object
    graded: bool
    xp: object

    geometry: object = None  # conv: the projection's own (float sums keep Lava's folded-kernel order)
    output: Reusable = dataclasses.field(default_factory=Reusable)  # the memory each call's result is written to

    @classmethod
    def build(cls, proj, xp, graded: bool):
        if proj.kind == "conv":
            g = ConvGeometry(tuple(proj.stride), tuple(proj.padding), tuple(proj.dilation), proj.groups)
            return cls(proj, xp.asarray(proj.weight.astype(np.float32)), graded, xp, g)
        w = np.asarray(proj.weight).reshape(len(proj.weight), -1)
        return cls(proj, xp.asarray(np.ascontiguousarray(w.T), xp.float64), graded, xp)

    def __call__(self, s):
        """(R, n_out): conv float32 (Lava's Conv sums in float32; the neurons add it to float64 state, the same
        values as a float64 copy would give), dense float64."""
        xp, proj = self.xp, self.proj
        x = s if self.graded or s.dtype == xp.bool_ else (s != 0)
        if proj.kind == "conv":
            shape = tuple(proj.in_shape)
            return xp.map_rows(lambda b: xp.conv2d(b.reshape((len(b),) + shape), self.weight, self.geometry).reshape(
                len(b), proj.n_neurons), x, xp.float32, self.output)
        return xp.map_rows(lambda b: xp.matmul(b, self.weight), x, xp.float64, self.output)


@dataclasses.dataclass
class FloatNeurons:
    """The CUBA compartment in float (Lava's floating_pt LIF) for one population."""

    n: int
    bias: object
    v_init: object
    subtract: bool
    xp: object
    du: float = 1.0
    dv: float = 0.0
    threshold: float = 1.0
    reset_amount: float = 1.0  # what a subtracting reset removes
    fires: bool = True
    threshold_ge: bool = False  # spike at v >= threshold
    u_bias: object = None  # (n,) added to u every step
    refractory: int = 0  # steps after a spike in which v stays at 0 (Lava's LIFRefractory)
    last_v: object = None  # v after the last step of the last run, (B, n): the potential readout

    @classmethod
    def build(cls, pop, xp):
        p = pop.neuron
        v0 = np.asarray(p.v_init, np.float64)
        u_bias = getattr(p, "u_bias", None)
        return cls(n=pop.n_neurons, bias=xp.asarray(np.asarray(p.bias, np.float64).reshape(-1), xp.float64),
                   v_init=xp.asarray(np.broadcast_to(v0, pop.shape).reshape(-1), xp.float64),
                   subtract=p.reset == "subtract", xp=xp, du=float(p.du), dv=float(p.dv),
                   reset_amount=float(getattr(p, "reset_amount", 1.0)), fires=bool(getattr(p, "fires", True)),
                   threshold_ge=bool(getattr(p, "threshold_ge", False)), refractory=int(getattr(p, "refractory", 0)),
                   u_bias=None if u_bias is None or not np.any(u_bias) else
                   xp.asarray(np.asarray(u_bias, np.float64).reshape(-1), xp.float64))

    def start(self, batch: int) -> dict:
        xp = self.xp
        state = {"u": xp.zeros((batch, self.n), xp.float64), "v": xp.zeros((batch, self.n), xp.float64) + self.v_init}
        if self.refractory:
            state["hold"] = xp.zeros((batch, self.n), xp.int64)
        return state

    def step(self, state: dict, a_in, out) -> None:
        """One step of the compartment on state {"u", "v"} with input a_in (B, n); spikes into out (B, n) bool."""
        xp = self.xp
        u, v = state["u"], state["v"]
        if self.du == 1.0 and self.dv == 0.0 and self.u_bias is None:
            u = a_in  # du = 1: u is this step's input
        else:
            u = u * (1 - self.du) + a_in
            if self.u_bias is not None:
                xp.add_(u, self.u_bias)
            v = v * (1 - self.dv)
        before = state["v"] + 0 if self.refractory else None  # a copy: v may be updated in place below
        xp.add_(v, u)  # Lava's order: (v * (1 - dv) + u) + bias
        xp.add_(v, self.bias)
        if self.refractory:  # Lava's PyLifRefractoryModelFloat: a refractory neuron's v is not updated
            held = state["hold"] > 0
            v = xp.where(held, before, v)
            state["hold"] = state["hold"] - xp.astype(held, xp.int64)
        if not self.fires:
            out[...] = False
        else:
            (xp.ge if self.threshold_ge else xp.gt)(v, self.threshold, out)
            if self.subtract:
                xp.sub_where_(v, self.reset_amount, out)
            else:
                xp.zero_where_(v, out)
            if self.refractory:
                state["hold"] = xp.where(out, self.refractory, state["hold"])
        state["u"], state["v"] = u, v

    def run(self, drive, steps: int, record: bool = False):
        """Spikes (T, B, n) bool, and with record u and v after each step: the fused kernel (fused.float_steps,
        the same values) where one applies, else step by step."""
        xp = self.xp
        kernel = fused_float_kernel(xp)
        if kernel is not None:
            return kernel(self, drive, steps, record)
        state = self.start(drive.batch)
        spikes = xp.empty((steps, drive.batch, self.n), xp.bool_)
        rec_u = xp.empty((steps, drive.batch, self.n), xp.float64) if record else None
        rec_v = xp.empty((steps, drive.batch, self.n), xp.float64) if record else None
        for t in range(steps):
            self.step(state, drive.at(t), spikes[t])
            if record:
                rec_u[t] = state["u"]
                rec_v[t] = state["v"]
        self.last_v = state["v"]
        return spikes, rec_u, rec_v


@dataclasses.dataclass
class FloatPhaseNeurons(PhaseSchedule):
    """Single-spike phase coding (neurokit.neurons.phase) as neurokit's PhaseNeuron floating_pt model
    computes it: in the integration window u <- (u * decay + a_in) + bias, decay = 1 / in_base; v <- u,
    u <- 0 at its last step; at phase k of the fire window spike iff lo[k] <= v < hi[k]."""

    n: int
    bias: object
    decay: float
    window: int
    offset: int
    end: int  # the latch step
    lo: list
    hi: list
    xp: object
    last_v: object = None  # v after the last run, (B, n): the output readout

    @classmethod
    def build(cls, pop, xp):
        code = pop.neuron.code
        lo, hi = code.bounds()
        return cls(n=pop.n_neurons, bias=xp.asarray(np.asarray(pop.neuron.bias, np.float64).reshape(-1), xp.float64),
                   decay=code.decay_factor, window=code.window, offset=code.offset, end=code.latch_step,
                   lo=[float(x) for x in lo], hi=[float(x) for x in hi], xp=xp)

    def integrate(self, u, a_in):
        u = u * self.decay
        self.xp.add_(u, a_in)  # the Lava model's order: (u * decay + a_in) + bias
        self.xp.add_(u, self.bias)
        return u
