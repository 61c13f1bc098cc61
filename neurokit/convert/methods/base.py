"""What every conversion method receives and returns.

A method reads the ANN graph (neurokit.convert.ann.AnnGraph, BatchNorm folded), may retrain it, and returns
a `Converted`: the graph whose ReLU outputs the spiking populations stand for, one scale per population
(the activation that one threshold, i.e. one spike per step, represents), and the neuron settings.
`build_graph` turns that into the same NIR graph for every method, so quantize, fit and run need nothing
method-specific (phase coding gives its populations the phase neuron model). The methods that train take
chain models (`AnnGraph.chain`); `rate` takes any graph.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ...errors import NeurokitError


@dataclasses.dataclass
class Settings:
    """Knobs shared by the methods; each method documents which it reads."""

    percentile: float = 99.9  # activation percentile behind every data-based scale (100: max-norm)
    v_init: float = 0.5  # initial membrane potential in thresholds
    target_steps: int | None = None  # the T a method tunes for (None: the method's default; see target())
    epochs: int | None = None  # training epochs (None: the method's default)
    lr: float | None = None  # learning rate (None: the method's default)
    seed: int = 0
    stock: bool = False  # lasnn: train and export Loihi 2's stock LIF (reset to zero, pipelined windows)
    delta_threshold: float = 0.0  # sdnn: a sigma-delta population's delta threshold, in units of its scale
    readout: str = "spikes"  # how the deployed net reads its class (neurokit.network.readout_of); set by convert

    def target(self, default: int) -> int:
        """target_steps, or the method's `default` when the caller left it unset."""
        return int(default if self.target_steps is None else self.target_steps)


@dataclasses.dataclass
class Inputs:
    """Data a method may use: unlabelled calibration samples, and labelled training samples for the
    methods that train (None when the caller has none)."""

    calibration: np.ndarray
    x_train: np.ndarray | None = None
    y_train: np.ndarray | None = None

    def labelled(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        if self.x_train is None or self.y_train is None or len(self.x_train) == 0:
            raise NeurokitError(f"conversion method '{method}' trains on labelled data; pass training samples "
                                "(the CLI takes them from --data)")
        return self.x_train, self.y_train


@dataclasses.dataclass
class Converted:
    """A method's result, which build_graph lowers to NIR."""

    ann: object  # the ANN graph (ann.AnnGraph), possibly retrained
    scales: list[float]  # per population: the activation one threshold stands for
    v_init: float = 0.0  # initial v in thresholds, every population
    neurons: list | None = None  # float neuron parameters per population (None: IF, reset by subtraction)
    info: dict = dataclasses.field(default_factory=dict)  # method-specific facts for the graph's metadata

    @property
    def ops(self) -> list:
        """The ops of a chain model (the training methods' view)."""
        return self.ann.chain("this method")
