"""Lava's array layouts, apart from Lava itself (the netx file and the Lava builder share them).

neurokit keeps torch's (C, H, W); Lava's neuron processes and netx files use (X, Y, C) = (W, H, C), and
Lava's Conv flips the kernel (lava/proc/conv/utils.py conv()); Dense weights reading a (C, H, W) population
in Lava's layout need their columns in Lava's flattening order.
"""
from __future__ import annotations

import numpy as np


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(reversed(shape)) if len(shape) == 3 else tuple(shape)


def to_lava(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(2, 1, 0)) if a.ndim == 3 else a


def from_lava(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(2, 1, 0)) if len(shape) == 3 else a.reshape(shape)


def lava_conv_weight(w: np.ndarray) -> np.ndarray:
    """torch (C_out, C_in, kH, kW) -> Lava (C_out, kW, kH, C_in), flipped to undo Lava's flip."""
    return np.ascontiguousarray(w.transpose(0, 3, 2, 1)[:, ::-1, ::-1])


def lava_dense_weight(w: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """Columns reordered from torch's (C, H, W) flattening to Lava's (W, H, C) flattening."""
    if len(in_shape) != 3:
        return w
    c, h, wd = in_shape
    return np.ascontiguousarray(w.reshape(-1, c, h, wd).transpose(0, 3, 2, 1).reshape(w.shape[0], -1))
