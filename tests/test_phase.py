"""Single-spike phase coding (neurokit/convert/methods/phase.py): the conversion method, the neuron in the
engine (fixed and float) and in Lava (fixed_pt and floating_pt), bit-exact agreement, the file formats."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurokit.backends import get_backend
from neurokit.convert import Settings, convert
from neurokit.convert.methods.phase import decode, latency_steps, phase_timing, phase_window, search
from neurokit.lower import from_nir
from neurokit.network import Network, latency
from neurokit.neurons import PhaseCode, QPhaseNeuron
from neurokit.neurons.phase import phase_bounds
from netgen import chain, float_layer, phase_networks
from quantize import quantize

T_MLP = 16  # digits MLP (2 layers): K = 13
T_CNN = 12  # digits CNN (3 layers): K = 4


@pytest.fixture(scope="module")
def mlp_phase(digits_mlp, digits, profile):
    graph = convert(digits_mlp, digits.x_train[:300], method="phase", settings=Settings(target_steps=T_MLP))
    net = from_nir(graph)
    q, report = quantize(net, profile, digits.x_train[:300])
    return graph, net, q, report


@pytest.fixture(scope="module")
def cnn_phase(digits_cnn, digits, profile):
    graph = convert(digits_cnn, digits.x_train[:300], method="phase", settings=Settings(target_steps=T_CNN))
    net = from_nir(graph)
    q, _ = quantize(net, profile, digits.x_train[:300])
    return net, q


def _fire_window(code: PhaseCode) -> range:
    return range(code.latch_step + 1, code.latch_step + 1 + code.window)


# ---------------------------------------------------------------------------------------------------------
def test_timing_and_window_from_target_steps():
    assert phase_window(32, 3) == 14 and latency_steps(14, 3) == 32
    assert phase_window(16, 2) == 13 and latency_steps(13, 2) == 16
    assert phase_window(5, 4) == 1  # too few steps: one phase, latency above the target
    offsets, integrate = phase_timing(4, 3)
    assert offsets == [1, 3, 8] and integrate == [1, 4, 4]


def test_metadata_carries_the_code(mlp_phase):
    graph, net, q, report = mlp_phase
    info = net.metadata["phase"]
    assert info["window"] == 13 and info["latency_steps"] == T_MLP
    codes = [p.neuron.code for p in net.populations]
    assert [c.offset for c in codes] == [1, 3] and [c.integrate for c in codes] == [1, 13]
    assert codes[1].in_base == codes[0].base  # the receiver decays by the sender's base
    assert graph.nodes["if0"].metadata["neuron"] == "phase"
    assert [l["neuron"] for l in report["layers"]] == ["phase", "phase"]
    qcodes = [p.neuron.code for p in q.populations]
    assert qcodes[0].decay == 4096  # the held input: no decay
    assert qcodes[1].decay == round(4096 / codes[0].base)
    assert qcodes[0].base == pytest.approx(4096 / qcodes[1].decay)  # coded in the receiver's base


@pytest.mark.parametrize("mode", ["fixed", "float"])
def test_every_neuron_fires_at_most_once_per_window(cnn_phase, digits, mode):
    net, q = cnn_phase
    steps = T_CNN + 6  # longer than the latency: the output layer fires too
    recs = get_backend("engine" if mode == "fixed" else "float", device="cpu").record(
        q if mode == "fixed" else net, digits.x_test[:40], steps)
    total = 0
    for rec, pop in zip(recs, net.populations):
        s = rec.spikes.reshape(rec.spikes.shape[0], steps, -1)
        assert s.sum(1).max() <= 1
        window = _fire_window(pop.neuron.code)
        outside = [t for t in range(steps) if t not in window]
        assert not s[:, outside].any()  # spikes only in the fire window
        total += int(s.sum())
    assert total > 0


def _one_layer_net(values: np.ndarray, code: PhaseCode, weight: float, bias: float) -> Network:
    n = len(values)
    return chain((n,), [float_layer("if0", "dense", (n,), (n,), np.eye(n) * weight, np.full(n, bias), phase=code)],
                 {"input_encoding": "current"})


def test_decoding_a_single_layer_gives_the_phase_of_the_formula(profile):
    k_count, b, h = 6, 1.5, 0.8
    code = PhaseCode(base=b, shift=h, window=k_count, offset=1, in_base=1.0, integrate=1)
    thr = h * b ** -np.arange(k_count)
    # inside each interval [h b^-j, h b^-(j-1)), saturating (>= h), sub-threshold, zero, negative
    inside = [float(np.sqrt(thr[j] * (thr[j - 1] if j else 1.3 * h))) for j in range(k_count)]
    values = np.array(inside + [1.7, thr[-1] * 0.9, 0.0, -0.5])
    expected = [k_count - 1 - j for j in range(k_count)] + [k_count - 1, None, None, None]
    net = _one_layer_net(values, code, weight=2.0, bias=-1.0)  # positive inputs: the input scale; weights undo it
    steps = code.latch_step + 1 + k_count
    x = values[None, :] * 0.5 + 0.5
    q, _ = quantize(net, profile, x, input_bits=16)
    for backend, model in (("float", net), ("engine", q)):
        rec = get_backend(backend, device="cpu").record(model, x, steps)[0]
        s = rec.spikes[0]  # (steps, n)
        for i, k in enumerate(expected):
            fired = np.flatnonzero(s[:, i])
            if k is None:
                assert fired.size == 0, (backend, i)
            else:
                assert fired.tolist() == [code.latch_step + 1 + k], (backend, i)
    # and decode() states the same rule
    dec = decode(values, b, h, k_count)
    want = [b ** -(k_count - 1 - k) if k is not None else 0.0 for k in expected]
    assert np.allclose(dec, want)


def test_phase_bounds_are_disjoint():
    lo, hi = phase_bounds([8.0, 4.0, 2.0, 1.0], np.inf)
    assert lo == [1.0, 2.0, 4.0, 8.0] and hi == [2.0, 4.0, 8.0, np.inf]


def test_search_lowers_the_coding_error(mlp_phase, digits_cnn, digits):
    _, net, _, _ = mlp_phase
    for layer in net.metadata["phase"]["layers"][:-1]:
        assert layer["error"] < layer["error_plain"]
    rng = np.random.default_rng(0)
    v = rng.exponential(0.2, 20000)
    b, h, err = search(v, v.size, 8)
    plain = float(np.mean((decode(v, 2.0, 1.0, 8) - v) ** 2))
    assert err < 0.5 * plain and (b, h) != (2.0, 1.0)


def test_accuracy_close_to_the_ann(mlp_phase, digits_mlp, digits):
    import torch

    _, net, q, _ = mlp_phase
    with torch.no_grad():
        ann = float((digits_mlp(torch.from_numpy(digits.x_test)).argmax(1).numpy() == digits.y_test).mean())
    for backend, model in (("float", net), ("engine", q)):
        tr = get_backend(backend, device="cpu").run(model, digits.x_test, T_MLP)
        assert tr.output_scores is not None and tr.output_scores.shape == (len(digits.x_test), 10)
        assert tr.accuracy(digits.y_test) >= ann - 0.03, backend
        assert tr.layer_spikes[:, 0].max() <= net.populations[0].n_neurons  # one spike per neuron at most


def test_engine_fixed_equals_lava_fixed_bit_for_bit(mlp_phase, cnn_phase, digits):
    from neurokit.verify import verify

    _, _, q, _ = mlp_phase
    r = verify(q, digits.x_test[:3], T_MLP)
    assert r["match"], r["first_mismatch"]
    assert r["layers"][0]["spikes"] > 0
    _, qc = cnn_phase
    r = verify(qc, digits.x_test[:2], T_CNN + 2)
    assert r["match"], r["first_mismatch"]
    assert all(l["spikes"] > 0 for l in r["layers"])


def test_lava_run_returns_the_same_scores(mlp_phase, digits):
    _, net, q, _ = mlp_phase
    x = digits.x_test[:4]
    lava = get_backend("lava-fixed").run(q, x, T_MLP)
    eng = get_backend("engine", device="cpu").run(q, x, T_MLP)
    assert np.array_equal(lava.output_scores, eng.output_scores)
    assert np.array_equal(lava.layer_spikes, eng.layer_spikes)
    # layer 0 reads the held input in one step: one message per nonzero input element
    assert np.array_equal(eng.input_events, (q.encode_input(x) != 0).sum(0))
    assert np.array_equal(lava.input_events, eng.input_events)
    lava = get_backend("lava-float").run(net, x, T_MLP)
    eng = get_backend("float", device="cpu").run(net, x, T_MLP)
    assert np.allclose(lava.output_scores, eng.output_scores, rtol=0, atol=1e-12)
    assert np.array_equal(lava.layer_spikes, eng.layer_spikes)


def test_float_engine_equals_lava_float_spike_for_spike(cnn_phase, digits):
    net, _ = cnn_phase
    x = digits.x_test[:2]
    lava = get_backend("lava-float").record(net, x, T_CNN + 2)
    eng = get_backend("float", device="cpu").record(net, x, T_CNN + 2)
    for a, b in zip(lava, eng):
        assert np.array_equal(a.spikes, b.spikes)
        # Lava's float Conv runs in float32 (as the engine's does), summed in another order
        assert np.allclose(a.v, b.v, rtol=0, atol=1e-5) and np.allclose(a.u, b.u, rtol=0, atol=1e-5)


def test_files_round_trip(mlp_phase, tmp_path):
    from neurokit.io import read_nir, write_nir
    from quantize import load_quantized, save_quantized

    graph, net, q, _ = mlp_phase
    write_nir(graph, tmp_path / "f.nir")
    again = from_nir(read_nir(tmp_path / "f.nir"))
    assert [p.neuron.code for p in again.populations] == [p.neuron.code for p in net.populations]
    save_quantized(q, tmp_path / "q.nir")
    q2 = load_quantized(tmp_path / "q.nir")
    for a, b in zip(q.populations, q2.populations):
        assert isinstance(b.neuron, QPhaseNeuron)
        a, b = a.neuron.code, b.neuron.code
        assert (a.decay, a.window, a.offset, a.integrate) == (b.decay, b.window, b.offset, b.integrate)
        assert np.array_equal(a.thresholds, b.thresholds)
        assert a.base == b.base and a.shift == b.shift


def test_too_few_steps_warns_and_rate_input_is_refused(mlp_phase, digits):
    from neurokit.errors import UnsupportedModelError

    _, net, q, _ = mlp_phase
    assert latency(net) == latency(q) == T_MLP
    with pytest.warns(UserWarning, match="latches its output"):
        get_backend("float", device="cpu").run(net, digits.x_test[:2], T_MLP - 1)
    with pytest.warns(UserWarning, match="latches its output"):
        get_backend("engine", device="cpu").run(q, digits.x_test[:2], T_MLP - 1)
    rate = Network(net.input_shape, net.populations, net.projections, net.output,
                   {**net.metadata, "input_encoding": "rate"})
    with pytest.raises(UnsupportedModelError, match="current"):
        get_backend("float", device="cpu").run(rate, digits.x_test[:2], T_MLP)


@settings(max_examples=8, deadline=None, derandomize=True, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=phase_networks(), device=st.sampled_from(["cpu", "cpu-torch"]))
def test_random_phase_networks_engine_equals_lava(case, device):
    """tests/netgen.py phase_networks: random integers over their whole formats, phase and IF layers mixed."""
    from neurokit.verify import first_mismatch

    net, x, steps = case
    engine = get_backend("engine", device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # runs shorter than the latency warn
        lava = get_backend("lava-fixed").record(net, x, steps)
        assert first_mismatch(lava, engine.record(net, x, steps)) is None
        trace = engine.run(net, x, steps)
        lava_trace = get_backend("lava-fixed").run(net, x, steps)
    np.testing.assert_array_equal(trace.layer_spikes, lava_trace.layer_spikes)
    if isinstance(net.output_population.neuron, QPhaseNeuron):
        np.testing.assert_array_equal(trace.output_scores, lava_trace.output_scores)
