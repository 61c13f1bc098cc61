"""The few array operations the engine needs, on numpy (CPU: lowest per-call overhead, which is what
batch 1 is made of) or torch (GPU, or large batches on CPU). One engine code path calls these.

Integer state is int64 holding the int32 values Lava's models keep; Lava's int32 overflow is applied
explicitly with neurokit.arithmetic.wrap32. Synaptic sums run on float BLAS (see engine-notes: exact while every partial sum
stays below 2**24 in float32, 2**53 in float64) and are rounded back to integers.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...errors import BackendUnavailableError
from .geometry import sum_pool

BLOCK_BYTES = 32 << 20  # one block of rows cast to float for a matrix product or convolution on the CPU


class Reusable:
    """Memory one call site writes each result into (a synapse's output, chunk after chunk): the pages are
    touched once per run, not once per chunk. A result is valid until the site's next call."""

    def __init__(self):
        self.base = None

    def take(self, shape, dtype) -> np.ndarray:
        size = math.prod(shape)
        if self.base is None or self.base.dtype != dtype or self.base.size < size:
            self.base = None  # freed before the larger one is taken
            self.base = np.empty(size, dtype)
        return self.base[:size].reshape(shape)

    def release(self) -> None:
        self.base = None


class NumpyArrays:
    name = "numpy"
    int32, int64, float32, float64, bool_ = np.int32, np.int64, np.float32, np.float64, np.bool_

    def __init__(self):
        self.device = "cpu"

    def asarray(self, a, dtype=None):
        return np.asarray(a, dtype)

    def host(self, a) -> np.ndarray:
        return np.asarray(a)

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def where(self, c, a, b):
        return np.where(c, a, b)

    def maximum(self, a, b):
        return np.maximum(a, b)

    def concatenate(self, arrays):
        return np.concatenate(arrays)

    def abs(self, a):
        return np.abs(a)

    def any_rows(self, a) -> np.ndarray:
        """Indices of the rows (first axis) holding any non-zero value."""
        return np.flatnonzero(a.reshape(len(a), -1).any(1))

    def count_nonzero(self, a, axis):
        return np.count_nonzero(a, axis=axis)

    def rint_int(self, x, dtype):
        # CPU BLAS and torch's direct CPU convolution sum integers below 2**24 exactly: no rounding needed
        return x.astype(dtype)

    def max_abs(self, a) -> int:
        return max(int(a.max()), -int(a.min())) if a.size else 0

    def extremes(self, a) -> tuple[int, int]:
        return (int(a.min()), int(a.max())) if a.size else (0, 0)

    def astype(self, a, dtype):
        return a.astype(dtype, copy=False)

    def map_rows(self, f, x, dtype, into: Reusable | None = None):
        """f(rows of x as dtype) -> (rows, m) for all of x's rows, computed over blocks of rows cast into one
        reused buffer of up to BLOCK_BYTES, the result written into `into`'s memory where given. A T x B spike
        train cast whole to float is hundreds of MB of fresh pages, whose faults (and the kernel finding huge
        pages to back them) cost more than the sums; a row's result does not depend on its block (each output
        row is its own sums)."""
        rows = x.shape[0]
        flat = x.reshape(rows, math.prod(x.shape[1:]))  # not -1: a zero-step train has no rows
        per = max(1, BLOCK_BYTES // max(1, flat.shape[1] * np.dtype(dtype).itemsize))
        if per >= rows:
            return f(flat.astype(dtype, copy=False))
        out = None
        buf = np.empty((per, flat.shape[1]), dtype)
        for i in range(0, rows, per):
            block = buf[:min(per, rows - i)]
            np.copyto(block, flat[i:i + len(block)], casting="unsafe")
            part = f(block)
            if out is None:
                shape = (rows,) + part.shape[1:]
                out = into.take(shape, part.dtype) if into is not None else np.empty(shape, part.dtype)
            out[i:i + len(block)] = part
        return out

    def add_(self, v, x):
        np.add(v, x, out=v)

    def scalar(self, value, like):
        return like.dtype.type(value)

    def clip_(self, v, lo, hi):
        np.core.umath.clip(v, lo, hi, out=v)  # the ufunc itself: np.clip's wrappers cost more than the work at batch 1

    def minimum_(self, v, hi):
        np.minimum(v, hi, out=v)

    def maximum_(self, v, lo):
        np.maximum(v, lo, out=v)

    def gt(self, v, thr, out):
        np.greater(v, thr, out=out)

    def ge(self, v, thr, out):
        np.greater_equal(v, thr, out=out)

    def sub_where_(self, v, x, mask, scratch=None):
        # multiply-and-subtract is 25x faster than np.subtract(..., where=mask) on large arrays
        np.subtract(v, np.multiply(mask, v.dtype.type(x), out=scratch), out=v)

    def zero_where_(self, v, mask):
        np.multiply(v, ~mask, out=v)

    def matmul(self, a, b):
        return a @ b

    def broadcast_steps(self, a, steps: int):
        """a (B, n) repeated over `steps` steps, (steps, B, n), without a copy."""
        return np.broadcast_to(a, (steps,) + a.shape)

    def conv2d(self, x, w, g):
        """g: the projection's geometry.ConvGeometry (sum pooling first where it has one)."""
        x = torch.from_numpy(x)
        if g.pool > 1:
            x = sum_pool(x, g.pool)
        return torch.nn.functional.conv2d(x, torch.from_numpy(w), None, g.stride, g.padding, g.dilation,
                                          g.groups).numpy()


class TorchArrays:
    name = "torch"
    int32, int64, float32, float64, bool_ = torch.int32, torch.int64, torch.float32, torch.float64, torch.bool

    def __init__(self, device: str):
        self.device = torch.device(device)

    def asarray(self, a, dtype=None):
        if isinstance(a, np.ndarray) and a.dtype == np.uint8 and dtype is None:
            dtype = torch.uint8
        return torch.as_tensor(a, dtype=dtype, device=self.device)

    def host(self, a) -> np.ndarray:
        return a.cpu().numpy()

    def zeros(self, shape, dtype):
        return torch.zeros(shape, dtype=dtype, device=self.device)

    def empty(self, shape, dtype):
        return torch.empty(shape, dtype=dtype, device=self.device)

    def where(self, c, a, b):
        return torch.where(c, a, b)

    def maximum(self, a, b):
        return torch.clamp_min(a, b) if not torch.is_tensor(b) else torch.maximum(a, b)

    def concatenate(self, arrays):
        return torch.cat(arrays)

    def abs(self, a):
        return torch.abs(a)

    def any_rows(self, a):
        return torch.nonzero(a.reshape(len(a), -1).any(1)).reshape(-1)

    def count_nonzero(self, a, axis):
        return torch.count_nonzero(a, dim=axis)

    def rint_int(self, x, dtype):
        return torch.round(x).to(dtype)

    def max_abs(self, a) -> int:
        return int(a.abs().max()) if a.numel() else 0

    def extremes(self, a) -> tuple[int, int]:
        return (int(a.min()), int(a.max())) if a.numel() else (0, 0)

    def astype(self, a, dtype):
        return a.to(dtype)

    def map_rows(self, f, x, dtype, into: Reusable | None = None):
        """NumpyArrays.map_rows in one piece (into unused): torch's allocators reuse their blocks."""
        return f(x.reshape(x.shape[0], math.prod(x.shape[1:])).to(dtype))

    def add_(self, v, x):
        v.add_(x)

    def scalar(self, value, like):
        return value

    def clip_(self, v, lo, hi):
        v.clamp_(lo, hi)

    def minimum_(self, v, hi):
        v.clamp_(max=hi)

    def maximum_(self, v, lo):
        v.clamp_(min=lo)

    def gt(self, v, thr, out):
        torch.gt(v, thr, out=out)

    def ge(self, v, thr, out):
        torch.ge(v, thr, out=out)

    def sub_where_(self, v, x, mask, scratch=None):
        v.sub_(mask.to(v.dtype).mul_(x))

    def zero_where_(self, v, mask):
        v.masked_fill_(mask, 0)

    def matmul(self, a, b):
        return a @ b

    def broadcast_steps(self, a, steps: int):
        return a.unsqueeze(0).expand((steps,) + tuple(a.shape))

    def conv2d(self, x, w, g):
        if g.pool > 1:
            x = sum_pool(x, g.pool)
        return torch.nn.functional.conv2d(x, w, None, g.stride, g.padding, g.dilation, g.groups)


def check_device(device: str) -> str:
    """'cpu' (numpy), 'cpu-torch', or a torch device that exists here; anything else is a one-line error."""
    if device in ("cpu", "cpu-torch"):
        return device
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ValueError(f"unknown device '{device}'; use cpu, cpu-torch or a torch device such as cuda") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailableError(f"device '{device}': torch sees no CUDA GPU here; use --device cpu")
    return device


def arrays_for(device: str):
    """'cpu': numpy; 'cpu-torch': torch on the CPU (multi-threaded, for large batches); else a torch device."""
    if device == "cpu":
        return NumpyArrays()
    return TorchArrays("cpu" if device == "cpu-torch" else device)
