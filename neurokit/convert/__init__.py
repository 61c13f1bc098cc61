"""Stage 1: a trained torch ANN -> a normalized spiking NIR graph (IF neurons, reset by subtraction).

    graph = convert(model, calibration_inputs, percentile=99.9)

Chains and graphs (residual `x + f(x)`, `torch.cat`, modules used more than once) are read through
torch.fx (neurokit.convert.ann); each ReLU becomes a population (neurokit.convert.to_nir).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from ..encoding import check_encoding
from ..energy import ann_macs
from ..errors import InputShapeError, UnsupportedModelError
from ..network import READOUTS
from .ann import SUPPORTED, AnnGraph, forward_ops, read_chain, read_model
from .methods import METHODS, Inputs, Settings, method_function
from .to_nir import build_graph, population_macs, spiking_structure

__all__ = ["convert", "METHODS", "Settings", "SUPPORTED", "AnnGraph", "read_model", "read_chain", "forward_ops",
           "check_input_shape", "check_reading"]

READING_TOLERANCE = 1e-4  # relative: float64 graph against the model's own float32 forward (a misread op is O(1))


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


def check_reading(model: nn.Module, ann: AnnGraph, x: np.ndarray) -> None:
    """neurokit's reading of the model must compute what the model computes (a view that is not a flatten,
    an op fx records differently): compare outputs on a few samples."""
    with torch.no_grad():
        want = model.eval()(torch.as_tensor(x[:8], dtype=torch.float32)).double()
        got = ann.forward(torch.as_tensor(x[:8], dtype=torch.float64))
    if tuple(got.shape) != tuple(want.shape):
        raise UnsupportedModelError(f"neurokit reads the model's output as {tuple(got.shape[1:])}, the model gives "
                                    f"{tuple(want.shape[1:])}: an op was read differently from what it does")
    scale = float(want.abs().max()) or 1.0
    diff = float((got - want).abs().max())
    if diff > max(READING_TOLERANCE * scale, 1e-5):
        raise UnsupportedModelError(f"neurokit's reading of the model differs from its forward by {diff:.3g} "
                                    f"(outputs up to {scale:.3g}): an op (a reshape that is not a flatten, an "
                                    "in-place change) does something neurokit does not model")


def convert(model: nn.Module, calibration: np.ndarray, percentile: float = 99.9, v_init: float = 0.5,
            input_encoding: str = "current", method: str = "rate", train: tuple[np.ndarray, np.ndarray] | None = None,
            settings: Settings | None = None, readout: str = "spikes", replace_maxpool: str | None = None,
            return_ann: bool = False):
    """Convert `model` (eval mode) using `calibration` inputs (N, *input_shape) for normalization.

    method: one of neurokit.convert.methods.METHODS; the training methods also need `train` = (x, y).
    percentile, v_init: the rate method's normalization percentile (100 = max-norm) and initial membrane
        potential in thresholds. 0.5 turns the rate code's truncation error into a rounding error (half the
        mean error), which shortens the time steps needed for a given accuracy.
    settings: every method knob (overrides percentile and v_init when given).
    input_encoding: "current" (analog input every step) or "rate" (Bernoulli spikes); see neurokit.encoding.
    readout: "spikes" (argmax of the output population's spike counts) or "potential" (argmax of its
        integrated input, count + v / threshold; see neurokit.network.readout_of). Phase coding always reads
        potentials.
    replace_maxpool: "avg" reads MaxPool2d as AvgPool2d (otherwise MaxPool2d is refused).
    return_ann: also return the ANN graph the spiking network stands for (neurokit.convert.ann.AnnGraph:
        the model as read, or as a training method left it), as (graph, ann).
    """
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    settings = dataclasses.replace(settings or Settings(percentile=percentile, v_init=v_init), readout=readout)
    if not 0.0 <= settings.v_init < 1.0:
        raise ValueError(f"v_init must be in [0, 1) thresholds, got {settings.v_init}")
    run_method = method_function(method)
    if method == "phase" and input_encoding == "rate":  # the phase neuron integrates a held current
        raise UnsupportedModelError("phase coding takes current-coded input; convert with --input-coding current")
    if method == "sdnn":  # sigma-delta neurons read the input's changes, as netx's input Delta layer sends them
        if input_encoding == "rate":
            raise UnsupportedModelError("sigma-delta networks read delta-coded input, not rate spikes; convert "
                                        "with --input-coding current (neurokit delta-codes it)")
        input_encoding = "delta"
    elif input_encoding == "delta":
        raise UnsupportedModelError("delta-coded input is for sigma-delta networks (--method sdnn)")
    model = model.eval()
    calibration = np.asarray(calibration)
    input_shape = tuple(calibration.shape[1:])
    check_input_shape(model, calibration)
    check_encoding(input_encoding, calibration)
    ann = read_model(model, input_shape, replace_maxpool)
    if replace_maxpool is None:
        check_reading(model, ann, calibration)
    x_train, y_train = train if train is not None else (None, None)
    result = run_method(ann, Inputs(calibration, x_train, y_train), settings)
    structure = spiking_structure(result.ann, input_shape)
    p = settings.percentile
    macs = dict(ann_macs(result.ann, input_shape))
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
        "bn_folded": sorted({n for op in ann.ops for n in op.params.get("folded", [])}),
        "ann_macs": macs,  # per Linear/Conv2d, for energy reports
        "population_macs": population_macs(structure, macs),
        "structure": "chain" if ann.non_chain_op() is None else "graph",
        **({"maxpool_replaced": "avg"} if replace_maxpool == "avg" and _has_maxpool(model) else {}),
        **result.info,
    }
    graph = build_graph(result.ann, structure, result.scales, input_shape, info, result.v_init, result.neurons)
    return (graph, result.ann) if return_ann else graph


def _has_maxpool(model: nn.Module) -> bool:
    return any(isinstance(m, nn.MaxPool2d) for m in model.modules())
