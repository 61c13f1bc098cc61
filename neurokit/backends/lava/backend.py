"""Lava backends: CPU simulation (floating_pt, bit-accurate fixed_pt) and Loihi 2 hardware."""
from __future__ import annotations

import time

import numpy as np

from ...encoding import check_encoding, delta_events, encoding_of, rate_spikes
from ...errors import BackendUnavailableError
from ...trace import Trace
from ..base import (LayerRecord, Progress, check_input_coding, check_inputs, check_network, input_steps, output_scale,
                    output_scores, warn_latency)

LAVA_LOIHI_MISSING = (
    "Loihi 2 hardware needs lava-loihi (Intel's Lava extension for Loihi, distributed to INRC members) and a "
    "Loihi 2 system; lava-loihi is not installed here. Simulate bit-accurately instead with --backend lava-fixed"
)


class LavaBackend:
    """Lava's CPU simulator. mode 'fixed' runs a QuantizedNet bit-accurately; 'float' runs a SpikingNet."""

    def __init__(self, mode: str = "fixed", stock_lif: bool = False):
        if mode not in ("fixed", "float"):
            raise ValueError(f"mode must be 'fixed' or 'float', got {mode!r}")
        self.mode, self.stock_lif = mode, stock_lif
        self.name = f"lava-{mode}"

    def run_config(self):
        from lava.magma.core.run_configs import Loihi2SimCfg

        return Loihi2SimCfg(select_tag="fixed_pt" if self.mode == "fixed" else "floating_pt")

    def run(self, net, x: np.ndarray, steps: int, progress: Progress | None = None) -> Trace:
        frames, hold, events = self._frames(net, x, steps)
        from .network import run_batch  # imports Lava (seconds): only once the inputs are known to be right

        n = len(x)
        t0 = time.perf_counter()
        output, per_layer, per_neuron, scores = run_batch(net, frames, steps, self.mode == "fixed",
                                                          self.run_config(), self.stock_lif, progress, hold=hold)
        readout = output_scale(net)
        return Trace(
            backend=self.name, steps=steps, output_counts=output.reshape(n, -1).astype(np.int64),
            layer_spikes=per_layer.astype(np.int64), neuron_spikes=[c.astype(np.float64) for c in per_neuron],
            input_events=events, wall_s=time.perf_counter() - t0,
            output_scores=None if scores is None else output_scores(net, output.reshape(n, -1), scores.reshape(n, -1),
                                                                    readout),
        )

    def record(self, net, x: np.ndarray, steps: int) -> list[LayerRecord]:
        """Every population's u, v (after reset) and spikes at every step, (N, steps, *shape) each."""
        frames, hold, _ = self._frames(net, x, steps)
        from .network import record_states

        states = record_states(net, frames, steps, self.mode == "fixed", self.run_config(), hold=hold)
        # graded spikes (sigma-delta messages) keep their values; binary spikes are booleans
        return [LayerRecord(p.name, r["u"], r["v"], r["s"] if p.model.graded_output_bits else r["s"] != 0)
                for p, r in zip(net.populations, states)]

    def _frames(self, net, x, steps):
        """Source frames (one per sample held `steps` steps, or one per step under rate coding), hold,
        and the input events per input element."""
        fixed = self.mode == "fixed"
        check_network(net, self.name, quantized=fixed)
        net.validate()
        net.order(f"the {self.name} backend")  # Lava could run a cycle; neurokit's checks do not yet
        check_input_coding(net, encoding_of(net) == "rate")
        warn_latency(net, steps)
        x = check_inputs(net, x)
        if encoding_of(net) == "rate":
            check_encoding("rate", x)
            spikes = rate_spikes(x, steps)  # (N, T, *shape): one frame per step
            frames, hold = spikes.reshape((len(x) * steps,) + x.shape[1:]), 1
            events = spikes.sum((0, 1)).astype(np.float64)
        else:
            frames, hold = net.encode_input(x) if fixed else x, steps
            if encoding_of(net) == "delta":  # each sample's change from the one before
                events = delta_events(frames)
            else:
                events = (frames != 0).sum(0) * float(input_steps(net, steps))
        return frames.astype(np.int32 if fixed else np.float64), hold, events


def lava_loihi_installed() -> bool:
    from lava.utils import loihi

    return loihi.is_installed()


class LoihiBackend(LavaBackend):
    """Loihi 2 through Lava's Loihi2HwCfg. Uses Lava's stock LIF (reset to zero): ConversionLIF has no
    Loihi 2 microcode model, so the chip runs the network with reset to zero (reported as such)."""

    def __init__(self):
        if not lava_loihi_installed():
            raise BackendUnavailableError(LAVA_LOIHI_MISSING)
        super().__init__(mode="fixed", stock_lif=True)
        self.name = "loihi"

    def run_config(self):
        from lava.magma.core.run_configs import Loihi2HwCfg

        return Loihi2HwCfg(select_tag="fixed_pt")
