"""The engine's synapses on the CPU compute their outputs over blocks of input rows (arrays.map_rows: each block
cast to float in one reused buffer) into memory kept across a run's batch chunks (arrays.Reusable). Blocks and
reuse must not change a value: with blocks of a few rows and chunks of a few samples, every population's u, v
and spikes and a run's counts equal single-block, single-chunk runs, in fixed point and in float, on a CNN and
a residual net (several projections into one population). Float u and v equal to float64 rounding only:
BLAS picks its kernels by the number of rows, so a dense layer's float64 sums round by the block's size (as
they did by the chunk's before blocks), which is the float backend's contract (floating.py)."""
from __future__ import annotations

import numpy as np
import pytest

from neurokit.backends import get_backend
from neurokit.backends.engine import arrays
from quantize import quantize

STEPS = 10


@pytest.fixture(scope="module")
def nets(digits_cnn_net, digits_resnet_net, digits, profile):
    calib = digits.x_train[:100]
    return {"cnn": digits_cnn_net, "resnet": digits_resnet_net,
            "cnn-q": quantize(digits_cnn_net, profile, calib)[0], "resnet-q": quantize(digits_resnet_net, profile, calib)[0]}


def runs(net, x, backend, batch_size=None):
    engine = get_backend(backend, device="cpu", batch_size=batch_size)
    return engine.record(net, x, STEPS), engine.run(net, x, STEPS)


@pytest.mark.parametrize("name", ["cnn", "resnet", "cnn-q", "resnet-q"])
def test_blocks_and_reused_outputs_change_nothing(name, nets, digits, monkeypatch):
    net = nets[name]
    backend = "engine" if name.endswith("-q") else "float"
    x = digits.x_test[:7]
    ref_rec, ref_run = runs(net, x, backend)
    widest = max(q.n_inputs for q in net.projections)
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 3 * widest * 4)  # three rows of float32 input per block
    blocks = []
    real = arrays.NumpyArrays.map_rows

    def counting(self, f, rows, dtype, into=None):
        out = real(self, f, rows, dtype, into)
        blocks.append((len(rows), into.base is not None and np.shares_memory(out, into.base)))
        return out

    monkeypatch.setattr(arrays.NumpyArrays, "map_rows", counting)
    rec, run = runs(net, x, backend, batch_size=3)  # chunks of 3, 3 and 1 samples
    assert any(n > 3 and reused for n, reused in blocks)  # several blocks, written into the reused memory
    for a, b in zip(ref_rec, rec):
        np.testing.assert_array_equal(a.spikes, b.spikes)
        for k in ("u", "v"):
            if backend == "engine":
                np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
            else:
                np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(run.layer_spikes, ref_run.layer_spikes)
    np.testing.assert_array_equal(run.output_counts, ref_run.output_counts)
    if ref_run.output_scores is not None:
        np.testing.assert_array_equal(run.output_scores, ref_run.output_scores)
    assert ref_run.layer_spikes.sum() > 0


def test_reusable_memory_grows_and_is_released():
    keep = arrays.Reusable()
    a = keep.take((4, 5), np.float32)
    b = keep.take((2, 5), np.float32)
    assert np.shares_memory(a, b) and b.shape == (2, 5)
    c = keep.take((6, 5), np.float32)  # larger: new memory
    assert not np.shares_memory(a, c) and keep.base.size == 30
    assert keep.take((6, 5), np.int32).dtype == np.int32  # another dtype: new memory
    keep.release()
    assert keep.base is None
