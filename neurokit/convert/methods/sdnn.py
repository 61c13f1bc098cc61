"""Sigma-delta conversion: the ANN itself on Loihi 2's stock SigmaDelta neurons (lava-dl netx SDNN), the
way Intel deploys ANNs on Loihi 2 (PilotNet SDNN; Shrestha et al. 2024, "Efficient video and audio
processing with Loihi 2").

Each ReLU becomes a sigma-delta population (neurokit.neurons.sigma_delta) whose act is the ReLU's output in
units of a data-based scale lambda (the `percentile` of its activations, as in rate conversion), so
weights and biases are the ANN's, rescaled. No training, no time code: a population's act equals the
ANN's activation once its input has arrived, one synaptic delay per layer. The delta threshold
(Settings.delta_threshold, in units of lambda) is the accuracy / traffic knob: 0 sends every change.
Any graph (chains, residual, branching); the input is delta-coded.

A population without a ReLU in the ANN (the output layer's logits) still has the SigmaDelta's ReLU (netx
builds every SDNN layer with it). Its bias is raised by a constant offset, the most negative value the
calibration data gives it (plus a quarter), so the ReLU does not clip: the argmax and every difference
between classes are the ANN's; its act is the logit plus the offset (recorded in the graph's metadata).
Reads Settings.percentile and Settings.delta_threshold.
"""
from __future__ import annotations

import numpy as np

from ...neurons import SigmaDelta
from ..normalize import population_scales
from ..to_nir import spiking_structure
from .base import Converted, Inputs, Settings


def convert_sdnn(ann, inputs: Inputs, settings: Settings) -> Converted:
    if settings.delta_threshold < 0:
        raise ValueError(f"the delta threshold must be >= 0 (units of each layer's scale), got {settings.delta_threshold}")
    input_shape = tuple(np.asarray(inputs.calibration).shape[1:])
    shapes = ann.shapes(input_shape)
    structure = spiking_structure(ann, input_shape)
    lowest = _LowestValues(structure)
    scales = population_scales(ann, inputs.calibration, settings.percentile, observe=lowest)  # one forward for both
    offsets = lowest.offsets(scales)
    neurons = [SigmaDelta(bias=np.full(shapes[spec.op], offsets.get(spec.op, 0.0)), vth=float(settings.delta_threshold))
               for spec in structure]
    info = {"neuron": "sigma-delta (Lava SigmaDelta, netx SDNN)", "reset": "none (stream)",
            "delta_threshold": float(settings.delta_threshold), "input_encoding": "delta", "readout": "potential",
            "act_offsets": offsets}
    return Converted(ann, scales, 0.0, neurons, info)


class _LowestValues:
    """For each population without a ReLU: the offset (units of its scale) that keeps its values >= 0 on the
    calibration data, 1.25 times the most negative one. Called with each batch's recorded forward
    (normalize.activation_scales' observe), so the ANN runs over the calibration data once, not twice."""

    def __init__(self, structure):
        self.wanted = {spec.op: k for k, spec in enumerate(structure) if not spec.has_relu}
        self.lowest = {op: 0.0 for op in self.wanted}

    def __call__(self, values: dict) -> None:
        for op in self.wanted:
            self.lowest[op] = min(self.lowest[op], float(values[op].min()))

    def offsets(self, scales: list[float]) -> dict:
        return {op: 1.25 * -self.lowest[op] / scales[k] for op, k in self.wanted.items()}
