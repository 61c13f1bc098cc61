"""Rate coding: deterministic per sample, identical in every backend, and Lava floating_pt equals the reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hw_profiles import load_profile
from neurokit.backends import get_backend
from neurokit.convert import convert
from neurokit.encoding import check_encoding, rate_spikes
from neurokit.errors import InputShapeError
from neurokit.lower import from_nir
from quantize import quantize


def test_rate_spikes_depend_only_on_sample_index():
    x = np.random.default_rng(1).random((6, 2, 3))
    whole = rate_spikes(x, 50)
    assert whole.shape == (6, 50, 2, 3) and whole.dtype == np.uint8
    np.testing.assert_array_equal(whole[3:], rate_spikes(x[3:], 50, first_index=3))
    assert not np.array_equal(whole[0], rate_spikes(x[:1], 50, seed=1)[0])


def test_rate_spikes_follow_probabilities():
    x = np.array([[0.0, 0.25, 1.0]])
    rate = rate_spikes(x, 4000).mean(axis=(0, 1))
    assert rate[0] == 0 and rate[2] == 1
    assert rate[1] == pytest.approx(0.25, abs=0.03)


def test_rate_coding_rejects_values_outside_0_1():
    with pytest.raises(InputShapeError, match=r"rate coding needs inputs in \[0, 1\]"):
        check_encoding("rate", np.array([[-0.5, 0.2]]))


@pytest.fixture(scope="module")
def rate_net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3)).eval()
    x = np.random.default_rng(0).random((40, 1, 4, 4)).astype(np.float32)
    return from_nir(convert(model, x, input_encoding="rate")), x


def test_rate_coded_lava_float_equals_reference(rate_net):
    net, x = rate_net
    ref = get_backend("float", batch_size=7).run(net, x[:12], 20)  # batches must not change the spike trains
    lava = get_backend("lava-float").run(net, x[:12], 20)
    np.testing.assert_array_equal(lava.output_counts, ref.output_counts)
    np.testing.assert_array_equal(lava.layer_spikes, ref.layer_spikes)
    np.testing.assert_array_equal(lava.input_events, ref.input_events)
    assert ref.input_events.sum() == rate_spikes(x[:12], 20).sum()


def test_rate_coded_quantized_net_has_binary_input(rate_net):
    net, x = rate_net
    qnet, report = quantize(net, load_profile("loihi2"), x)
    assert report["input"]["encoding"] == "rate"
    assert qnet.projections[0].graded_input_bits == 0
    trace = get_backend("lava-fixed").run(qnet, x[:4], 16)
    assert trace.output_counts.shape == (4, 3)
    np.testing.assert_array_equal(trace.input_events, rate_spikes(x[:4], 16).sum((0, 1)))
