"""Loihi 2's stock LIF (Lava's LIFReset) with pipelined windows (neurokit.network.windows_of): the engine
against Lava fixed_pt on random chains, the `lif` conversion method (reset to zero, threshold balancing),
and the rules that keep a deployment stock."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from neurokit.backends import get_backend
from neurokit.convert import Settings, convert
from neurokit.errors import UnsupportedModelError
from neurokit.lower import from_nir
from neurokit.network import check_pipelined
from neurokit.targets import check_target, label
from neurokit.verify import first_mismatch
from netgen import networks
from quantize import quantize

SETTINGS = settings(max_examples=int(os.environ.get("NEUROKIT_DIFF_EXAMPLES", "8")), deadline=None,
                    derandomize=not os.environ.get("NEUROKIT_DIFF_RANDOM"), print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


@SETTINGS
@given(case=networks(max_populations=3, max_fan_in=1))
def test_engine_equals_lava_lifreset_with_pipelined_windows(case):
    """Each population restarts at its depth + 1 (LIFReset reset_offset), integrating what arrives then: the
    engine's per-sample windows with no step lost to the synaptic delays equal Lava's one long run."""
    net, x, steps = case
    net.metadata["windows"] = "pipelined"
    try:
        check_pipelined(net)
    except UnsupportedModelError:
        assume(False)
    for p in net.populations:  # the stock neuron: reset to zero, v from 0
        p.neuron.reset, p.neuron.v_init = "zero", np.zeros_like(p.neuron.v_init)
    lava, engine = get_backend("lava-fixed"), get_backend("engine")
    assert first_mismatch(lava.record(net, x, steps), engine.record(net, x, steps)) is None
    lt, et = lava.run(net, x, steps), engine.run(net, x, steps)
    np.testing.assert_array_equal(lt.layer_spikes, et.layer_spikes)
    np.testing.assert_array_equal(lt.output_counts, et.output_counts)


def test_lif_method_is_stock_and_balances_thresholds(digits_mlp, digits, profile):
    import torch

    net = from_nir(convert(digits_mlp, digits.x_train[:300], method="lif", readout="potential",
                           settings=Settings(target_steps=16)))
    check_target(net, "loihi2")
    assert label(net) == "Loihi 2 stock neurons" and net.metadata["windows"] == "pipelined"
    tb = net.metadata["threshold_balancing"]
    assert tb["alpha"] in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3) and len(tb["agreement_with_ann"]) == 8
    x, y = digits.x_test[:200], digits.y_test[:200]
    with torch.no_grad():
        ann = float((digits_mlp(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy() == y).mean())
    assert get_backend("float").run(net, x, 16).accuracy(y) >= ann - 0.15
    q, _ = quantize(net, profile, digits.x_train[:300])
    small = digits.x_test[:3]
    lava, engine = get_backend("lava-fixed").run(q, small, 16), get_backend("engine").run(q, small, 16)
    np.testing.assert_array_equal(lava.output_scores, engine.output_scores)


def test_pipelined_windows_refuse_unequal_paths_and_sim_networks_are_labelled(digits_resnet, digits_mlp_net, digits):
    with pytest.raises(UnsupportedModelError, match="paths of .* synaptic delays"):
        convert(digits_resnet, digits.x_train[:100], method="lif", settings=Settings(target_steps=4))
    assert label(digits_mlp_net).startswith("simulation only: no Loihi 2 microcode (ConversionLIF")
    zero = from_nir(convert(digits_resnet, digits.x_train[:100], method="rate", v_init=0.0))
    for p in zero.populations:
        p.neuron.reset = "zero"
    assert "synchronous windows" in label(zero)  # reset to zero alone is not the stock deployment


def test_lasnn_trains_the_stock_neuron_for_loihi2(digits_cnn, digits, profile):
    """lasnn with Settings.stock (what --target loihi2 sets): the student is the stock LIF with pipelined
    windows, and the exported network carries those neurons; Lava runs it equal to the engine."""
    graph = convert(digits_cnn, digits.x_train[:200], method="lasnn", readout="potential",
                    train=(digits.x_train[:300], digits.y_train[:300]),
                    settings=Settings(target_steps=6, epochs=1, stock=True, readout="potential"))
    net = from_nir(graph)
    check_target(net, "loihi2")
    assert net.metadata["windows"] == "pipelined" and all(p.neuron.reset == "zero" for p in net.populations)
    # the float engine reproduces the student the method trained (its training accuracy, on the same samples)
    train_acc = get_backend("float").run(net, digits.x_train[:300], 6).accuracy(digits.y_train[:300])
    assert train_acc == pytest.approx(net.metadata["student_accuracy_train"], abs=0.01)
    q, _ = quantize(net, profile, digits.x_train[:200])
    small = digits.x_test[:2]
    lava, fixed = get_backend("lava-fixed").record(q, small, 6), get_backend("engine").record(q, small, 6)
    assert first_mismatch(lava, fixed) is None
