"""Lava 0.10 floating_pt arithmetic for the float spiking network (neurokit.network.SpikingNet).

- Dense (PyDenseModelFloat): float64 sum of the weights of active inputs (graded: dot product).
- Conv (PyConvModelFloat): torch float32 conv (lava/proc/conv/utils.py conv), cast back to float64.
- LIF (AbstractPyLifModelFloat.subthr_dynamics): u <- u * (1 - du) + a_in; v <- v * (1 - dv) + u + bias,
  with du = 1, dv = 0 for integrate-and-fire; spike if v > vth (= 1); reset by subtraction or to zero.
Both one step later, as in Lava. Dense sums are added in BLAS order, not numpy's: results agree with Lava
to float64 rounding (spike for spike on every network the tests run), not bit for bit.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .phase import PhaseSchedule


@dataclasses.dataclass
class FloatSynapse:
    layer: object
    weight: object
    graded: bool
    xp: object

    @classmethod
    def build(cls, layer, xp, graded: bool):
        if layer.kind == "conv":
            return cls(layer, xp.asarray(layer.weight.astype(np.float32)), graded, xp)
        return cls(layer, xp.asarray(np.ascontiguousarray(layer.weight.T), xp.float64), graded, xp)

    def __call__(self, s):
        xp, rows = self.xp, s.shape[0]
        x = s if self.graded else (s != 0)
        if self.layer.kind == "conv":
            out = xp.conv2d(xp.astype(x, xp.float32), self.weight, self.layer)
            return xp.astype(out, xp.float64).reshape(rows, self.layer.n_neurons)
        return xp.matmul(xp.astype(x, xp.float64).reshape(rows, self.layer.n_inputs), self.weight)


@dataclasses.dataclass
class FloatNeurons:
    n: int
    bias: object
    v_init: object
    subtract: bool
    xp: object
    threshold: float = 1.0
    last_v: object = None  # v after the last step of the last run, (B, n): the potential readout

    @classmethod
    def build(cls, layer, xp):
        v0 = np.zeros(layer.out_shape) if layer.v_init is None else np.asarray(layer.v_init, np.float64)
        return cls(n=int(np.prod(layer.out_shape)), bias=xp.asarray(layer.bias.reshape(-1), xp.float64),
                   v_init=xp.asarray(np.broadcast_to(v0, layer.out_shape).reshape(-1), xp.float64),
                   subtract=layer.reset == "subtract", xp=xp)

    def run(self, drive, steps: int, record: bool = False):
        xp = self.xp
        b = drive.batch
        v = xp.zeros((b, self.n), xp.float64) + self.v_init
        spikes = xp.empty((steps, b, self.n), xp.bool_)
        rec_u = xp.empty((steps, b, self.n), xp.float64) if record else None
        rec_v = xp.empty((steps, b, self.n), xp.float64) if record else None
        for t in range(steps):
            u = drive.at(t)  # du = 1: u is this step's input
            xp.add_(v, u)  # Lava's order: (v * (1 - dv) + u) + bias
            xp.add_(v, self.bias)
            xp.gt(v, self.threshold, spikes[t])
            if self.subtract:
                xp.sub_where_(v, self.threshold, spikes[t])
            else:
                xp.zero_where_(v, spikes[t])
            if record:
                rec_u[t] = u
                rec_v[t] = v
        self.last_v = v
        return spikes, rec_u, rec_v


@dataclasses.dataclass
class FloatPhaseNeurons(PhaseSchedule):
    """Single-spike phase coding (neurokit.network.PhaseCode) as neurokit's PhaseNeuron floating_pt model
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
    def build(cls, layer, xp):
        code = layer.phase
        lo, hi = code.bounds()
        return cls(n=int(np.prod(layer.out_shape)), bias=xp.asarray(layer.bias.reshape(-1), xp.float64),
                   decay=code.decay_factor, window=code.window, offset=code.offset, end=code.latch_step,
                   lo=[float(x) for x in lo], hi=[float(x) for x in hi], xp=xp)

    def integrate(self, u, a_in):
        u = u * self.decay
        self.xp.add_(u, a_in)  # the Lava model's order: (u * decay + a_in) + bias
        self.xp.add_(u, self.bias)
        return u
