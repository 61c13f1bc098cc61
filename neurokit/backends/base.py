"""The interface every backend shares: run(network, inputs, steps) -> Trace."""
from __future__ import annotations

import dataclasses
from typing import Callable, Protocol

import numpy as np

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
    from ..errors import UnsupportedModelError

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
