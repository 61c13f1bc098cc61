"""Stage 2: fixed-point discretization within a hardware profile, the quantization report, and the quantized file."""
from __future__ import annotations

import dataclasses
import json
import math

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lava.utils.weightutils import SignMode, clip_weights, determine_sign_mode, truncate_weights

from neurokit.arithmetic import LOIHI2
from neurokit.errors import FileFormatError
from netgen import chain, float_layer
from quantize import QProjection, QuantizedNet, load_quantized, quantize, save_quantized
from quantize.discretize import (SIGN_EXCITATORY, SIGN_INHIBITORY, SIGN_MIXED, Limits, choose_scale, input_scale,
                                 mantissa_range, mantissa_shift, quantize_bias, quantize_input, quantize_v_init,
                                 quantize_weights, sign_mode)
from quantize.qnet import FORMAT, to_nir


def pairs(net):
    """(projection, population) of each population of a chain network."""
    return [(net.incoming(p.name)[0], p) for p in net.populations]


@pytest.fixture(scope="module")
def lim(profile) -> Limits:
    return Limits.from_profile(profile)


def test_limits_from_the_loihi2_profile(profile):
    lim = Limits.from_profile(profile)
    assert lim.weight_bits == 8 and (lim.weight_exp_min, lim.weight_exp_max) == (-7, 7)
    assert lim.threshold_max == 131071 and lim.threshold_shift == 6 and lim.activation_shift == 6
    assert lim.state_max == 2 ** 23 - 1 and lim.bias_mant_max == 4095
    assert (lim.bias_exp_min, lim.bias_exp_max) == (0, 7) and lim.decay_unity == 4096
    assert lim.conv_applies_weight_exp is False
    assert Limits.from_profile(profile, 3).weight_bits == 3
    for bad in (0, 9):
        with pytest.raises(ValueError, match="weight bits must be in 1..8"):
            Limits.from_profile(profile, bad)


# ---------------------------------------------------------------------------------------------------------
# sign modes and Lava's weight format


@pytest.mark.parametrize("w, mode", [
    ([0.5, 0.0, 2.0], SIGN_EXCITATORY),
    ([0.0, 0.0], SIGN_EXCITATORY),
    ([-0.5, 0.0, -2.0], SIGN_INHIBITORY),
    ([-0.5, 0.1], SIGN_MIXED),
])
def test_sign_mode_matches_lava(w, mode):
    w = np.array(w)
    assert sign_mode(w) == mode
    assert SignMode(sign_mode(w)) == determine_sign_mode(w)


@pytest.mark.parametrize("mode, nwb, rng, shift", [
    (SIGN_MIXED, 8, (-128, 127), 1),
    (SIGN_EXCITATORY, 8, (0, 255), 0),
    (SIGN_INHIBITORY, 8, (-255, 0), 0),
    (SIGN_MIXED, 4, (-8, 7), 5),
    (SIGN_EXCITATORY, 4, (0, 15), 4),
    (SIGN_INHIBITORY, 1, (-1, 0), 7),
    (SIGN_MIXED, 2, (-2, 1), 7),
])
def test_mantissa_range_and_shift(mode, nwb, rng, shift):
    assert mantissa_range(mode, nwb) == rng
    assert mantissa_shift(mode, nwb) == shift
    lo, hi = rng
    # the extreme mantissas land on Lava's 8-bit scale [-256, 255]
    assert -256 <= lo << shift and hi << shift <= 255


def _weights(mode: int, seed: int, scale: float, shape=(6, 5)) -> np.ndarray:
    w = np.random.default_rng(seed).standard_normal(shape) * scale
    if mode == SIGN_EXCITATORY:
        return np.abs(w)
    if mode == SIGN_INHIBITORY:
        return -np.abs(w)
    return w


@settings(max_examples=60, deadline=None)
@given(mode=st.sampled_from([SIGN_MIXED, SIGN_EXCITATORY, SIGN_INHIBITORY]), nwb=st.integers(2, 8),
       seed=st.integers(0, 10 ** 6), log_scale=st.floats(-2.5, 1.5), conv=st.booleans())
def test_weights_on_lavas_grid_and_exponent_uses_the_range(profile, mode, nwb, seed, log_scale, conv):
    lim = Limits.from_profile(profile, nwb)
    w = _weights(mode, seed, 10.0 ** log_scale)
    bias = np.zeros(w.shape[0])
    sc = choose_scale(w, bias, conv, lim, headroom=8.0)
    w8, stats = quantize_weights(w, sc, lim)
    shift = mantissa_shift(mode, nwb)
    m_lo, m_hi = mantissa_range(mode, nwb)
    assert sc.sign_mode == mode and w8.dtype == np.int32 and w8.shape == w.shape
    # on the 8-bit scale, mantissa << shift, within the mode's range
    assert np.all(w8 % (1 << shift) == 0)
    assert np.all((w8 >> shift) >= m_lo) and np.all((w8 >> shift) <= m_hi)
    assert w8.min() >= -256 and w8.max() <= 255
    # Lava's Dense (clip to 8 bits, then truncate to nwb bits) leaves them exactly as they are
    lava = truncate_weights(clip_weights(w8, SignMode(mode), num_bits=8), SignMode(mode), nwb)
    np.testing.assert_array_equal(lava, w8)
    # threshold and state limits
    assert 1 <= sc.vth <= lim.threshold_max
    assert sc.vth * 8.0 * (1 << lim.threshold_shift) <= lim.state_max
    assert lim.weight_exp_min <= sc.weight_exp <= lim.weight_exp_max
    if conv:
        assert sc.weight_exp == 0  # Lava's fixed-point Conv ignores weight_exp
    # the largest weight magnitude uses the top bit of the mantissa range without overflowing it
    ratio = max(w.max(initial=0) / m_hi if m_hi else 0, -w.min(initial=0) / -m_lo if m_lo else 0) * sc.vth \
        / 2.0 ** (sc.weight_exp + shift)
    exponent_free = lim.weight_exp_min < sc.weight_exp < lim.weight_exp_max and not conv
    if exponent_free:
        assert 0.5 < ratio <= 1.0 + 1e-12
        assert stats["clipped_fraction"] == 0.0
    else:
        assert ratio <= 1.0 + 1e-12 or sc.vth == 1
    # dequantized weights are within half a step of the ideal ones (no clipping)
    step = 2.0 ** (sc.weight_exp + shift) / sc.vth
    if stats["clipped_fraction"] == 0:
        assert np.max(np.abs(w8 * 2.0 ** sc.weight_exp / sc.vth - w)) <= step / 2 + 1e-12


def test_exponent_is_chosen_from_the_largest_weight(lim):
    # V is capped by state headroom at floor((2**23 - 1) / (8 * 64)) = 16383; max |w| = 0.5 (mixed, shift 1):
    # V * r = 16383 * 0.5 / 127 = 64.5 -> exponent ceil(log2(64.5)) - 1 = 6; the 0.5 weight becomes mantissa 64.5 -> 64
    w = np.array([[0.5, -0.25], [0.1, 0.0]])
    sc = choose_scale(w, np.zeros(2), False, lim, 8.0)
    assert (sc.vth, sc.weight_exp, sc.sign_mode, sc.limited_by) == (16383, 6, SIGN_MIXED, "state headroom")
    w8, stats = quantize_weights(w, sc, lim)
    assert w8.tolist() == [[128, -64], [26, 0]]  # mantissas 64, -32, 13 (12.8 rounded), 0; << 1
    assert stats["count"] == 4 and stats["clipped_fraction"] == 0.0 and stats["zeroed_fraction"] == 0.0


def test_huge_conv_weights_clip_and_are_reported(lim):
    w = np.full((2, 1, 1, 1), 1000.0)
    w[1] = -3.0
    sc = choose_scale(w, np.zeros(2), True, lim, 8.0)
    assert sc.vth == 1 and sc.weight_exp == 0  # cannot scale down further: V has a floor of 1
    w8, stats = quantize_weights(w, sc, lim)
    assert w8.max() == 254 and stats["clipped_fraction"] == 0.5  # mantissa 127 << 1


def test_bias_mantissa_and_exponent(lim):
    vth = 1000
    bias = np.array([0.0, 0.01, -0.3, 0.6])
    mant, exp, stats = quantize_bias(bias, vth, lim)
    raw = bias * vth * 64  # 0, 640, -19200, 38400
    # smallest exponent with 38400 / 2**exp <= 4095.5 is 4 (2400)
    assert exp == 4 and mant.dtype == np.int32
    assert mant.tolist() == [0, 40, -1200, 2400]
    assert np.all(np.abs(mant * 2.0 ** exp - raw) <= 2 ** (exp - 1))
    assert stats == {"bias_exp": 4, "clipped_fraction": 0.0, "rel_error_max": 0.0, "rel_error_mean": 0.0,
                     "zeroed_fraction": 0.0}
    # a bias beyond mantissa << 7 saturates the mantissa and is reported
    mant, exp, stats = quantize_bias(np.array([1.0, -100.0]), vth, lim)
    assert exp == lim.bias_exp_max == 7
    assert mant.tolist() == [500, -4096] and stats["clipped_fraction"] == 0.5
    assert 0 < stats["rel_error_max"] < 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10 ** 6), log_scale=st.floats(-4, 1.5), vth=st.integers(1, 131071))
def test_bias_within_the_profile(lim, seed, log_scale, vth):
    bias = np.random.default_rng(seed).standard_normal(7) * 10.0 ** log_scale
    mant, exp, stats = quantize_bias(bias, vth, lim)
    assert lim.bias_exp_min <= exp <= lim.bias_exp_max
    assert np.all(mant >= -lim.bias_mant_max - 1) and np.all(mant <= lim.bias_mant_max)
    raw = bias * vth * 64
    if exp > lim.bias_exp_min:  # the exponent is the smallest that fits the peak
        assert np.max(np.abs(raw)) / 2.0 ** (exp - 1) > lim.bias_mant_max + 0.5
    if stats["clipped_fraction"] == 0:
        assert np.all(np.abs(mant * 2.0 ** exp - raw) <= 2.0 ** exp / 2 + 1e-9)
    for key in ("clipped_fraction", "zeroed_fraction"):
        assert 0.0 <= stats[key] <= 1.0


def test_graded_input_scale_and_encoding():
    cal = np.array([[0.0, 1.0], [2.0, 0.5]])
    scale, signed = input_scale(cal, 8)
    assert (scale, signed) == (255 / 2.0, False)
    assert quantize_input(cal, scale, 8, signed).tolist() == [[0, 128], [255, 64]]  # 127.5 rounds to 128 (half-even)
    assert quantize_input(np.array([3.0, -1.0]), scale, 8, signed).tolist() == [255, 0]  # clipped to the code range
    scale, signed = input_scale(cal - 1.0, 4)
    assert (scale, signed) == (7.0, True)
    assert quantize_input(np.array([-1.0, 1.0, -2.0]), scale, 4, signed).tolist() == [-7, 7, -8]


def test_v_init_in_raw_state_units(lim):
    assert quantize_v_init(None, 100, lim, (3,)).tolist() == [0, 0, 0]
    v = quantize_v_init(np.full((2,), 0.5), 100, lim, (2,))
    assert v.tolist() == [3200, 3200] and v.dtype == np.int32  # 0.5 * (100 << 6)


# ---------------------------------------------------------------------------------------------------------
# quantize(): the whole network, and its report


def test_quantize_report(digits_mlp_net, digits, profile):
    cal = digits.x_train[:200]
    q, rep = quantize(digits_mlp_net, profile, cal)
    assert rep["profile"] == "loihi2" and rep["headroom_thresholds"] == 8.0
    assert rep["input"]["bits"] == 8 and rep["input"]["signed"] is False
    assert rep["input"]["scale"] == pytest.approx(255 / float(cal.max())) and rep["input"]["clipped_fraction"] == 0.0
    assert [l["name"] for l in rep["layers"]] == [p.name for p in digits_mlp_net.populations]
    for lr, (qq, qp), (fq, fp) in zip(rep["layers"], pairs(q), pairs(digits_mlp_net)):
        ql = qp.neuron
        assert lr["neurons"] == fp.n_neurons and lr["kind"] == fq.kind
        assert lr["vth"] == ql.vth and lr["weight_exp"] == qq.weight_exp and lr["weight_bits"] == 8
        assert lr["projections"] == [{"name": fq.name, "source": fq.source, "kind": fq.kind, "weight_bits": 8,
                                      "weight_exp": qq.weight_exp, "sign_mode": lr["sign_mode"],
                                      "weights": lr["weights"]}]
        assert lr["sign_mode"] in ("mixed", "excitatory", "inhibitory")
        assert lr["scale_limited_by"] in ("threshold width", "state headroom", "weight exponent", "bias range",
                                          "conv weight_exp fixed at 0")
        ws, bs = lr["weights"], lr["bias"]
        assert ws["count"] == fq.weight.size
        for stats in (ws, bs):
            for key, value in stats.items():
                assert isinstance(value, (int, float)) and math.isfinite(value), key
        for key in ("zeroed_fraction", "clipped_fraction"):
            assert 0.0 <= ws[key] <= 1.0 and 0.0 <= bs[key] <= 1.0
        assert ws["clipped_fraction"] == 0.0 and bs["clipped_fraction"] == 0.0
        assert 0.0 < ws["rel_error_mean"] < 0.05 and 0.0 < ws["rel_error_max"] < 0.05
        assert 0.0 <= bs["rel_error_max"] < 0.01 and bs["bias_exp"] == ql.bias_exp
        assert lr["reset"] == "subtract"
        assert any("reset by subtraction" in n for n in lr["notes"])  # the stock Loihi LIF resets to zero
        # integer parameters within the profile
        assert qq.weight.dtype == np.int32 and ql.bias_mant.dtype == np.int32 and ql.v_init.dtype == np.int32
        assert 1 <= ql.vth <= 131071 and 0 <= ql.bias_exp <= 7
        assert np.all(np.abs(ql.bias_mant) <= 4096)
        assert (ql.du, ql.dv) == (4095, 0)  # u forgets every step, v integrates
        np.testing.assert_array_equal(ql.v_init, np.round(fp.neuron.v_init * ql.vth * 64))
    assert q.projections[0].graded_input_bits == 8 and q.projections[1].graded_input_bits == 0
    assert rep["arithmetic"] == LOIHI2.to_dict() and q.arithmetic == LOIHI2


def test_dequantized_weights_are_close_to_the_float_net(digits_mlp_net, digits, profile):
    q, _ = quantize(digits_mlp_net, profile, digits.x_train[:200])
    for (qq, qp), (fq, fp) in zip(pairs(q), pairs(digits_mlp_net)):
        ql = qp.neuron
        w = qq.dequantized(q.input_scale, ql.vth)
        b = q.arithmetic.bias_value(ql.bias_mant, ql.bias_exp, ql.vth)
        half_step = 2.0 ** (qq.weight_exp + mantissa_shift(qq.sign_mode, qq.weight_bits) - 1) / ql.vth
        if qq.graded_input_bits:
            half_step *= q.input_scale
        assert np.max(np.abs(w - fq.weight)) <= half_step * (1 + 1e-9)
        assert np.max(np.abs(b - fp.neuron.bias)) <= 2.0 ** (ql.bias_exp - 1) / (ql.vth * 64) * (1 + 1e-9)


def test_clipping_is_reported_with_notes(profile):
    # A conv layer cannot use weight_exp: with normalized weights of 1e5 (per input level: 1e5 / 255) even vth = 1
    # leaves the mantissa far above 127; a bias of 1e5 thresholds is beyond 4095 << 7 at any vth >= 1.
    w = np.full((2, 1, 1, 1), 1e5) * np.array([1.0, -1.0]).reshape(2, 1, 1, 1)
    net = chain((1, 2, 2), [float_layer("big", "conv", (1, 2, 2), (2, 2, 2), weight=w, bias=np.full((2, 2, 2), 1e5))])
    q, rep = quantize(net, profile, np.ones((3, 1, 2, 2)))
    big = q.populations[0].neuron
    assert big.vth == 1 and q.projections[0].weight.tolist() == [[[[254]]], [[[-256]]]]
    assert big.bias_exp == 7 and np.all(big.bias_mant == 4095)
    lr = rep["layers"][0]
    assert lr["weights"]["clipped_fraction"] == 1.0 and lr["bias"]["clipped_fraction"] == 1.0
    assert lr["vth"] >= 1
    assert any("weights clipped" in n for n in lr["notes"])
    assert any("biases clipped to the 13-bit mantissa" in n for n in lr["notes"])
    assert any("conv weight_exp fixed at 0" in n for n in lr["notes"])


def test_weight_bits_per_layer(digits_cnn_net, digits, profile):
    names = [p.name for p in digits_cnn_net.populations]
    q, rep = quantize(digits_cnn_net, profile, digits.x_train[:100], weight_bits={names[0]: 3, names[2]: 5})
    assert [l.weight_bits for l in q.projections] == [3, 8, 5]
    assert [l["weight_bits"] for l in rep["layers"]] == [3, 8, 5]
    by_projection, _ = quantize(digits_cnn_net, profile, digits.x_train[:100],
                                weight_bits={digits_cnn_net.projections[1].name: 4})
    assert [l.weight_bits for l in by_projection.projections] == [8, 4, 8]
    for ql in q.projections:
        shift = mantissa_shift(ql.sign_mode, ql.weight_bits)
        lo, hi = mantissa_range(ql.sign_mode, ql.weight_bits)
        assert np.all(ql.weight % (1 << shift) == 0)
        assert lo <= (ql.weight >> shift).min() and (ql.weight >> shift).max() <= hi
    q4, _ = quantize(digits_cnn_net, profile, digits.x_train[:100], weight_bits=4)
    assert [l.weight_bits for l in q4.projections] == [4, 4, 4]
    # fewer bits cost precision
    rel = lambda r: [l["weights"]["rel_error_mean"] for l in r["layers"]]  # noqa: E731
    _, rep8 = quantize(digits_cnn_net, profile, digits.x_train[:100])
    assert all(a > b for a, b in zip(rel(quantize(digits_cnn_net, profile, digits.x_train[:100], weight_bits=4)[1]),
                                     rel(rep8)))
    with pytest.raises(ValueError, match="weight bits must be in 1..8"):
        quantize(digits_cnn_net, profile, digits.x_train[:10], weight_bits={names[1]: 9})
    with pytest.raises(ValueError, match="weight bits must be in 1..8"):
        quantize(digits_cnn_net, profile, digits.x_train[:10], weight_bits=0)


@pytest.mark.parametrize("bits", [0, -1, 25])
def test_input_bits_out_of_range(digits_mlp_net, digits, profile, bits):
    with pytest.raises(ValueError, match=r"input bits must be in 1\.\.24"):
        quantize(digits_mlp_net, profile, digits.x_train[:10], input_bits=bits)


def test_input_bits_at_the_limits_and_headroom(digits_mlp_net, digits, profile):
    for bits in (1, 24):
        q, rep = quantize(digits_mlp_net, profile, digits.x_train[:10], input_bits=bits)
        assert q.input_bits == bits == q.projections[0].graded_input_bits
        assert q.encode_input(digits.x_train[:10]).max() == (1 << bits) - 1
    with pytest.raises(ValueError, match="headroom"):
        quantize(digits_mlp_net, profile, digits.x_train[:10], headroom=0.5)
    q2, _ = quantize(digits_mlp_net, profile, digits.x_train[:10], headroom=2.0)
    q8, _ = quantize(digits_mlp_net, profile, digits.x_train[:10], headroom=8.0)
    assert all(a.neuron.vth >= b.neuron.vth for a, b in zip(q2.populations, q8.populations))


# ---------------------------------------------------------------------------------------------------------
# the quantized file


def _assert_same_qnet(a: QuantizedNet, b: QuantizedNet):
    assert (a.input_shape, a.input_bits, a.input_signed, a.profile) == (b.input_shape, b.input_bits, b.input_signed,
                                                                        b.profile)
    assert a.input_scale == b.input_scale and type(b.input_scale) is float
    assert json.loads(json.dumps(a.metadata)) == b.metadata
    assert a.arithmetic == b.arithmetic and a.output == b.output
    assert [(p.name, p.shape) for p in a.populations] == [(p.name, p.shape) for p in b.populations]
    assert len(a.projections) == len(b.projections)
    pairs_of_fields = [(qa, qb, [f.name for f in dataclasses.fields(QProjection) if f.name != "folded"])
                       for qa, qb in zip(a.projections, b.projections)]
    pairs_of_fields += [(pa.neuron, pb.neuron, [f.name for f in dataclasses.fields(pa.neuron)])
                        for pa, pb in zip(a.populations, b.populations)]
    for la, lb, fields in pairs_of_fields:
        assert type(la) is type(lb)
        for f in fields:
            va, vb = getattr(la, f), getattr(lb, f)
            if isinstance(va, np.ndarray):
                assert vb.dtype.kind == "i" and vb.shape == va.shape, f
                np.testing.assert_array_equal(va, vb, err_msg=f)
            elif dataclasses.is_dataclass(va):  # a phase code
                assert dataclasses.astuple(va).__repr__() == dataclasses.astuple(vb).__repr__(), f
            else:
                assert va == vb and type(va) is type(vb), f
                if isinstance(va, tuple):
                    assert all(type(v) is int for v in vb), f


def test_save_load_round_trip_is_exact(digits_cnn_net, digits, profile, tmp_path):
    q, _ = quantize(digits_cnn_net, profile, digits.x_train[:100], weight_bits={"if1": 6})
    assert any(np.any(p.neuron.v_init != 0) for p in q.populations) and any(l.kind == "conv" for l in q.projections)
    path = tmp_path / "q.nir"
    save_quantized(q, path)
    back = load_quantized(path)
    _assert_same_qnet(q, back)
    for l in back.projections:
        for f in ("weight_exp", "weight_bits", "sign_mode", "groups", "graded_input_bits"):
            assert type(getattr(l, f)) is int
    for p in back.populations:
        for f in ("vth", "bias_exp", "du", "dv"):
            assert type(getattr(p.neuron, f)) is int
    # any NIR reader sees the dequantized float network
    g = nir.read(path)
    for l, p in pairs(q):
        w = l.dequantized(q.input_scale, p.neuron.vth)
        np.testing.assert_array_equal(g.nodes[l.name].weight.reshape(w.shape), w)
    header = json.loads(g.metadata["neurokit_quantized"])
    assert header["format"] == FORMAT == "neurokit-quantized/2"
    assert [e["name"] for e in header["projections"]] == [l.name for l in q.projections]


def test_corrupt_quantized_files(digits_mlp_net, digits, profile, tmp_path):
    q, _ = quantize(digits_mlp_net, profile, digits.x_train[:20])
    good = tmp_path / "good.nir"
    save_quantized(q, good)
    data = good.read_bytes()
    cases = {
        "garbage.nir": b"this is not HDF5 at all",
        "truncated.nir": data[: len(data) // 2],
        "empty.nir": b"",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(FileFormatError) as exc:
            load_quantized(path)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(FileFormatError, match="file not found"):
        load_quantized(tmp_path / "missing.nir")


def test_float_nir_is_not_a_quantized_file(digits_mlp, digits, tmp_path):
    from neurokit.convert import convert

    path = tmp_path / "float.nir"
    nir.write(path, convert(digits_mlp, digits.x_train[:20]))
    with pytest.raises(FileFormatError, match="not a neurokit quantized network"):
        load_quantized(path)


def test_other_format_version_is_refused(digits_mlp_net, digits, profile, tmp_path):
    q, _ = quantize(digits_mlp_net, profile, digits.x_train[:20])
    g = to_nir(q)
    header = json.loads(g.metadata["neurokit_quantized"])
    header["format"] = "neurokit-quantized/0"
    g.metadata["neurokit_quantized"] = json.dumps(header)
    path = tmp_path / "old.nir"
    nir.write(path, g)
    with pytest.raises(FileFormatError, match="'neurokit-quantized/0' is not 'neurokit-quantized/2'"):
        load_quantized(path)


def test_quantized_file_with_missing_integer_field(digits_mlp_net, digits, profile, tmp_path):
    q, _ = quantize(digits_mlp_net, profile, digits.x_train[:20])
    g = to_nir(q)
    del g.nodes[q.projections[0].name].metadata["weight_int"]
    path = tmp_path / "damaged.nir"
    nir.write(path, g)
    with pytest.raises(FileFormatError, match="damaged quantized network .missing 'weight_int'"):
        load_quantized(path)


def test_weight_bits_naming_an_unknown_layer_is_refused(digits_mlp_net, digits, profile):
    with pytest.raises(ValueError, match="weight_bits names layer 'typo'"):
        quantize(digits_mlp_net, profile, digits.x_train[:20], weight_bits={"typo": 3})


def test_rate_coded_net_quantizes_for_binary_input(digits_mlp, digits, profile):
    from neurokit.convert import convert
    from neurokit.lower import from_nir

    net = from_nir(convert(digits_mlp, digits.x_train[:50], input_encoding="rate"))
    q, rep = quantize(net, profile, digits.x_train[:50])
    assert (q.input_bits, q.input_scale, q.input_signed) == (1, 1.0, False)
    assert q.projections[0].graded_input_bits == 0 and rep["input"]["encoding"] == "rate"


# ---------------------------------------------------------------------------------------------------------
# the report's headroom, rate and rounding figures


def _one_layer_net(weight: float, n_in: int = 1):
    return chain((n_in,), [float_layer("fc", "dense", (n_in,), (1,), np.full((1, n_in), weight), np.zeros(1))])


def test_graded_u_peak_is_exact_on_calibration_data(digits_mlp_net, digits, profile):
    cal = digits.x_train[:200]
    q, rep = quantize(digits_mlp_net, profile, cal)
    l0, u0 = q.projections[0], rep["layers"][0]["headroom"]["u"]
    # independent: the integer synaptic sum of the quantized first layer on the encoded inputs, << (exp + 6)
    sums = q.encode_input(cal).reshape(len(cal), -1).astype(np.int64) @ l0.weight.astype(np.int64).T
    assert u0["peak"] == np.abs(sums).max() * 2.0 ** (l0.weight_exp + 6)
    assert u0["peak_from"] == "calibration (exact)" and u0["limit"] == 2 ** 23 - 1
    assert u0["headroom_bits"] == pytest.approx(math.log2((2 ** 23 - 1) / u0["peak"]))
    assert not u0["wraps"] and rep["warnings"] == []
    # the spiking layer's worst case: every excitatory input at once
    l1, u1 = q.projections[1], rep["layers"][1]["headroom"]["u"]
    w = l1.weight.astype(np.int64)
    worst = max(np.clip(w, 0, None).sum(1).max(), -np.clip(w, None, 0).sum(1).min()) * 2.0 ** (l1.weight_exp + 6)
    assert u1["worst_case"] == worst and u1["peak_from"] == "calibration (rate model)"
    assert u1["peak"] <= u1["worst_case"]


def test_threshold_and_bias_rounding_are_reported(digits_mlp_net, digits, profile):
    _, rep = quantize(digits_mlp_net, profile, digits.x_train[:50])
    for l in rep["layers"]:
        t = l["threshold"]
        assert t["vth"] == l["vth"] and t["rounding_error"] == 0.0 and t["v_step_thresholds"] == 1 / (l["vth"] * 64)
        assert 0 <= l["bias"]["rel_error_mean"] <= l["bias"]["rel_error_max"]


def test_rate_demand_above_one_spike_per_step_warns_and_names_the_layer(profile):
    # input 1.0 through weight 2: the neuron asks for 2 spikes per step, gets 1, and v climbs 1 threshold a step
    q, rep = quantize(_one_layer_net(2.0), profile, np.ones((4, 1)))
    h = rep["layers"][0]["headroom"]
    assert h["rate"] == {"max_rate": 1.0, "demand_max": pytest.approx(2.0), "saturated_fraction": 1.0}
    assert h["v"]["climb_per_step"] == pytest.approx(1.0) and h["v"]["fall_per_step"] == 0.0
    thr = q.populations[0].neuron.vth * 64
    assert h["v"]["steps_to_saturate_up"] == pytest.approx((2 ** 23 - 1 - thr) / thr)
    assert h["v"]["steps_to_saturate_down"] is None
    [w] = rep["warnings"]
    assert w.startswith("layer fc: 100.0% of calibration activations ask for more than 1 spike per step (up to 2.00")
    assert "they saturate at 1, losing up to 50% of the largest activations" in w


def test_small_rate_excess_within_tolerance_does_not_warn(profile):
    # 1 sample in 200 asks for 1.5 spikes per step: 0.5 %, below the 1 % percentile normalization leaves
    cal = np.full((200, 1), 0.5)
    cal[0] = 1.5
    _, rep = quantize(_one_layer_net(1.0), profile, cal)
    assert rep["layers"][0]["headroom"]["rate"]["saturated_fraction"] == pytest.approx(0.005)
    assert rep["warnings"] == []


def test_u_wrap_on_calibration_data_warns(profile):
    q, rep = quantize(_one_layer_net(100.0), profile, np.ones((2, 1)))
    u = rep["layers"][0]["headroom"]["u"]
    assert u["wraps"] and u["peak"] > 2 ** 23 and u["headroom_bits"] < 0
    assert any(w.startswith("layer fc: synaptic input u reaches") and "u wraps and flips sign" in w
               for w in rep["warnings"])


def test_refractory_range_from_the_profile_caps_the_rate(tmp_path):
    from hw_profiles import load_profile

    path = tmp_path / "slow.toml"
    path.write_text('extends = "loihi2"\nname = "slow"\ndescription = "refractory at least 2 steps"\n\n[neuron]\n'
                    'refractory_delay_min = { value = 2, source = "test", verified = true }\n')
    _, rep = quantize(_one_layer_net(0.8), load_profile(path), np.ones((4, 1)))
    assert rep["max_rate"] == 0.5 and rep["layers"][0]["headroom"]["rate"]["saturated_fraction"] == 1.0
    assert any(w.startswith("profile slow: refractory delays run 2..63 steps") and "capped at 0.5 spikes per step" in w
               for w in rep["warnings"])
    assert any(w.startswith("layer fc:") and "more than 0.5 spike per step" in w for w in rep["warnings"])


def test_report_text_shows_headroom_and_warnings(profile):
    from neurokit.report import quantization_lines

    _, rep = quantize(_one_layer_net(2.0), profile, np.ones((4, 1)))
    text = "\n".join(quantization_lines(rep))
    assert "State headroom and rate" in text and "asks spikes/step" in text
    assert "  warning: layer fc: 100.0% of calibration activations" in text


def test_neurokit_report_renders_a_records_quantization(digits_mlp_net, digits, profile, tmp_path, capsys):
    from neurokit.cli import main
    from neurokit.report import to_json

    _, rep = quantize(digits_mlp_net, profile, digits.x_train[:50])
    layers = [{"name": p.name, "kind": q.kind, "neurons": p.n_neurons, "spikes": 10.0, "synops": 100.0,
               "spikes_per_neuron_step": 0.01} for q, p in pairs(digits_mlp_net)]
    from neurokit.report import RECORD_VERSION

    projections = [{"name": q.name, "source": q.source, "target": q.target, "kind": q.kind, "synops": 100.0,
                    "messages": 10.0, "effective_ops": 80.0, "dense_ops": 100.0, "op_kind": "AC"}
                   for q, _ in pairs(digits_mlp_net)]
    record = {"record_version": RECORD_VERSION, "network": "m.q.nir", "dataset": "digits", "backend": "engine",
              "samples": 20, "steps": 16, "accuracy": 0.85, "snn_float_accuracy": 0.9, "layers": layers,
              "projections": projections, "quantization": rep}
    path = tmp_path / "report.json"
    path.write_text(to_json(record))
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Quantization onto loihi2" in out and "State headroom and rate" in out


def test_report_text_gives_the_float_to_fixed_accuracy_change(digits_mlp_net, digits, profile):
    from neurokit.report import build_report, render_text

    _, rep = quantize(digits_mlp_net, profile, digits.x_train[:50])
    layers = [{"name": p.name, "kind": q.kind, "neurons": p.n_neurons, "spikes": 10.0, "synops": 100.0,
               "spikes_per_neuron_step": 0.01} for q, p in pairs(digits_mlp_net)]
    r = build_report(model="m", dataset="digits", profile=profile, steps=16, quantization=rep,
                     float_run={"backend": "float", "samples": 20, "accuracy": 0.9, "layers": layers},
                     fixed_run={"backend": "engine", "samples": 20, "accuracy": 0.85, "layers": layers})
    assert "accuracy float -> fixed point (engine, 20 samples, T = 16):  90.0 % ->  85.0 % (-5.0 points)" in render_text(r)


def test_scale_rules_are_compared_on_fewer_samples_only_for_big_nets():
    from netgen import chain, float_layer
    from quantize import AGREEMENT_MIN_SAMPLES, agreement_samples

    small = chain((16,), [float_layer("fc", "dense", (16,), (10,), np.ones((10, 16)), np.zeros(10))])
    assert agreement_samples(small, 500) == 256 and agreement_samples(small, 40) == 40
    # 256 x 64 x 64 outputs x 256 x 3 x 3 taps = 2.4 G multiply-adds a step: 32 steps of one sample pass a fifth
    # of the budget, so the comparison takes the floor
    big = chain((256, 64, 64), [float_layer("conv", "conv", (256, 64, 64), (256, 64, 64), np.ones((256, 256, 3, 3)),
                                            np.zeros((256, 64, 64)), stride=(1, 1), padding=(1, 1))])
    assert agreement_samples(big, 500) == AGREEMENT_MIN_SAMPLES
