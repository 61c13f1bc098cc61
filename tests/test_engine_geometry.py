"""geometry.folded_pool: which kernels are a pooling folded into a convolution, and that sum pooling + the small
kernel gives exactly the folded convolution's integer sums."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from neurokit.backends.engine.geometry import conv_geometry, folded_pool, sum_pool


def proj(in_shape, stride, padding, dilation=(1, 1), groups=1):
    return types.SimpleNamespace(in_shape=in_shape, stride=stride, padding=padding, dilation=dilation, groups=groups)


def folded(k, p, c_out=3, c_in=2, seed=0):
    w = np.random.default_rng(seed).integers(-200, 200, (c_out, c_in, k, k))
    return np.repeat(np.repeat(w, p, axis=2), p, axis=3)


@pytest.mark.parametrize("p, k, stride, pad, hw", [(2, 3, 1, 1, 8), (2, 1, 1, 0, 6), (3, 3, 1, 1, 9), (2, 3, 2, 0, 12)])
def test_pooled_sums_equal_the_folded_convolution(p, k, stride, pad, hw):
    w = folded(k, p)
    pr = proj((2, hw, hw), (stride * p,) * 2, (pad * p,) * 2)
    g, small = conv_geometry(w, pr)
    assert g.pool == p and small.shape == (3, 2, k, k)
    x = torch.as_tensor(np.random.default_rng(1).integers(0, 256, (5, 2, hw, hw)), dtype=torch.float64)
    full = torch.nn.functional.conv2d(x, torch.as_tensor(w, dtype=torch.float64), None, pr.stride, pr.padding)
    pooled = torch.nn.functional.conv2d(sum_pool(x, p), torch.as_tensor(small, dtype=torch.float64), None,
                                        g.stride, g.padding)
    assert torch.equal(full, pooled)


def test_kernels_that_are_not_folded_poolings_stay_as_they_are():
    w = folded(3, 2)
    assert folded_pool(w, proj((2, 8, 8), (2, 2), (2, 2))) == 2
    odd = w.copy()
    odd[0, 0, 0, 1] += 1  # one weight breaks its block
    assert folded_pool(odd, proj((2, 8, 8), (2, 2), (2, 2))) == 1
    assert folded_pool(w, proj((2, 8, 8), (1, 1), (2, 2))) == 1  # stride not a multiple of the block
    assert folded_pool(w, proj((2, 8, 8), (2, 2), (1, 1))) == 1  # padding not a multiple
    assert folded_pool(w, proj((2, 7, 7), (2, 2), (2, 2))) == 1  # the input is not whole blocks
    assert folded_pool(w, proj((2, 8, 8), (2, 2), (2, 2), dilation=(2, 2))) == 1
    assert folded_pool(np.ones((3, 2, 4, 4)), proj((2, 8, 8), (4, 4), (0, 0))) == 4  # the largest block wins
