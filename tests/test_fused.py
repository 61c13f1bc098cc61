"""The fused CPU kernels (neurokit/backends/engine/fused.py: all T steps of a population in one numba call)
against FixedNeurons' and FloatNeurons' numpy code, the reference: spikes, u, v and last_v equal bit for bit.

Neuron level: random parameters over their whole formats (decays 0..4095 with the no-leak and no-memory
ends, u_init, v_init, refractory, both resets, reset amounts unlike the threshold, biases whose shift
overflows int32) and drives near the int32 limits (u wraps, v saturates), constant or per step, int32 or
int64, B > 1, with and without recording. Network level: Engine.record and Engine.run of random networks
(tests/netgen.py) with NEUROKIT_FUSED=0 and =1. The Lava differential tests (test_engine_differential.py)
run with the kernel on, as every engine run does where numba imports.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neurokit.arithmetic import LOIHI2
from neurokit.backends import get_backend
from neurokit.backends.engine import Drive, fused
from neurokit.backends.engine.arrays import NumpyArrays, TorchArrays
from neurokit.backends.engine.fixed import FixedNeurons
from neurokit.backends.engine.floating import FloatNeurons
from neurokit.errors import UnsupportedModelError
from neurokit.network import check_pipelined
from neurokit.verify import first_mismatch
from netgen import networks

pytest.importorskip("numba")

M = 1 << 23
I32 = 1 << 31
EXAMPLES = int(os.environ.get("NEUROKIT_FUSED_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("NEUROKIT_DIFF_RANDOM"),
                    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextlib.contextmanager
def fused_switch(on: bool):
    saved = os.environ.get("NEUROKIT_FUSED")
    os.environ["NEUROKIT_FUSED"] = "1" if on else "0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["NEUROKIT_FUSED"]
        else:
            os.environ["NEUROKIT_FUSED"] = saved


def ints(shape, lo, hi):
    return hnp.arrays(np.int64, shape, elements=st.integers(lo, hi))


@st.composite
def cases(draw):
    """(FixedNeurons, Drive, steps, record)."""
    xp = NumpyArrays()
    n, b, steps = draw(st.integers(1, 24)), draw(st.integers(1, 3)), draw(st.integers(1, 10))
    du = draw(st.one_of(st.just(4095), st.integers(0, 4095)))  # 4095: u holds only this step's input
    dv = draw(st.one_of(st.just(0), st.just(4095), st.integers(0, 4095)))  # 0: v does not decay
    bias = LOIHI2.bias_raw(draw(ints((n,), -(1 << 15), (1 << 15) - 1)), draw(st.integers(-16, 16)))
    if draw(st.booleans()):
        bias = np.zeros(n, np.int64)
    vth = draw(st.one_of(st.integers(0, 1023), st.integers(0, LOIHI2.max_vth)))
    threshold = LOIHI2.threshold_raw(vth)
    reset_by = draw(st.one_of(st.just(threshold), st.integers(1, (1 << 24) - 1)))
    v_init = draw(st.one_of(ints((n,), 0, 0), ints((n,), -(M - 1), M - 1)))
    u_init = draw(st.one_of(st.none(), ints((n,), -(M - 1), M - 1)))
    refractory = draw(st.one_of(st.just(0), st.integers(1, 5)))
    integrate_and_fire = draw(st.booleans())  # conversion's neuron: the int32 kernel (fused.if_steps) on small drives
    if integrate_and_fire:
        du, dv, refractory = 4095, 0, 0
    neurons = FixedNeurons(
        n=n, u_factor=4096 - (du + 1), v_factor=4096 - dv, bias=bias, threshold=threshold, v_init=v_init,
        subtract=draw(st.booleans()), bias_bound=int(np.abs(bias).max()), arith=LOIHI2, xp=xp, reset_by=reset_by,
        u_init=u_init, refractory=refractory)
    # drives: small (no wrap of u: the int32 kernel), past 2**17 (a << 6 wraps u), up to the int32 limits
    top = draw(st.sampled_from([1, 300, (1 << 17) - 1, 1 << 17, 1 << 20, I32 - 1]))
    constant = draw(st.booleans())
    rest = draw(ints((b, n) if constant else (steps - 1, b, n), -top, top))
    # step 0: nothing in flight (zeros), or with pipelined windows input: a held drive's own value (the engine
    # builds no other: FixedNeurons._may_saturate relies on it), any value for one that changes
    if constant:
        first = draw(st.sampled_from([np.zeros_like(rest), rest.copy()]))
    else:
        first = draw(st.one_of(ints((b, n), 0, 0), ints((b, n), -top, top)))
    if top == I32 - 1 and rest.size and draw(st.booleans()):
        rest.flat[0] = -I32  # int32's most negative value
    dtype = np.int32 if integrate_and_fire else draw(st.sampled_from([np.int32, np.int64]))
    bound = max(int(np.abs(rest).max(initial=0)), int(np.abs(first).max(initial=0)))
    drive = Drive(first.astype(dtype), rest.astype(dtype), constant, bound)
    return neurons, drive, steps, draw(st.booleans())


def check(neurons, drive, steps, record):
    with fused_switch(False):
        ref = neurons.run(drive, steps, record)
        ref_last = np.asarray(neurons.last_v)
    kernel = fused.fused_kernel(neurons.xp)
    assert kernel is not None
    neurons.last_v = None
    got = kernel(neurons, drive, steps, record)
    assert got[0].dtype == np.bool_ and got[0].shape == (steps, drive.batch, neurons.n)
    np.testing.assert_array_equal(got[0], ref[0])
    if record:
        np.testing.assert_array_equal(got[1], ref[1])
        np.testing.assert_array_equal(got[2], ref[2])
    else:
        assert got[1] is None and got[2] is None
    np.testing.assert_array_equal(neurons.last_v, ref_last)
    return ref, neurons.last_v.dtype  # int32: the integrate-and-fire kernel ran (fused.if_steps)


def edge_case(u_factor, v_factor, a, bias=0, threshold=64, subtract=True, reset_by=None, refractory=0, v_init=0):
    """One neuron, one sample, a given drive per step (steps 1..), int32."""
    a = np.asarray(a, np.int32).reshape(-1, 1, 1)
    neurons = FixedNeurons(
        n=1, u_factor=u_factor, v_factor=v_factor, bias=np.array([bias], np.int64), threshold=threshold,
        v_init=np.array([v_init], np.int64), subtract=subtract, bias_bound=abs(bias), arith=LOIHI2, xp=NumpyArrays(),
        reset_by=threshold if reset_by is None else reset_by, refractory=refractory)
    bound = int(np.abs(a).max())
    return neurons, Drive(np.zeros((1, 1), np.int32), a, False, bound), len(a) + 1, True


@SETTINGS
@given(case=cases())
@example(case=edge_case(0, 4096, [-(1 << 17), -(1 << 17), 5]))  # a << 6 = -2**23: Lava's wrap makes it +2**23
@example(case=edge_case(0, 4096, [I32 - 1, -I32, 1 << 17, 1 << 20]))  # int32 extremes: wrap32, then wrap_u
@example(case=edge_case(4095, 4096, [1 << 20] * 3 + [-(1 << 20)] * 3, threshold=LOIHI2.threshold_raw(LOIHI2.max_vth)))
@example(case=edge_case(0, 4096, [-(1 << 16)] * 8, v_init=-(M - 1) + 5))  # v saturates at -(2**23 - 1)
@example(case=edge_case(0, 4096, [(1 << 25) - 1] * 2, bias=1 << 30))  # decay(v) + u + bias overflows int32
@example(case=edge_case(0, 4096, [(1 << 17) - 1] * 3, bias=(1 << 31) - (1 << 16)))  # the same, int32 kernel
@example(case=edge_case(2048, 1, [1000, -1000, 3, -3, 0, 0], bias=-7))  # decays truncate toward zero
@example(case=edge_case(0, 4000, [400] * 9, refractory=2, subtract=False))  # held v, zero reset
@example(case=edge_case(0, 4096, [400] * 9, refractory=3, reset_by=5))  # reset_by < threshold: v stays above it
def test_fused_equals_numpy_reference(case):
    check(*case)


def test_the_cases_reach_the_edges():
    """The drawn cases do what the test says they cover: u wraps, v saturates both ways, neurons fire and
    hold, both kernels run (a sample of 300 draws; with a drawn case in hand, the reference's own numbers)."""
    seen = {"u_wrapped": False, "v_high": False, "v_low": False, "fired": False, "held": False,
            "int32 kernel": False, "int64 kernel": False}

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=cases())
    def look(case):
        neurons, drive, steps, _ = case
        (spikes, u, v), kernel_dtype = check(neurons, drive, steps, True)
        seen[f"{np.dtype(kernel_dtype).name} kernel"] = True
        a = np.concatenate([drive.first[None], np.broadcast_to(drive.rest, (steps - 1,) + drive.rest.shape[-2:])])
        seen["u_wrapped"] |= bool(np.any(np.abs(a.astype(np.int64)[:steps] << 6) >= M))
        # v above the largest threshold fires: a saturated v shows after its reset (recorded v is after it)
        seen["v_high"] |= bool(neurons.subtract and np.any(spikes & (v == M - 1 - neurons.reset_by)))
        seen["v_low"] |= bool(np.any(v == -(M - 1)))
        seen["fired"] |= bool(spikes.any())
        seen["held"] |= bool(neurons.refractory and spikes[:-1].any() and np.any((v[1:] == v[:-1]) & spikes[:-1]))

    look()
    assert all(seen.values()), seen


def test_switch_and_backends(monkeypatch):
    """NEUROKIT_FUSED=0 and non-numpy CPU arrays give no kernel; FixedNeurons.run uses the kernel otherwise."""
    assert fused.fused_kernel(NumpyArrays()) is not None
    assert fused.fused_kernel(TorchArrays("cpu")) is None
    monkeypatch.setenv("NEUROKIT_FUSED", "0")
    assert fused.fused_kernel(NumpyArrays()) is None
    monkeypatch.delenv("NEUROKIT_FUSED")
    calls = []
    real = fused.fused_kernel(NumpyArrays())
    monkeypatch.setattr(fused, "_numba_run", lambda *a: calls.append(a) or real(*a))
    neurons, drive, steps, record = edge_case(0, 4096, [400] * 3)
    neurons.run(drive, steps, record)
    assert len(calls) == 1


def test_engine_runs_without_numba(monkeypatch):
    """Where numba cannot be imported the engine runs the numpy path."""
    import builtins

    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("no numba here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
    monkeypatch.setattr(fused, "_numba_run", None)
    assert fused.fused_kernel(NumpyArrays()) is None
    neurons, drive, steps, record = edge_case(0, 4096, [400] * 3)
    spikes, _, v = neurons.run(drive, steps, record)
    assert spikes[:, 0, 0].tolist() == [False, True, True, True] and v[-1, 0, 0] == 400 * 64 * 3 - 3 * 64


# ---- whole networks: the engine with the kernel on and off ------------------------------------------------

@st.composite
def engine_cases(draw):
    """A random network (tests/netgen.py), some populations given what netgen leaves at its default: u_init,
    a refractory period, a reset amount of their own; pipelined windows on some draws."""
    net, x, steps = draw(networks(max_populations=3))
    for p in net.populations:
        q = p.neuron
        if draw(st.booleans()):
            q.u_init = draw(ints(p.shape, -(M - 1), M - 1)).astype(np.int32)
        q.refractory = draw(st.sampled_from([0, 0, 1, 3]))
        if q.reset == "subtract" and draw(st.booleans()):
            q.reset_raw = draw(st.integers(1, (1 << 24) - 1))
    if draw(st.booleans()):
        net.metadata["windows"] = "pipelined"
        try:
            check_pipelined(net)
        except UnsupportedModelError:  # unequal path delays: synchronous windows
            net.metadata.pop("windows")
    return net.validate(), x, steps


@settings(max_examples=int(os.environ.get("NEUROKIT_DIFF_EXAMPLES", "50")), deadline=None,
          derandomize=not os.environ.get("NEUROKIT_DIFF_RANDOM"), print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=engine_cases())
def test_engine_with_and_without_kernel(case):
    net, x, steps = case
    engine = get_backend("engine", device="cpu")
    with fused_switch(False):
        ref_rec, ref_run = engine.record(net, x, steps), engine.run(net, x, steps)
    with fused_switch(True):
        rec, run = engine.record(net, x, steps), engine.run(net, x, steps)
    assert first_mismatch(ref_rec, rec) is None
    for a, b in zip(ref_rec, rec):  # first_mismatch compares what Lava monitors; here every value
        for k in ("u", "v", "spikes"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    np.testing.assert_array_equal(run.layer_spikes, ref_run.layer_spikes)
    np.testing.assert_array_equal(run.output_counts, ref_run.output_counts)
    if ref_run.output_scores is not None:
        np.testing.assert_array_equal(run.output_scores, ref_run.output_scores)



def test_kernels_run_uncompiled(monkeypatch):
    """fused.lif_steps and fused.if_steps are plain Python as well (what numba compiles): uncompiled they
    give the same numbers on the edge cases, so the source can be read and debugged as the rules."""
    import numba

    monkeypatch.setattr(numba, "njit", lambda **kwargs: (lambda f: f))
    run = fused._build_numba()
    kinds = set()
    for case in (edge_case(0, 4096, [-(1 << 17), -(1 << 17), 5]), edge_case(0, 4096, [I32 - 1, -I32, 1 << 17]),
                 edge_case(2048, 1, [1000, -1000, 3, -3, 0, 0], bias=-7),
                 edge_case(0, 4000, [400] * 9, refractory=2, subtract=False),
                 edge_case(0, 4096, [(1 << 17) - 1] * 3, bias=(1 << 31) - (1 << 16)),
                 edge_case(0, 4096, [-(1 << 16)] * 8, v_init=-(M - 1) + 5)):
        neurons, drive, steps, record = case
        with fused_switch(False):
            ref = neurons.run(drive, steps, record)
            ref_last = neurons.last_v
        with np.errstate(over="ignore"):
            got = run(neurons, drive, steps, record)
        kinds.add(neurons.last_v.dtype)
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(neurons.last_v, ref_last)
    assert kinds == {np.dtype(np.int32), np.dtype(np.int64)}  # both kernels ran


# ---- the float kernel (fused.float_steps) against FloatNeurons' numpy steps ---------------------------------

def reals(shape, dtype=np.float64):
    """Values in [-2, 2], dyadic ones among them, so that v lands exactly on a threshold on some draws."""
    width = 32 if dtype == np.float32 else 64
    return hnp.arrays(dtype, shape, elements=st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0, -0.5, -1.0]),
                                                       st.floats(-2, 2, width=width)))


@st.composite
def float_cases(draw):
    """(FloatNeurons, Drive, steps, record): every rule of FloatNeurons.step, drives float32 (a conv's) or
    float64 (a dense projection's), held or per step."""
    n, b, steps = draw(st.integers(1, 24)), draw(st.integers(1, 3)), draw(st.integers(1, 10))
    plain = draw(st.booleans())  # du = 1, dv = 0, no u bias: u is this step's input
    du, dv = (1.0, 0.0) if plain else (draw(st.floats(0, 1)), draw(st.floats(0, 1)))
    neurons = FloatNeurons(
        n=n, bias=draw(reals((n,))), v_init=draw(reals((n,))), subtract=draw(st.booleans()), xp=NumpyArrays(),
        du=du, dv=dv, threshold=draw(st.sampled_from([1.0, 0.5, 0.0, -0.25])),
        reset_amount=draw(st.sampled_from([1.0, 0.3, 2.5])), fires=draw(st.sampled_from([True, True, False])),
        threshold_ge=draw(st.booleans()), u_bias=None if plain or draw(st.booleans()) else draw(reals((n,))),
        refractory=draw(st.sampled_from([0, 0, 1, 3])))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    constant = draw(st.booleans())
    rest = draw(reals((b, n) if constant else (max(steps - 1, 0), b, n), dtype))
    first = draw(st.one_of(st.just(np.zeros((b, n), dtype)), reals((b, n), dtype)))
    return neurons, Drive(first, rest, constant, 0), steps, draw(st.booleans())


def bits(a):
    """float64 values as their bit patterns: equal means bit for bit (signed zeros included)."""
    return np.asarray(a, np.float64).view(np.uint64)


@SETTINGS
@given(case=float_cases())
def test_float_kernel_equals_numpy_reference(case):
    neurons, drive, steps, record = case
    with fused_switch(False):
        ref = neurons.run(drive, steps, record)
        ref_last = np.asarray(neurons.last_v, np.float64)
    kernel = fused.fused_float_kernel(neurons.xp)
    assert kernel is not None
    neurons.last_v = None
    got = kernel(neurons, drive, steps, record)
    np.testing.assert_array_equal(got[0], ref[0])
    if record:
        np.testing.assert_array_equal(bits(got[1]), bits(ref[1]))
        np.testing.assert_array_equal(bits(got[2]), bits(ref[2]))
    else:
        assert got[1] is None and got[2] is None
    np.testing.assert_array_equal(bits(neurons.last_v), bits(ref_last))


def test_float_kernel_switch_and_backends(monkeypatch):
    assert fused.fused_float_kernel(NumpyArrays()) is not None
    assert fused.fused_float_kernel(TorchArrays("cpu")) is None
    monkeypatch.setenv("NEUROKIT_FUSED", "0")
    assert fused.fused_float_kernel(NumpyArrays()) is None


def test_float_kernel_runs_uncompiled(monkeypatch):
    """fused.float_steps uncompiled (plain Python) gives the compiled kernel's numbers."""
    import numba

    rng = np.random.default_rng(0)
    compiled = fused.fused_float_kernel(NumpyArrays())
    monkeypatch.setattr(numba, "njit", lambda **kwargs: (lambda f: f))
    plain = fused._build_numba_float()
    for du, dv, refractory, dtype in ((1.0, 0.0, 0, np.float32), (0.25, 0.125, 2, np.float64)):
        neurons = FloatNeurons(n=5, bias=rng.normal(0, 0.3, 5), v_init=np.zeros(5), subtract=refractory == 0,
                               xp=NumpyArrays(), du=du, dv=dv, refractory=refractory)
        drive = Drive(np.zeros((2, 5), dtype), rng.normal(0.4, 1, (7, 2, 5)).astype(dtype), False, 0)
        want = compiled(neurons, drive, 8, True)
        got = plain(neurons, drive, 8, True)
        assert want[0].any()
        np.testing.assert_array_equal(got[0], want[0])
        for a, b in zip(got[1:], want[1:]):
            np.testing.assert_array_equal(bits(a), bits(b))


@pytest.mark.parametrize("name", ["digits_cnn_net", "digits_resnet_net"])
def test_float_engine_with_and_without_kernel(name, request, digits):
    """The float backend on converted networks (conv float32 sums, residual sums in float64): every u, v and
    spike, and the run's counts, equal with the kernel on and off."""
    net = request.getfixturevalue(name)
    x = digits.x_test[:6]
    engine = get_backend("float", device="cpu")
    with fused_switch(False):
        ref_rec, ref_run = engine.record(net, x, 12), engine.run(net, x, 12)
    with fused_switch(True):
        rec, run = engine.record(net, x, 12), engine.run(net, x, 12)
    for a, b in zip(ref_rec, rec):
        for k in ("u", "v"):
            np.testing.assert_array_equal(bits(getattr(a, k)), bits(getattr(b, k)))
        np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(run.layer_spikes, ref_run.layer_spikes)
    np.testing.assert_array_equal(run.output_counts, ref_run.output_counts)
    assert run.layer_spikes.sum() > 0
