"""The fused Triton LIF kernel (neurokit/backends/engine/fused_triton.py) against the engine's reference
neuron update, bit for bit: spikes, u and v after every step, and the last v.

On CPU the kernel runs under Triton's interpreter (TRITON_INTERPRET=1, set per test: the module builds its
kernel on first use, for the mode in force then), on random populations drawn over the whole format: decays
0..4095 (u_factor 0, v_factor 4096 among them), u_init or none, v_init, refractory or not, subtract or zero
reset, reset_by other than the threshold, biases of both signs up to int32's limits, drives near int32's
limits (u wraps, v saturates), held and per-step drives, record on and off, several samples. The reference is
FixedNeurons.run on numpy (which takes its int32 fast path where it applies) and the general start/step loop.

On a GPU the same cases run compiled, plus one layer large enough that T x B x n passes 2**31 elements, plus
random networks through the Engine on cuda with the kernel against the engine's torch loop; without a GPU
those are skipped, saying so.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from neurokit.arithmetic import LOIHI2
from neurokit.backends.engine import Drive
from neurokit.backends.engine import fused_triton
from neurokit.backends.engine.arrays import NumpyArrays, TorchArrays
from neurokit.backends.engine.fixed import FixedNeurons

M = LOIHI2.state_limit
CUDA = torch.cuda.is_available()
NO_GPU = "no CUDA GPU here (torch.cuda.is_available() is False): the compiled kernel runs only on a GPU"
triton = pytest.importorskip("triton", reason="Triton does not import here")
_TL_MATH = importlib.import_module("triton.language.math")
_TL_MATH_FILE = _TL_MATH.__file__  # read before any interpreted launch (see _mend_interpreted_math)
# Triton 2.3's interpreter reads the step count through a deprecated numpy conversion
pytestmark = pytest.mark.filterwarnings("ignore:Conversion of an array with ndim > 0:DeprecationWarning")


@pytest.fixture(autouse=True)
def mended_math():
    """Every test leaves triton.language.math with its path (see _mend_interpreted_math): later test files in
    the same session draw with hypothesis too."""
    yield
    _mend_interpreted_math()


@pytest.fixture
def interpret(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.delenv("NEUROKIT_FUSED", raising=False)


# ---- random populations and drives ------------------------------------------------------------------------

def draw_case(seed: int) -> dict:
    """Parameters of one population and its drive, drawn over the formats' whole ranges."""
    rng = np.random.default_rng(seed)
    pick = lambda *options: options[rng.integers(len(options))]  # noqa: E731
    n, batch, steps = int(rng.integers(1, 40)), int(rng.integers(1, 4)), int(rng.integers(1, 13))
    du = int(pick(4095, 0, rng.integers(0, 4096)))  # 4095: u_factor 0 (u holds this step's input only)
    dv = int(pick(0, 4095, rng.integers(0, 4096)))  # 0: v_factor 4096 (no decay)
    scale = pick("small", "wrap", "int32")
    hi = {"small": 1 << 10, "wrap": 1 << 18, "int32": (1 << 31) - 1}[scale]
    bias_hi = int(pick(0, 1 << 12, 1 << 22, (1 << 31) - 1))
    vth = int(pick(rng.integers(0, 64), rng.integers(0, 1 << 17)))
    threshold = vth << 6
    return dict(
        n=n, batch=batch, steps=steps, u_factor=4096 - du - 1, v_factor=4096 - dv,
        bias=rng.integers(-bias_hi, bias_hi + 1, n), threshold=threshold,
        reset_by=int(pick(threshold, rng.integers(0, 1 << 23))), subtract=bool(rng.integers(2)),
        v_init=pick(np.zeros(n, np.int64), rng.integers(-(M - 1), M, n)),
        u_init=pick(None, rng.integers(-M + 1, M + 1, n)),
        refractory=int(pick(0, 0, rng.integers(1, 4))),
        constant=bool(rng.integers(2)), record=bool(rng.integers(2)), hi=hi,
        first=rng.integers(-hi, hi + 1, (batch, n)) * int(rng.integers(2)),  # zeros, or a pipelined window's
        rest=rng.integers(-hi, hi + 1, (batch, n) if rng.integers(2) else (max(steps - 1, 0), batch, n)),
    )


def neurons_for(case: dict, xp) -> FixedNeurons:
    bias = np.asarray(case["bias"], np.int64)
    return FixedNeurons(
        n=case["n"], u_factor=case["u_factor"], v_factor=case["v_factor"], bias=xp.asarray(bias, xp.int64),
        threshold=case["threshold"], v_init=xp.asarray(case["v_init"], xp.int64), subtract=case["subtract"],
        bias_bound=int(np.abs(bias).max(initial=0)), arith=LOIHI2, xp=xp, reset_by=case["reset_by"],
        u_init=None if case["u_init"] is None else xp.asarray(case["u_init"], xp.int64),
        refractory=case["refractory"])


def drive_for(case: dict, xp) -> Drive:
    first, rest = case["first"], case["rest"]
    constant = rest.ndim == 2
    dtype = np.int32 if case["hi"] < (1 << 31) - 1 else np.int64  # int64 holding int32 values, as summed drives
    bound = max(int(np.abs(first).max(initial=0)), int(np.abs(rest).max(initial=0)))
    return Drive(xp.asarray(first.astype(dtype)), xp.asarray(rest.astype(dtype)), constant, bound)


def reference(case: dict):
    """FixedNeurons.run on numpy, checked against the start/step loop (the general reference)."""
    xp = NumpyArrays()
    neu = neurons_for(case, xp)
    drive = drive_for(case, xp)
    steps = case["steps"]
    spikes, u, v = neu.run(drive, steps, record=True)
    last_v = np.asarray(neu.last_v, np.int64)
    loop = neurons_for(case, xp)
    state = loop.start(drive.batch)
    for t in range(steps):
        out = np.empty((drive.batch, case["n"]), bool)
        loop.step(state, drive.at(t), out)
        assert np.array_equal(out, spikes[t]) and np.array_equal(state["u"], u[t]) and np.array_equal(state["v"], v[t])
    return spikes, u, v, last_v


def check(case: dict, device: str) -> None:
    spikes, u, v, last_v = reference(case)
    xp = TorchArrays(device)
    neu = neurons_for(case, xp)
    drive = drive_for(case, xp)
    got_s, got_u, got_v = fused_triton.run_lif(neu, drive, case["steps"], record=case["record"], counts=True)
    assert got_s.dtype == torch.bool and tuple(got_s.shape) == spikes.shape
    np.testing.assert_array_equal(got_s.cpu().numpy(), spikes)
    np.testing.assert_array_equal(neu.last_v.cpu().numpy(), last_v)
    np.testing.assert_array_equal(neu.last_counts.cpu().numpy(), spikes.sum(0))
    if case["record"]:
        np.testing.assert_array_equal(got_u.cpu().numpy(), u)
        np.testing.assert_array_equal(got_v.cpu().numpy(), v)
    else:
        assert got_u is None and got_v is None


SEEDS = range(48)


# ---- the interpreter on CPU ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_kernel_equals_reference_interpreted(seed, interpret):
    check(draw_case(seed), "cpu")


def test_cases_cover_the_edges():
    """The drawn cases reach what the kernel must get right: wraps of u, saturation of v, refractory holds,
    both resets, both decays' extremes, u_init, held and per-step drives, several samples."""
    cases = [draw_case(s) for s in SEEDS]
    seen = set()
    for c in cases:
        _, u, v, _ = reference(c)
        seen.add("u_factor 0" if c["u_factor"] == 0 else "u decays")
        seen.add("v_factor 4096" if c["v_factor"] == 4096 else "v decays")
        seen.add("subtract" if c["subtract"] else "zero")
        seen.add("refractory" if c["refractory"] else "no refractory")
        seen.add("u_init" if c["u_init"] is not None else "no u_init")
        seen.add("held" if c["rest"].ndim == 2 else "per step")
        seen.add("record" if c["record"] else "no record")
        if c["reset_by"] != c["threshold"]:
            seen.add("reset_by != threshold")
        if c["batch"] > 1:
            seen.add("B > 1")
        if np.abs(v).max(initial=0) == M - 1:
            seen.add("v saturates")
        if c["hi"] == (1 << 31) - 1:
            seen.add("int32 drive")
        if (np.asarray(c["bias"]) < 0).any() and (np.asarray(c["bias"]) > 0).any():
            seen.add("biases of both signs")
        if np.abs(u).max(initial=0) >= (1 << 22):
            seen.add("u near its limit")
    missing = {"u_factor 0", "u decays", "v_factor 4096", "v decays", "subtract", "zero", "refractory",
               "no refractory", "u_init", "no u_init", "held", "per step", "record", "no record",
               "reset_by != threshold", "B > 1", "v saturates", "int32 drive", "biases of both signs",
               "u near its limit"} - seen
    assert not missing


EDGE_DRIVES = [-(1 << 17), 1 << 17, (1 << 17) - 1, 1 - (1 << 17), -(1 << 31), (1 << 31) - 1, 3 << 17, -(3 << 17),
               (1 << 25) + 5, -(1 << 25) - 5, 0, 1, -1]


@pytest.mark.parametrize("u_factor", [0, 1, 4095])
def test_edges_interpreted(u_factor, interpret):
    """Exact edges random draws rarely hit: a_in << 6 = -2**23 (Lava's wrap turns it into +2**23, the
    u_wrap_edge case of the differential tests), +2**23 (kept), int32's extremes, v reaching its limits."""
    edges = np.array(EDGE_DRIVES, np.int64)
    n = len(edges)
    for subtract, threshold in ((True, 64 * 3), (False, 0), (True, M - 1)):
        case = dict(n=n, batch=2, steps=6, u_factor=u_factor, v_factor=4096, bias=np.zeros(n, np.int64),
                    threshold=threshold, reset_by=threshold, subtract=subtract, v_init=np.full(n, M - 2, np.int64),
                    u_init=None, refractory=0, record=True, hi=(1 << 31) - 1,
                    first=np.stack([edges, -edges]), rest=np.stack([np.stack([edges, edges[::-1]])] * 5))
        check(case, "cpu")


def test_several_programs_and_strided_drives(interpret):
    """More elements than one program's block, a per-step drive that is a stride-0 broadcast view (as
    sum_drives builds for held inputs beside per-step ones), and a non-contiguous first step."""
    rng = np.random.default_rng(7)
    case = draw_case(3)
    n, batch, steps = 700, 3, 5
    case.update(n=n, batch=batch, steps=steps, bias=rng.integers(-3000, 3000, n), v_init=rng.integers(-9999, 9999, n),
                u_init=None, first=rng.integers(-500, 500, (batch, n)), rest=rng.integers(-500, 500, (steps - 1, batch, n)),
                record=True, hi=1 << 10, threshold=64 * 20, reset_by=64 * 20)
    check(case, "cpu")
    spikes, u, v, last_v = reference(case)
    xp = TorchArrays("cpu")
    neu = neurons_for(case, xp)
    held = torch.as_tensor(case["rest"][0], dtype=torch.int32)
    first = torch.as_tensor(np.ascontiguousarray(case["first"].T), dtype=torch.int32).T  # strides (1, batch)
    case2 = dict(case, rest=np.broadcast_to(case["rest"][0], (steps - 1, batch, n)))
    spikes2, u2, v2, _ = reference(case2)
    drive = Drive(first, held.unsqueeze(0).expand(steps - 1, batch, n), False, 500)
    s, ru, rv = fused_triton.run_lif(neu, drive, steps, record=True)
    np.testing.assert_array_equal(s.numpy(), spikes2)
    np.testing.assert_array_equal(ru.numpy(), u2)
    np.testing.assert_array_equal(rv.numpy(), v2)


def test_no_steps_or_no_samples(interpret):
    case = draw_case(5)
    neu = neurons_for(case, TorchArrays("cpu"))
    drive = drive_for(case, TorchArrays("cpu"))
    s, u, v = fused_triton.run_lif(neu, drive, 0, record=True)
    assert tuple(s.shape) == (0, case["batch"], case["n"])
    np.testing.assert_array_equal(neu.last_v.numpy(), np.broadcast_to(case["v_init"], (case["batch"], case["n"])))


def test_kernel_builds_in_both_modes():
    """The interpreted kernel and the compiled one (built, not launched: that needs a GPU) in one process keep
    every constexpr parameter (the GPU session runs the interpreter tests and the GPU tests together)."""
    fused_triton._kernel(True)
    fused_triton._kernel(False)
    ann = fused_triton._lif_kernel.__annotations__
    assert len(ann) == 12 and all(v is triton.language.constexpr for v in ann.values())


def test_available(monkeypatch):
    monkeypatch.delenv("NEUROKIT_FUSED", raising=False)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert fused_triton.available(TorchArrays("cpu"))
    assert not fused_triton.available(NumpyArrays())
    monkeypatch.setenv("NEUROKIT_FUSED", "0")
    assert not fused_triton.available(TorchArrays("cpu"))
    monkeypatch.delenv("NEUROKIT_FUSED")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert not fused_triton.available(TorchArrays("cpu"))  # compiled Triton needs a GPU


# ---- compiled, on a GPU ------------------------------------------------------------------------------------

@pytest.mark.skipif(not CUDA, reason=NO_GPU)
@pytest.mark.parametrize("seed", SEEDS)
def test_kernel_equals_reference_on_gpu(seed, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    monkeypatch.delenv("NEUROKIT_FUSED", raising=False)
    assert fused_triton.available(TorchArrays("cuda"))
    check(draw_case(seed), "cuda")


@pytest.mark.skipif(not CUDA, reason=NO_GPU)
def test_large_layer_on_gpu(monkeypatch):
    """T x B x n past 2**31 elements (the kernel advances pointers per step, never t * stride in int32),
    against the engine's own torch loop on the same GPU."""
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    monkeypatch.delenv("NEUROKIT_FUSED", raising=False)
    batch, n, steps = 1024, 1 << 16, 33  # 2.2e9 spike bytes
    if torch.cuda.mem_get_info()[0] < 12 * 2**30:
        pytest.skip("needs about 12 GB of free GPU memory")
    xp = TorchArrays("cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    held = torch.randint(-4000, 4000, (batch, n), device="cuda", generator=g, dtype=torch.int32)
    case = dict(n=n, u_factor=0, v_factor=4000, bias=np.random.default_rng(0).integers(-999, 999, n),
                threshold=64 * 300, reset_by=64 * 300, subtract=True, v_init=np.zeros(n, np.int64), u_init=None,
                refractory=0)
    drive = Drive(torch.zeros_like(held), held, True, 4000)
    ref = neurons_for(case, xp)
    monkeypatch.setenv("NEUROKIT_FUSED", "0")  # a dispatch wired into FixedNeurons.run stands aside
    want, _, _ = ref.run(drive, steps)
    monkeypatch.delenv("NEUROKIT_FUSED")
    got_neu = neurons_for(case, xp)
    got, _, _ = fused_triton.run_lif(got_neu, drive, steps)
    assert torch.equal(got, want)
    assert torch.equal(got_neu.last_v, ref.last_v.to(torch.int64))


def _mend_interpreted_math() -> None:
    """Triton 2.3's interpreter replaces every attribute of triton.language.math it does not map, __file__
    among them, with a function, at each launch; hypothesis reads each loaded module's __file__ (a path)
    when it draws. Give the module its path back."""
    if not isinstance(getattr(_TL_MATH, "__file__", ""), str):
        _TL_MATH.__file__ = _TL_MATH_FILE


def compare_engines(monkeypatch, device: str, examples: int) -> None:
    """Random networks (tests/netgen.py, as the differential tests draw them) through Engine(device=device):
    record (u, v, spikes of every population) and run (counts, scores) with the kernel equal the engine's own
    loop, and the records equal the CPU engine's (on a GPU: its sums on TF32 where licensed)."""
    hypothesis = pytest.importorskip("hypothesis")
    from netgen import networks

    from neurokit.backends import get_backend

    _mend_interpreted_math()
    reference_run = FixedNeurons.run

    def fused_run(self, drive, steps, record=False):
        assert fused_triton.available(self.xp)
        out = fused_triton.run_lif(self, drive, steps, record)
        _mend_interpreted_math()  # each interpreted launch patches it again
        return out

    @hypothesis.settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(case=networks(max_populations=4))
    def compare(case):
        net, x, steps = case
        engine = get_backend("engine", device=device)
        monkeypatch.setattr(FixedNeurons, "run", reference_run)
        monkeypatch.setenv("NEUROKIT_FUSED", "0")  # a dispatch wired into FixedNeurons.run stands aside
        want = engine.record(net, x, steps), engine.run(net, x, steps)
        monkeypatch.setattr(FixedNeurons, "run", fused_run)
        monkeypatch.delenv("NEUROKIT_FUSED")
        got = engine.record(net, x, steps), engine.run(net, x, steps)
        monkeypatch.setattr(FixedNeurons, "run", reference_run)
        cpu = get_backend("engine", device="cpu").record(net, x, steps)
        for a, b, c in zip(want[0], got[0], cpu):
            for k in ("u", "v", "spikes"):
                np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=f"{a.name} {k}")
                np.testing.assert_array_equal(getattr(c, k), getattr(b, k), err_msg=f"{a.name} {k} against the CPU")
        np.testing.assert_array_equal(want[1].layer_spikes, got[1].layer_spikes)
        np.testing.assert_array_equal(want[1].output_counts, got[1].output_counts)
        if want[1].output_scores is not None:
            np.testing.assert_array_equal(want[1].output_scores, got[1].output_scores)

    compare()


def test_engine_on_random_networks_interpreted(monkeypatch, interpret):
    """The engine's flow around the kernel (drives summed from several projections, held inputs, records,
    counts, the potential readout) on torch's CPU, the kernel in Triton's interpreter."""
    compare_engines(monkeypatch, "cpu-torch", examples=10)


@pytest.mark.skipif(not CUDA, reason=NO_GPU)
def test_engine_on_random_networks_gpu(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    compare_engines(monkeypatch, "cuda", examples=40)
