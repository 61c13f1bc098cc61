"""Lava processes neurokit adds: a LIF with reset by subtraction and per-sample windows, an input
source holding a whole batch of samples, a per-sample spike counter, and a recorder of neuron state.

Lava's compiler finds their models in models.py beside this file.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.proc.lif.process import LIF

RESET_MODES = ("subtract", "zero")


class ConversionLIF(LIF):
    """Lava's CUBA LIF (same Vars, same fixed-point arithmetic) with what conversion and imported graphs need.

    reset_mode: "subtract" lowers v by reset_amount when it spikes (default the threshold, vth << 6 in fixed
        point), as integrate-and-fire conversion and snnTorch's default reset require; "zero" is Lava's own
        reset. Lava's LIF family only resets to zero (reference E).
    reset_amount: what a subtracting reset removes (fixed_pt: raw v units; floating_pt: v units); None: the
        threshold.
    reset_interval: if > 0, a window starts every `reset_interval` steps, at the Lava time steps ts (1-based)
        with ts % reset_interval == reset_offset % reset_interval (LIFReset's convention; the default offset 1
        gives steps 1, 1 + interval, ...). At a window start u restarts at u_init (default 0), v at its initial
        value v (kept in Var v_init), and the synaptic input arriving that step which the previous sample
        caused is dropped:
        - synchronous windows (keep_first_input=False, every population restarting at the same step): all
          of a_in, since every source's previous window sent it;
        - pipelined windows (keep_first_input=True, each population restarting one step after its sources, at
          reset_offset = depth + 1): a_in is this sample's first input and is integrated; only a_rec is dropped.
        Each window then runs exactly as a freshly started network would, so one compiled network evaluates
        many samples back to back.
    a_rec: a second input port for the projections that close a cycle (a recurrent layer): added to a_in,
        except at a window start, where what arrives was sent at the previous window's last step.
    threshold_ge (floating_pt only): spike at v >= vth instead of v > vth.
    u_bias (floating_pt only): an array in the process's shape added to u after the input every step (a
        synapse's bias into a decaying current); None: none.
    u_init: u at each window start (default 0).
    refractory: steps after a spike during which v keeps its value (u integrates), as neurokit's engine and
        Lava's floating_pt LIFRefractory; 0: none.
    """

    def __init__(self, *, reset_mode: str = "subtract", reset_interval: int = 0, reset_offset: int = 1,
                 reset_amount=None, keep_first_input: bool = False, threshold_ge: bool = False, u_bias=None,
                 u_init=0, refractory: int = 0, **kwargs):
        if reset_mode not in RESET_MODES:
            raise ValueError(f"reset_mode must be one of {RESET_MODES}, got {reset_mode!r}")
        if reset_interval < 0:
            raise ValueError(f"reset_interval must be >= 0, got {reset_interval}")
        super().__init__(reset_mode=reset_mode, reset_interval=reset_interval, reset_offset=int(reset_offset),
                         reset_amount=reset_amount, keep_first_input=bool(keep_first_input),
                         threshold_ge=bool(threshold_ge),
                         u_bias=None if u_bias is None else np.asarray(u_bias, np.float64),
                         refractory=int(refractory), **kwargs)
        self.v_init = Var(shape=self.v.shape, init=self.v.init)  # v at each window start
        self.u_init = Var(shape=self.u.shape, init=u_init)  # u at each window start
        self.a_rec = InPort(shape=self.a_in.shape)  # recurrent projections: dropped at each window start


class InputSource(AbstractProcess):
    """Sends frame k of `data` (shape + (frames,)) for `hold` consecutive steps, k = 0, 1, ..., frames - 1."""

    def __init__(self, data: np.ndarray, hold: int = 1):
        shape = tuple(data.shape[:-1])
        super().__init__(shape=shape, hold=hold)
        self.data = Var(shape=data.shape, init=data)
        self.s_out = OutPort(shape=shape)


class SpikeCounter(AbstractProcess):
    """Counts the spikes (non-zero messages: graded spikes count once) arriving during each window of
    `interval` steps, windows starting `offset` steps late (a stream population at depth offset).

    per_window[w]: all spikes of the population in window w; per_neuron: each neuron's spikes over all
    windows; count[w, ...] (only with per_neuron_windows=True): each neuron's spikes in window w.
    Lava reads an array Var back one element per message, so only the output layer keeps the last one.
    """

    def __init__(self, shape: tuple[int, ...], windows: int, interval: int, per_neuron_windows: bool = False,
                 offset: int = 0):
        super().__init__(shape=shape, interval=interval, per_neuron_windows=per_neuron_windows, offset=offset)
        self.a_in = InPort(shape=shape)
        self.per_window = Var(shape=(windows,), init=np.zeros(windows, np.int32))
        self.per_neuron = Var(shape=tuple(shape), init=np.zeros(shape, np.int32))
        count_shape = ((windows,) if per_neuron_windows else (1,)) + tuple(shape)
        self.count = Var(shape=count_shape, init=np.zeros(count_shape, np.int32))


class StateRecorder(AbstractProcess):
    """Records a neuron population's spikes and its u and v after every step (what Lava's Monitor sees)
    for `steps` steps, then writes them to `path` (.npz with arrays s, u, v of shape (steps, *shape)).

    A file, because Lava reads an array Var back one element per message: a Monitor's history of a
    conv layer takes minutes to get; the file takes milliseconds."""

    def __init__(self, shape: tuple[int, ...], steps: int, path: str):
        super().__init__(shape=tuple(shape), steps=steps, path=str(path))
        self.s_in = InPort(shape=shape)
        self.u_ref = RefPort(shape=shape)
        self.v_ref = RefPort(shape=shape)


class PhaseNeuron(AbstractProcess):
    """Single-spike phase coding neuron (neurokit.network.PhaseCode; neurokit/convert/methods/phase.py).

    Per sample window of `reset_interval` steps, with t = the step within it (0-based; everything restarts
    at t = 0, and the input arriving then is dropped, as in ConversionLIF):
    - integration, offset <= t < offset + integrate: u <- u * decay + a_in + bias
      (fixed_pt: u <- clip(trunc(u * decay / 4096) + (a_in << 6) + (bias_mant << bias_exp), +-(2**23 - 1)));
    - latch, at t = offset + integrate - 1: v <- u, u <- 0;
    - fire, at t = offset + integrate + k, k < window: s = lo[k] <= v < hi[k] (at most one spike per window).
    Inputs outside the integration window are ignored. u is the accumulator, v the latched potential, so
    StateRecorder's u and v references work unchanged.
    """

    def __init__(self, *, shape: tuple[int, ...], bias_mant, bias_exp: int = 0, decay, lo, hi, window: int,
                 offset: int, integrate: int, reset_interval: int):
        super().__init__(shape=shape, window=window, offset=offset, integrate=integrate,
                         reset_interval=reset_interval)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=0)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=(1,), init=bias_exp)
        self.decay = Var(shape=(1,), init=decay)
        self.lo = Var(shape=(window,), init=np.asarray(lo))
        self.hi = Var(shape=(window,), init=np.asarray(hi))


class PotentialReader(AbstractProcess):
    """Reads a neuron population's v (or the Var its v_ref connects to) at the last step of every window of
    `interval` steps, windows starting `offset` steps late, into scores[w] (the phase-coded output layer's
    latched potential, a sigma-delta output's act). A small Var: one row per window."""

    def __init__(self, shape: tuple[int, ...], windows: int, interval: int, dtype=np.float64, offset: int = 0):
        super().__init__(shape=tuple(shape), interval=interval, offset=offset)
        self.v_ref = RefPort(shape=shape)
        self.scores = Var(shape=(windows,) + tuple(shape), init=np.zeros((windows,) + tuple(shape), dtype))
