"""The interface every neuron model provides, and the registry stages look models up in."""
from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from ..errors import UnsupportedModelError


@dataclasses.dataclass
class QuantizedNeuron:
    """A model's fixed-point parameters for one population, with what quantization did to them."""

    params: object
    bias: dict  # quantize.discretize.quantize_bias statistics
    report: dict  # model-specific facts for the quantization report
    notes: list  # lines for the report


class NeuronModel(Protocol):
    name: str
    forced_readout: str | None  # a readout the model imposes on an output population (None: the network's)
    rate_coded: bool  # the output is a rate code: spike counts per step approximate activations
    takes_rate_input: bool  # may read Bernoulli-coded (rate) network input
    u_wraps: bool  # u wraps at the state width (False: it saturates)
    stream: bool  # runs as one stream without reset (sigma-delta) instead of a fresh window per sample
    bias_shift: int | None  # the bias is held << this fixed shift (None: it has its own exponent)
    plans_scales: bool  # quantize plans its populations' scales together (quantize.discretize.plan_scales)
    graded_output_bits: int  # > 0: sends graded spikes of this many bits (0: binary spikes)
    state_vars: tuple  # the Lava process's two state Vars a recorder reads as u and v

    # -- files
    def matches_nir(self, node) -> bool: ...
    def from_nir(self, name: str, node, shape: tuple) -> tuple[object, np.ndarray]:
        """(float parameters in thresholds, gain per neuron to fold into every projection into it)."""
    def to_nir(self, params, shape: tuple): ...
    def to_qnir(self, params, shape: tuple, arith): ...
    def from_qnir(self, name: str, node, shape: tuple): ...
    def check_integers(self, pop, need) -> None:
        """need(ok, what, value, allowed) for every integer of a quantized population (quantize.qnet)."""

    # -- quantization
    def scaled_bias(self, net, pop) -> np.ndarray:
        """The float bias per neuron (thresholds per step) the integer scale must carry."""
    def scale_caps(self, pop, bias: np.ndarray, lim, headroom: float, demand: dict) -> dict:
        """Bounds on the population's integer scale V other than its weights' (quantize.discretize); demand:
        what the calibration data asks of the population (quantize.headroom.rate_demand)."""
    def message_scale(self, params) -> float:
        """Integer message units per activation unit of what the population sends (1 for a spike)."""
    def quantize(self, net, pop, vth: int, lim, profile) -> QuantizedNeuron: ...
    def headroom(self, projections, pop, demand: dict, profile, x_int, arith) -> dict:
        """How close the quantized population comes to the state limits (quantize.headroom)."""
    def integer_scale(self, params) -> int:
        """V: the integer weight per normalized weight and message unit (vth for spiking models)."""

    def netx_neuron(self, pop, net) -> tuple[dict, np.ndarray]:
        """lava-dl netx's neuron group for the population and its integer bias (neurokit.netx)."""
    def stock_loihi2(self, params) -> str | None:
        """None when Loihi 2 runs the population with stock neurons, else why not (neurokit.targets)."""

    # -- simulation
    def engine(self, pop, xp, arith):
        """The engine's neuron group for this population (fixed point for integer parameters)."""
    def lava(self, pop, fixed: bool, steps: int, stock: bool = False, offset: int | None = None):
        """A Lava process for this population, windows of `steps` steps (stock: Lava's own process; offset:
        the step of each window's start, pipelined windows)."""
    def output_scale(self, params, arith) -> float:
        """Raw v per threshold (1 for float parameters)."""
    def scores(self, counts: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Potential readout in thresholds from spike counts and v / threshold at the window's end."""
    def latency(self, params) -> int | None: ...
    def input_read_steps(self, params, steps: int) -> int:
        """Steps in which a projection from the held network input into this population counts as sent."""


class ThresholdScale:
    """The quantization rules of a spiking model with a threshold: its integer scale V is vth (one threshold),
    bounded by the threshold's width, the state headroom and the bias range; a spike is one threshold's worth
    of input; u and v headroom as quantize.headroom computes it."""

    def scale_caps(self, pop, bias: np.ndarray, lim, headroom: float, demand: dict) -> dict:
        from quantize.discretize import threshold_caps

        return threshold_caps(bias, lim, headroom)

    def message_scale(self, params) -> float:
        return 1.0  # a spike is one threshold's worth of input

    def message_units(self, scale: float) -> float:
        return 1.0

    def headroom(self, projections, pop, demand: dict, profile, x_int, arith) -> dict:
        from quantize.headroom import population_headroom

        return population_headroom(projections, pop, demand, profile, x_int, arith)

    def integer_scale(self, params) -> int:
        return int(params.vth)


_MODELS: dict[str, NeuronModel] = {}


def register(model: NeuronModel) -> NeuronModel:
    _MODELS[model.name] = model
    return model


def model_named(name: str) -> NeuronModel:
    if name not in _MODELS:
        raise UnsupportedModelError(f"neuron model '{name}' is unknown; neurokit knows {', '.join(_MODELS)}")
    return _MODELS[name]


def model_of(params) -> NeuronModel:
    """The model a population's parameters belong to."""
    return model_named(getattr(type(params), "model", "?"))


def model_for_nir(name: str, node) -> NeuronModel:
    """The model that reads NIR neuron node `node` (named `name`), or a one-line error."""
    for m in _MODELS.values():
        if m.matches_nir(node):
            return m
    raise UnsupportedModelError(f"NIR neuron '{name}' ({type(node).__name__}, metadata neuron="
                                f"{(getattr(node, 'metadata', None) or {}).get('neuron')!r}) has no neuron model in "
                                f"neurokit; known: {', '.join(_MODELS)}")


def broadcast(name: str, what: str, value, shape) -> np.ndarray:
    """A NIR parameter broadcast to the population's shape, or a one-line error."""
    try:
        return np.broadcast_to(np.asarray(value, np.float64), tuple(shape)).copy()
    except ValueError:
        raise UnsupportedModelError(f"NIR neuron '{name}': {what} of shape {np.shape(value)} does not match its "
                                    f"input {tuple(shape)}") from None
