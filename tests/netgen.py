"""Random quantized networks for the engine's differential tests against Lava (hypothesis strategies).

Every parameter is drawn over its whole format, so the edges come up: weights beyond the 8-bit scale
(Lava clips them), every sign mode, 1 to 8 weight bits, weight exponents that overflow int32, thresholds
up to 17 bits, decays over all 12 bits, biases over the 13-bit mantissa and 3-bit exponent, initial v over
24 bits, graded inputs up to 2**20 (u wraps, v saturates). Conv layers with graded input keep their sums
below 2**24, where Lava's float32 Conv is exact (beyond it Lava itself rounds).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from quantize.qnet import QLayer, QuantizedNet

M = 1 << 23


def ints(shape, lo, hi):
    return hnp.arrays(np.int64, shape, elements=st.integers(lo, hi))


def _conv_out(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def layer_params(draw, name, in_shape, graded_bits, max_input):
    kind = "conv" if len(in_shape) == 3 and draw(st.booleans()) else "dense"
    geometry = {}
    if kind == "conv":
        c_in, h, w = in_shape
        k, s, p, d = (draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1)), draw(st.integers(1, 2)))
        if _conv_out(h, k, s, p, d) < 1 or _conv_out(w, k, s, p, d) < 1:
            k, s, p, d = 1, 1, 0, 1
        c_out = draw(st.integers(1, 4))
        out_shape = (c_out, _conv_out(h, k, s, p, d), _conv_out(w, k, s, p, d))
        weight = draw(ints((c_out, c_in, k, k), -256, 255))
        if graded_bits:  # keep Lava's float32 sums exact: sum |w| * (largest input the format allows) < 2**24
            per_weight = ((1 << 24) - 1) // (2 * max_input * c_in * k * k)
            weight = np.clip(weight, -per_weight, per_weight)
        geometry = dict(stride=(s, s), padding=(p, p), dilation=(d, d))
    else:
        out_shape = (draw(st.integers(1, 12)),)
        weight = draw(ints((out_shape[0], int(np.prod(in_shape))), -400, 400))
    n = int(np.prod(out_shape))
    layer = QLayer(
        name, kind, tuple(in_shape), out_shape, **geometry,
        weight=weight.astype(np.int32), weight_exp=draw(st.integers(-8, 8)), weight_bits=draw(st.integers(1, 8)),
        sign_mode=draw(st.sampled_from([1, 2, 3])),
        vth=draw(st.one_of(st.integers(0, 1023), st.integers(0, (1 << 17) - 1))),  # small ones keep layers spiking
        bias_mant=draw(ints(out_shape, -4096, 4095)).astype(np.int32), bias_exp=draw(st.integers(0, 7)),
        du=draw(st.integers(0, 4095)), dv=draw(st.integers(0, 4095)), reset=draw(st.sampled_from(["subtract", "zero"])),
        graded_input_bits=graded_bits,
        v_init=draw(st.one_of(ints(out_shape, 0, 0), ints(out_shape, -(M - 1), M - 1))).astype(np.int32),
    )
    if draw(st.booleans()):  # conversion's integrate-and-fire setting, the path the engine optimizes
        layer.du, layer.dv = 4095, 0
    return layer, n


@st.composite
def networks(draw):
    """(QuantizedNet, inputs (N, *input_shape), steps)."""
    rate = draw(st.booleans())
    if draw(st.booleans()):
        input_shape = (draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    else:
        input_shape = (draw(st.integers(1, 16)),)
    samples = draw(st.integers(1, 3))
    max_input = 1 if rate else draw(st.sampled_from([1, 255, 4095, 1 << 20]))
    if rate:
        x = draw(hnp.arrays(np.float64, (samples,) + input_shape, elements=st.floats(0, 1)))
    else:
        x = draw(ints((samples,) + input_shape, -max_input, max_input)).astype(np.float64)
    layers, shape = [], input_shape
    for i in range(draw(st.integers(1, 3))):
        layer, _ = draw(layer_params(f"l{i}", shape, graded_bits=0 if (rate or i) else 24, max_input=max_input))
        layers.append(layer)
        shape = layer.out_shape
    # input_scale 1 and enough signed bits: the integer inputs reach the network unchanged
    net = QuantizedNet(input_shape, input_scale=1.0, input_bits=max_input.bit_length() + 1, input_signed=True,
                       layers=layers, profile="random",
                       metadata={"input_encoding": "rate" if rate else "current"})
    return net, x, draw(st.integers(1, 12))


def u_wrap_edge():
    """Found by the 1,000-network run: a synaptic input of exactly -2**17, so a_in << 6 = -2**23, which
    Lava's wrap of u turns into +2**23 (values <= -2**23 gain 2**24)."""
    def layer(name, n_in, n_out, weight, weight_exp, bias, bias_exp, v_init, du):
        return QLayer(name, "dense", (n_in,), (n_out,), weight=np.asarray(weight, np.int32), weight_exp=weight_exp,
                      weight_bits=1, sign_mode=1, vth=0, bias_mant=np.asarray(bias, np.int32), bias_exp=bias_exp,
                      du=du, dv=0, reset="subtract", graded_input_bits=0, v_init=np.asarray(v_init, np.int32))

    w0 = np.full((6, 16), -369)
    w0[[0, 1, 2, 3, 4, 5], [0, 2, 11, 7, 6, 1]] = [-107, 380, 134, -12, 85, 61]
    layers = [layer("l0", 16, 6, w0, 2, [0, 0, 0, 0, 533, 533], 7, [-5411, 0, 0, 0, 0, 0], du=0),
              layer("l1", 6, 1, np.full((1, 6), -202), 8, [0], 0, [0], du=4095)]
    net = QuantizedNet((16,), input_scale=1.0, input_bits=2, input_signed=True, layers=layers, profile="random",
                       metadata={"input_encoding": "rate"})
    return net, np.full((2, 16), 0.99999), 4


@st.composite
def phase_networks(draw):
    """Like networks(), current-coded, with phase neurons (quantize.qnet.QPhase) on most layers: any decay
    (1..4096), non-increasing integer thresholds over the whole 24-bit range (duplicates included), windows,
    offsets and integration lengths that may overrun the run, graded inputs that saturate the accumulator."""
    from quantize.qnet import QPhase

    net, x, steps = draw(networks())
    if net.metadata["input_encoding"] == "rate":
        net.metadata["input_encoding"] = "current"
        x = np.round(x * 255)
    for layer in net.layers:
        if not draw(st.integers(0, 3)):
            continue  # an integrate-and-fire layer between phase layers
        window = draw(st.integers(1, 6))
        thr = np.sort(draw(ints((window,), -(M - 1), M - 1)))[::-1]
        if draw(st.booleans()):  # thresholds as quantize makes them: positive, near the state's scale
            thr = np.sort(draw(ints((window,), 1, 1 << 16)))[::-1]
        layer.phase = QPhase(decay=draw(st.integers(1, 4096)), thresholds=thr.astype(np.int32), window=window,
                             offset=draw(st.integers(1, 6)), base=2.0, shift=1.0, in_base=1.0,
                             integrate=draw(st.integers(1, 6)))
    return net, x, draw(st.integers(1, 24))
