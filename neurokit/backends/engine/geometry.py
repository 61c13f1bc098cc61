"""How the engine convolves a projection: its own geometry, or, where its kernel is a pooling folded into a
convolution, sum pooling first and then the smaller kernel.

neurokit.convert folds an average pooling of p x p into the next convolution (the chip has no pooling): a
k x k kernel at stride s, padding d becomes a kp x kp kernel at stride sp, padding dp, each weight repeated over
a p x p block. Convolving with it does p^2 times the multiply-adds of the model. Summing each p x p block of the
input first and convolving with one weight per block gives every output the same terms: each output's sum
is over the same (weight, input) products, grouped by block. The integers the fixed-point engine sums are
therefore the same (float32 sums are exact below 2**24, and every partial sum here is bounded by the same
|weight| x |input| total as before), so the spikes are unchanged; the engine just does p^2 times less work.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class ConvGeometry:
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    pool: int = 1  # sum p x p blocks of the input before the convolution


def folded_pool(weight: np.ndarray, proj) -> int:
    """The largest p > 1 such that `weight` (out, in, kh, kw) at proj's geometry is a p x p pooling folded into
    a convolution (kernel, stride and padding multiples of p, no dilation, the input a whole number of p x p
    blocks, every block of the kernel one value); 1 when there is none."""
    kh, kw = weight.shape[2:]
    _, h, w = proj.in_shape
    if tuple(proj.dilation) != (1, 1):
        return 1
    for p in range(min(kh, kw), 1, -1):
        if any(v % p for v in (kh, kw, h, w, *proj.stride, *proj.padding)):
            continue
        blocks = weight.reshape(weight.shape[0], weight.shape[1], kh // p, p, kw // p, p)
        if np.array_equal(blocks, np.broadcast_to(blocks[:, :, :, :1, :, :1], blocks.shape)):
            return p
    return 1


def conv_geometry(weight: np.ndarray, proj) -> tuple[ConvGeometry, np.ndarray]:
    """(geometry, kernel) to convolve proj's input with: the pooled form where folded_pool finds one (the
    kernel then one weight per block), else the projection's own."""
    p = folded_pool(weight, proj)
    if p == 1:
        return ConvGeometry(tuple(proj.stride), tuple(proj.padding), tuple(proj.dilation), proj.groups), weight
    return (ConvGeometry(tuple(s // p for s in proj.stride), tuple(d // p for d in proj.padding), (1, 1), proj.groups, p),
            np.ascontiguousarray(weight[:, :, ::p, ::p]))


def sum_pool(x, p: int):
    """(N, C, H, W) torch tensor -> (N, C, H/p, W/p): each p x p block summed (avg_pool2d dividing by 1: the same
    sums as a 6-D reshape's, about 4x faster on a CPU)."""
    import torch

    return torch.nn.functional.avg_pool2d(x, p, divisor_override=1)
