"""The per-layer conversion error decomposition (neurokit.conversion_error) measures what it claims."""
from __future__ import annotations

import numpy as np
import pytest

from neurokit.conversion_error import decompose
from neurokit.convert import convert
from neurokit.lower import from_nir
from quantize import quantize


def _nets(model, x, profile, percentile):
    net = from_nir(convert(model, x, percentile=percentile))
    return net, quantize(net, profile, x)[0]


def test_max_norm_on_its_own_calibration_data_saturates_nothing(digits_cnn, digits, profile):
    x = digits.x_train[:40]
    rows = decompose(*_nets(digits_cnn, x, profile, 100.0), x, 8)
    # lambda is the max: a <= 1 up to rounding (float32's: normalization's forward runs in float32)
    assert max(r["saturation"] for r in rows) < 1e-9
    low = decompose(*_nets(digits_cnn, x, profile, 50.0), x, 8)
    assert all(r["saturation"] > 0 and r["saturated_fraction"] > 0.01 for r in low[:-1])


def test_sampling_error_falls_with_time_steps(digits_mlp, digits, profile):
    x = digits.x_train[:40]
    net, qnet = _nets(digits_mlp, x, profile, 99.9)
    short, long = decompose(net, qnet, x, 4), decompose(net, qnet, x, 64)
    for s, l in zip(short, long):
        assert l["sampling"] < s["sampling"] / 4


def test_quantization_error_is_the_fixed_versus_float_rate_gap(digits_mlp, digits, profile):
    from neurokit.backends.engine import Engine
    from neurokit.conversion_error import layer_rates

    x = digits.x_test[:20]
    net, qnet = _nets(digits_mlp, digits.x_train[:40], profile, 99.9)
    rows = decompose(net, qnet, x, 16)
    r = layer_rates(Engine("float", device="cpu"), net, x, 16)
    q = layer_rates(Engine("fixed", device="cpu"), qnet, x, 16)
    for row, a, b in zip(rows, r, q):
        assert row["quantization"] == pytest.approx(float(np.abs(a - b).mean()))
        assert 0 <= row["total"] <= 1
