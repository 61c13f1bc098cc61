"""The bounds behind the engine's GPU paths (issue 14): which projections may sum on TF32 tensor cores
(neurokit.backends.engine.fixed.tf32_exact) and how many samples one batch chunk takes from the GPU's free
memory (neurokit.backends.engine.chunk_samples, memory_budget). Pure functions, checked on the CPU; the
GPU tests at the end run a licensed net on TF32 against the CPU engine, skipped without a GPU."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurokit.backends.engine import (DEFAULT_MEMORY_MB, GPU_MEMORY_FRACTION, Engine, chunk_samples, memory_budget)
from neurokit.backends.engine.fixed import F32_EXACT, FixedSynapse, significant_bits, tf32_exact
from neurokit.arithmetic import LOIHI2, SIGN_MIXED
from neurokit.backends.engine.arrays import NumpyArrays
from netgen import chain, q_layer

CUDA = torch.cuda.is_available()
NO_GPU = "no CUDA GPU here (torch.cuda.is_available() is False): TF32 sums run only on a GPU"


def tf32_round(x) -> np.ndarray:
    """What a tensor core reads of an fp32 operand: the mantissa rounded to 10 explicit bits (to nearest)."""
    bits = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    bits = (bits + (1 << 12)) & ~((1 << 13) - 1)
    return bits.astype(np.int32).view(np.float32)


def dense(weight, weight_bits=8, sign_mode=SIGN_MIXED, graded_bits=0):
    weight = np.asarray(weight)
    proj, _ = q_layer("p", "dense", (weight.shape[1],), (weight.shape[0],), weight, 0, weight_bits, sign_mode, 1, 0, 0,
                      4095, 0, "subtract", graded_input_bits=graded_bits)
    return proj


def conv(weight):
    weight = np.asarray(weight)
    proj, _ = q_layer("c", "conv", (weight.shape[1], 4, 4), (weight.shape[0], 4, 4), weight, 0, 8, SIGN_MIXED, 1, 0, 0,
                      4095, 0, "subtract", stride=(1, 1), padding=(1, 1), dilation=(1, 1))
    return proj


def test_significant_bits():
    assert significant_bits([0]) == 0
    assert significant_bits([1, -1]) == 1
    assert significant_bits([256, -256, 1 << 20]) == 1
    assert significant_bits([255]) == 8
    assert significant_bits([-2047, 2046]) == 11
    assert significant_bits([4095]) == 12
    assert significant_bits([3 << 20]) == 2


def test_tf32_rounding_keeps_exactly_the_licensed_operands():
    """The rule tf32_exact applies (at most 11 significant bits) is the TF32 rounding's own: such integers
    pass it unchanged, and wider ones do not."""
    rng = np.random.default_rng(0)
    narrow = np.concatenate([np.arange(-2048, 2049), rng.integers(-2048, 2048, 1000) << rng.integers(0, 12, 1000)])
    assert all(significant_bits([v]) <= 11 for v in narrow[:50])
    np.testing.assert_array_equal(tf32_round(narrow.astype(np.float32)), narrow.astype(np.float32))
    wide = np.array([2049, 4095, -4097, (1 << 20) + 1, 12345])
    assert all(significant_bits([v]) > 11 for v in wide)
    assert not np.any(tf32_round(wide.astype(np.float32)) == wide.astype(np.float32))


def test_licensed_sums_are_exact_with_tf32_operands():
    """A licensed projection summed in fp32 with TF32-rounded operands (products of at most 22 significant
    bits, partial sums below 2**24) gives the integer sums."""
    rng = np.random.default_rng(1)
    w = rng.integers(-256, 256, (64, 256))
    x = rng.integers(0, 256, (16, 256))  # 8-bit graded inputs
    proj = dense(w, graded_bits=8)
    bound = int(np.abs(w).sum(1).max()) * 255
    assert bound < F32_EXACT and tf32_exact(proj, bound, graded_bits=8)
    got = tf32_round(x.astype(np.float32)) @ tf32_round(w.T.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.astype(np.int64), x @ w.T)


def test_tf32_exact_cases():
    w8 = np.random.default_rng(2).integers(-256, 256, (10, 30))
    assert tf32_exact(dense(w8), 1000, 0)  # spikes through 8-bit-scale weights
    assert tf32_exact(dense(w8), 1000, 8)  # 8-bit graded inputs
    assert tf32_exact(dense(w8), 1000, 11)
    assert not tf32_exact(dense(w8), 1000, 12)  # inputs up to 4095 lose bits in TF32
    assert not tf32_exact(dense(w8), F32_EXACT, 0)  # sums past 2**24: not even fp32 is exact
    assert tf32_exact(dense(w8), F32_EXACT - 1, 0)
    assert not tf32_exact(dense(w8), None, 0)  # a bound known only per call (sigma-delta)
    # Dense weights beyond the 8-bit scale are clipped by Lava before they are summed: still licensed
    assert tf32_exact(dense(np.full((2, 3), 3000)), 100, 0)
    # Conv's raw weights are not clipped: wide ones are refused, wide powers of two are not
    assert tf32_exact(conv(np.full((2, 2, 3, 3), 2047)), 1 << 20, 0)
    assert tf32_exact(conv(np.full((2, 2, 3, 3), 1 << 14)), 1 << 20, 0)
    assert not tf32_exact(conv(np.full((2, 2, 3, 3), 4095)), 1 << 20, 0)


def test_synapses_off_the_gpu_never_use_tf32():
    proj = dense(np.ones((3, 4), np.int64))
    assert not FixedSynapse.build(proj, NumpyArrays(), 1, LOIHI2).tf32


# ---- batch chunks from the GPU's free memory -----------------------------------------------------------------

def test_chunk_samples():
    assert chunk_samples(32, 1000, 32 * 1000 * 40 * 7) == 7
    assert chunk_samples(32, 1000, 32 * 1000 * 40 * 7 - 1) == 6
    assert chunk_samples(32, 10**9, 1) == 1  # at least one sample
    assert chunk_samples(0, 1000, 40 * 1000 * 3) == 3  # no steps: sized as one


def test_memory_budget():
    assert memory_budget(None) == DEFAULT_MEMORY_MB * 2**20  # the CPU: unchanged, 1 GB
    assert memory_budget(256) == 256 * 2**20
    assert memory_budget(256, cuda_free_bytes=100 * 2**30) == 256 * 2**20  # the user's figure wins
    assert memory_budget(None, cuda_free_bytes=100 * 2**30) == int(100 * 2**30 * GPU_MEMORY_FRACTION)
    # an H200 with 139 GiB free takes ~760 VGG-sized samples (width ~71,500 at T = 32) per chunk, not 11
    assert chunk_samples(32, 71_500, memory_budget(None, cuda_free_bytes=139 * 2**30)) > 500
    assert chunk_samples(32, 71_500, memory_budget(None)) < 12


def test_cpu_chunk_size_unchanged():
    proj, pop = q_layer("l0", "dense", (50,), (20,), np.ones((20, 50)), 0, 8, SIGN_MIXED, 10, np.zeros(20), 0, 4095, 0,
                        "subtract")
    net = chain((50,), [(proj, pop)], {"input_encoding": "rate"},
                quantized=dict(input_scale=1.0, input_bits=8, input_signed=False, profile="t"))
    engine = Engine(device="cpu")
    prepared = engine.prepare(net)
    assert engine._chunk_size(prepared, 16) == max(1, (1024 * 2**20) // (16 * prepared.width * 40))
    assert Engine(device="cpu", memory_mb=1)._chunk_size(prepared, 16) == max(1, 2**20 // (16 * prepared.width * 40))
    assert Engine(device="cpu", batch_size=5)._chunk_size(prepared, 16) == 5


# ---- on a GPU ---------------------------------------------------------------------------------------------------

def licensed_net():
    """A dense and a conv layer whose bounds license TF32: spikes (rate input) and 8-bit-scale weights, fan-ins
    of 3,072 and 288 (sums below 2**24)."""
    rng = np.random.default_rng(3)
    w0 = rng.integers(-256, 256, (8 * 8 * 8, 3 * 32 * 32))
    w1 = rng.integers(-256, 256, (16, 8, 3, 3)) // 4
    l0 = q_layer("l0", "dense", (3 * 32 * 32,), (8, 8, 8), w0, 0, 8, SIGN_MIXED, 600, rng.integers(-50, 50, (8, 8, 8)),
                 0, 4095, 0, "subtract")
    l1 = q_layer("l1", "conv", (8, 8, 8), (16, 8, 8), w1, 0, 8, SIGN_MIXED, 300, np.zeros((16, 8, 8)), 0, 4095, 0,
                 "zero", stride=(1, 1), padding=(1, 1), dilation=(1, 1))
    net = chain((3 * 32 * 32,), [l0, l1], {"input_encoding": "rate"},
                quantized=dict(input_scale=1.0, input_bits=8, input_signed=False, profile="t"))
    x = rng.random((64, 3 * 32 * 32))
    return net, x


def test_licensed_net_builds():
    net, _ = licensed_net()
    for q in net.projections:
        syn = FixedSynapse.build(q, NumpyArrays(), 1, LOIHI2)
        assert tf32_exact(q, syn.bound, 0), q.name


@pytest.mark.skipif(not CUDA, reason=NO_GPU)
def test_tf32_sums_equal_the_cpu_engine(monkeypatch):
    monkeypatch.delenv("NEUROKIT_TF32", raising=False)
    net, x = licensed_net()
    engine = Engine(device="cuda")
    prepared = engine.prepare(net)
    assert all(s.tf32 for s in prepared.synapses.values())
    want = Engine(device="cpu").record(net, x, 12)
    got = engine.record(prepared, x, 12)
    for a, b in zip(want, got):
        for k in ("u", "v", "spikes"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=f"{a.name} {k}")
    monkeypatch.setenv("NEUROKIT_TF32", "0")
    assert not any(s.tf32 for s in Engine(device="cuda").prepare(net).synapses.values())


@pytest.mark.skipif(not CUDA, reason=NO_GPU)
def test_gpu_chunks_from_free_memory():
    net, _ = licensed_net()
    engine = Engine(device="cuda")
    prepared = engine.prepare(net)
    free, _ = torch.cuda.mem_get_info()
    chunk = engine._chunk_size(prepared, 32)
    assert chunk >= chunk_samples(32, prepared.width, int(free * GPU_MEMORY_FRACTION))
    assert Engine(device="cuda", memory_mb=1024)._chunk_size(prepared, 32) == chunk_samples(32, prepared.width, 2**30)


# ---- the cuda benchmark's limit lines (benchmarks/engine_vs_lava.py) --------------------------------------------

def _benchmark():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "engine_vs_lava.py"
    spec = importlib.util.spec_from_file_location("engine_vs_lava", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_peaks_by_name():
    bench = _benchmark()
    assert bench.gpu_peaks("NVIDIA H200")["key"] == "H200"
    assert bench.gpu_peaks("NVIDIA H100 80GB HBM3")["hbm"] == 3.35e12
    assert bench.gpu_peaks("NVIDIA H100 PCIe")["key"] == "H100 PCIe"
    assert bench.gpu_peaks("NVIDIA GeForce RTX 4090") is None


def test_physical_limits_arithmetic():
    """One dense projection of 1,000 x 1,000 MACs (2 GFLOP per 1,000 sample-steps) into 1,000 neurons, spikes
    at density 0.1, TF32 licensed: the limits follow from the peaks by hand."""
    bench = _benchmark()
    peaks = bench.gpu_peaks("NVIDIA H200")
    res = {"shapes": {"projections": [{"name": "p", "kind": "dense", "source": "input", "target": "a",
                                       "macs": 10**6}], "populations": {"a": 1000}, "inputs": 1000},
           "spike_density": {"a": 0.05}, "input_density": 0.1,
           "configs": [{"fused": True, "tf32": True, "tf32_projections": ["p"], "sample_steps_per_s": 1e6}]}
    m = bench.physical_limits(res, peaks)
    assert m["dense_arith_limit"] == pytest.approx(494e12 / 2e6)
    assert m["event_arith_limit"] == pytest.approx(494e12 / 2e5)
    assert m["memory_limit"] == pytest.approx(4.8e12 / 5000)
    assert m["engine_limit"] == pytest.approx(min(494e12 / 2e6, 4.8e12 / 5000))
    assert m["physical_limit"] == pytest.approx(min(494e12 / 2e5, 4.8e12 / 5000))
    assert m["fraction_of_engine_limit"] == pytest.approx(1e6 / m["engine_limit"])
    res["configs"][0]["tf32"] = False  # no TF32 run: the fp32 rate
    assert bench.physical_limits(res, peaks)["dense_arith_limit"] == pytest.approx(67e12 / 2e6)
