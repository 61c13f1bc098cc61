"""Data-based weight normalization (Rueckauer et al. 2017, Front. Neurosci. 11:682).

A term from population s into population p gets weight W lambda(s)/lambda(p), p's bias b/lambda(p),
where lambda(p) is the p-th percentile of p's positive activations on calibration data (p = 100 is
max-norm). Then every population has threshold 1 in normalized units, whatever feeds it.
"""
from __future__ import annotations

import numpy as np
import torch


def activation_scales(graph, structure, calibration: np.ndarray, percentile: float, batch: int = 256,
                      observe=None) -> list[float]:
    """lambda per population (neurokit.convert.to_nir.spiking_structure): the percentile of the positive
    activations of the op it stands for. observe({op name: output}), when given, sees every batch's recorded
    forward too, so a method that needs more from the same pass does not run the ANN again."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    collected: list[list[np.ndarray]] = [[] for _ in structure]
    with torch.no_grad():
        for i in range(0, len(calibration), batch):
            # float32: a percentile of activations needs no more than its 24-bit mantissa (the scales it sets
            # end in 8-bit weights), and float64 convolutions cost about 4.5x on a CPU (no oneDNN kernels)
            x = torch.as_tensor(calibration[i:i + batch], dtype=torch.float32)
            _, values = graph.forward(x, record=True)
            if observe is not None:
                observe(values)
            for k, spec in enumerate(structure):
                a = values[spec.op].numpy().ravel()
                collected[k].append(a[a > 0])
    scales = []
    for values in collected:
        v = np.concatenate(values).astype(np.float64)
        # A population that never activates keeps lambda = 1 (no rescaling) rather than dividing by zero.
        scales.append(float(np.percentile(v, percentile)) if v.size else 1.0)
    return scales


def population_scales(ann, calibration: np.ndarray, percentile: float, observe=None) -> list[float]:
    """activation_scales of every population of the ANN graph `ann` (neurokit.convert.ann.AnnGraph)."""
    from .to_nir import spiking_structure

    structure = spiking_structure(ann, tuple(np.shape(calibration)[1:]))
    return activation_scales(ann, structure, calibration, percentile, observe=observe)
