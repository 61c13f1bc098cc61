"""Sigma-delta networks (Lava's SigmaDelta, netx SDNN; neurokit.neurons.sigma_delta): the engine against
Lava fixed_pt on random networks (sigma, act and every graded message at every step of the stream, the
pipelined readout, the message counts), the sdnn conversion against the ANN, and the target rules."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from neurokit.backends import get_backend
from neurokit.convert import Settings, convert
from neurokit.errors import UnsupportedModelError
from neurokit.lower import from_nir
from neurokit.targets import check_target, label, method_for
from neurokit.verify import first_mismatch
from netgen import sigma_delta_networks
from quantize import quantize

# the long run: NEUROKIT_DIFF_EXAMPLES=1000 NEUROKIT_DIFF_RANDOM=1 (as tests/test_engine_differential.py)
SETTINGS = settings(max_examples=int(os.environ.get("NEUROKIT_DIFF_EXAMPLES", "8")), deadline=None,
                    derandomize=not os.environ.get("NEUROKIT_DIFF_RANDOM"), print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def engine_records(net, x, steps, device):
    """The engine's record, or a discarded draw when Lava's float32 Conv may round (the engine warns)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine = get_backend("engine", device=device)
        records = engine.record(net, x, steps)
        trace = engine.run(net, x, steps)
    assume(not any("float32" in str(w.message) for w in caught))
    return records, trace


@SETTINGS
@given(case=sigma_delta_networks(), device=st.sampled_from(["cpu", "cpu-torch"]))
def test_engine_equals_lava_on_sigma_delta_streams(case, device):
    net, x, steps = case
    records, trace = engine_records(net, x, steps, device)
    lava = get_backend("lava-fixed")
    assert first_mismatch(lava.record(net, x, steps), records) is None
    lt = lava.run(net, x, steps)
    np.testing.assert_array_equal(trace.output_scores, lt.output_scores)  # the pipelined readout
    np.testing.assert_array_equal(trace.layer_spikes, lt.layer_spikes)  # messages per sample window
    np.testing.assert_array_equal(trace.output_counts, lt.output_counts)
    np.testing.assert_array_equal(trace.input_events, lt.input_events)
    # graded messages are recorded as their values, not as booleans (a draw may send only 0 and 1)
    assert all(r.spikes.dtype != np.bool_ for r in records)


@SETTINGS
@given(case=sigma_delta_networks(max_populations=4, dag=True))
def test_engine_equals_lava_on_sigma_delta_dags(case):
    net, x, steps = case
    records, _ = engine_records(net, x, steps, "cpu")
    assert first_mismatch(get_backend("lava-fixed").record(net, x, steps), records) is None


@pytest.fixture(scope="module")
def sdnn_mlp(digits_mlp, digits):
    graph = convert(digits_mlp, digits.x_train[:300], method="sdnn")
    return from_nir(graph)


def ann_accuracy(model, x, y):
    import torch

    with torch.no_grad():
        return float((model(torch.as_tensor(x, dtype=torch.float32)).argmax(1).numpy() == y).mean())


def test_sdnn_float_is_the_ann_and_fixed_point_is_close(sdnn_mlp, digits_mlp, digits, profile):
    x, y = digits.x_test[:300], digits.y_test[:300]
    ann = ann_accuracy(digits_mlp, x, y)
    assert [p.model.name for p in sdnn_mlp.populations] == ["sigma_delta"] * 2
    assert sdnn_mlp.metadata["input_encoding"] == "delta"
    # one step per sample: the pipelined readout waits for the layers; float sigma-delta is the ANN
    float_acc = get_backend("float").run(sdnn_mlp, x, 1).accuracy(y)
    assert float_acc == pytest.approx(ann, abs=1 / 300)
    q, rep = quantize(sdnn_mlp, profile, digits.x_train[:300])
    assert rep["input"]["encoding"] == "delta"
    assert all(l["scale_limited_by"] for l in rep["layers"])
    fixed = get_backend("engine").run(q, x, 1)
    assert fixed.accuracy(y) >= ann - 0.02
    # a delta threshold trades messages for accuracy
    coarse = quantize(from_nir(convert(digits_mlp, digits.x_train[:300], method="sdnn",
                                       settings=Settings(delta_threshold=0.5))), profile, digits.x_train[:300])[0]
    sparse = get_backend("engine").run(coarse, x, 4)
    assert sparse.layer_spikes.sum() < get_backend("engine").run(q, x, 4).layer_spikes.sum()


def test_sdnn_on_a_residual_net_needs_steps_for_its_skip_paths(digits_resnet, digits):
    net = from_nir(convert(digits_resnet, digits.x_train[:200], method="sdnn"))
    x, y = digits.x_test[:200], digits.y_test[:200]
    from neurokit.backends.engine.stream import min_steps

    need = min_steps(net)
    assert need > 1  # the skip path is shorter than the main path
    with pytest.warns(UserWarning, match="mixes neighbouring samples"):
        get_backend("float").run(net, x, need - 1)
    assert get_backend("float").run(net, x, need).accuracy(y) == pytest.approx(ann_accuracy(digits_resnet, x, y), abs=0.01)


def test_targets(sdnn_mlp, digits_mlp_net):
    assert method_for("loihi2", None) == "sdnn" and method_for("sim", None) == "rate"
    with pytest.raises(UnsupportedModelError, match="--target sim"):
        method_for("loihi2", "rate")
    check_target(sdnn_mlp, "loihi2")
    assert label(sdnn_mlp) == "Loihi 2 stock neurons"
    with pytest.raises(UnsupportedModelError, match="population if0: ConversionLIF"):
        check_target(digits_mlp_net, "loihi2")
    assert label(digits_mlp_net).startswith("simulation only: no Loihi 2 microcode")


def test_float_engine_follows_lava_floating_pt(sdnn_mlp, digits):
    """The float sigma-delta network (Lava's floating_pt SigmaDelta and Delta) against the engine's float mode:
    the same sigma, act and messages up to float64 rounding, and the same readout."""
    x = digits.x_test[:3]
    lava, engine = get_backend("lava-float").record(sdnn_mlp, x, 2), get_backend("float").record(sdnn_mlp, x, 2)
    for a, b in zip(lava, engine):
        for var in ("u", "v", "spikes"):
            np.testing.assert_allclose(getattr(a, var), getattr(b, var), rtol=1e-9, atol=1e-9)
    lt, et = get_backend("lava-float").run(sdnn_mlp, x, 2), get_backend("float").run(sdnn_mlp, x, 2)
    np.testing.assert_allclose(lt.output_scores, et.output_scores, rtol=1e-9, atol=1e-9)
