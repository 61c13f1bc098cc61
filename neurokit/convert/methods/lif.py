"""Rate conversion onto Loihi 2's stock LIF (Lava's LIFReset, netx's CUBA layers): reset to zero, v starting
at 0 in every window, pipelined windows (a layer at depth d restarts d steps after the input, netx's
reset_offset, so every layer sees a sample's whole T steps; neurokit.network.windows_of).

Reset to zero loses the overshoot v - threshold at every spike (reset by subtraction keeps it): a neuron
driven by a per step (in thresholds) fires every ceil(1 / a) steps instead of a times per step, so rates,
and layer after layer the output, fall short. The remedy measured here is threshold balancing: every
layer's threshold is lowered by one factor alpha (its scale lambda times alpha: the data-based
normalization of `rate`, then alpha), which raises the rates the truncation cuts down. alpha is chosen on
calibration data: the float SNN on the stock neuron, at the T the method tunes for, against the ANN's
classes; every candidate's agreement goes into the graph's metadata. (The other remedies: fine-tuning
on the reset-to-zero neuron, LaSNN / TCL style, is future work; sigma-delta, method sdnn, avoids the
problem: its neurons carry the ReLU's value, not a rate.)
Reads Settings.percentile and Settings.target_steps (default 32).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from ...neurons import Cuba
from ..normalize import population_scales
from ..to_nir import build_graph, spiking_structure
from .base import Converted, Inputs, Settings

ALPHAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)
SEARCH_SAMPLES = 256
DEFAULT_STEPS = 32


def convert_lif(ann, inputs: Inputs, settings: Settings) -> Converted:
    from ...backends.engine import Engine
    from ...lower import from_nir

    x = np.asarray(inputs.calibration)
    input_shape = tuple(x.shape[1:])
    shapes = ann.shapes(input_shape)
    structure = spiking_structure(ann, input_shape)
    neurons = [Cuba(bias=np.zeros(shapes[s.op]), v_init=np.zeros(shapes[s.op]), reset="zero") for s in structure]
    base = population_scales(ann, x, settings.percentile)
    steps = settings.target(DEFAULT_STEPS)
    probe = x[:SEARCH_SAMPLES]
    with torch.no_grad():
        want = ann.forward(torch.as_tensor(probe, dtype=torch.float64)).argmax(1).numpy()
    info = {"neuron": "Loihi 2 stock LIF (LIFReset: reset to zero, v from 0)", "reset": "zero", "windows": "pipelined",
            "v_init": 0.0}
    agreement = {}
    for alpha in ALPHAS:
        scales = [s * alpha for s in base]
        graph = build_graph(ann, structure, scales, input_shape, {**info, "readout": settings.readout}, 0.0, neurons)
        net = from_nir(graph)
        net.metadata.update(windows="pipelined", readout=settings.readout)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = Engine("float", device="cpu").run(net, probe, steps).predictions()
        agreement[alpha] = float(np.mean(got == want))
    alpha = max(ALPHAS, key=lambda a: (agreement[a], a))  # ties: the smaller change
    info["threshold_balancing"] = {"alpha": alpha, "steps": steps, "samples": int(len(probe)),
                                   "agreement_with_ann": {str(a): v for a, v in agreement.items()}}
    return Converted(ann, [s * alpha for s in base], 0.0, neurons, info)
