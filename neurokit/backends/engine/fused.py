"""Fused neuron kernels: one call per population runs all T steps of a batch of Lava's fixed-point LIF
(FixedNeurons.step's rules), or of its floating_pt LIF (FloatNeurons.step's), instead of 4-10 numpy calls
per step.

Why: at batch 1 the numpy path's cost is the calls, not the arithmetic (about 0.5-1 µs of call overhead each,
10 per step per population, on vectors of a few hundred neurons), which kept the MLP at 54x Lava's steps per
second (README, "Batch 1 on the CPU, looked at again"). A compiled loop over the steps and the neurons in
plain integer code, which LLVM vectorizes, costs under 1 ns per neuron-step: lif_steps (every rule, int64)
and if_steps (conversion's integrate-and-fire neuron on drives that need no wrap of u, int32, 2-3x faster
again). On these two cores both beat the numpy path at every batch size measured, 1 to 1,000 samples (0.3-0.7
against 0.5-2.8 ns per neuron-step at batch 1,000), so there is no size above which numpy is chosen.

- CPU (numpy arrays): numba, compiled on first use (cache=True: the machine code is kept in __pycache__,
  so a later process loads it instead of compiling). numba is imported only here, at the first fused run,
  never at neurokit import: the converter and quantizer do not need it, and where it cannot be imported
  (no wheel for that Python) fused_kernel returns None and the engine runs the numpy path.
- CUDA (torch arrays): fused_triton.run_lif (same signature), where fused_triton.available(xp) says so.
- NEUROKIT_FUSED=0 switches the kernels off (the numpy path: the reference; for A/B runs and tests).

FixedNeurons.run (fixed.py) asks fused_kernel(xp) first, FloatNeurons.run (floating.py) fused_float_kernel(xp)
(CPU only); the numpy path stays the reference and the fallback.
"""
from __future__ import annotations

import importlib
import os

import numpy as np

_numba_run = None  # the CPU entry once built; False when numba cannot be imported
_numba_float_run = None  # the same for the float kernel
_triton_module = None  # fused_triton once imported; False where it does not import


def enabled() -> bool:
    """NEUROKIT_FUSED=0 turns the fused kernels off."""
    return os.environ.get("NEUROKIT_FUSED", "1") != "0"


def fused_kernel(xp):
    """run(neurons, drive, steps, record) -> (spikes (T, B, n) bool, u | None, v | None), setting
    neurons.last_v, for FixedNeurons on array backend xp; None when no kernel applies here."""
    global _numba_run, _triton_module
    if not enabled():
        return None
    if xp.name == "numpy":
        if _numba_run is None:
            _numba_run = _build_numba() or False
        return _numba_run or None
    if xp.name == "torch" and str(xp.device).startswith("cuda"):
        # the GPU kernel (Triton, fused_triton.py): used where its module imports and says it can run here
        if _triton_module is None:
            try:
                _triton_module = importlib.import_module(f"{__package__}.fused_triton")
            except ImportError:
                _triton_module = False
        if _triton_module and _triton_module.available(xp):
            return _triton_module.run_lif
        return None
    return None  # torch on the CPU: the numpy path's torch twin (multi-threaded ops for large batches)


def fused_float_kernel(xp):
    """run(neurons, drive, steps, record) for FloatNeurons on numpy arrays (float_steps compiled), or None: no
    numba, NEUROKIT_FUSED=0, or torch arrays (a GPU runs the float network as torch ops)."""
    global _numba_float_run
    if not enabled() or xp.name != "numpy":
        return None
    if _numba_float_run is None:
        _numba_float_run = _build_numba_float() or False
    return _numba_float_run or None


# ---- the CPU kernel -------------------------------------------------------------------------------------

BLOCK = 512  # neurons whose state (u, v, hold, bias: 4 x 8 bytes each) stays in L1 while the steps run


# Helpers the kernels call once per block and step (not per neuron). numba compiles them into the kernels
# (kernel_numba registers them); uncompiled they are plain Python, as the kernels are.

def drive_row(first, rest, constant, t, start, width):
    """The input of neurons start .. start + width at step t: first at step 0, then rest's rows (its one row
    when the drive is held)."""
    if t == 0:
        return first[start:start + width]
    if constant:
        return rest[0, start:start + width]
    return rest[t - 1, start:start + width]


def record_rows(rec_u, rec_v, u, v, t, start, width):
    """u and v of a block's neurons after step t into the records."""
    ru = rec_u[t, start:start + width]
    rv = rec_v[t, start:start + width]
    for j in range(width):
        ru[j] = u[j]
        rv[j] = v[j]



def lif_steps(first, rest, constant, steps, u_factor, v_factor, bias, v_init, u_init, threshold, reset_by,
              subtract, refractory, limit, shift, decay_bits, record, spikes, rec_u, rec_v, last_v):
    """All `steps` steps of FixedNeurons.step on N = B x n neurons, flattened sample-major.

    first (N,): the input at step 0; rest (R, N): steps 1.. (R = 1 when constant: every step the same);
    int32 or int64 holding int32 values. bias, v_init, u_init (n,) int64. Out: spikes (T, N) bool; with
    record, rec_u and rec_v (T, N) int64 (u and v after each step, after the reset); last_v (N,) int64.
    Plain int64 arithmetic, the rules of neurokit.arithmetic: decay truncates toward zero, wrap32 is
    int32 overflow, wrap_u Lava's single wrap of u, v saturates at +-(limit - 1).

    The loop over the neurons of a block has no branches but two loop-invariant ones (no u decay, no v
    decay), which LLVM unswitches, and no conditional stores (selects only), so that LLVM vectorizes it;
    with refractory 0 the hold counter stays 0.

    A plain Python function (it runs uncompiled too, slowly); fused_kernel compiles it with numba."""
    n_all = first.shape[0]
    n = bias.shape[0]
    half = np.int64(1) << 31
    low32 = (np.int64(1) << 32) - 1
    vmax = limit - 1
    two_limit = 2 * limit
    unity = np.int64(1) << decay_bits
    keep = 1 if subtract else 0  # reset: v - reset_by (subtract) or 0 (zero)
    cut = reset_by if subtract else 0
    u = np.empty(BLOCK, np.int64)
    v = np.empty(BLOCK, np.int64)
    hold = np.empty(BLOCK, np.int64)
    b = np.empty(BLOCK, np.int64)
    for start in range(0, n_all, BLOCK):
        width = min(BLOCK, n_all - start)
        for j in range(width):
            k = (start + j) % n
            u[j] = u_init[k]
            v[j] = v_init[k]
            b[j] = bias[k]
            hold[j] = 0
        for t in range(steps):
            a = drive_row(first, rest, constant, t, start, width)
            out = spikes[t, start:start + width]
            for j in range(width):
                # u <- wrap_u(wrap32(decay(u) + wrap32(a << 6)))
                x = (((np.int64(a[j]) << shift) + half) & low32) - half
                if u_factor != 0:  # loop-invariant: LLVM unswitches it out of the vectorized loop
                    y = u[j] * u_factor
                    y = -((-y) >> decay_bits) if y < 0 else y >> decay_bits
                    x = ((y + x + half) & low32) - half
                x = x - two_limit if x > limit else x
                x = x + two_limit if x <= -limit else x
                u[j] = x
                # v <- clip(wrap32(decay(v) + u + bias)), kept while refractory
                before = v[j]
                y = before
                if v_factor != unity:
                    y = before * v_factor
                    y = -((-y) >> decay_bits) if y < 0 else y >> decay_bits
                z = ((y + x + b[j] + half) & low32) - half
                z = min(max(z, -vmax), vmax)
                held = hold[j] > 0
                z = before if held else z
                fired = z > threshold
                v[j] = z * keep - cut if fired else z
                hold[j] = refractory if fired else hold[j] - held
                out[j] = fired
            if record:
                record_rows(rec_u, rec_v, u, v, t, start, width)
        for j in range(width):
            last_v[start + j] = v[j]


def if_steps(first, rest, constant, steps, shift, bias, v_init, threshold, reset_by, subtract, vmax, check, record,
             spikes, rec_u, rec_v, last_v):
    """lif_steps for integrate-and-fire in int32 (conversion's neuron: u_factor 0, v does not decay, no
    refractory period) on drives below 2**17: u = a << 6 needs no wrap, and v + u + bias in int32, wrapping,
    is Lava's wrap32 of the int64 sum. Half the bytes and twice the SIMD lanes of lif_steps: 2-4x faster.
    first, rest int32; bias, v_init (n,) int32; threshold >= 0 and reset_by in int32 (the wrapper checks).
    check (the drive's bound allows values of 2**17 or more): first looks at the drive, and returns False
    without running when a value reaches +-2**17 (the wrapper then runs lif_steps); else True."""
    n_all = first.shape[0]
    n = bias.shape[0]
    big = (vmax + 1) >> shift  # 2**17: a << 6 reaches 2**23, where u wraps
    if check:  # min / max reductions (vectorized): a test inside the loop below would slow it by a quarter
        lo, hi = 0, 0
        for j in range(n_all):
            lo, hi = min(lo, first[j]), max(hi, first[j])
        for r in range(1 if constant else steps - 1):
            row = rest[r]
            for j in range(n_all):
                lo, hi = min(lo, row[j]), max(hi, row[j])
        if hi >= big or lo <= -big:
            return False
    v = np.empty(BLOCK, np.int32)
    b = np.empty(BLOCK, np.int32)
    low, high = np.int32(-vmax), np.int32(vmax)
    thr = np.int32(threshold)
    keep = np.int32(1 if subtract else 0)
    cut = np.int32(reset_by if subtract else 0)
    for start in range(0, n_all, BLOCK):
        width = min(BLOCK, n_all - start)
        for j in range(width):
            k = (start + j) % n
            v[j] = v_init[k]
            b[j] = bias[k]
        for t in range(steps):
            a = drive_row(first, rest, constant, t, start, width)
            out = spikes[t, start:start + width]
            for j in range(width):
                z = np.int32(v[j] + (np.int32(a[j]) << shift) + b[j])
                z = min(max(z, low), high)
                fired = z > thr
                v[j] = np.int32(z * keep - cut) if fired else z
                out[j] = fired
            if record:
                ru = rec_u[t, start:start + width]
                rv = rec_v[t, start:start + width]
                for j in range(width):
                    ru[j] = np.int64(a[j]) << shift
                    rv[j] = v[j]
        for j in range(width):
            last_v[start + j] = v[j]
    return True


def float_steps(first, rest, constant, steps, plain, u_keep, v_keep, bias, has_u_bias, u_bias, v_init, threshold, ge,
                fires, subtract, reset_amount, refractory, record, spikes, rec_u, rec_v, last_v):
    """All `steps` steps of FloatNeurons.step (Lava's floating_pt LIF) on N = B x n neurons, flattened
    sample-major, in float64 with the numpy path's operations in its order, so every value is the same bit
    for bit: plain (du = 1, dv = 0, no u bias): u = a; else u = u * u_keep + a (+ u_bias), v = v * v_keep;
    v = (v + u) + bias; a refractory neuron keeps the v it had; spike at v > threshold (>= with ge); reset
    v - reset_amount (subtract) or v * 0. first (N,), rest (R, N): float32 or float64 (R = 1 when constant);
    bias, u_bias, v_init (n,) float64. Out: spikes (T, N) bool; with record rec_u, rec_v (T, N) float64;
    last_v (N,) float64. numba compiles it without fast-math, so nothing is reassociated or fused into FMAs; as
    in lif_steps, the branches are loop-invariant or selects, so that LLVM vectorizes the loop over neurons."""
    n_all = first.shape[0]
    n = bias.shape[0]
    u = np.empty(BLOCK, np.float64)
    v = np.empty(BLOCK, np.float64)
    hold = np.empty(BLOCK, np.int64)
    b = np.empty(BLOCK, np.float64)
    ub = np.empty(BLOCK, np.float64)
    for start in range(0, n_all, BLOCK):
        width = min(BLOCK, n_all - start)
        for j in range(width):
            k = (start + j) % n
            u[j] = 0.0
            v[j] = v_init[k]
            b[j] = bias[k]
            ub[j] = u_bias[k]
            hold[j] = 0
        for t in range(steps):
            a = drive_row(first, rest, constant, t, start, width)
            out = spikes[t, start:start + width]
            for j in range(width):
                before = v[j]
                x = np.float64(a[j])
                if plain:
                    y = before
                else:
                    x = u[j] * u_keep + x
                    if has_u_bias:
                        x = x + ub[j]
                    y = before * v_keep
                u[j] = x
                z = (y + x) + b[j]
                held = hold[j] > 0
                z = before + 0.0 if held else z  # + 0.0: as the numpy path's copy of v (-0.0 becomes 0.0)
                fired = (z >= threshold) if ge else (z > threshold)
                fired = fired and fires
                reset = z - reset_amount if subtract else z * 0.0
                v[j] = reset if fired else z
                hold[j] = refractory if fired else hold[j] - held
                out[j] = fired
            if record:
                record_rows(rec_u, rec_v, u, v, t, start, width)
        for j in range(width):
            last_v[start + j] = v[j]


_helpers_registered = False


def kernel_numba():
    """numba, with the kernels' helpers (drive_row, record_rows) made callable from compiled code (once); None
    where numba cannot be imported."""
    global _helpers_registered
    try:
        import numba
        from numba.extending import register_jitable
    except ImportError:
        return None
    if not _helpers_registered:
        for helper in (drive_row, record_rows):
            register_jitable(helper)
        _helpers_registered = True
    return numba


def _build_numba():
    """The CPU entry, or None where numba cannot be imported (the engine then runs the numpy path)."""
    numba = kernel_numba()
    if numba is None:
        return None
    kernel = numba.njit(cache=True, nogil=True)(lif_steps)
    if_kernel = numba.njit(cache=True, nogil=True)(if_steps)
    no_record = np.empty((0, 0), np.int64)
    # Compile (or load from the cache) every specialization the wrapper below calls, now: the first
    # fused_kernel call (Engine.prepare) pays for it, not a run. Cold, about 3 s on these cores; cached, 0.3 s.
    one, spikes = np.zeros(1, np.int64), np.empty((1, 1), np.bool_)
    for dtype in (np.int32, np.int64):
        drive = np.zeros(1, dtype)
        kernel(drive, drive.reshape(1, 1), False, 1, 0, 1 << 12, one, one, one, 0, 0, True, 0, 1 << 23, 6, 12, False,
               spikes, no_record, no_record, one)
    drive = np.zeros(1, np.int32)
    if_kernel(drive, drive.reshape(1, 1), False, 1, 6, drive, drive, 0, 0, True, (1 << 23) - 1, False, False, spikes,
              no_record, no_record, drive)

    def run(neurons, drive, steps: int, record: bool = False):
        b, n = drive.batch, neurons.n
        size = b * n
        first, rest = flat_drive(drive, steps, (np.int32, np.int64), np.int64)
        spikes, rec_u, rec_v = outputs(steps, b, n, record, np.int64)
        record_u = rec_u.reshape(steps, size) if record else no_record
        record_v = rec_v.reshape(steps, size) if record else no_record
        arith = neurons.arith
        shift = arith.activation_shift
        last_v = np.empty((b, n), np.int32)
        # integrate-and-fire in int32 when the drive allows it (if_steps looks at the drive first when its bound
        # does not tell), else every rule in int64
        integrate_and_fire = (neurons.u_factor == 0 and neurons.v_factor == arith.decay_unity and not neurons.refractory
                              and rest.dtype == np.int32 and neurons.bias_bound < 1 << 31
                              and 0 <= neurons.threshold < 1 << 31 and 0 <= neurons.reset_by < 1 << 30)
        if not (integrate_and_fire and if_kernel(
                first, rest, bool(drive.constant), int(steps), int(shift), neurons.bias.astype(np.int32),
                neurons.v_init.astype(np.int32), int(neurons.threshold), int(neurons.reset_by), bool(neurons.subtract),
                int(arith.state_max), drive.bound << shift >= arith.state_limit, bool(record),
                spikes.reshape(steps, size), record_u, record_v, last_v.reshape(size))):
            last_v = np.empty((b, n), np.int64)
            u_init = neurons.u_init if neurons.u_init is not None else np.zeros(n, np.int64)
            kernel(first, rest, bool(drive.constant), int(steps), int(neurons.u_factor), int(neurons.v_factor),
                   _int64(neurons.bias), _int64(neurons.v_init), _int64(u_init), int(neurons.threshold),
                   int(neurons.reset_by), bool(neurons.subtract), int(neurons.refractory), int(arith.state_limit),
                   int(shift), int(arith.decay_bits), bool(record), spikes.reshape(steps, size), record_u, record_v,
                   last_v.reshape(size))
        neurons.last_v = last_v
        return spikes, rec_u, rec_v

    return run


def _int64(a):
    return np.ascontiguousarray(a, np.int64)


def flat_drive(drive, steps: int, dtypes: tuple, wide):
    """A Drive as the kernels read it: first (N,) and rest (R, N), contiguous, sample-major, of one of `dtypes`
    (both converted to `wide` where they differ or are of none)."""
    first, rest = drive.first, drive.rest
    if first.dtype != rest.dtype or rest.dtype not in dtypes:
        first, rest = first.astype(wide), rest.astype(wide)
    size = first.size
    first = np.ascontiguousarray(first).reshape(size)
    rest = np.ascontiguousarray(rest).reshape(1 if drive.constant else rest.shape[0], size)
    if not drive.constant and rest.shape[0] < steps - 1:
        raise ValueError(f"the drive holds {rest.shape[0] + 1} steps, {steps} asked")
    return first, rest


def outputs(steps: int, batch: int, n: int, record: bool, dtype):
    """What a kernel writes: spikes (T, B, n) bool, and with record u and v (T, B, n) of dtype (else None)."""
    spikes = np.empty((steps, batch, n), np.bool_)
    if not record:
        return spikes, None, None
    return spikes, np.empty((steps, batch, n), dtype), np.empty((steps, batch, n), dtype)


def _build_numba_float():
    """The CPU entry of float_steps, or None where numba cannot be imported."""
    numba = kernel_numba()
    if numba is None:
        return None
    kernel = numba.njit(cache=True, nogil=True)(float_steps)
    no_record = np.empty((0, 0), np.float64)
    one, spikes = np.zeros(1, np.float64), np.empty((1, 1), np.bool_)
    for dtype in (np.float32, np.float64):  # every specialization the wrapper calls, compiled (or loaded) now
        drive = np.zeros(1, dtype)
        kernel(drive, drive.reshape(1, 1), False, 1, True, 0.0, 1.0, one, False, one, one, 1.0, False, True, True, 1.0,
               0, False, spikes, no_record, no_record, one)

    def run(neurons, drive, steps: int, record: bool = False):
        b, n = drive.batch, neurons.n
        size = b * n
        first, rest = flat_drive(drive, steps, (np.float32, np.float64), np.float64)
        spikes, rec_u, rec_v = outputs(steps, b, n, record, np.float64)
        last_v = np.empty((b, n), np.float64)
        has_u_bias = neurons.u_bias is not None
        u_bias = neurons.u_bias if has_u_bias else np.zeros(n, np.float64)
        plain = neurons.du == 1.0 and neurons.dv == 0.0 and not has_u_bias  # FloatNeurons.step's test
        kernel(first, rest, bool(drive.constant), int(steps), plain, 1 - neurons.du, 1 - neurons.dv,
               _float64(neurons.bias), has_u_bias, _float64(u_bias), _float64(neurons.v_init), float(neurons.threshold),
               bool(neurons.threshold_ge), bool(neurons.fires), bool(neurons.subtract), float(neurons.reset_amount),
               int(neurons.refractory), bool(record), spikes.reshape(steps, size),
               rec_u.reshape(steps, size) if record else no_record, rec_v.reshape(steps, size) if record else no_record,
               last_v.reshape(size))
        neurons.last_v = last_v
        return spikes, rec_u, rec_v

    return run


def _float64(a):
    return np.ascontiguousarray(a, np.float64)
