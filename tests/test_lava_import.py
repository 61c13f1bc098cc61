"""Imported networks (snnTorch and Norse graphs, tests/interop_nets.py) on neurokit's Lava graph: real Lava runs,
no mocks.

Imported networks have pipelined windows (neurokit.network.windows_of): the population at depth d runs a
sample's steps 0 .. T - 1 at global steps kT + d .. kT + d + T - 1, from u = 0, v = v_init; sequences (N, T, ...)
enter one frame per step. In Lava a population that Lava's LIFReset computes exactly (reset to zero, v from 0,
no recurrent input) runs on LIFReset with reset_offset = (d + 1) % T; any other on neurokit's ConversionLIF
with that offset, which integrates what its sources send at its window start (this sample's first messages)
and drops only what a recurrent projection (its a_rec port) sends across it. Lava fixed_pt must equal the
engine (neurokit.verify: spikes, u and v of every population at every step), Lava floating_pt the float
engine spike for spike.
"""
from __future__ import annotations

import numpy as np
import pytest

import interop_nets as nets
from neurokit.backends import get_backend
from neurokit.errors import UnsupportedModelError
from neurokit.verify import verify

T = 20
N = 4  # samples per run: windows back to back, so every window start is crossed N - 1 times

# the Lava neuron processes each case runs on (norse conv: its synapses' biases enter a decaying current,
# which the quantizer gives as u starting at u_init each window: ConversionLIF)
EXPECTED = {("snntorch", "mlp"): {"ConversionLIF"}, ("snntorch", "mlp_zero"): {"LIFReset"},
            ("snntorch", "recurrent"): {"ConversionLIF"}, ("norse", "mlp"): {"LIFReset"},
            ("norse", "conv"): {"ConversionLIF"}}
CASES = list(EXPECTED)


def _imported(key):
    from neurokit.lower import from_nir

    build, kwargs = nets.NETS[key]
    graph, x, _ = build()
    return from_nir(graph, **kwargs), x


@pytest.fixture(scope="module")
def quantized(profile):
    from quantize import quantize

    cache = {}

    def get(key):
        if key not in cache:
            net, x = _imported(key)
            cache[key] = (net, quantize(net, profile, calibration=x)[0], x)
        return cache[key]

    return get


def _process(q, name: str) -> str:
    """The Lava process the builder picks for population `name` (constructed, not run)."""
    from neurokit.backends.lava.network import _neuron
    from neurokit.network import check_pipelined

    depth = check_pipelined(q)
    back = q.back_edges()
    fed_back = {p.target for p in q.projections if p.name in back}
    return type(_neuron(q.population(name), True, T, False, (depth[name] + 1) % T, name in fed_back)).__name__


@pytest.mark.parametrize("key", CASES, ids=[f"{lib}-{name}" for lib, name in CASES])
def test_lava_fixed_equals_engine_at_every_step(quantized, key):
    _, q, x = quantized(key)
    report = verify(q, x[:N], T)
    assert report["match"], report["first_mismatch"]
    assert report["values_compared"] == 3 * N * T * sum(p.n_neurons for p in q.populations)
    for layer in report["layers"]:  # every population spikes: the comparison is not between silent layers
        assert layer["equal"] and layer["spikes"] > 0.02 * N * T * layer["neurons"], layer
    fed_back = {p.target for p in q.projections if p.name in q.back_edges()}
    for p in q.populations:  # the stock neuron wherever it computes the population exactly
        stock = p.neuron.reset == "zero" and p.name not in fed_back and not np.any(p.neuron.v_init) and \
            not np.any(0 if p.neuron.u_init is None else p.neuron.u_init)
        assert _process(q, p.name) == ("LIFReset" if stock else "ConversionLIF"), p.name
    used = {_process(q, p.name) for p in q.populations}
    assert used == EXPECTED[key], used


def test_recurrent_input_crosses_window_starts(quantized):
    """The recurrent layer fires at the last step of a window, so its next window's first step has that spike in
    flight through lif1.w_rec: what ConversionLIF drops (the verify test above fails when it does not)."""
    from neurokit.backends.engine import Engine

    _, q, x = quantized(("snntorch", "recurrent"))
    assert q.back_edges() == {"lif1.w_rec"}
    rec = {r.name: r for r in Engine("fixed", device="cpu").record(q, x[:N], T)}
    assert rec["lif1.lif"].spikes[:N - 1, T - 1].any()


def test_lava_fixed_run_takes_sequences(quantized):
    """run(): the Trace of a sequence run equals the engine's; steps None is the sequence's length, and steps
    beyond it feed zeros (as the engine does)."""
    _, q, x = quantized(("snntorch", "mlp"))
    lava, engine = get_backend("lava-fixed"), get_backend("engine", device="cpu")
    for steps in (None, T + 5):
        a, b = lava.run(q, x[:N], steps), engine.run(q, x[:N], steps)
        assert a.steps == b.steps == (steps or T)
        np.testing.assert_array_equal(a.output_counts, b.output_counts)
        np.testing.assert_array_equal(a.layer_spikes, b.layer_spikes)
        np.testing.assert_array_equal(a.input_events, b.input_events)
        assert a.output_counts.sum() > 0


def test_lava_float_spikes_equal_float_engine(quantized):
    """floating_pt ConversionLIF with a recurrent port and snnTorch's reset amount (1 / beta thresholds)."""
    net, _, x = quantized(("snntorch", "recurrent"))
    lava = get_backend("lava-float").record(net, x[:N], T)
    engine = get_backend("float", device="cpu").record(net, x[:N], T)
    for a, b in zip(lava, engine):
        assert a.name == b.name
        np.testing.assert_array_equal(a.spikes, b.spikes)
        np.testing.assert_allclose(a.v, b.v, rtol=0, atol=1e-9)
        assert a.spikes.sum() > 0


def test_non_firing_population_runs_with_the_largest_threshold(profile):
    """A population that does not fire (a leaky integrator read by its potential): vth = arith.max_vth in Lava,
    as in the engine; scores read from v at each window's end agree."""
    from quantize import quantize

    net, x = _imported(("norse", "mlp"))
    net.population("3").neuron.fires = False
    net.metadata["readout"] = "potential"
    q, _ = quantize(net, profile, calibration=x)
    assert not q.population("3").neuron.fires and _process(q, "3") == "LIFReset"
    report = verify(q, x[:N], T)
    assert report["match"], report["first_mismatch"]
    a, b = get_backend("lava-fixed").run(q, x[:N], T), get_backend("engine", device="cpu").run(q, x[:N], T)
    np.testing.assert_array_equal(a.output_scores, b.output_scores)
    assert np.any(a.output_scores != 0)


def test_unsupported_graphs_are_refused_in_one_line(quantized):
    _, q, x = quantized(("snntorch", "mlp"))
    delayed = q.projections[1]
    saved = delayed.delay
    delayed.delay = 2
    try:
        with pytest.raises(UnsupportedModelError, match=r"projection 2 \(1 -> 3\) delays by 2 steps.*engine") as e:
            get_backend("lava-fixed").run(q, x[:1], T)
        assert "\n" not in str(e.value)
    finally:
        delayed.delay = saved
    _, rq, rx = quantized(("snntorch", "recurrent"))
    saved = rq.metadata["windows"]
    rq.metadata["windows"] = "synchronous"
    try:
        with pytest.raises(UnsupportedModelError, match="recurrent .*pipelined windows only"):
            get_backend("lava-fixed").run(rq, rx[:1], T)
    finally:
        rq.metadata["windows"] = saved
    from neurokit.backends.lava.backend import LavaBackend

    # Loihi 2's stock neurons only (what the loihi backend runs): reset by subtraction has no microcode
    with pytest.raises(UnsupportedModelError, match="population 1: ConversionLIF .*lava-fixed or the engine"):
        LavaBackend("fixed", stock_lif=True).run(q, x[:1], T)


def test_bundled_recurrent_snntorch_net_with_a_refractory_step(profile):
    """examples/snntorch_digits/rsnn.nir: RLeaky's zero reset is a refractory step; Lava (neurokit's
    ConversionLIF) equals the engine on it at every step."""
    from pathlib import Path

    from neurokit.io import read_nir
    from neurokit.lower import from_nir
    from quantize import quantize

    here = Path(__file__).resolve().parents[1] / "examples" / "snntorch_digits"
    x = np.load(here / "digits_spikes.npz")["x_test"][:N]
    net = from_nir(read_nir(here / "rsnn.nir"), dialect="snntorch", reset="zero")
    q, _ = quantize(net, profile, calibration=x)
    assert q.population("lif1.lif").neuron.refractory == 1
    report = verify(q, x, 16)
    assert report["match"], report["first_mismatch"]
    assert all(layer["spikes"] > 0 for layer in report["layers"])
