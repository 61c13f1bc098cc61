"""The schedule both phase neurons share (neurokit.neurons.phase): integrate during steps offset .. end,
latch v <- u and clear u at `end`, then fire at most once in the next window. The fixed and float models
differ only in one step of the accumulator, `integrate(u, a_in)`."""
from __future__ import annotations

from ...neurons.phase import fire_phases


class PhaseSchedule:
    """Mixin for a phase neuron dataclass with n, offset, end, lo, hi, xp, last_v and integrate(u, a)."""

    state_dtype = "float64"  # the name of the xp dtype of u and v

    def run(self, drive, steps: int, record: bool = False):
        """Spikes (T, B, n); with record also u (the accumulator) and v (the latched value) after each step."""
        xp = self.xp
        b = drive.batch
        dtype = getattr(xp, self.state_dtype)
        spikes = xp.zeros((steps, b, self.n), xp.bool_)
        rec_u = xp.zeros((steps, b, self.n), dtype) if record else None
        rec_v = xp.zeros((steps, b, self.n), dtype) if record else None
        u = xp.zeros((b, self.n), dtype)
        v = xp.zeros((b, self.n), dtype)
        end = self.end
        for t in range(self.offset, min(end + 1, steps)):
            u = self.integrate(u, drive.at(t))
            if t == end:
                v, u = u, xp.zeros((b, self.n), dtype)
            if record:
                rec_u[t] = u
        if record and end < steps:
            rec_v[end:] = v
        fire_phases(spikes, v, self.lo, self.hi, end + 1, steps)
        self.last_v = v
        return spikes, rec_u, rec_v
