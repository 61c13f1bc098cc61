"""Stage 1: a trained torch ANN -> a normalized spiking NIR graph (IF neurons, reset by subtraction).

    graph = convert(model, calibration_inputs, percentile=99.9)
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from ..encoding import check_encoding
from ..energy import ann_macs
from ..errors import InputShapeError, UnsupportedModelError
from .chain import SUPPORTED, forward_ops, read_chain
from ..network import READOUTS
from .methods import METHODS, Inputs, Settings, method_function
from .to_nir import build_graph, group_ops

__all__ = ["convert", "METHODS", "Settings", "SUPPORTED", "read_chain", "forward_ops", "check_input_shape"]


def check_input_shape(model: nn.Module, x: np.ndarray) -> None:
    """Fail with one line if samples shaped like x cannot go through the model."""
    try:
        with torch.no_grad():
            model.eval()(torch.as_tensor(x[:1], dtype=torch.float32))
    except RuntimeError as e:
        raise InputShapeError(
            f"input of shape {tuple(x.shape[1:])} does not fit the model ({str(e).splitlines()[0]}); "
            "pass data shaped like the model's training input"
        ) from None


def convert(model: nn.Module, calibration: np.ndarray, percentile: float = 99.9, v_init: float = 0.5,
            input_encoding: str = "current", method: str = "rate", train: tuple[np.ndarray, np.ndarray] | None = None,
            settings: Settings | None = None, readout: str = "spikes"):
    """Convert `model` (eval mode) using `calibration` inputs (N, *input_shape) for normalization.

    method: one of neurokit.convert.methods.METHODS; the training methods also need `train` = (x, y).
    percentile, v_init: the rate method's normalization percentile (100 = max-norm) and initial membrane
        potential in thresholds. 0.5 turns the rate code's truncation error into a rounding error (half the
        mean error), which shortens the time steps needed for a given accuracy.
    settings: every method knob (overrides percentile and v_init when given).
    input_encoding: "current" (analog input every step) or "rate" (Bernoulli spikes); see neurokit.encoding.
    readout: "spikes" (argmax of the output layer's spike counts) or "potential" (argmax of its integrated
        input, count + v / threshold; see neurokit.network.readout_of). Phase coding always reads potentials.
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    settings = dataclasses.replace(settings or Settings(percentile=percentile, v_init=v_init), readout=readout)
    if not 0.0 <= settings.v_init < 1.0:
        raise ValueError(f"v_init must be in [0, 1) thresholds, got {settings.v_init}")
    run_method = method_function(method)
    if method == "phase" and input_encoding == "rate":  # the phase neuron integrates a held current
        raise UnsupportedModelError("phase coding takes current-coded input; convert with --input-coding current")
    model = model.eval()
    calibration = np.asarray(calibration)
    check_input_shape(model, calibration)
    check_encoding(input_encoding, calibration)
    ops = read_chain(model)
    x_train, y_train = train if train is not None else (None, None)
    result = run_method(ops, Inputs(calibration, x_train, y_train), settings)
    groups = group_ops(result.ops)
    p = settings.percentile
    info = {
        "method": method,
        "normalization": "max" if p == 100 else f"percentile {p}",
        "percentile": p,
        "lambdas": [float(s) for s in result.scales],
        "calibration_samples": int(len(calibration)),
        "reset": "subtract",
        "v_init": result.v_init,
        "input_encoding": input_encoding,
        "readout": readout,
        "bn_folded": sorted({n for op in ops for n in op.params.get("folded", [])}),
        "ann_macs": dict(ann_macs(ops, tuple(calibration.shape[1:]))),  # per Linear/Conv2d, for energy reports
        **result.info,
    }
    return build_graph(result.ops, groups, result.scales, tuple(calibration.shape[1:]), info, result.v_init,
                       result.neuron_metadata)
