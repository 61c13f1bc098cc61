"""Data-based weight normalization (Rueckauer et al. 2017, Front. Neurosci. 11:682).

Layer l's weights scale by lambda(l-1)/lambda(l) and its bias by 1/lambda(l), where lambda(l) is
the p-th percentile of layer l's positive activations on calibration data (p=100 is max-norm).
Then every spiking layer has threshold 1 in normalized units.
"""
from __future__ import annotations

import numpy as np
import torch

from .chain import forward_ops


def activation_scales(ops, groups, calibration: np.ndarray, percentile: float, batch: int = 256) -> list[float]:
    """lambda per spiking layer: percentile of the positive activations at each neuron point."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    collected: list[list[np.ndarray]] = [[] for _ in groups]
    with torch.no_grad():
        for i in range(0, len(calibration), batch):
            x = torch.as_tensor(calibration[i:i + batch], dtype=torch.float64)
            _, outs = forward_ops(ops, x, record=True)
            for g, group in enumerate(groups):
                a = outs[group.activation_op].numpy().ravel()
                collected[g].append(a[a > 0])
    scales = []
    for values in collected:
        v = np.concatenate(values)
        # A layer that never activates keeps lambda = 1 (no rescaling) rather than dividing by zero.
        scales.append(float(np.percentile(v, percentile)) if v.size else 1.0)
    return scales
