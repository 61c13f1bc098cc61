"""Random quantized networks for the engine's differential tests against Lava (hypothesis strategies), and
small builders for hand-made networks.

Every parameter is drawn over its whole format, so the edges come up: weights beyond the 8-bit scale
(Lava clips them), every sign mode, 1 to 8 weight bits, weight exponents that overflow int32, thresholds
up to 17 bits, decays over all 12 bits, biases over the 13-bit mantissa and 3-bit exponent, initial v over
24 bits, graded inputs up to 2**20 (u wraps, v saturates). Conv projections with graded input keep their
sums below 2**24, where Lava's float32 Conv is exact (beyond it Lava itself rounds).

The graphs are DAGs: each population reads 1 to 3 projections from the input or any earlier population
(branches, skip connections over different depths, fan-in of several projections into one population,
conv and dense mixed); chains are the special case of one projection from the population before.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neurokit.network import INPUT, Network, Population, Projection, conv_out_hw
from neurokit.neurons import Cuba, Phase, QCuba, QPhase, QPhaseNeuron
from quantize.qnet import QProjection, QuantizedNet

M = 1 << 23


# ---- hand-made chains ----------------------------------------------------------------------------------

def float_layer(name, kind, in_shape, out_shape, weight, bias, reset="subtract", v_init=None, phase=None, **geometry):
    """(projection, population) of one float layer; chain() links the sources."""
    proj = Projection(f"{name}_synapse", INPUT, name, kind, tuple(in_shape), tuple(out_shape),
                      np.asarray(weight, np.float64), **geometry)
    bias = np.broadcast_to(np.asarray(bias, np.float64), out_shape).copy()
    if phase is not None:
        neuron = Phase(bias=bias, code=phase)
    else:
        neuron = Cuba(bias=bias, v_init=np.zeros(out_shape) if v_init is None else np.asarray(v_init, np.float64),
                      reset=reset)
    return proj, Population(name, tuple(out_shape), neuron)


def chain(input_shape, layers, metadata=None, quantized: dict | None = None):
    """A chain network of (projection, population) pairs: each projection reads the population before.
    quantized: QuantizedNet fields (input_scale, input_bits, input_signed, profile) for integer layers."""
    projections, populations = [], []
    source = INPUT
    for proj, pop in layers:
        proj.source = source
        projections.append(proj)
        populations.append(pop)
        source = pop.name
    args = (tuple(input_shape), populations, projections, source, dict(metadata or {}))
    if quantized is not None:
        return QuantizedNet(*args, **quantized).validate()
    return Network(*args).validate()


def q_layer(name, kind, in_shape, out_shape, weight, weight_exp, weight_bits, sign_mode, vth, bias_mant, bias_exp,
            du, dv, reset, graded_input_bits=0, v_init=None, phase=None, **geometry):
    """(projection, population) of one quantized layer."""
    proj = QProjection(name=f"{name}_synapse", source=INPUT, target=name, kind=kind, in_shape=tuple(in_shape),
                       out_shape=tuple(out_shape), weight=np.asarray(weight, np.int32), weight_exp=weight_exp,
                       weight_bits=weight_bits, sign_mode=sign_mode, graded_input_bits=graded_input_bits, **geometry)
    bias_mant = np.broadcast_to(np.asarray(bias_mant, np.int32), out_shape).copy()
    if phase is not None:
        neuron = QPhaseNeuron(vth=vth, bias_mant=bias_mant, bias_exp=bias_exp, code=phase)
    else:
        neuron = QCuba(vth=vth, bias_mant=bias_mant, bias_exp=bias_exp, du=du, dv=dv,
                       v_init=np.zeros(out_shape, np.int32) if v_init is None else np.asarray(v_init, np.int32),
                       reset=reset)
    return proj, Population(name, tuple(out_shape), neuron)


# ---- random DAGs ---------------------------------------------------------------------------------------

def ints(shape, lo, hi):
    return hnp.arrays(np.int64, shape, elements=st.integers(lo, hi))


GEOMETRIES = [(k, s, p, d) for k in (1, 2, 3) for s in (1, 2) for p in (0, 1) for d in (1, 2)]


def _geometries_to(src_hw, out_hw):
    return [g for g in GEOMETRIES if conv_out_hw(src_hw, (g[0], g[0]), (g[1], g[1]), (g[2], g[2]), (g[3], g[3]))
            == tuple(out_hw)]


@st.composite
def projection(draw, name, source, in_shape, target, out_shape, graded_bits, max_input):
    """A random quantized projection from `source` (in_shape) onto `out_shape`."""
    if len(out_shape) == 3:
        k, s, p, d = draw(st.sampled_from(_geometries_to(in_shape[1:], out_shape[1:])))
        weight = draw(ints((out_shape[0], in_shape[0], k, k), -256, 255))
        if graded_bits:  # keep Lava's float32 sums exact: sum |w| * (largest input the format allows) < 2**24
            per_weight = ((1 << 24) - 1) // (2 * max_input * in_shape[0] * k * k)
            weight = np.clip(weight, -per_weight, per_weight)
        geometry = dict(stride=(s, s), padding=(p, p), dilation=(d, d))
        kind = "conv"
    else:
        weight = draw(ints((out_shape[0], int(np.prod(in_shape))), -400, 400))
        geometry, kind = {}, "dense"
    return QProjection(name=name, source=source, target=target, kind=kind, in_shape=tuple(in_shape),
                       out_shape=tuple(out_shape), weight=weight.astype(np.int32), weight_exp=draw(st.integers(-8, 8)),
                       weight_bits=draw(st.integers(1, 8)), sign_mode=draw(st.sampled_from([1, 2, 3])),
                       graded_input_bits=graded_bits, **geometry)


@st.composite
def population(draw, name, shape):
    neuron = QCuba(
        vth=draw(st.one_of(st.integers(0, 1023), st.integers(0, (1 << 17) - 1))),  # small ones keep layers spiking
        bias_mant=draw(ints(shape, -4096, 4095)).astype(np.int32), bias_exp=draw(st.integers(0, 7)),
        du=draw(st.integers(0, 4095)), dv=draw(st.integers(0, 4095)), reset=draw(st.sampled_from(["subtract", "zero"])),
        v_init=draw(st.one_of(ints(shape, 0, 0), ints(shape, -(M - 1), M - 1))).astype(np.int32),
    )
    if draw(st.booleans()):  # conversion's integrate-and-fire setting, the path the engine optimizes
        neuron.du, neuron.dv = 4095, 0
    return Population(name, tuple(shape), neuron)


@st.composite
def networks(draw, max_populations: int = 3, max_fan_in: int = 3, dag: bool = False):
    """(QuantizedNet, inputs (N, *input_shape), steps): a random DAG (max_fan_in = 1: a chain or a tree).
    dag=True: at least two populations, and the last one reads 2 or more projections when its shape lets
    it (a dense one always can)."""
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
    sources = [(INPUT, input_shape)]
    populations, projections = [], []
    count = draw(st.integers(2 if dag else 1, max_populations))
    for i in range(count):
        name = f"p{i}"
        spatial = [s for s in sources if len(s[1]) == 3]
        if spatial and draw(st.booleans()):
            primary = draw(st.sampled_from(spatial))
            k, s, p, d = draw(st.sampled_from(GEOMETRIES))
            hw = conv_out_hw(primary[1][1:], (k, k), (s, s), (p, p), (d, d))
            if min(hw) < 1:
                hw = tuple(primary[1][1:])
            shape = (draw(st.integers(1, 4)),) + tuple(hw)
        else:
            primary = draw(st.sampled_from(sources))
            shape = (draw(st.integers(1, 12)),)
        eligible = [src for src in sources if src is not primary and
                    (len(shape) == 1 or len(src[1]) == 3 and _geometries_to(src[1][1:], shape[1:]))]
        if dag and i == count - 1 and not eligible:  # a dense population can read any source
            shape = (draw(st.integers(1, 12)),)
            eligible = [src for src in sources if src is not primary]
        least = 2 if dag and i == count - 1 else 1
        fan_in = min(draw(st.integers(least, max_fan_in)), len(eligible) + 1)
        extra = draw(st.lists(st.sampled_from(eligible), min_size=fan_in - 1, max_size=fan_in - 1,
                              unique_by=lambda s: s[0])) if fan_in > 1 else []
        for j, (src, src_shape) in enumerate([primary] + extra):
            graded = 24 if src == INPUT and not rate else 0
            projections.append(draw(projection(f"{name}_in{j}", src, src_shape, name, shape, graded, max_input)))
        populations.append(draw(population(name, shape)))
        sources.append((name, shape))
    # input_scale 1 and enough signed bits: the integer inputs reach the network unchanged
    net = QuantizedNet(input_shape, populations, projections, populations[-1].name,
                       {"input_encoding": "rate" if rate else "current"}, input_scale=1.0,
                       input_bits=max_input.bit_length() + 1, input_signed=True, profile="random")
    return net.validate(), x, draw(st.integers(1, 12))


def u_wrap_edge():
    """Found by the 1,000-network run: a synaptic input of exactly -2**17, so a_in << 6 = -2**23, which
    Lava's wrap of u turns into +2**23 (values <= -2**23 gain 2**24)."""
    def layer(name, n_in, n_out, weight, weight_exp, bias, bias_exp, v_init, du):
        return q_layer(name, "dense", (n_in,), (n_out,), weight, weight_exp, 1, 1, 0, bias, bias_exp, du, 0,
                       "subtract", v_init=v_init)

    w0 = np.full((6, 16), -369)
    w0[[0, 1, 2, 3, 4, 5], [0, 2, 11, 7, 6, 1]] = [-107, 380, 134, -12, 85, 61]
    layers = [layer("l0", 16, 6, w0, 2, [0, 0, 0, 0, 533, 533], 7, [-5411, 0, 0, 0, 0, 0], du=0),
              layer("l1", 6, 1, np.full((1, 6), -202), 8, [0], 0, [0], du=4095)]
    net = chain((16,), layers, {"input_encoding": "rate"},
                quantized=dict(input_scale=1.0, input_bits=2, input_signed=True, profile="random"))
    return net, np.full((2, 16), 0.99999), 4


@st.composite
def phase_networks(draw):
    """Like networks() with one projection per population, current-coded, with phase neurons
    (neurokit.neurons.QPhase) on most populations: any decay (1..4096), non-increasing integer thresholds
    over the whole 24-bit range (duplicates included), windows, offsets and integration lengths that may
    overrun the run, graded inputs that saturate the accumulator."""
    net, x, steps = draw(networks(max_fan_in=1))
    if net.metadata["input_encoding"] == "rate":
        net.metadata["input_encoding"] = "current"
        x = np.round(x * 255)
        for q in net.outgoing(INPUT):
            q.graded_input_bits = 24
    for pop in net.populations:
        if not draw(st.integers(0, 3)):
            continue  # an integrate-and-fire population between phase populations
        window = draw(st.integers(1, 6))
        thr = np.sort(draw(ints((window,), -(M - 1), M - 1)))[::-1]
        if draw(st.booleans()):  # thresholds as quantize makes them: positive, near the state's scale
            thr = np.sort(draw(ints((window,), 1, 1 << 16)))[::-1]
        code = QPhase(decay=draw(st.integers(1, 4096)), thresholds=thr.astype(np.int32), window=window,
                      offset=draw(st.integers(1, 6)), base=2.0, shift=1.0, in_base=1.0, integrate=draw(st.integers(1, 6)))
        pop.neuron = QPhaseNeuron(vth=pop.neuron.vth, bias_mant=pop.neuron.bias_mant, bias_exp=pop.neuron.bias_exp,
                                  code=code)
    return net, x, draw(st.integers(1, 24))


@st.composite
def sigma_delta_networks(draw, max_populations: int = 3, dag: bool = False):
    """Like networks(), every population a sigma-delta one (neurokit.neurons.QSigmaDelta: a scale, biases
    over 10 bits, delta thresholds from 0 up), delta-coded 8-bit input, graded messages on every projection.
    Conv weights stay small so that Lava's float32 Conv sums stay exact on most draws (a draw where the
    engine warns that they may not is discarded by the test)."""
    from neurokit.neurons import QSigmaDelta

    net, _, steps = draw(networks(max_populations=max_populations, dag=dag))
    for q in net.projections:
        q.graded_input_bits = 16
        if q.kind == "conv":
            q.weight = np.clip(q.weight, -6, 6).astype(np.int32)
    for pop in net.populations:
        pop.neuron = QSigmaDelta(scale=1 << 16, bias=draw(ints(pop.shape, -512, 512)).astype(np.int32),
                                 vth=draw(st.sampled_from([0, 0, 1, 3, 50])))
    net.metadata["input_encoding"] = "delta"
    net.input_bits, net.input_signed, net.input_scale = 8, False, 1.0
    samples = draw(st.integers(1, 3))
    x = draw(ints((samples,) + tuple(net.input_shape), 0, 255)).astype(np.float64)
    return net.validate(), x, min(steps, 6)


def folded_pool_net(seed: int = 0):
    """A conv layer, then a 2 x 2 average pooling folded into a 3 x 3 convolution (as neurokit.convert folds it:
    a 6 x 6 kernel of 2 x 2 blocks at stride 2, padding 2), which the engine runs as sum pooling and the 3 x 3
    kernel (neurokit.backends.engine.geometry)."""
    rng = np.random.default_rng(seed)
    w0 = rng.integers(-120, 121, (4, 1, 3, 3))
    w1 = np.repeat(np.repeat(rng.integers(-60, 61, (3, 4, 3, 3)), 2, axis=2), 2, axis=3)
    layers = [q_layer("c0", "conv", (1, 8, 8), (4, 8, 8), w0, 0, 8, 1, 40, rng.integers(-50, 200, (4, 8, 8)), 0,
                      4095, 0, "subtract", stride=(1, 1), padding=(1, 1), dilation=(1, 1)),
              q_layer("c1", "conv", (4, 8, 8), (3, 4, 4), w1, 0, 8, 1, 30, rng.integers(-50, 50, (3, 4, 4)), 0,
                      4095, 0, "subtract", stride=(2, 2), padding=(2, 2), dilation=(1, 1))]
    net = chain((1, 8, 8), layers, {"input_encoding": "rate"},
                quantized=dict(input_scale=1.0, input_bits=8, input_signed=False, profile="random"))
    return net, rng.random((3, 1, 8, 8)), 12
