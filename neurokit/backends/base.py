"""The interface every backend shares: run(network, inputs, steps) -> Trace, and the rules they apply alike."""
from __future__ import annotations

import dataclasses
from typing import Callable, Protocol

import numpy as np

from ..errors import UnsupportedModelError
from ..network import INPUT, latency, readout_of
from ..trace import Trace

Progress = Callable[[int], None]  # called with the number of samples just finished


@dataclasses.dataclass
class LayerRecord:
    """One population's state after every step, as Lava's Monitors see it (u, v after reset):
    (N, T, *shape). Phase populations: u is the decaying accumulator, v the latched potential."""

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
    """A quantize.QuantizedNet (integer parameters), as opposed to a float neurokit.network.Network."""
    return hasattr(net, "input_scale")


def check_network(net, backend: str, quantized: bool, command: bool = False) -> None:
    """Fixed-point backends run a quantize.QuantizedNet, float ones a float neurokit.network.Network;
    command=True: `backend` is a neurokit command (verify, export) that takes a quantized one."""
    if quantized and not is_quantized(net):
        who = f"'neurokit {backend}'" if command else f"backend '{backend}'"
        raise UnsupportedModelError(f"{who} takes a quantized network and this is a float graph; quantize it first "
                                    "('neurokit quantize', or quantize.quantize)")
    if not quantized and is_quantized(net):
        raise UnsupportedModelError(f"backend '{backend}' runs the float spiking network; this one is quantized: "
                                    "use a fixed-point backend (lava-fixed) or the float NIR graph")


def check_inputs(net, x: np.ndarray) -> np.ndarray:
    from ..errors import InputShapeError

    x = np.asarray(x)
    shape = tuple(net.input_shape)
    nir_shape = tuple(net.metadata.get("nir_input_shape", ()))
    if nir_shape and x.ndim >= 1 + len(nir_shape) and tuple(x.shape[x.ndim - len(nir_shape):]) == nir_shape:
        x = x.reshape(x.shape[:x.ndim - len(nir_shape)] + shape)  # (C, L) samples for a (C, 1, L) Conv1d input
    if x.ndim >= 1 and tuple(x.shape[1:]) == shape:
        return x
    if x.ndim >= 2 and tuple(x.shape[2:]) == shape:
        if x.shape[1] < 1:
            raise InputShapeError("the input sequences have 0 steps; pass (N, T, ...) with T >= 1")
        return x
    raise InputShapeError(f"inputs of shape {tuple(x.shape[1:])} do not match the network input {shape}; pass an "
                          f"array (N, {', '.join(map(str, shape))}), or (N, T, {', '.join(map(str, shape))}) for "
                          "sequences")


def is_sequence(net, x: np.ndarray) -> bool:
    """Whether x (checked by check_inputs) holds a sequence per sample (N, T, *input) rather than one input
    the network holds for every step."""
    return np.ndim(x) == len(net.input_shape) + 2


def sequence_steps(x: np.ndarray, steps: int) -> np.ndarray:
    """The first `steps` frames of each sequence (N, T, ...), zeros after its end."""
    if x.shape[1] >= steps:
        return x[:, :steps]
    pad = np.zeros((x.shape[0], steps - x.shape[1]) + x.shape[2:], x.dtype)
    return np.concatenate([x, pad], axis=1)


# ---- rules every backend applies the same way ------------------------------------------------------------

def check_input_coding(net, rate: bool) -> None:
    """Some neuron models integrate a held current (phase coding): Bernoulli input spikes are not for them."""
    if not rate:
        return
    for q in net.outgoing(INPUT):
        model = net.population(q.target).model
        if not model.takes_rate_input:
            raise UnsupportedModelError(f"population {q.target} ({model.name}) takes current-coded input; convert "
                                        "with --input-coding current")


def input_steps(net, steps: int) -> int:
    """Steps in which the held input counts as sent: every step, unless every population reading it reads
    it during a window only (a phase-coded first population reads it in one step, so a deployment sends it
    once)."""
    readers = [net.population(q.target) for q in net.outgoing(INPUT)]
    return max((p.model.input_read_steps(p.neuron, steps) for p in readers), default=steps)


def output_scale(net) -> float | None:
    """For a net read out by potential (neurokit.network.readout_of): raw v per threshold of its output
    population (1 for a float net, vth << 6 for a quantized one); None when the output is spike counts."""
    if readout_of(net) != "potential":
        return None
    out = net.output_population
    return out.model.output_scale(out.neuron, getattr(net, "arithmetic", None))


def output_scores(net, counts: np.ndarray, last_v: np.ndarray, scale: float) -> np.ndarray:
    """Potential readout in thresholds, as the output population's model reads it (an IF population: spike
    count + v / threshold, its integrated input; a phase population: its latched v / threshold)."""
    v = np.asarray(last_v, np.float64).reshape(len(last_v), -1) / scale
    return net.output_population.model.scores(np.asarray(counts).reshape(len(counts), -1), v)


def warn_latency(net, steps: int) -> None:
    """A network run for fewer steps than its output needs gives scores of 0: say so."""
    import warnings

    need = latency(net)
    if need is not None and steps < need:
        warnings.warn(f"a phase-coded network latches its output after {need} "
                      f"steps; {steps} steps give no output (scores 0)", stacklevel=3)
