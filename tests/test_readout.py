"""The potential readout (neurokit.network.readout_of): the class from the output population's integrated input,
spike count + v / threshold, identical in the engine and in Lava."""
from __future__ import annotations

import numpy as np
import pytest

from neurokit.backends import get_backend
from neurokit.convert import convert
from neurokit.lower import from_nir
from neurokit.network import readout_of
from quantize import quantize


@pytest.fixture(scope="module")
def potential_nets(digits_mlp, digits, profile):
    net = from_nir(convert(digits_mlp, digits.x_train[:300], readout="potential"))
    return net, quantize(net, profile, digits.x_train[:300])[0]


def test_readout_travels_through_nir_and_quantization(potential_nets, digits_mlp_net):
    net, qnet = potential_nets
    assert readout_of(net) == readout_of(qnet) == "potential"
    assert readout_of(digits_mlp_net) == "spikes"


def test_scores_are_count_plus_final_v_over_threshold(potential_nets, digits):
    net, qnet = potential_nets
    x, T = digits.x_test[:6], 12
    for backend, network, threshold in (("float", net, 1.0), ("engine", qnet, qnet.output_population.neuron.vth << 6)):
        runner = get_backend(backend)
        trace = runner.run(network, x, T)
        last = runner.record(network, x, T)[-1]
        expected = last.spikes.sum(1).reshape(len(x), -1) + last.v[:, -1].reshape(len(x), -1) / threshold
        np.testing.assert_allclose(trace.output_scores, expected, rtol=0, atol=1e-12)
        assert np.array_equal(trace.predictions(), np.argmax(expected, axis=1))


def test_lava_reads_the_same_scores(potential_nets, digits):
    net, qnet = potential_nets
    x, T = digits.x_test[:4], 10
    engine = get_backend("engine").run(qnet, x, T)
    lava = get_backend("lava-fixed").run(qnet, x, T)
    assert np.array_equal(engine.output_scores, lava.output_scores)  # integers / vth << 6: exact
    assert np.array_equal(engine.output_counts, lava.output_counts)
    f_engine = get_backend("float").run(net, x, T)
    f_lava = get_backend("lava-float").run(net, x, T)
    np.testing.assert_allclose(f_engine.output_scores, f_lava.output_scores, rtol=0, atol=1e-9)


def test_unknown_readout_is_rejected(digits_mlp, digits):
    with pytest.raises(ValueError, match="readout must be one of spikes, potential"):
        convert(digits_mlp, digits.x_train[:20], readout="voltage")
