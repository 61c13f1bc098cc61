"""Conversion methods, one module each; `neurokit convert --method NAME` picks one.

    rate      data-normalized rate coding: max-norm or percentile norm, v_init, bias as current (rate.py)
    tcl       trainable clipping layers, Ho & Chang 2020 (tcl.py)
    ratenorm  rate-norm layers and the optimal fitting curve's threshold shift, Ding et al. 2021 (ratenorm.py)
    phase     single-spike phase coding with base manipulation, Hwang & Kung 2024 (phase.py)
    lasnn     layer-wise ANN-to-SNN distillation, Hong et al. 2023 (lasnn.py)
    sdnn      the ANN on Loihi 2's stock sigma-delta neurons, as lava-dl netx deploys it (sdnn.py)
    lif       rate coding on Loihi 2's stock LIF (reset to zero, pipelined windows), threshold balancing (lif.py)

Each is `convert_<name>(ops, inputs: Inputs, settings: Settings) -> Converted` (see base.py).
"""
from __future__ import annotations

import importlib

from .base import Converted, Inputs, Settings

METHODS = {
    "rate": "data-normalized rate coding (max / percentile norm, v_init, bias as current)",
    "tcl": "trainable clipping layers (Ho & Chang 2020): lambda per layer learned, used as threshold",
    "ratenorm": "rate-norm layers + optimal fitting curve threshold shift (Ding et al. 2021)",
    "phase": "single-spike phase coding with base manipulation (Hwang & Kung 2024)",
    "lasnn": "layer-wise ANN-to-SNN distillation of an LIF student (Hong et al. 2023)",
    "sdnn": "sigma-delta neurons (Lava SigmaDelta, netx SDNN): stock on Loihi 2, graded delta spikes",
    "lif": "rate coding on Loihi 2's stock LIF (LIFReset: reset to zero, pipelined windows), calibrated "
           "threshold balancing",
}
TRAINS = ("tcl", "ratenorm", "lasnn")  # methods that need labelled training data

__all__ = ["METHODS", "TRAINS", "Converted", "Inputs", "Settings", "method_function"]


def method_function(name: str):
    if name not in METHODS:
        raise ValueError(f"unknown conversion method '{name}'; choose one of {', '.join(METHODS)}")
    module = importlib.import_module(f"{__name__}.{name}")
    return getattr(module, f"convert_{name}")
