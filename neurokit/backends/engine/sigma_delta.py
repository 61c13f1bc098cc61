"""Sigma-delta populations for the engine: Lava's SigmaDelta (lava/proc/sdn/models.py) step by step.

Fixed point: PySigmaDeltaModelFixed, int32 state (numpy's int32 wraps; so do these int32 arrays), the rule
in neurokit.arithmetic.sigma_delta_step, vth and bias held << (spike_exp + state_exp) as the process
constructor scales them. Float: PySigmaDeltaModelFloat, float64, no shifts. State persists across runs
(a stream) until reset().
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...arithmetic import sigma_delta_param, sigma_delta_step


@dataclasses.dataclass
class SigmaDeltaNeurons:
    n: int
    bias: object  # (n,) int32 (held << 12) or float64
    vth: object  # scalar of the state's type
    state_exp: int | None  # None: float
    xp: object
    dtype: object = None
    state: dict = None
    relu: bool = True  # False: UNIT activation (netx's Sigma output layer: act = sigma)

    @classmethod
    def build(cls, pop, xp):
        from ...neurons.sigma_delta import QSigmaDelta

        p = pop.neuron
        flat = np.asarray(p.bias).reshape(-1)
        if isinstance(p, QSigmaDelta):
            bias = sigma_delta_param(flat, p.spike_exp, p.state_exp).astype(np.int32)
            vth = int(sigma_delta_param(p.vth, p.spike_exp, p.state_exp))
            group = cls(pop.n_neurons, xp.asarray(bias, xp.int32), np.int32(vth), p.state_exp, xp, xp.int32,
                        relu=p.relu)
        else:
            group = cls(pop.n_neurons, xp.asarray(flat.astype(np.float64), xp.float64), float(p.vth), None, xp,
                        xp.float64)
        group.reset()
        return group

    def reset(self) -> None:
        self.state = {k: self.xp.zeros((self.n,), self.dtype) for k in ("sigma", "act", "residue")}

    def run(self, drive, record: bool = False, read=()):
        """drive (L, n): what arrives at each step. Returns the messages sent (L, n), sigma and act after each
        step when recording (else None), and act at the local steps in `read` (len(read), n)."""
        xp = self.xp
        steps = drive.shape[0]
        drive = xp.astype(drive, self.dtype)
        out = xp.empty((steps, self.n), self.dtype)
        rec_sigma = xp.empty((steps, self.n), self.dtype) if record else None
        rec_act = xp.empty((steps, self.n), self.dtype) if record else None
        wanted = {int(t): i for i, t in enumerate(read)}
        acts = xp.empty((len(wanted), self.n), self.dtype)
        vth = self.vth if self.state_exp is None else xp.scalar(self.vth, drive)
        for t in range(steps):
            out[t] = sigma_delta_step(self.state, drive[t], self.bias, vth, self.state_exp, xp, self.relu)
            if record:
                rec_sigma[t] = self.state["sigma"]
                rec_act[t] = self.state["act"]
            if t in wanted:
                acts[wanted[t]] = self.state["act"]
        return out, rec_sigma, rec_act, acts
