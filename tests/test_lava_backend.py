"""Stage 4 on Lava: floating_pt against the float reference, fixed_pt against an independent integer simulation
of the quantized network, per-sample windows against separate runs, and the Loihi path's message."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurokit.backends import get_backend
from neurokit.backends.lava.backend import LAVA_LOIHI_MISSING, LavaBackend, lava_loihi_installed
from neurokit.errors import BackendUnavailableError, InputShapeError, UnsupportedModelError
from quantize import quantize

STEPS = 16
N = 4
M = 1 << 23


@pytest.fixture(scope="module")
def nets(digits_mlp_net, digits_cnn_net, digits, profile):
    cal = digits.x_train[:200]
    return {
        "dense": (digits_mlp_net, quantize(digits_mlp_net, profile, cal)[0]),
        "conv": (digits_cnn_net, quantize(digits_cnn_net, profile, cal)[0]),
    }


@pytest.fixture(scope="module")
def x(digits):
    return digits.x_test[:N]


# ---------------------------------------------------------------------------------------------------------
# an independent integer simulation of a quantized network (torch layout, one sample at a time)


def _wrap24(a):
    return (a + M - 1) % (2 * M) - (M - 1)  # Lava's wrap of u (see test_lava_neuron)


def _synapse_int(proj, s: np.ndarray) -> np.ndarray:
    if proj.kind == "conv":
        assert proj.weight_exp == 0  # Lava's fixed-point Conv ignores weight_exp; the profile pins it at 0
        out = torch.nn.functional.conv2d(torch.from_numpy(s[None].astype(np.float64)),
                                         torch.from_numpy(proj.weight.astype(np.float64)), None, proj.stride,
                                         proj.padding, proj.dilation, proj.groups)[0].numpy()
        acc = np.rint(out).astype(np.int64)
        return (acc + M) % (2 * M) - M  # Conv's 24-bit signed clamp of its output
    acc = proj.weight.astype(np.int64) @ s.reshape(-1).astype(np.int64)
    e = proj.weight_exp
    return acc << e if e > 0 else acc >> -e


def simulate_int(q, x: np.ndarray, steps: int):
    """Output counts (N, n_out), spikes per layer (N, L), per-neuron spikes summed over samples: a chain
    network stepped by hand, one population after the other."""
    assert q.is_chain()
    layers = [(q.incoming(p.name)[0], p.shape, p.neuron) for p in q.populations]
    counts, per_layer = [], []
    per_neuron = [np.zeros(shape, np.int64) for _, shape, _ in layers]
    for xi in q.encode_input(x).astype(np.int64):
        v = [n.v_init.astype(np.int64).copy() for _, _, n in layers]
        pending = [np.zeros(shape, np.int64) for _, shape, _ in layers]
        c = [np.zeros(shape, np.int64) for _, shape, _ in layers]
        for _ in range(steps):
            s = xi
            for i, (proj, shape, n) in enumerate(layers):
                assert (n.du, n.dv) == (4095, 0)  # u = this step's input only; v does not decay
                arriving, pending[i] = pending[i], _synapse_int(proj, s).reshape(shape)
                u = _wrap24(arriving << 6)
                v[i] = np.clip(v[i] + u + (n.bias_mant.astype(np.int64) << n.bias_exp), -(M - 1), M - 1)
                thr = n.vth << 6
                spikes = v[i] > thr
                v[i] = v[i] - thr * spikes if n.reset == "subtract" else np.where(spikes, 0, v[i])
                c[i] += spikes
                s = spikes.astype(np.int64)
        counts.append(c[-1].reshape(-1))
        per_layer.append([int(ci.sum()) for ci in c])
        for i in range(len(c)):
            per_neuron[i] += c[i]
    return np.array(counts), np.array(per_layer), per_neuron


# ---------------------------------------------------------------------------------------------------------
# Lava runs (module-scoped: one compile per configuration)


@pytest.fixture(scope="module")
def fixed_traces(nets, x):
    return {kind: LavaBackend("fixed").run(q, x, STEPS) for kind, (_, q) in nets.items()}


@pytest.fixture(scope="module")
def fixed_alone(nets, x):
    q = nets["dense"][1]
    return [get_backend("lava-fixed").run(q, x[i:i + 1], STEPS) for i in range(3)]


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_lava_float_equals_float_reference(nets, x, kind):
    net = nets[kind][0]
    lava = get_backend("lava-float").run(net, x, STEPS)
    ref = get_backend("float").run(net, x, STEPS)
    assert lava.backend == "lava-float" and lava.steps == STEPS
    np.testing.assert_array_equal(lava.output_counts, ref.output_counts)
    np.testing.assert_array_equal(lava.layer_spikes, ref.layer_spikes)
    for a, b in zip(lava.neuron_spikes, ref.neuron_spikes):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lava.input_events, ref.input_events)
    assert np.all(ref.layer_spikes.sum(0) > 0)  # every layer is active: the comparison is not vacuous


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_lava_fixed_equals_integer_simulation(nets, fixed_traces, x, kind):
    q = nets[kind][1]
    trace = fixed_traces[kind]
    counts, per_layer, per_neuron = simulate_int(q, x, STEPS)
    assert trace.backend == "lava-fixed"
    np.testing.assert_array_equal(trace.layer_spikes, per_layer)
    np.testing.assert_array_equal(trace.output_counts, counts)
    for a, b in zip(trace.neuron_spikes, per_neuron):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert np.all(per_layer.sum(0) > 0)
    assert len({tuple(r) for r in counts}) > 1  # samples differ: the windows are not all alike


@pytest.mark.parametrize("kind", ["dense", "conv"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_engine_equals_lava_fixed(nets, fixed_traces, x, kind, batch_size):
    trace = get_backend("engine", batch_size=batch_size).run(nets[kind][1], x, STEPS)
    lava = fixed_traces[kind]
    assert trace.backend == "engine"
    np.testing.assert_array_equal(trace.output_counts, lava.output_counts)
    np.testing.assert_array_equal(trace.layer_spikes, lava.layer_spikes)
    for a, b in zip(trace.neuron_spikes, lava.neuron_spikes):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(trace.input_events, lava.input_events)


def test_fixed_point_follows_the_float_network(nets, fixed_traces, x):
    """Quantization keeps the spiking behaviour close: same predictions as the float network on these samples."""
    for kind, (net, _) in nets.items():
        ref = get_backend("float").run(net, x, STEPS)
        assert np.mean(fixed_traces[kind].predictions() == ref.predictions()) >= 0.75
        np.testing.assert_allclose(fixed_traces[kind].layer_spikes, ref.layer_spikes, rtol=0.25, atol=8)


def test_windowed_run_equals_each_sample_alone(fixed_traces, fixed_alone):
    batch = fixed_traces["dense"]
    for i, alone in enumerate(fixed_alone):
        np.testing.assert_array_equal(alone.layer_spikes[0], batch.layer_spikes[i])
        # one sample: its per-neuron totals are its own output counts
        np.testing.assert_array_equal(alone.neuron_spikes[-1].reshape(-1), batch.output_counts[i])
    total = sum(a.neuron_spikes[0] for a in fixed_alone)
    assert total.sum() == batch.layer_spikes[:3, 0].sum()


def test_single_sample_run_reports_its_output_counts(fixed_alone):
    for alone in fixed_alone:
        assert alone.output_counts.sum() == alone.layer_spikes[0, -1] > 0
        np.testing.assert_array_equal(alone.output_counts[0], alone.neuron_spikes[-1].reshape(-1))


# ---------------------------------------------------------------------------------------------------------
# refusals


def test_loihi_backend_without_lava_loihi():
    if lava_loihi_installed():
        pytest.skip("lava-loihi is installed here: the missing-extension message cannot be produced")
    with pytest.raises(BackendUnavailableError) as exc:
        get_backend("loihi")
    msg = str(exc.value)
    assert msg == LAVA_LOIHI_MISSING
    assert "lava-loihi" in msg and "--backend lava-fixed" in msg and "\n" not in msg


def test_lava_fixed_refuses_a_float_network(nets, x):
    with pytest.raises(UnsupportedModelError, match="quantize it first"):
        get_backend("lava-fixed").run(nets["dense"][0], x, STEPS)


@pytest.mark.parametrize("backend", ["float", "lava-float"])
def test_float_backends_refuse_a_quantized_network(backend, nets, x):
    with pytest.raises(UnsupportedModelError, match="this one is quantized"):
        get_backend(backend).run(nets["dense"][1], x, STEPS)


def test_lava_backends_check_input_shape(nets, x):
    with pytest.raises(InputShapeError, match=r"do not match the network input \(1, 8, 8\)"):
        get_backend("lava-fixed").run(nets["dense"][1], x[:, :, :4, :4], STEPS)
    with pytest.raises(InputShapeError):
        get_backend("lava-float").run(nets["conv"][0], x.reshape(N, -1), STEPS)


def test_unknown_backend_and_mode():
    with pytest.raises(ValueError, match="unknown backend 'lava-double'"):
        get_backend("lava-double")
    with pytest.raises(ValueError, match="mode must be 'fixed' or 'float'"):
        LavaBackend("double")
    assert get_backend("lava-float").name == "lava-float" and get_backend("lava-fixed").name == "lava-fixed"
