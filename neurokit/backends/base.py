"""The interface every backend shares: run(network, inputs, steps) -> Trace."""
from __future__ import annotations

import dataclasses
from typing import Callable, Protocol

import numpy as np

from ..errors import UnsupportedModelError
from ..network import phase_latency, readout_of
from ..trace import Trace

Progress = Callable[[int], None]  # called with the number of samples just finished


@dataclasses.dataclass
class LayerRecord:
    """One layer's state after every step, as Lava's Monitors see it (u, v after reset): (N, T, *out_shape).
    Phase layers (PhaseNeuron): u is the decaying accumulator, v the latched potential."""

    name: str
    u: np.ndarray
    v: np.ndarray
    spikes: np.ndarray


class Backend(Protocol):
    name: str

    def run(self, net, x: np.ndarray, steps: int, progress: Progress | None = None) -> Trace:
        """Simulate `steps` time steps per sample of `x` (N, *input_shape); state starts at zero per sample."""
        ...


def is_quantized(net) -> bool:
    """A quantize.QuantizedNet (integer parameters), as opposed to a float neurokit.network.SpikingNet."""
    return hasattr(net, "input_scale")


def check_network(net, backend: str, quantized: bool) -> None:
    """Fixed-point backends run a quantize.QuantizedNet, float ones a neurokit.network.SpikingNet."""
    if quantized and not is_quantized(net):
        raise UnsupportedModelError(f"backend '{backend}' runs a quantized network; quantize it first "
                                    "(quantize.quantize or 'neurokit quantize')")
    if not quantized and is_quantized(net):
        raise UnsupportedModelError(f"backend '{backend}' runs the float spiking network; this one is quantized: "
                                    "use a fixed-point backend (lava-fixed) or the float NIR graph")


def check_inputs(net, x: np.ndarray) -> np.ndarray:
    from ..errors import InputShapeError

    x = np.asarray(x)
    if x.ndim < 1 or tuple(x.shape[1:]) != tuple(net.input_shape):
        raise InputShapeError(f"inputs of shape {tuple(x.shape[1:])} do not match the network input "
                              f"{tuple(net.input_shape)}; pass an array (N, {', '.join(map(str, net.input_shape))})")
    return x


# ---- phase coding and the potential readout: what every backend does the same way ----------------------

def check_phase(net, rate: bool) -> None:
    """Phase layers integrate a held (current-coded) input; Bernoulli input spikes are not a phase code."""
    if rate and any(l.phase is not None for l in net.layers):
        raise UnsupportedModelError("phase-coded networks take current-coded input; convert with --input-coding current")


def input_steps(net, steps: int) -> int:
    """Steps in which the held input counts as sent: every step, except for a phase-coded first layer, which
    reads it only during its integration window (one step), so a deployment sends it once."""
    first = net.layers[0].phase
    if first is None:
        return steps
    return max(0, min(steps, first.offset + first.integrate) - first.offset)


def output_scale(net) -> float | None:
    """For a net read out by potential (neurokit.network.readout_of): raw v per threshold of its output
    layer (1 for a float net, vth << 6 for a quantized one); None when the output is spike counts."""
    if readout_of(net) != "potential":
        return None
    last = net.layers[-1]
    return float(last.vth << 6) if hasattr(last, "vth") else 1.0


def output_scores(net, counts: np.ndarray, last_v: np.ndarray, scale: float) -> np.ndarray:
    """Potential readout in thresholds: an IF layer's spike count + v / threshold (its integrated input), a
    phase layer's latched v / threshold."""
    scores = np.asarray(last_v, np.float64).reshape(len(last_v), -1) / scale
    return scores if net.layers[-1].phase is not None else scores + np.asarray(counts).reshape(len(counts), -1)


def warn_latency(net, steps: int) -> None:
    """A phase-coded net run for fewer steps than it needs to latch its output gives scores of 0: say so."""
    import warnings

    need = phase_latency(net)
    if need is not None and steps < need:
        warnings.warn(f"a phase-coded network latches its output after {need} "
                      f"steps; {steps} steps give no output (scores 0)", stacklevel=3)
