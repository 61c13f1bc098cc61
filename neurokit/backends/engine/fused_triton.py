"""The CUBA (LIF) population update fused into one Triton kernel: all T steps of a block of (sample, neuron)
elements in registers, one launch per population per batch chunk.

FixedNeurons.run on torch loops over the steps in Python, each step about ten small int64 kernels (decay,
wraps, add, saturate, compare, reset), so on a GPU the launches and the int64 state's trips through memory
bound the engine, not the synaptic sums. Here each GPU thread keeps u, v (and the refractory counter) of its
elements in registers for the whole window; per step it reads one drive value (int32, or int64 holding int32
values) and writes one spike byte (plus u and v when recording). The arithmetic is FixedNeurons.step's, rule
for rule (neurokit.arithmetic, Lava 0.10's AbstractPyLifModelFixed), in int64:

    u <- wrap_u(wrap32(trunc(u * u_factor / 4096) + wrap32(a_in << 6)))      (no decay term if u_factor == 0)
    v <- clip(wrap32(trunc(v * v_factor / 4096) + u + bias), -(2**23 - 1), 2**23 - 1)   (v itself if 4096)
    refractory: while the counter is > 0, v keeps its value and the counter counts down
    spike = v > threshold; then v -= reset_by (subtract) or v = 0 (zero); a spike sets the counter

trunc toward zero is the shift of |y| with the sign put back (arithmetic.decay); wrap32 is the int64 -> int32
cast and back (two's-complement truncation on the GPU, numpy's astype in Triton's interpreter).

run_lif(neurons, drive, steps, record) has FixedNeurons.run's contract, so FixedNeurons.run can hand a
CUDA torch population to it; available(xp) says when it can. NEUROKIT_FUSED=0 turns it off (the reference
path then runs), for A/B measurements. Written for Triton 2.3 and 3.x alike: plain loads, stores, tl.where and
int64 arithmetic, no helper functions, every constant an argument (Triton 3 refuses non-constexpr globals).
Under TRITON_INTERPRET=1 the same kernel runs on CPU tensors through Triton's interpreter (the tests' path).
"""
from __future__ import annotations

import functools
import os

BLOCK = 1024  # (sample, neuron) elements per program: 8 per thread at 4 warps, int64 state in registers
NUM_WARPS = 4


def _lif_kernel(first_ptr, rest_ptr, bias_ptr, vinit_ptr, uinit_ptr,
                spikes_ptr, recu_ptr, recv_ptr, lastv_ptr, counts_ptr,
                total, n, steps,
                f_sb, f_sn, r_st, r_sb, r_sn,
                u_factor, v_factor, threshold, reset_by, refractory,
                BLOCK: tl.constexpr, SHIFT: tl.constexpr, DECAY_BITS: tl.constexpr,
                STATE_LIMIT: tl.constexpr,
                U_DECAY: tl.constexpr, V_DECAY: tl.constexpr, HAS_UINIT: tl.constexpr,
                SUBTRACT: tl.constexpr, REFRACTORY: tl.constexpr, RECORD: tl.constexpr,
                COUNTS: tl.constexpr, CONTIGUOUS: tl.constexpr):
    # one program: BLOCK consecutive elements of the (B, n) state, flattened; int64 offsets (T * B * n can
    # pass 2**31 on a big layer, so the per-step advance is a pointer increment, never t * stride)
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)
    mask = offs < total
    b = offs // n
    j = offs - b * n
    bias = tl.load(bias_ptr + j, mask=mask, other=0).to(tl.int64)
    v = tl.load(vinit_ptr + j, mask=mask, other=0).to(tl.int64)
    zero = offs * 0  # int64 zeros (not tl.zeros: a jitted library function, which Triton 2.3 interprets only
    # when TRITON_INTERPRET was set before triton was imported)
    if HAS_UINIT:
        u = tl.load(uinit_ptr + j, mask=mask, other=0).to(tl.int64)
    else:
        u = zero
    hold = zero
    count = zero
    m = STATE_LIMIT
    # step 0 reads `first`, steps >= 1 `rest` (time stride r_st: 0 for a held drive)
    if CONTIGUOUS:  # each step's (B, n) laid out as the state: the compiler sees consecutive addresses
        a_ptrs = first_ptr + offs
        r_ptrs = rest_ptr + offs
    else:
        a_ptrs = first_ptr + b * f_sb + j * f_sn
        r_ptrs = rest_ptr + b * r_sb + j * r_sn
    s_ptrs = spikes_ptr + offs
    ru_ptrs = recu_ptr + offs
    rv_ptrs = recv_ptr + offs
    for t in range(steps):
        a = tl.load(a_ptrs, mask=mask, other=0).to(tl.int64)
        x = (a << SHIFT).to(tl.int32).to(tl.int64)  # wrap32(a_in << 6)
        if U_DECAY:
            y = u * u_factor
            d = tl.where(y < 0, -((-y) >> DECAY_BITS), y >> DECAY_BITS)  # trunc(u * f / 4096) toward zero
            x = (d + x).to(tl.int32).to(tl.int64)  # wrap32
        # Lava's single wrap of u: > 2**23 loses 2**24, else <= -2**23 gains 2**24
        u = tl.where(x > m, x - 2 * m, tl.where(x <= -m, x + 2 * m, x))
        before = v
        if V_DECAY:
            y = v * v_factor
            dv = tl.where(y < 0, -((-y) >> DECAY_BITS), y >> DECAY_BITS)
        else:
            dv = v
        v = (dv + u + bias).to(tl.int32).to(tl.int64)  # wrap32
        v = tl.where(v > m - 1, m - 1, tl.where(v < 1 - m, 1 - m, v))  # saturate (tl.where: 2.3's interpreter
        # has no tl.minimum with a scalar)
        if REFRACTORY:  # v is not updated while refractory; the counter counts down
            held = hold > 0
            v = tl.where(held, before, v)
            hold = hold - held.to(tl.int64)
        spike = v > threshold
        if SUBTRACT:
            v = v - spike.to(tl.int64) * reset_by
        else:
            v = tl.where(spike, 0, v)
        if REFRACTORY:
            hold = tl.where(spike, refractory, hold)
        tl.store(s_ptrs, spike.to(tl.uint8), mask=mask)
        if RECORD:
            tl.store(ru_ptrs, u, mask=mask)
            tl.store(rv_ptrs, v, mask=mask)
            ru_ptrs += total
            rv_ptrs += total
        if COUNTS:
            count += spike.to(tl.int64)
        s_ptrs += total
        a_ptrs = r_ptrs
        r_ptrs += r_st
    tl.store(lastv_ptr + offs, v, mask=mask)
    if COUNTS:
        tl.store(counts_ptr + offs, count.to(tl.int32), mask=mask)


@functools.lru_cache(maxsize=None)
def _triton():
    """triton and triton.language, or None when Triton does not import (no GPU build, or none installed)."""
    try:
        import triton
        import triton.language as tl
    except Exception:  # ImportError, or a broken install: the reference path runs
        return None
    return triton, tl


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@functools.lru_cache(maxsize=None)
def _kernel(interpret: bool):
    """The kernel, jitted for the GPU or wrapped by Triton's interpreter. Built on first use, not at import:
    Triton reads TRITON_INTERPRET when a function is decorated, and a test sets it after import."""
    triton, tl = _triton()
    globals()["tl"] = tl  # the kernel's `tl`, resolved by Triton from this module's globals
    fn = _lif_kernel
    # the constexpr parameters, annotated with the class itself (Triton 2.3's interpreter matches its name)
    fn.__annotations__ = {k: tl.constexpr for k, v in fn.__annotations__.items() if v in ("tl.constexpr", tl.constexpr)}
    if interpret:
        from triton.runtime import interpreter

        _complete_interpreter(interpreter, tl)
        return interpreter.InterpretedFunction(fn)
    return triton.jit(fn)


def _complete_interpreter(interpreter, tl) -> None:
    """Triton 2.3's interpreter builds no int1/int8/int16/int32 types (its Builder has get_int64_ty only), so
    a cast or a store to them fails there; the values themselves are numpy arrays, which cast correctly
    (astype wraps, as the GPU's truncation does). Give its Builder the missing types; later Tritons have them."""
    builder = getattr(interpreter, "Builder", None)
    if builder is None:  # Triton 3's interpreter (InterpreterBuilder) has them all
        return
    for name, ty in (("get_int1_ty", tl.int1), ("get_int8_ty", tl.int8), ("get_int16_ty", tl.int16),
                     ("get_int32_ty", tl.int32)):
        if not hasattr(builder, name):
            setattr(builder, name, lambda self, ty=ty: ty)


def available(xp) -> bool:
    """Whether run_lif can run populations of this engine backend: torch arrays on a CUDA device with Triton
    importable, or any torch device under TRITON_INTERPRET=1 (Triton's CPU interpreter, for tests).
    NEUROKIT_FUSED=0 says no (the reference path, for A/B runs)."""
    if os.environ.get("NEUROKIT_FUSED", "1") == "0" or getattr(xp, "name", None) != "torch":
        return False
    if xp.device.type != "cuda" and not interpreting():
        return False
    return _triton() is not None


def run_lif(neurons, drive, steps: int, record: bool = False, counts: bool = False):
    """FixedNeurons.run's contract: spikes (T, B, n) bool, and with record u and v after each step
    (T, B, n) int64, else None; sets neurons.last_v (B, n) int64. counts=True also sets neurons.last_counts,
    the spikes per (sample, neuron) over the T steps, (B, n) int32, summed in registers."""
    import torch

    xp = neurons.xp
    dev = xp.device
    b, n = drive.batch, neurons.n
    total = b * n
    spikes = torch.empty((steps, b, n), dtype=torch.uint8, device=dev)
    rec_u = torch.empty((steps, b, n), dtype=torch.int64, device=dev) if record else None
    rec_v = torch.empty((steps, b, n), dtype=torch.int64, device=dev) if record else None
    last_v = torch.empty((b, n), dtype=torch.int64, device=dev)
    spike_counts = torch.zeros((b, n), dtype=torch.int32, device=dev) if counts else None
    if steps == 0 or total == 0:
        last_v.copy_(torch.zeros((b, n), dtype=torch.int64, device=dev) + neurons.v_init)
        neurons.last_v, neurons.last_counts = last_v, spike_counts
        return spikes.view(torch.bool), rec_u, rec_v
    first = torch.as_tensor(drive.first, device=dev)
    rest = torch.as_tensor(drive.rest, device=dev)
    if first.dtype not in (torch.int32, torch.int64):
        first = first.to(torch.int64)
    if rest.dtype != first.dtype:  # one pointer type for both (the kernel swaps first for rest after step 0)
        first, rest = first.to(torch.int64), rest.to(torch.int64)
    f_sb, f_sn = (first.stride(0), first.stride(1)) if first.dim() == 2 else (0, 0)
    if steps == 1 or rest.numel() == 0:  # never read past step 0
        rest, (r_st, r_sb, r_sn) = first, (0, f_sb, f_sn)
    elif drive.constant:  # the same (B, n) every step >= 1: time stride 0
        r_st, r_sb, r_sn = 0, rest.stride(0), rest.stride(1)
    else:
        r_st, r_sb, r_sn = rest.stride(0), rest.stride(1), rest.stride(2)
    # (B, n) steps laid out as the state (a size-1 dimension's stride never matters)
    contiguous = all((b == 1 or sb == n) and (n == 1 or sn == 1) for sb, sn in ((f_sb, f_sn), (r_sb, r_sn)))
    arith = neurons.arith
    unity = arith.decay_unity
    bias = torch.as_tensor(neurons.bias, dtype=torch.int64, device=dev).contiguous()
    v_init = torch.as_tensor(neurons.v_init, dtype=torch.int64, device=dev).contiguous()
    u_init = bias if neurons.u_init is None else torch.as_tensor(neurons.u_init, dtype=torch.int64, device=dev).contiguous()
    dummy = last_v  # pointers the kernel does not touch under its flags
    grid = ((total + BLOCK - 1) // BLOCK,)
    _kernel(interpreting())[grid](
        first, rest, bias, v_init, u_init,
        spikes, rec_u if record else dummy, rec_v if record else dummy, last_v,
        spike_counts if counts else dummy,
        total, n, steps, f_sb, f_sn, r_st, r_sb, r_sn,
        neurons.u_factor, neurons.v_factor, neurons.threshold, neurons.reset_by, neurons.refractory,
        BLOCK=BLOCK, SHIFT=arith.activation_shift, DECAY_BITS=arith.decay_bits, STATE_LIMIT=arith.state_limit,
        U_DECAY=neurons.u_factor != 0, V_DECAY=neurons.v_factor != unity, HAS_UINIT=neurons.u_init is not None,
        SUBTRACT=bool(neurons.subtract), REFRACTORY=neurons.refractory > 0, RECORD=bool(record),
        COUNTS=bool(counts), CONTIGUOUS=contiguous, num_warps=NUM_WARPS)
    neurons.last_v, neurons.last_counts = last_v, spike_counts
    return spikes.view(torch.bool), rec_u, rec_v
