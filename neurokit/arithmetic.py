"""Loihi's fixed-point arithmetic, in one module: what the quantizer aims at, what the engine computes and
what the Lava builder hands to Lava's bit-accurate models.

Every rule names the Lava 0.10 code that computes it (lava/proc/lif/models.py AbstractPyLifModelFixed,
lava/proc/dense/models.py AbstractPyDenseModelBitAcc, lava/proc/conv/models.py PyConvModelFixed,
lava/utils/weightutils.py):
- weights live on an 8-bit scale [-256, 255]; an nwb-bit mantissa m sits at m << (8 - nwb + is_mixed),
  the low bits truncated (weightutils.truncate_weights), per sign mode;
- a spike through weight W8 adds (W8 << weight_exp) << activation_shift to u (Dense; Conv ignores
  weight_exp and wraps its sum to signed 24 bits);
- u <- trunc(u * (4096 - du - 1) / 4096) + (a_in << 6), wrapped once into (-2**23, 2**23];
- v <- clip(trunc(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp), -(2**23 - 1), 2**23 - 1);
- a neuron spikes when v > vth << threshold_shift;
- sigma-delta (lava/proc/sdn/models.py PySigmaDeltaModelFixed, netx's SDNN layers), int32 throughout:
  sigma += a_in; act = relu(sigma + bias); delta = act - act_prev + residue; s = delta where
  |delta| >= vth, else 0; residue = delta - s; sent: s >> state_exp. The process takes vth and bias in
  units of 2**(spike_exp + state_exp) (lava/proc/sdn/process.py SigmaDelta.__init__).

`Arithmetic` holds the numbers these rules take. A quantized network records the arithmetic it was built
for (QuantizedNet.arithmetic), the engine and the Lava builder read it from there, and a hardware profile
or a quantized file asking for arithmetic no backend implements is refused (`check_supported`).
"""
from __future__ import annotations

import dataclasses

import numpy as np

SIGN_MIXED, SIGN_EXCITATORY, SIGN_INHIBITORY = 1, 2, 3  # lava.utils.weightutils.SignMode values
SIGN_NAMES = {SIGN_MIXED: "mixed", SIGN_EXCITATORY: "excitatory", SIGN_INHIBITORY: "inhibitory"}


class UnsupportedArithmeticError(ValueError):
    """A profile or a file asks for fixed-point arithmetic that no backend implements."""


@dataclasses.dataclass(frozen=True)
class Arithmetic:
    threshold_shift: int = 6  # v is compared with vth << threshold_shift (LIF vth_shift)
    activation_shift: int = 6  # synaptic input enters u as a_in << activation_shift (LIF act_shift)
    decay_bits: int = 12  # du, dv: decay factor (2**decay_bits - d) / 2**decay_bits (LIF decay_shift)
    state_bits: int = 24  # u wraps and v saturates at this signed width (LIF uv_bitwidth)
    weight_scale_bits: int = 8  # weights are given on this scale, [-2**(bits), 2**(bits) - 1]
    conv_message_bits: int = 24  # Lava's Conv wraps its sums to this signed width (conv utils.signed_clamp)
    conv_weight_exp: bool = False  # whether Conv applies weight_exp (Lava's PyConvModelFixed does not)

    # ---- derived constants ----------------------------------------------------------------------------
    @property
    def decay_unity(self) -> int:
        """4096: the decay factor's denominator."""
        return 1 << self.decay_bits

    @property
    def state_limit(self) -> int:
        """2**23: u wraps beyond it; v saturates one below it."""
        return 1 << (self.state_bits - 1)

    @property
    def state_max(self) -> int:
        """2**23 - 1: the largest value of v (and of u after its wrap)."""
        return self.state_limit - 1

    @property
    def max_vth(self) -> int:
        """The largest threshold Lava's LIF holds (vth: 17 bits; lava/proc/lif/process.py): the threshold of a
        population that must not fire. v saturates at state_max, 2**threshold_shift - 1 above vth << shift."""
        return (1 << (self.state_bits - 1 - self.threshold_shift)) - 1

    def threshold_raw(self, vth: int) -> int:
        """vth << 6: the v a neuron must exceed to spike."""
        return int(vth) << self.threshold_shift

    # ---- integer rules, on numpy or torch arrays (xp: neurokit.backends.engine.arrays) ------------------
    def bias_raw(self, bias_mant: np.ndarray, bias_exp: int) -> np.ndarray:
        """bias_mant << bias_exp (arithmetic >> for a negative exponent), int64, as Lava's scale_bias
        (bias_mant held as int16, shifted in int32)."""
        mant = np.asarray(bias_mant).reshape(-1).astype(np.int16).astype(np.int64)
        e = int(bias_exp)
        return wrap32(mant << e) if e >= 0 else mant >> -e

    def decay(self, x, factor: int, xp):
        """trunc(x * factor / 4096) toward zero (Lava's decays); x int64."""
        y = x * factor
        return xp.where(y < 0, -((-y) >> self.decay_bits), y >> self.decay_bits)

    def wrap_u(self, x, xp):
        """Lava's single wrap of u: values > 2**23 lose 2**24, then values <= -2**23 gain 2**24."""
        m = self.state_limit
        u = xp.where(x > m, x - 2 * m, x)
        return xp.where(u <= -m, x + 2 * m, u)

    def wrap_conv(self, acc):
        """Signed 24-bit wrap of a Conv's integer sum (Lava conv utils.signed_clamp)."""
        m = 1 << (self.conv_message_bits - 1)
        return ((acc + m) & (2 * m - 1)) - m

    # ---- float <-> integer scale ----------------------------------------------------------------------
    def weight_value(self, w8: np.ndarray, weight_exp: int, vth: int) -> np.ndarray:
        """Normalized float weight (thresholds per unit of input) that an 8-bit-scale weight stands for."""
        return np.asarray(w8, np.float64) * 2.0 ** weight_exp / vth

    def bias_value(self, bias_mant: np.ndarray, bias_exp: int, vth: int) -> np.ndarray:
        """Normalized float bias (thresholds per step): (bias_mant << bias_exp) / (vth << threshold_shift)."""
        return np.asarray(bias_mant, np.float64) * 2.0 ** bias_exp / (vth * float(1 << self.threshold_shift))

    def state_value(self, raw: np.ndarray, vth: int) -> np.ndarray:
        """A raw u or v in thresholds."""
        return np.asarray(raw, np.float64) / (vth * float(1 << self.threshold_shift))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, where: str = "the quantized file") -> "Arithmetic":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise UnsupportedArithmeticError(f"{where} records arithmetic field '{unknown[0]}', which neurokit does "
                                             f"not know; re-quantize it with this version")
        arith = cls(**{k: (bool(v) if k == "conv_weight_exp" else int(v)) for k, v in d.items()})
        check_supported(arith, where)
        return arith


LOIHI2 = Arithmetic()  # Lava 0.10 fixed_pt (Loihi 2), and Loihi 1 (nengo-loihi): the same numbers
SUPPORTED = (LOIHI2,)

# profile field -> Arithmetic field
PROFILE_FIELDS = {
    "neuron.threshold_shift": "threshold_shift",
    "neuron.activation_shift": "activation_shift",
    "neuron.decay_bits": "decay_bits",
    "neuron.state_bits": "state_bits",
    "synapse.weight_scale_bits": "weight_scale_bits",
}


def check_supported(arith: Arithmetic, where: str) -> None:
    """One line naming the first field no backend implements, and the value that is."""
    if arith in SUPPORTED:
        return
    ref = SUPPORTED[0]
    for key, field in PROFILE_FIELDS.items():
        if getattr(arith, field) != getattr(ref, field):
            raise UnsupportedArithmeticError(
                f"{where}: {key} = {getattr(arith, field)} asks for arithmetic no neurokit backend implements "
                f"(the engine and Lava's fixed_pt models compute with {key} = {getattr(ref, field)}); "
                f"set it to {getattr(ref, field)}")
    raise UnsupportedArithmeticError(f"{where}: arithmetic {arith.to_dict()} is not implemented by any backend; "
                                     f"use {ref.to_dict()}")


def arithmetic_of_profile(profile) -> Arithmetic:
    """The arithmetic a hardware profile asks for (anything with .neuron and .synapse sections)."""
    return Arithmetic(**{field: int(getattr(getattr(profile, key.split(".")[0]), key.split(".")[1]))
                         for key, field in PROFILE_FIELDS.items()})


# ---- weights: Lava's sign modes and mantissas -----------------------------------------------------------

def sign_mode(w: np.ndarray) -> int:
    """Lava's determine_sign_mode: all >= 0 excitatory, all <= 0 inhibitory, else mixed."""
    if np.all(w >= 0):
        return SIGN_EXCITATORY
    if np.all(w <= 0):
        return SIGN_INHIBITORY
    return SIGN_MIXED


def mantissa_range(mode: int, nwb: int) -> tuple[int, int]:
    if mode == SIGN_MIXED:
        return -(1 << (nwb - 1)), (1 << (nwb - 1)) - 1
    if mode == SIGN_EXCITATORY:
        return 0, (1 << nwb) - 1
    return -((1 << nwb) - 1), 0


def mantissa_shift(mode: int, nwb: int) -> int:
    """LSBs below the mantissa on the 8-bit scale (Lava truncate_weights: 8 - nwb + is_mixed)."""
    return 8 - nwb + (mode == SIGN_MIXED)


def lava_dense_weights(w: np.ndarray, mode: int, weight_bits: int) -> np.ndarray:
    """Dense weights as Lava's PyDenseModelBitAcc holds them after its first step: clip_weights to the
    8-bit scale, then truncate_weights."""
    w = np.asarray(w).astype(np.int64)
    mixed, inhibitory = mode == SIGN_MIXED, mode == SIGN_INHIBITORY
    if inhibitory:
        w = -w
    w = np.clip(w, -256 * mixed, 255)
    drop = mantissa_shift(mode, weight_bits)
    w = (w >> drop) << drop
    return -w if inhibitory else w


def netx_dense_format(w: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """What lava-dl's netx builds a Dense synapse from for integer file weights w: (stored weights, weight
    bits, weight exponent, sign mode), the rule of lava/lib/dl/netx/utils.py optimize_weight_bits (the
    file's weights scaled up to fill the 8-bit scale, the exponent undoing it), without its clipping:
    None for weights beyond what it represents."""
    w = np.asarray(w).astype(np.int64)
    hi, lo = (int(w.max()), int(w.min())) if w.size else (0, 0)
    if (hi > 254 and lo < 0) or (lo < -256 and hi > 0) or hi > 255 or lo < -256:
        return None
    if hi < 0:
        mode, signed, scale = SIGN_INHIBITORY, 0, -256 / lo
    elif lo >= 0:
        mode, signed, scale = SIGN_EXCITATORY, 0, (255 / hi if hi > 0 else np.inf)
    else:  # netx reads max 0 with negatives as mixed
        mode, signed, scale = SIGN_MIXED, 1, min(127 / hi if hi > 0 else np.inf, -128 / lo)
    if not np.isfinite(scale):
        return np.zeros_like(w), 8, 0, mode  # all zero: netx divides by zero here; any format holds zeros
    scale_bits = int(np.floor(np.log2(scale))) + signed
    n = 8
    while n > 0 and np.any(w % (1 << n)):
        n -= 1
    n -= signed
    stored = w << scale_bits if scale_bits >= 0 else w >> -scale_bits
    return stored, int(8 - scale_bits - n), int(-scale_bits), mode


def netx_dense_exact(w: np.ndarray) -> bool:
    """Whether netx's Dense applies integer file weights w exactly (Lava's truncation, then the exponent)."""
    fmt = netx_dense_format(w)
    if fmt is None:
        return False
    stored, bits, exp, mode = fmt
    if not 1 <= bits <= 8 + (mode == SIGN_MIXED):  # 9 bits: a mixed-sign mantissa with nothing truncated
        return False
    held = lava_dense_weights(stored, mode, bits)
    # the synapse shifts the sum: exact when every held weight is a multiple of 2**-exp
    if exp < 0 and np.any(held % (1 << -exp)):
        return False
    eff = held << exp if exp >= 0 else held >> -exp
    return bool(np.array_equal(eff, np.asarray(w).astype(np.int64)))


# ---- sigma-delta: netx's constants and Lava's integer step -------------------------------------------------
SDN_SPIKE_EXP = 6  # lava.lib.dl.netx.hdf5.Network(spike_exp=6): graded spikes carry 6 fractional bits
SDN_STATE_EXP = 6  # netx builds every SigmaDelta / Delta with state_exp=6
SDN_MESSAGE_BITS = 16  # netx's default messageBits for SDNN layers


def sigma_delta_param(value, spike_exp: int = SDN_SPIKE_EXP, state_exp: int = SDN_STATE_EXP):
    """What Lava's SigmaDelta holds for a vth or bias given to its constructor: value << (spike_exp + state_exp)."""
    return np.asarray(value).astype(np.int64) << (spike_exp + state_exp)


def sigma_delta_step(state: dict, a_in, bias, vth, state_exp: int | None, xp, relu: bool = True) -> object:
    """One step of Lava's SigmaDelta (ReLU, or UNIT with relu=False; cum_error off) on state {sigma, act,
    residue}, in place; returns the message sent. Fixed point (state_exp not None): int32 arrays, which wrap
    as Lava's numpy int32 does, and the message is s >> state_exp (the truncated bits are not kept: Lava's
    residue holds delta - s). Float (state_exp None): float64, no shift."""
    sigma = state["sigma"] + a_in
    act = xp.maximum(sigma + bias, xp.scalar(0, sigma)) if relu else sigma + bias
    delta = act - state["act"] + state["residue"]
    s = xp.where(xp.abs(delta) >= vth, delta, xp.scalar(0, delta))
    state["sigma"], state["act"], state["residue"] = sigma, act, delta - s
    return s if state_exp is None else s >> state_exp


def wrap32(x):
    """Two's-complement int32 overflow of int64 values, as Lava's numpy int32 arithmetic does."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


# Integrate-and-fire on Loihi's CUBA neuron: u forgets each step (du + 1 = 4096), v does not decay (dv = 0).
IF_DU = 4095
IF_DV = 0
