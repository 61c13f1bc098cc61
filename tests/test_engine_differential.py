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
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from neurokit.backends import get_backend
from neurokit.verify import first_mismatch
from netgen import networks, u_wrap_edge

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
