"""Every fixed-point decision of the kit, in one place.

Units. A population's normalized threshold (1.0) becomes the integer `vth`; the chip compares v > vth << 6.
One binary spike through 8-bit-scale weight W8 adds (W8 << weight_exp) << 6 to u, the same scale as
vth << 6 (reference A.2). So with scale V = vth, a normalized weight w becomes W8 * 2**weight_exp ~ w * V,
and a normalized bias b (added to v each step, without the << 6) becomes bias_mant << bias_exp ~ b * V * 64.

Weights follow Lava's weight format (reference A.3): an nwb-bit mantissa m placed on the 8-bit scale,
W8 = m << (8 - nwb + is_mixed); mixed-sign layers lose one LSB. Conv synapses cannot apply weight_exp
in Lava (PyConvModelFixed ignores it), so the profile fixes it at 0 for them and V absorbs the scale.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from neurokit.network import INPUT
from neurokit.arithmetic import (IF_DU, IF_DV, SIGN_EXCITATORY, SIGN_INHIBITORY, SIGN_MIXED, SIGN_NAMES,
                                 mantissa_range, mantissa_shift, sign_mode)

__all__ = ["IF_DU", "IF_DV", "SIGN_EXCITATORY", "SIGN_INHIBITORY", "SIGN_MIXED", "SIGN_NAMES", "Limits", "LayerScale",
           "choose_scale", "population_scale", "plan_scales", "ScalePlan", "threshold_caps", "sigma_delta_caps", "quantize_sigma_delta", "projection_scale", "quantize_weights", "quantize_bias",
           "quantize_decay", "input_scale", "quantize_input", "quantize_v_init", "quantize_phase_thresholds",
           "mantissa_range", "mantissa_shift", "sign_mode", "phase_decay", "phase_gain"]


@dataclasses.dataclass(frozen=True)
class Limits:
    """The numbers from a hardware profile that the discretization needs."""

    weight_bits: int
    weight_exp_min: int
    weight_exp_max: int
    conv_applies_weight_exp: bool
    threshold_max: int
    threshold_shift: int
    activation_shift: int
    state_max: int  # largest positive value of u and v
    bias_mant_max: int
    bias_exp_min: int
    bias_exp_max: int
    decay_unity: int

    @classmethod
    def from_profile(cls, profile, weight_bits: int | None = None) -> "Limits":
        from neurokit.arithmetic import arithmetic_of_profile

        s, n = profile.synapse, profile.neuron
        nwb = s.weight_bits if weight_bits is None else weight_bits
        if not 1 <= nwb <= s.weight_bits:
            raise ValueError(f"weight bits must be in 1..{s.weight_bits} for profile {profile.name}, got {nwb}")
        return cls(
            weight_bits=nwb, weight_exp_min=s.weight_exp_min, weight_exp_max=s.weight_exp_max,
            # the chip may apply a conv weight_exp (Loihi 1 does); what runs it (Lava's Conv) must too
            conv_applies_weight_exp=s.conv_applies_weight_exp and arithmetic_of_profile(profile).conv_weight_exp,
            threshold_max=(1 << n.threshold_bits) - 1, threshold_shift=n.threshold_shift,
            activation_shift=n.activation_shift, state_max=(1 << (n.state_bits - 1)) - 1,
            bias_mant_max=(1 << (n.bias_mant_bits - 1)) - 1, bias_exp_min=n.bias_exp_min,
            bias_exp_max=n.bias_exp_max, decay_unity=1 << n.decay_bits,
        )


@dataclasses.dataclass
class LayerScale:
    vth: int
    weight_exp: int
    sign_mode: int
    limited_by: str  # which limit set vth


def threshold_caps(bias: np.ndarray, lim: Limits, headroom: float) -> dict[str, float]:
    """The bounds on a spiking population's V besides its weights': threshold width, state headroom (v may
    reach `headroom` thresholds before saturating) and the bias range."""
    caps = {
        "threshold width": float(lim.threshold_max),
        "state headroom": lim.state_max / (headroom * (1 << lim.threshold_shift)),
    }
    b_max = float(np.max(np.abs(bias), initial=0.0))
    if b_max > 0:
        bias_cap = lim.bias_mant_max * 2.0 ** lim.bias_exp_max / (b_max * (1 << lim.threshold_shift))
        # Shrinking V below 64 costs more threshold resolution than a clipped bias; keep 64 as a floor.
        caps["bias range"] = max(bias_cap, 64.0)
    return caps


def sigma_delta_caps(bias: np.ndarray, lim: Limits, peak: float, message_bits: int, state_exp: int = 6,
                     bias_bits: int = 16, param_shift: int = 12, margin: float = 1.25) -> dict[str, float]:
    """The bounds on a sigma-delta population's V (state units per activation unit), for values up to `peak`
    activation units (the calibration data's largest |sigma| or act, times `margin`): they stay within the
    signed state; a change of up to `peak`, sent as (delta >> state_exp), fits a graded spike of
    `message_bits`; the bias (held as bias << param_shift) fits its `bias_bits`."""
    peak = max(float(peak), 1e-3) * margin
    caps = {
        "state width": lim.state_max / peak,
        "message width": ((1 << (message_bits - 1)) - 1) * 2.0 ** state_exp / peak,
    }
    b_max = float(np.max(np.abs(bias), initial=0.0))
    if b_max > 0:
        caps["bias range"] = ((1 << (bias_bits - 1)) - 1) * 2.0 ** param_shift / b_max
    return caps


@dataclasses.dataclass
class ScalePlan:
    """Scales planned across a network whose projections cannot carry a weight exponent (netx's integer
    sigma-delta weights): scale per population, the input's integer levels per unit, and the weight bits
    (log2 of the largest integer weight) each projection then uses."""

    scales: dict
    input_scale: float
    weight_bits: dict
    input_bits: float


def plan_scales(net, caps: dict, input_peak: float, input_bits: int, input_shift: int, unit_per_scale,
                signed_input: bool = False, mantissa_max: int = 254, grid: float = 0.125,
                bias_shift: int | None = None, fixed=lambda q: True) -> ScalePlan:
    """Scales V per population and the input scale that give every projection's largest weight, and the input,
    as many bits as possible at once (the smallest of them is maximized).

    Without a weight exponent, projection q from s to t uses log2(W) = log2(max |w_q|) + log2(V_t) - log2(m_s)
    bits, m_s the message units per activation unit s sends (unit_per_scale(V_s); the input: levels per unit
    << input_shift). Bits spent on one layer's weights are taken from the next: scaling every V to its own
    limit (the per-population rule) starves a wide dense layer of small weights. So for a target precision
    b, in topological order, V_t = min(cap_t, min over q of m_s * 2**b / max |w_q|); the b whose smallest
    resulting precision (weights and input) is largest wins. caps: the other bounds on each V (state and
    message width). bias_shift: a bias held << bias_shift moves in steps of 2**bias_shift / V activation
    units; a population with a bias then needs V >= 2**(bias_shift + b) for b bits per activation unit, which
    the plan weighs like a weight's bits. fixed(q): whether projection q has no weight exponent of its own
    (every projection for netx's integer weights; conv projections in Lava, whose Conv ignores weight_exp);
    a projection with one fills its mantissa at any V and takes no part."""
    order = net.order("scale planning")
    ratio = {q.name: float(np.max(np.abs(q.weight), initial=0.0)) if fixed(q) else 0.0 for q in net.projections}
    full = math.log2(mantissa_max)
    best = None
    b = full
    while b >= 0:
        b_in = min(float(input_bits) - (1 if signed_input else 0), b)
        levels = 2.0 ** b_in - 1 if b_in > 0 else 1.0
        q_in = levels / input_peak if input_peak > 0 else 1.0
        sent = {INPUT: q_in * 2.0 ** input_shift}
        scales, bits = {}, {}
        for pop in order:
            v = caps[pop.name]
            for q in net.incoming(pop.name):
                if ratio[q.name] > 0:
                    v = min(v, sent[q.source] * 2.0 ** b / ratio[q.name])
            if bias_shift is not None and np.any(pop.neuron.bias != 0):
                clip = min([caps[pop.name]] + [sent[q.source] * mantissa_max / ratio[q.name]
                                               for q in net.incoming(pop.name) if ratio[q.name] > 0])
                v = min(max(v, 2.0 ** (bias_shift + b)), clip)  # bias steps of 2**-b, if no weight clips
                bits[f"{pop.name} bias"] = math.log2(v) - bias_shift
            v = max(1.0, math.floor(v))
            scales[pop.name] = v
            for q in net.incoming(pop.name):
                if ratio[q.name] > 0:
                    bits[q.name] = math.log2(ratio[q.name] * v / sent[q.source])
            sent[pop.name] = unit_per_scale(v)
        score = min([math.log2(levels + 1)] + list(bits.values()))
        if best is None or score > best[0] + 1e-9:
            best = (score, ScalePlan(scales, q_in, bits, math.log2(levels + 1)))
        b -= grid
    return best[1]


def population_scale(weights: list[tuple[str, np.ndarray, bool, Limits]], caps: dict[str, float]) -> tuple[int, str]:
    """(V, the limit that set it) for one population: one scale V shared by every projection into it
    (nengo-loihi's discretize_block rule: one scale per target, a weight exponent per projection).

    weights: (label, normalized weights per integer input level, conv?, the projection's Limits: its weight
    bits) per projection; caps: the neuron model's other bounds on V (threshold_caps, sigma_delta_caps).
    V is as large as every bound allows, each projection's weight exponent range included.
    """
    caps = dict(caps)
    for label, w_eff, conv, wlim in weights:
        r, shift = _weight_ratio(w_eff, wlim)
        if r > 0:
            fixed_exp = conv and not wlim.conv_applies_weight_exp
            e_max = 0 if fixed_exp else wlim.weight_exp_max
            key = "weight exponent" if not fixed_exp else "conv weight_exp fixed at 0"
            if len(weights) > 1:
                key += f" ({label})"
            caps[key] = min(caps.get(key, np.inf), 2.0 ** (e_max + shift) / r)
    limited_by = min(caps, key=caps.get)
    return max(1, int(math.floor(caps[limited_by]))), limited_by


def _weight_ratio(w_eff: np.ndarray, lim: Limits) -> tuple[float, int]:
    """r with V * r = the largest weight in mantissa steps of size 2**exponent, and the mantissa shift."""
    mode = sign_mode(w_eff)
    m_lo, m_hi = mantissa_range(mode, lim.weight_bits)
    pos, neg = float(np.max(w_eff, initial=0.0)), float(-np.min(w_eff, initial=0.0))
    r = max(pos / m_hi if m_hi > 0 else 0.0, neg / -m_lo if m_lo < 0 else 0.0)
    return r, mantissa_shift(mode, lim.weight_bits)


def projection_scale(w_eff: np.ndarray, conv: bool, vth: int, lim: Limits, limited_by: str = "") -> LayerScale:
    """The weight exponent and sign mode of one projection into a population of scale vth."""
    r, shift = _weight_ratio(w_eff, lim)
    if (conv and not lim.conv_applies_weight_exp) or r == 0:
        wexp = 0
    else:
        e = math.ceil(math.log2(vth * r)) - shift
        wexp = int(min(max(e, lim.weight_exp_min), lim.weight_exp_max))
    return LayerScale(vth=vth, weight_exp=wexp, sign_mode=sign_mode(w_eff), limited_by=limited_by)


def choose_scale(w_eff: np.ndarray, bias: np.ndarray, conv: bool, lim: Limits, headroom: float) -> LayerScale:
    """vth (= V) and weight_exp for a population with one projection (see population_scale)."""
    vth, limited_by = population_scale([("", w_eff, conv, lim)], threshold_caps(bias, lim, headroom))
    return projection_scale(w_eff, conv, vth, lim, limited_by)


def quantize_weights(w_eff: np.ndarray, sc: LayerScale, lim: Limits) -> tuple[np.ndarray, dict]:
    """8-bit-scale integer weights W8 with W8 * 2**weight_exp ~ w_eff * vth, plus what was lost."""
    m_lo, m_hi = mantissa_range(sc.sign_mode, lim.weight_bits)
    shift = mantissa_shift(sc.sign_mode, lim.weight_bits)
    step = 2.0 ** (sc.weight_exp + shift)
    ideal = w_eff * sc.vth / step
    m = np.clip(np.round(ideal), m_lo, m_hi)
    w8 = (m.astype(np.int64) << shift).astype(np.int32)
    back = m * step / sc.vth
    nz = w_eff != 0
    err = np.abs(back - w_eff)
    stats = {
        "count": int(w_eff.size),
        "zeroed_fraction": float(np.mean((m == 0) & nz)) if w_eff.size else 0.0,
        "clipped_fraction": float(np.mean((ideal < m_lo - 0.5) | (ideal > m_hi + 0.5))),
        # both relative to the largest |w|, so mean <= max
        "rel_error_mean": float(err.mean() / np.abs(w_eff).max()) if nz.any() else 0.0,
        "rel_error_max": float(err.max() / np.abs(w_eff).max()) if nz.any() else 0.0,
    }
    return w8, stats


def quantize_bias(bias: np.ndarray, vth: int, lim: Limits) -> tuple[np.ndarray, int, dict]:
    """bias_mant, bias_exp with (bias_mant << bias_exp) ~ bias * vth * 2**threshold_shift: the bias adds to v
    directly, in the units the threshold vth << threshold_shift is compared in."""
    raw = bias * vth * (1 << lim.threshold_shift)
    peak = float(np.max(np.abs(raw), initial=0.0))
    exp = lim.bias_exp_min
    while exp < lim.bias_exp_max and peak / 2.0 ** exp > lim.bias_mant_max + 0.5:
        exp += 1
    ideal = raw / 2.0 ** exp
    mant = np.clip(np.round(ideal), -lim.bias_mant_max - 1, lim.bias_mant_max).astype(np.int32)
    err = np.abs(mant * 2.0 ** exp - raw)
    stats = {
        "bias_exp": exp,
        "clipped_fraction": float(np.mean(np.abs(ideal) > lim.bias_mant_max + 0.5)) if raw.size else 0.0,
        "rel_error_max": float(err.max() / peak) if peak > 0 else 0.0,
        "rel_error_mean": float(err.mean() / peak) if peak > 0 else 0.0,
        "zeroed_fraction": float(np.mean((mant == 0) & (bias != 0))) if raw.size else 0.0,
    }
    return mant, exp, stats


def input_scale(calibration: np.ndarray, bits: int) -> tuple[float, bool]:
    """Integer levels per input unit for graded input: the calibration peak maps to the largest code."""
    signed = bool(np.min(calibration) < 0)
    peak = float(np.max(np.abs(calibration)))
    levels = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    return (levels / peak if peak > 0 else 1.0), signed


def quantize_input(x: np.ndarray, scale: float, bits: int, signed: bool) -> np.ndarray:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return np.clip(np.round(np.asarray(x, np.float64) * scale), lo, hi).astype(np.int32)


def quantize_sigma_delta(bias: np.ndarray, vth: float, scale: int, param_shift: int) -> tuple[np.ndarray, int, dict, dict]:
    """A sigma-delta population's integer bias and delta threshold, as Lava's SigmaDelta takes them (it holds
    each << param_shift): round(b * V / 2**param_shift), at most the bias's 16 bits; the threshold at least 0."""
    step = 2.0 ** param_shift
    ideal = np.asarray(bias, np.float64) * scale / step
    b = np.clip(np.round(ideal), -(1 << 15), (1 << 15) - 1).astype(np.int32)
    peak = float(np.max(np.abs(ideal), initial=0.0))
    err = np.abs(b - ideal)
    bstats = {
        "bias_exp": param_shift,
        "clipped_fraction": float(np.mean(np.abs(ideal) > (1 << 15) - 0.5)) if ideal.size else 0.0,
        "rel_error_max": float(err.max() / peak) if peak > 0 else 0.0,
        "rel_error_mean": float(err.mean() / peak) if peak > 0 else 0.0,
        "zeroed_fraction": float(np.mean((b == 0) & (np.asarray(bias) != 0))) if ideal.size else 0.0,
        "step_activation_units": step / scale,
    }
    v_ideal = float(vth) * scale / step
    v = int(max(0, round(v_ideal)))
    tstats = {"rounding_error_activation_units": abs(v - v_ideal) * step / scale}
    return b, v, bstats, tstats


def quantize_v_init(v_init, vth: int, lim: Limits, shape) -> np.ndarray:
    """Initial v in raw state units (threshold = vth << threshold_shift)."""
    if v_init is None:
        return np.zeros(shape, np.int32)
    raw = np.round(np.asarray(v_init, np.float64) * vth * (1 << lim.threshold_shift))
    return np.clip(raw, -lim.state_max, lim.state_max).astype(np.int32)


def quantize_decay(decay: float, lim: Limits, offset: int) -> int:
    """A float decay per step d in [0, 1] (x <- x (1 - d)) as Lava's 12-bit du / dv: the factor is
    (4096 - d_int - offset) / 4096, offset 1 for du (Lava's ds_offset), 0 for dv."""
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"a decay must lie in [0, 1] per step, got {decay}")
    return int(np.clip(round(decay * lim.decay_unity) - offset, 0, lim.decay_unity - 1))


def decay_error(name: str, what: str, decay: float, integer: int, lim: Limits, offset: int) -> dict:
    """What the 12-bit decay realizes against what was asked: the factor per step and the time constant in
    steps (1 / decay). A leak the format rounds away, or a partial decay it rounds to a full one, is refused."""
    unity = lim.decay_unity
    realized = (integer + offset) / unity
    if 0 < decay < 1 and offset == 0 and round(decay * unity) == 0:
        raise ValueError(f"population {name}: {what} = {decay:.3g} per step (tau = {1 / decay:.4g} steps) rounds to "
                         f"no leak in Lava's 12-bit decay; use a time constant under {2 * unity:g} steps (check dt)")
    if 0 < decay < 1 and round(decay * unity) >= unity:
        raise ValueError(f"population {name}: {what} = {decay:.6g} per step rounds to a full decay ({unity} of {unity}: "
                         "the state forgets everything each step) in Lava's 12-bit decay; check dt, or use a longer "
                         "time constant")
    tau = (lambda d: None if d <= 0 else 1.0 / d)  # noqa: E731
    return {"requested": float(decay), "realized": float(realized), "integer": int(integer),
            "tau_requested_steps": tau(decay), "tau_realized_steps": tau(realized),
            "relative_error": None if decay <= 0 else float(abs(realized - decay) / decay)}


def phase_decay(in_base: float) -> int:
    """A phase population's accumulator decay D (u <- trunc(u * D / 4096)) for an input code of base in_base."""
    return int(min(4096, max(1, round(4096.0 / float(in_base)))))


def phase_gain(decay: int, window: int) -> float:
    """sum_j (decay / 4096)**j: what a constant per-step input (the bias, the held input) adds up to."""
    return float(np.sum((decay / 4096.0) ** np.arange(window, dtype=np.float64)))


def quantize_phase_thresholds(shift: float, base: float, window: int, vth: int, lim: Limits) -> tuple[np.ndarray, dict]:
    """Integer thresholds round(shift * base**-j * vth << threshold_shift), j = 0..window-1, at least 1
    (a threshold of 0 would make v = 0 fire), at most the state's largest value."""
    ideal = shift * float(base) ** -np.arange(window, dtype=np.float64) * vth * (1 << lim.threshold_shift)
    thr = np.clip(np.round(ideal), 1, lim.state_max).astype(np.int64)
    err = np.abs(thr - ideal) / ideal
    stats = {
        "count": int(window),
        "rel_error_max": float(err.max()),
        "at_floor": int(np.sum(thr == 1)),  # raised to 1
        "distinct": int(len(np.unique(thr))),  # fewer than window: some phases can never fire
    }
    return thr.astype(np.int32), stats
