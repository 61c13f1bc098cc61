"""Rate conversion, the textbook baseline (Rueckauer et al. 2017; Diehl et al. 2015).

Integrate-and-fire neurons with reset by subtraction, bias as a constant current, data-based
normalization: each layer's scale is the `percentile` of its positive activations on calibration data
(100 = max-norm, Diehl et al.; 99.9 / 99.99 = robust norm, Rueckauer et al.), and v starts at
`v_init` thresholds (0.5 turns the rate code's truncation into rounding).
Reads Settings.percentile and Settings.v_init.
"""
from __future__ import annotations

from ..normalize import population_scales
from .base import Converted, Inputs, Settings


def convert_rate(ann, inputs: Inputs, settings: Settings) -> Converted:
    """Any graph: chains, residual and branching models."""
    return Converted(ann, population_scales(ann, inputs.calibration, settings.percentile), settings.v_init)
