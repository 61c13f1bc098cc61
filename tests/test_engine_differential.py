"""The engine against Lava's fixed_pt simulation, on networks drawn at random (tests/netgen.py): every
population's spikes, u and v must agree at every step, and the engine's fast counting path must give
Lava's spike counts. The networks are DAGs: branches, skip connections over different depths, 2 to 3
projections summed into one population, conv and dense mixed (chains among them).

The default run draws NEUROKIT_DIFF_EXAMPLES networks (12) per test from a fixed seed; the long run
(`make test-engine-long`) draws 1,000 per test:
    NEUROKIT_DIFF_EXAMPLES=1000 NEUROKIT_DIFF_RANDOM=1 .venv/bin/python -m pytest tests/test_engine_differential.py
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurokit.backends import get_backend
from neurokit.verify import first_mismatch
from netgen import chain, networks, q_layer, u_wrap_edge

EXAMPLES = int(os.environ.get("NEUROKIT_DIFF_EXAMPLES", "12"))
RANDOM = bool(os.environ.get("NEUROKIT_DIFF_RANDOM"))


SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(case=networks(), device=st.sampled_from(["cpu", "cpu-torch"]))
@example(case=u_wrap_edge(), device="cpu")
def test_engine_equals_lava_every_step(case, device):
    check_against_lava(*case, device)


@SETTINGS
@given(case=networks(max_populations=4, dag=True), device=st.sampled_from(["cpu", "cpu-torch"]))
def test_engine_equals_lava_on_dags(case, device):
    """Every draw has a population summing 2 or 3 projections."""
    net, x, steps = case
    assert max(len(net.incoming(p.name)) for p in net.populations) >= 2 or not net.projections
    check_against_lava(net, x, steps, device)


def check_against_lava(net, x, steps, device):
    lava = get_backend("lava-fixed").record(net, x, steps)
    engine = get_backend("engine", device=device)
    assert first_mismatch(lava, engine.record(net, x, steps)) is None
    trace = engine.run(net, x, steps)
    per_sample = np.stack([r.spikes.reshape(len(x), -1).sum(1) for r in lava], axis=1)
    np.testing.assert_array_equal(trace.layer_spikes, per_sample)
    np.testing.assert_array_equal(trace.output_counts, lava[-1].spikes.sum(1).reshape(len(x), -1))


@pytest.mark.parametrize("fused", ["0", "1"])
def test_pipelined_first_step_saturates_as_lava(fused, monkeypatch):
    """With pipelined windows step 0 carries input, and a first step larger than every later one (a sequence's
    first frame; -3 x 2**17 here, which Lava's single wrap of u leaves at -2**23) got past the numpy path's
    saturation bound (Drive.map kept only the later steps' bound): v stayed at -2**23 where Lava saturates it
    at -(2**23 - 1). Found by the fused kernel's test against the numpy path (tests/test_fused.py); both paths
    (NEUROKIT_FUSED=0: numpy) must agree with Lava."""
    monkeypatch.setenv("NEUROKIT_FUSED", fused)
    layers = [q_layer("l0", "dense", (1,), (1,), [[1]], 0, 8, 2, 1000, [0], 0, 4095, 0, "subtract",
                      graded_input_bits=24)]
    net = chain((1,), layers, {"input_encoding": "current", "windows": "pipelined"},
                quantized=dict(input_scale=1.0, input_bits=21, input_signed=True, profile="random"))
    x = np.array([[[-3.0 * (1 << 17)], [0.0], [0.0]]])
    lava = get_backend("lava-fixed").record(net, x, 3)
    assert lava[0].v.ravel().tolist() == [-((1 << 23) - 1)] * 3
    assert first_mismatch(lava, get_backend("engine", device="cpu").record(net, x, 3)) is None


@pytest.mark.parametrize("fused", ["0", "1"])
@pytest.mark.parametrize("case", ["reset_raw above the threshold", "reset_raw below the threshold"])
def test_reset_amount_other_than_threshold_saturates_as_lava(case, fused, monkeypatch):
    """Found by tests/test_fused.py (the engine with the fused kernel on and off): the numpy path's int32
    shortcut skipped saturation where its bound assumed the reset removes exactly the threshold. A larger
    reset_raw leaves v below 0 after a spike (here -2**23 - 1, which the next step must clip), a smaller one
    lets v climb by input - reset_raw a step (here past 2**23 - 1)."""
    monkeypatch.setenv("NEUROKIT_FUSED", fused)
    above = case.startswith("reset_raw above")
    vth, reset_raw, graded, bias, x = ((0, (1 << 23) + 2, 0, 1, np.zeros((1, 1))) if above else
                                       (1 << 16, 1, 24, 0, np.full((1, 1), 65535.0)))
    layers = [q_layer("l0", "dense", (1,), (1,), [[1]], 0, 8, 2, vth, [bias], 0, 4095, 0, "subtract",
                      graded_input_bits=graded)]
    net = chain((1,), layers, {"input_encoding": "current"},
                quantized=dict(input_scale=1.0, input_bits=18, input_signed=True, profile="random"))
    net.populations[0].neuron.reset_raw = reset_raw
    net.validate()
    lava = get_backend("lava-fixed").record(net, x, 5)
    assert lava[0].v.ravel().tolist() == ([-(1 << 23) - 1] + [-(1 << 23) + k for k in (1, 2, 3, 4)] if above else
                                          [0, 4194240, 8388479, 8388606, 8388606])
    assert first_mismatch(lava, get_backend("engine", device="cpu").record(net, x, 5)) is None


def test_folded_pooling_runs_pooled_and_equals_lava():
    """A pooling folded into a convolution runs as sum pooling and the small kernel: 4x fewer multiply-adds,
    the same integers (Lava convolves the folded 6 x 6 kernel)."""
    from neurokit.backends.engine import Engine
    from netgen import folded_pool_net

    net, x, steps = folded_pool_net()
    prepared = Engine(device="cpu").prepare(net)
    assert [prepared.synapses[q.name].geometry.pool for q in net.projections] == [1, 2]
    assert prepared.synapses["c1_synapse"].weight.shape == (3, 4, 3, 3)
    for device in ("cpu", "cpu-torch"):
        check_against_lava(net, x, steps, device)
    records = get_backend("engine").record(net, x, steps)
    assert records[1].spikes.sum() > 0  # the pooled layer spikes: the comparison means something
