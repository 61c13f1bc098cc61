"""Rate conversion, the textbook baseline (Rueckauer et al. 2017; Diehl et al. 2015).

Integrate-and-fire neurons with reset by subtraction, bias as a constant current, data-based
normalization: each layer's scale is the `percentile` of its positive activations on calibration data
(100 = max-norm, Diehl et al.; 99.9 / 99.99 = robust norm, Rueckauer et al.), and v starts at
`v_init` thresholds (0.5 turns the rate code's truncation into rounding).
Reads Settings.percentile and Settings.v_init.
"""
from __future__ import annotations

from ..normalize import activation_scales
from ..to_nir import group_ops
from .base import Converted, Inputs, Settings


def convert_rate(ops, inputs: Inputs, settings: Settings) -> Converted:
    scales = activation_scales(ops, group_ops(ops), inputs.calibration, settings.percentile)
    return Converted(ops, scales, settings.v_init)
