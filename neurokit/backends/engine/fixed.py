"""Lava 0.10 fixed_pt arithmetic, population by population, vectorized over time steps, samples and neurons.
The numbers come from the network's arithmetic (neurokit.arithmetic), the one module that states them.

Each rule below is what a Lava model computes, with the line that computes it:
- Dense (lava/proc/dense/models.py, AbstractPyDenseModelBitAcc): weights clipped to the 8-bit scale and
  their low 8 - nwb (+1 if mixed) bits truncated (lava/utils/weightutils.py clip_weights, truncate_weights);
  binary input: int64 sum of the active columns; graded input: int32 dot product; then << weight_exp
  (or arithmetic >> -weight_exp); sent as int32 one step later (a_buff).
- Conv (lava/proc/conv/models.py, PyConvModelFixed): float32 torch conv of the raw int32 weights (no
  clipping, no truncation, weight_exp ignored), cast to int32, wrapped to signed 24 bits; one step later.
- LIF (lava/proc/lif/models.py, AbstractPyLifModelFixed.subthr_dynamics):
      u <- int32(trunc(u * (4096 - du - 1) / 4096)) + int32(a_in << 6), wrapped once into (-2**23, 2**23]
      v <- clip(int32(trunc(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp)), -(2**23 - 1), 2**23 - 1)
      spike if v > vth << 6; then v -= vth << 6 (neurokit's ConversionLIF, "subtract") or v = 0 ("zero").
  Each sample starts from u = 0, v = v_init with nothing in flight, as ConversionLIF's windows do.
- Several projections into one population: Lava's InPort adds what each Dense / Conv sent, in int32
  (lava/magma/core/model/py/ports.py PyInPortVectorDense.recv: a sum over its channels).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings

import numpy as np

from ...arithmetic import lava_dense_weights, wrap32
from .arrays import Reusable
from .fused import fused_kernel
from .geometry import conv_geometry
from .phase import PhaseSchedule

F32_EXACT = 1 << 24
F64_EXACT = 1 << 53
TF32_SIGNIFICANT_BITS = 11  # TF32 keeps 10 explicit mantissa bits of an fp32 operand, plus the implicit one


def held_weights(proj) -> np.ndarray:
    """The integer weights the synapse applies, int64 in the projection's own layout: Dense's after Lava's
    clip_weights and truncate_weights (on the 8-bit scale, [-256, 255]), Conv's raw (Lava's Conv neither
    clips nor truncates)."""
    if proj.kind == "dense":
        return lava_dense_weights(proj.weight, proj.sign_mode, proj.weight_bits)
    return np.asarray(proj.weight).astype(np.int64)


def significant_bits(w) -> int:
    """The most significant bits any integer in w needs: the bit length of |w| with its trailing zeros
    dropped (256 needs 1, 255 needs 8, 0 needs none)."""
    a = np.abs(np.asarray(w, np.int64)).reshape(-1)
    a = a[a != 0]
    if not a.size:
        return 0
    return int((a // (a & -a)).max()).bit_length()


def tf32_exact(proj, bound: int | None, graded_bits: int) -> bool:
    """Whether this projection's synaptic sums stay exact when a GPU takes their fp32 operands as TF32
    (tensor cores). graded_bits: the bit length of the largest |input| the projection can receive (0 for
    spikes, whose 0/1 need one bit). The bounds that license it:
    - an operand is unchanged by the TF32 rounding iff it needs at most 11 significant bits (10 explicit
      mantissa bits and the implicit one): the weights are checked one by one (Dense weights on the 8-bit
      scale, [-256, 255], always pass; Conv's raw int32 weights pass when they are that narrow), and the
      inputs by their format (0/1 spikes; graded values below 2**11, so 8-bit graded inputs pass);
    - a product of two such operands has at most 22 significant bits: exact in fp32's 24;
    - the fp32 accumulation is exact while every partial sum is an integer below 2**24 in magnitude, which
      `bound` (the largest sum of |weight| x |input| into one neuron, FixedSynapse.bound) guarantees for
      every partial sum, in any order. This is the same bound that licenses fp32 sums without TF32; the
      tensor cores' accumulation, documented by NVIDIA only as fp32, is taken to keep the 24 bits such
      integers need (the GPU tests and the benchmark check the results bit for bit).
    A bound known only per call (sigma-delta messages, bound None) is not licensed."""
    if bound is None or bound >= F32_EXACT or graded_bits > TF32_SIGNIFICANT_BITS:
        return False
    return significant_bits(held_weights(proj)) <= TF32_SIGNIFICANT_BITS


def tf32_allowed() -> bool:
    """NEUROKIT_TF32=0 keeps every sum off TF32 (for A/B runs); by default the licensed projections use it."""
    return os.environ.get("NEUROKIT_TF32", "1") != "0"


@contextlib.contextmanager
def tf32_flags(on: bool):
    """TF32 on or off for cuBLAS matmuls and cuDNN convolutions inside, restored after. The engine runs with both
    off (exact_float32) and turns them on around the sums tf32_exact licenses; one pair of torch's legacy flags
    for both, so the two never mix torch's old and new APIs."""
    import torch

    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@dataclasses.dataclass
class FixedSynapse:
    """One projection: spikes or graded values in (R, *in_shape), out (R, n_out) int64 as sent."""

    proj: object
    weight: object  # float array on the engine's device, torch layout (dense: (n_in, n_out) transposed)
    graded: bool
    float_dtype: object
    bound: int  # largest |synaptic sum| the inputs allow
    arith: object
    xp: object
    weight_sum: int = 0  # largest sum of |weights| into one neuron
    host_weight: np.ndarray = None  # kept when the input bound is known only per call (dynamic)
    warned: bool = False
    geometry: object = None  # conv: geometry.ConvGeometry (a folded pooling convolved as sum pooling + kernel)
    tf32: bool = False  # sums on TF32 tensor cores: a CUDA device, and tf32_exact licenses it
    output: Reusable = dataclasses.field(default_factory=Reusable)  # the memory each call's result is written to

    @classmethod
    def build(cls, proj, xp, max_input: int | None, arith):
        """max_input: the largest |graded message|; None when only the data will tell (sigma-delta sources:
        the bound and the float width are then chosen per call from the messages' peak)."""
        graded = proj.graded_input_bits > 0
        w = held_weights(proj)
        weight_sum = int(np.abs(w).reshape(len(w), -1).sum(1).max(initial=0))  # the folded kernel's: the same bound
        geometry = None
        if proj.kind == "conv":
            geometry, w = conv_geometry(w, proj)
        w = w.reshape(len(w), -1).T if proj.kind == "dense" else w
        w = np.ascontiguousarray(w)
        if max_input is None:
            return cls(proj, xp.asarray(w, xp.float32), graded, xp.float32, weight_sum, arith, xp, weight_sum, w,
                       geometry=geometry)
        bound = weight_sum * (max_input if graded else 1)
        syn = cls(proj, None, graded, None, bound, arith, xp, weight_sum, geometry=geometry)
        syn._check_bound(stacklevel=3)
        syn.float_dtype = xp.float32 if bound < F32_EXACT else xp.float64
        syn.weight = xp.asarray(w, syn.float_dtype)
        on_gpu = getattr(xp, "name", None) == "torch" and xp.device.type == "cuda"
        # the convolution's input: each value up to max_input (1 for spikes), summed over a pool's p x p block
        largest = (max_input if graded else 1) * (geometry.pool ** 2 if geometry else 1)
        syn.tf32 = on_gpu and tf32_allowed() and tf32_exact(proj, bound, 0 if largest == 1 else largest.bit_length())
        return syn

    def _check_bound(self, stacklevel: int) -> None:
        proj, bound = self.proj, self.bound
        if proj.kind == "conv" and bound >= F32_EXACT and not self.warned:
            self.warned = True
            warnings.warn(f"projection {proj.name}: conv sums can reach {bound} >= 2**24, where Lava's float32 Conv "
                          "rounds; the engine sums exactly and may differ from Lava there", stacklevel=stacklevel)
        if bound >= F64_EXACT:
            raise ValueError(f"projection {proj.name}: synaptic sums up to {bound} exceed exact float64 range")

    def _fit_to(self, s) -> None:
        """Dynamic bound: this call's messages set the bound and the float width. When the quick bound (largest
        weight sum times the largest message) reaches 2**24 on a conv, the exact one is computed: the largest
        sum over any output of |weight| x |message| (what bounds every partial sum Lava's float32 Conv forms)."""
        xp, proj = self.xp, self.proj
        self.bound = self.weight_sum * max(int(xp.max_abs(s)), 1)
        if proj.kind == "conv" and self.bound >= F32_EXACT:
            mags = xp.astype(xp.abs(s), xp.float64).reshape((s.shape[0],) + tuple(proj.in_shape))
            sums = xp.conv2d(mags, xp.asarray(np.abs(self.host_weight).astype(np.float64), xp.float64), self.geometry)
            self.bound = int(xp.max_abs(xp.rint_int(sums, xp.int64))) if s.shape[0] else 0
        self._check_bound(stacklevel=5)
        ft = self.xp.float32 if self.bound < F32_EXACT else self.xp.float64
        if ft != self.float_dtype:
            self.float_dtype, self.weight = ft, self.xp.asarray(self.host_weight, ft)

    @property
    def out_bound(self) -> int:
        """Largest |value| sent, or 2**31 when Lava's int32 arithmetic can overflow."""
        e = 0 if self.proj.kind == "conv" else self.proj.weight_exp
        out = self.bound << e if e > 0 else self.bound >> -e
        if self.proj.kind == "conv":
            m = 1 << (self.arith.conv_message_bits - 1)
            return out if self.bound < m else m
        return out if (self.bound << max(e, 0)) < (1 << 31) else 1 << 31

    def __call__(self, s):
        """(R, n_out): int32 when no overflow is possible (the common case), else int64 holding int32 values."""
        xp = self.xp
        if self.host_weight is not None:
            self._fit_to(s)
        x = s if self.graded or s.dtype == xp.bool_ else (s != 0)
        with tf32_flags(True) if self.tf32 else contextlib.nullcontext():
            return xp.map_rows(self._messages, x, self.float_dtype, self.output)

    def _messages(self, x):
        """What the projection sends for input rows x (R, n_in) in float: (R, n_out)."""
        xp, proj = self.xp, self.proj
        out = self._sum(x, x.shape[0])
        if proj.kind == "conv":
            if self.bound < (1 << (self.arith.conv_message_bits - 1)):
                return xp.rint_int(out, xp.int32)
            return self.arith.wrap_conv(xp.rint_int(out, xp.int64))
        e = proj.weight_exp
        if self.out_bound < (1 << 31):  # no int32 overflow anywhere below
            acc = xp.rint_int(out, xp.int32)
            return acc << e if e > 0 else acc >> -e
        acc = xp.rint_int(out, xp.int64)
        if self.graded:  # int32 dot product, then the shift in int32
            acc = wrap32(acc)
            return wrap32(acc << e) if e > 0 else acc >> -e
        return wrap32(acc << e if e > 0 else acc >> -e)  # int64 sum and shift, sent as int32

    def _sum(self, x, rows: int):
        """The float sums: (R, n_out), integer-valued."""
        xp, proj = self.xp, self.proj
        if proj.kind == "conv":
            return xp.conv2d(x.reshape((rows,) + tuple(proj.in_shape)), self.weight, self.geometry).reshape(
                rows, proj.n_neurons)
        return xp.matmul(x.reshape(rows, proj.n_inputs), self.weight)


@dataclasses.dataclass
class FixedNeurons:
    """The CUBA compartment in fixed point (Lava's LIF arithmetic; ConversionLIF for reset by subtraction)
    for one population; state (B, n) int64."""

    n: int
    u_factor: int  # 4096 - (du + 1): 0 means u holds only this step's input
    v_factor: int  # 4096 - dv: 4096 means v does not decay
    bias: object  # (n,) effective bias, int64
    threshold: int  # vth << 6
    v_init: object  # (n,) int64
    subtract: bool
    bias_bound: int
    arith: object
    xp: object
    reset_by: int = 0  # raw v a subtracting reset removes (the threshold, unless the population says otherwise)
    u_init: object = None  # (n,) int64 u at each window start (None: 0)
    refractory: int = 0  # steps after a spike in which v stays at 0 (the float LIFRefractory's rule)
    last_v: object = None  # v after the last step of the last run, (B, n): the potential readout

    @classmethod
    def build(cls, pop, xp, arith):
        p = pop.neuron
        # Lava's Var types: du, dv uint16; bias_mant int16; bias_exp int16; vth, v int32.
        bias = arith.bias_raw(p.bias_mant, p.bias_exp)
        unity = arith.decay_unity
        # a population that does not fire (a leaky integrator) runs on Lava's LIF with the largest threshold
        vth = int(np.int32(p.vth)) if getattr(p, "fires", True) else arith.max_vth
        reset_raw = getattr(p, "reset_raw", None)
        return cls(
            n=pop.n_neurons, u_factor=unity - (int(np.uint16(p.du)) + 1),
            v_factor=unity - int(np.uint16(p.dv)), bias=xp.asarray(bias, xp.int64),
            threshold=arith.threshold_raw(vth), subtract=p.reset == "subtract",
            reset_by=arith.threshold_raw(vth) if reset_raw is None else int(reset_raw),
            u_init=None if getattr(p, "u_init", None) is None else
            xp.asarray(np.asarray(p.u_init).reshape(-1).astype(np.int64), xp.int64),
            refractory=int(getattr(p, "refractory", 0)),
            v_init=xp.asarray(np.asarray(p.v_init).reshape(-1).astype(np.int32).astype(np.int64), xp.int64),
            bias_bound=int(np.abs(bias).max(initial=0)), arith=arith, xp=xp,
        )

    def current(self, a, bound: int):
        """u from this step's input alone (u_factor == 0), and its bound; a holds int32 values."""
        m, shift = self.arith.state_limit, self.arith.activation_shift
        if bound >= (m >> shift):
            bound = min(bound, self.xp.max_abs(a))  # the format allows more than the data holds
        if bound < (m >> shift):
            return a << shift, bound << shift  # |a << 6| < 2**23: the wraps change nothing (-2**23 wraps to 2**23)
        a = self.xp.astype(a, self.xp.int64)
        u = self.arith.wrap_u(wrap32(a << shift), self.xp)
        return u, m if (bound << shift) < 3 * m else 1 << 31  # one wrap brings |x| < 3 * 2**23 into range

    def run(self, drive, steps: int, record: bool = False):
        """Spikes (T, B, n) bool; with record, also u and v after each step (T, B, n). The fused kernel
        (fused.py: all steps in one compiled call) where one applies; the numpy code below is the reference."""
        xp = self.xp
        kernel = fused_kernel(xp)
        if kernel is not None:
            return kernel(self, drive, steps, record)
        b = drive.batch
        spikes = xp.empty((steps, b, self.n), xp.bool_)
        rec_u = xp.empty((steps, b, self.n), xp.int64) if record else None
        rec_v = xp.empty((steps, b, self.n), xp.int64) if record else None
        m, unity = self.arith.state_limit, self.arith.decay_unity
        memoryless = self.u_factor == 0 and self.u_init is None
        if memoryless:
            # u_t depends on a_t only: compute it for all steps at once
            drive = drive.map(self.current)
            if self.v_factor == unity and drive.bound + self.bias_bound + m < (1 << 31) and not self.refractory:
                # no decay, no int32 overflow: v += (u + bias), saturate, fire, in int32
                bias = xp.astype(self.bias, xp.int32)
                with_bias = drive.map(lambda c, bound: (c + bias, bound + self.bias_bound))
                v = xp.zeros((b, self.n), xp.int32) + xp.astype(self.v_init, xp.int32)
                low, high = self._may_saturate(with_bias, steps)
                # scalars of v's own type: numpy converts a Python int on every call, which costs more than
                # the work on one sample's neurons
                v_min, v_max, threshold, reset_by = (xp.scalar(c, v) for c in (-(m - 1), m - 1, self.threshold,
                                                                                self.reset_by))
                scratch = xp.empty(v.shape, v.dtype)
                for t in range(steps):
                    xp.add_(v, with_bias.at(t))
                    if low and high:
                        xp.clip_(v, v_min, v_max)
                    elif high:
                        xp.minimum_(v, v_max)
                    elif low:
                        xp.maximum_(v, v_min)
                    self._fire(v, spikes[t], threshold, reset_by, scratch)
                    if record:
                        rec_u[t] = drive.at(t)
                        rec_v[t] = v
                self.last_v = v
                return spikes, rec_u, rec_v
        state = self.start(b)
        for t in range(steps):
            self.step(state, drive.at(t), spikes[t], current=memoryless)
            if record:
                rec_u[t] = state["u"]
                rec_v[t] = state["v"]
        self.last_v = state["v"]
        return spikes, rec_u, rec_v

    def start(self, batch: int) -> dict:
        xp = self.xp
        u = xp.zeros((batch, self.n), xp.int64)
        state = {"u": u if self.u_init is None else u + self.u_init, "v": xp.zeros((batch, self.n), xp.int64) + self.v_init}
        if self.refractory:
            state["hold"] = xp.zeros((batch, self.n), xp.int64)
        return state

    def step(self, state: dict, a_in, out, current: bool = False) -> None:
        """One step of Lava's LIF on state {"u", "v"}: a_in (B, n) int32 values as the InPort sums them
        (current=True: already u, see FixedNeurons.current); spikes into out (B, n) bool."""
        xp, arith = self.xp, self.arith
        m, unity = arith.state_limit, arith.decay_unity
        if current:
            u = xp.astype(a_in, xp.int64)
        else:
            d = arith.decay(state["u"], self.u_factor, xp) if self.u_factor else 0
            u = arith.wrap_u(wrap32(d + wrap32(xp.astype(a_in, xp.int64) << arith.activation_shift)), xp)
        before = state["v"]
        d = before if self.v_factor == unity else arith.decay(before, self.v_factor, xp)
        v = wrap32(d + u + self.bias)
        xp.clip_(v, -(m - 1), m - 1)
        if self.refractory:  # v is not updated while refractory
            held = state["hold"] > 0
            v = xp.where(held, before, v)
            state["hold"] = state["hold"] - xp.astype(held, xp.int64)
        self._fire(v, out, self.threshold, self.reset_by)
        if self.refractory:
            state["hold"] = xp.where(out, self.refractory, state["hold"])
        state["u"], state["v"] = u, v

    def _may_saturate(self, with_bias, steps: int) -> tuple[bool, bool]:
        """Whether v can reach the lower and the upper 24-bit limit within `steps` steps of input u + bias
        (no decay). Below: v falls at most by the most negative input per step, and a spike leaves v above
        threshold - reset_by (0 for a zero reset). Above: v ends a step at most at max(threshold, previous v +
        largest input - min(threshold, reset_by)), since a v above the threshold fires and loses reset_by (or
        drops to 0). A reset amount other than the threshold (reset_raw) moves both: a larger one below 0,
        a smaller one upward."""
        xp = self.xp
        if with_bias.constant:
            lo, hi = xp.extremes(with_bias.rest)
            lo, hi = min(lo, -self.bias_bound), max(hi, self.bias_bound)  # step 0: bias only
        else:
            lo, hi = -with_bias.bound, with_bias.bound
        v_lo, v_hi = xp.extremes(self.v_init)
        after_spike = self.threshold + 1 - self.reset_by if self.subtract else 0
        lowest = min(v_lo, 0, after_spike) + steps * min(lo, 0)
        loss = min(self.threshold, self.reset_by) if self.subtract else self.threshold
        highest = max(self.threshold, v_hi) + steps * max(0, hi - loss) + max(hi, 0)
        m = self.arith.state_limit
        return lowest <= -(m - 1), highest >= m - 1

    def _fire(self, v, out, threshold, reset_by, scratch=None):
        self.xp.gt(v, threshold, out)
        if self.subtract:
            self.xp.sub_where_(v, reset_by, out, scratch)
        else:
            self.xp.zero_where_(v, out)


@dataclasses.dataclass
class FixedPhaseNeurons(PhaseSchedule):
    """neurokit's PhaseNeuron fixed_pt model (lava/proc/models.py) for one population; state (B, n) int64.

    Integration window (steps offset .. offset + K - 1):
        u <- clip(trunc(u * D / 4096) + (a_in << 6) + bias, -(2**23 - 1), 2**23 - 1)
    (D = 4096: no decay; trunc toward zero as Lava's LIF decays), then at its last step v <- u, u <- 0.
    Fire window (the next K steps): at phase k spike iff lo[k] <= v < hi[k] (integer thresholds)."""

    n: int
    decay: int
    bias: object
    window: int
    offset: int
    end: int  # the latch step
    lo: list
    hi: list
    arith: object
    xp: object
    last_v: object = None  # v after the last run, (B, n) int64: the output readout
    state_dtype = "int64"

    @classmethod
    def build(cls, pop, xp, arith):
        p = pop.neuron
        q = p.code
        lo, hi = q.bounds()
        mant = np.asarray(p.bias_mant).reshape(-1).astype(np.int64)  # PhaseNeuron holds the mantissa in int32
        e = int(p.bias_exp)
        bias = mant << e if e >= 0 else mant >> -e
        return cls(n=pop.n_neurons, decay=int(q.decay), bias=xp.asarray(bias, xp.int64),
                   window=int(q.window), offset=int(q.offset), end=int(q.offset + q.integrate - 1), lo=lo, hi=hi,
                   arith=arith, xp=xp)

    def integrate(self, u, a_in):
        if self.decay != self.arith.decay_unity:
            u = self.arith.decay(u, self.decay, self.xp)
        u = u + (self.xp.astype(a_in, self.xp.int64) << self.arith.activation_shift) + self.bias
        m = self.arith.state_limit
        self.xp.clip_(u, -(m - 1), m - 1)
        return u
