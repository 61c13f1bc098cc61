"""neurokit's own simulator: Lava's arithmetic, fast.

mode "fixed" (backend "engine") runs a quantize.QuantizedNet with the integer arithmetic of Lava's fixed_pt
models (see fixed.py): spikes, u and v equal Lava's at every step. mode "float" (backend "float") runs the
float neurokit.network.Network as Lava's floating_pt models do (see floating.py). Each population runs its
neuron model's engine code (neurokit.neurons: the CUBA compartment, the phase neuron).

Why it is fast: the graphs are feed-forward, so instead of stepping every population once per time step
(Lava passes messages between processes at every step) the engine runs one population over all T steps of
a batch of samples, then the next, in topological order. The synaptic input of all steps through each
projection is one matrix product (or convolution) on float BLAS, exact for integer sums (fixed.py); the
projections into a population add up (int32, as Lava's InPort sums), and only the neuron update loops
over time. A held (current-coded) input gives its projections the same input every step: computed once.
"""
from __future__ import annotations

import dataclasses
import functools
import time

import numpy as np
import torch

from ...arithmetic import LOIHI2, wrap32
from ...encoding import check_encoding, encoding_of, rate_spikes
from ...network import INPUT, check_pipelined, windows_of
from ...trace import Trace
from ...errors import UnsupportedModelError
from ..base import (LayerRecord, Progress, check_input_coding, check_inputs, check_network, input_steps, is_sequence,
                    sequence_steps, output_scale,
                    output_scores, warn_latency)
from .arrays import arrays_for, check_device
from .fixed import FixedSynapse, tf32_flags
from .fused import fused_float_kernel, fused_kernel
from .floating import FloatSynapse
from .steps import check_steppable, needs_steps, run_steps
from .stream import StreamRun, check_stream, is_stream

MODES = ("fixed", "float")


@dataclasses.dataclass
class Drive:
    """Synaptic input reaching a layer at steps 0..T-1. Nothing arrives at step 0 (Lava's one-step
    synaptic delay; a fresh window has nothing in flight); step t gets what the synapse computed at t - 1.
    constant: the synapse computes the same output every step (held input)."""

    first: object  # (B, n) at step 0
    rest: object  # (B, n) if constant, else (T - 1, B, n) for steps 1..T-1
    constant: bool
    bound: int  # no |value| exceeds it

    @property
    def batch(self) -> int:
        return self.first.shape[0]

    def at(self, t: int):
        if t == 0:
            return self.first
        return self.rest if self.constant else self.rest[t - 1]

    def map(self, f) -> "Drive":
        """f(values, bound) -> (new values, new bound), applied elementwise to every step. The new bound holds
        for step 0 too: with pipelined windows `first` carries input, which may exceed every later step's."""
        first, first_bound = f(self.first, self.bound)
        rest, bound = f(self.rest, self.bound)
        return Drive(first, rest, self.constant, max(first_bound, bound))


def sum_drives(drives: list[Drive], steps: int, fixed: bool, xp) -> Drive:
    """What a population's InPort receives from several projections: their sum, in their order (Lava adds
    the int32 messages of its channels in int32, wrapping; floats in float64)."""
    if len(drives) == 1:
        return drives[0]
    constant = all(d.constant for d in drives)
    bound = sum(d.bound for d in drives)
    wide = fixed and bound >= 1 << 31
    rest = first = None
    for d in drives:
        r = d.rest if constant or not d.constant else xp.broadcast_steps(d.rest, steps - 1)
        f = d.first
        if wide:
            r, f = xp.astype(r, xp.int64), xp.astype(f, xp.int64)
        elif not fixed:  # float InPorts add in float64 (a conv sends float32 values)
            r, f = xp.astype(r, xp.float64), xp.astype(f, xp.float64)
        rest = r if rest is None else rest + r
        first = f if first is None else first + f  # zeros, unless windows are pipelined
    if wide:
        rest, first, bound = wrap32(rest), wrap32(first), 1 << 31
    return Drive(first, rest, constant, bound)


def run_steps_for(net, x, steps: int | None) -> int:
    """Steps to run: `steps`, or a sequence's length."""
    if steps is None:
        if not is_sequence(net, x):
            raise ValueError("steps is needed for inputs the network holds (only sequences give their own length)")
        return int(np.shape(x)[1])
    return int(steps)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def exact_float32():
    """TF32 keeps 10 mantissa bits: exact for 0/1 and 8-bit mantissas, not for wider graded inputs. Off here;
    each synapse whose bounds license it turns it on around its own sums (fixed.tf32_exact)."""
    return tf32_flags(False)


@dataclasses.dataclass
class PreparedNet:
    """A network laid out for the engine (weights as Lava holds them, on the device): Engine.prepare's
    result. Reuse it across runs to skip that work, as Lava reuses a compiled network."""

    net: object
    order: list  # populations in topological order
    synapses: dict  # projection name -> synapse
    neurons: dict  # population name -> neuron group
    rate: bool
    xp: object
    pipelined: bool = False  # neurokit.network.windows_of
    stepwise: bool = False  # a recurrent network: every population one step at a time (steps.py)
    depth: dict = None  # population -> depth, for stepwise runs

    def release(self) -> None:
        """Frees the memory the synapses write their outputs into (reused across a run's chunks)."""
        for syn in self.synapses.values():
            syn.output.release()

    @functools.cached_property
    def width(self) -> int:  # once per prepared net: it was recomputed on every run, a cost at batch 1
        """What one sample's working set scales with, in units of _chunk_size's 40 bytes per step: the widest
        population input or output (int64 drive and state), plus every population's spike train (one byte
        per neuron per step, kept to the end of the chunk)."""
        widest = max(max(q.n_inputs, q.n_neurons) for q in self.net.projections)
        return widest + sum(p.n_neurons for p in self.order) // 40


DEFAULT_MEMORY_MB = 1024  # one chunk's working set on the CPU, or on a GPU where the user names one
GPU_MEMORY_FRACTION = 0.5  # of the GPU's free memory, for one chunk: the 40 bytes per element-step estimate
# (_chunk_size) has headroom, and the rest leaves room for cuDNN's workspaces and the allocator's fragments
BYTES_PER_ELEMENT_STEP = 40  # int64 drive and state, float input, spikes, headroom


def chunk_samples(steps: int, width: int, budget_bytes: int) -> int:
    """Samples per batch chunk: as many as keep steps x width x 40 bytes each within the budget (at least 1)."""
    per_sample = max(steps, 1) * max(width, 1) * BYTES_PER_ELEMENT_STEP
    return max(1, int(budget_bytes // per_sample))


def memory_budget(memory_mb: int | None, cuda_free_bytes: int | None = None) -> int:
    """Bytes one chunk may take: memory_mb when given; on a GPU (cuda_free_bytes: what it has free, torch's
    cached but unused blocks included) GPU_MEMORY_FRACTION of that; else DEFAULT_MEMORY_MB."""
    if memory_mb is not None:
        return int(memory_mb * 2**20)
    if cuda_free_bytes is not None:
        return int(cuda_free_bytes * GPU_MEMORY_FRACTION)
    return DEFAULT_MEMORY_MB * 2**20


def cuda_free_bytes(device) -> int:
    """Free memory of a CUDA device: the driver's free bytes plus what torch's caching allocator holds unused
    (reserved, not allocated), which a new chunk reuses."""
    free, _ = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


def max_graded_input(net) -> int:
    """Largest |value| the quantized input format can send (bounds the synaptic sums of layer 0)."""
    return (1 << (net.input_bits - 1)) if net.input_signed else (1 << net.input_bits) - 1


class Engine:
    """Backend "engine" (mode fixed) or "float" (mode float). device: "cpu" (numpy), "cpu-torch", "cuda",
    or None for the GPU when there is one. memory_mb bounds the working set of one batch chunk (default: half
    the GPU's free memory on a GPU, 1,024 MB on the CPU); batch_size fixes the chunk instead."""

    def __init__(self, mode: str = "fixed", device: str | None = None, memory_mb: int | None = None,
                 batch_size: int | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode, self.memory_mb, self.batch_size = mode, memory_mb, batch_size
        self.device = check_device(device or default_device())
        self.name = "engine" if mode == "fixed" else "float"

    def prepare(self, net) -> PreparedNet:
        fixed = self.mode == "fixed"
        check_network(net, self.name, quantized=fixed)
        net.validate()
        stepwise = needs_steps(net)
        order = net.order(f"the {self.name} backend", cycles=stepwise)
        rate = encoding_of(net) == "rate"
        check_input_coding(net, rate)
        xp = arrays_for(self.device)
        arith = net.arithmetic if fixed else LOIHI2
        check_stream(net, self.name)
        stream = is_stream(net)
        synapses, neurons = {}, {}
        for q in net.projections:
            graded = (q.source == INPUT and not rate) or (q.source != INPUT and net.population(q.source).model.graded_output_bits > 0)
            if fixed:
                # sigma-delta messages have no static bound: the data sets it per call
                bound = None if stream else max_graded_input(net) if graded else 1
                synapses[q.name] = FixedSynapse.build(q, xp, bound, arith)
            else:
                synapses[q.name] = FloatSynapse.build(q, xp, graded=graded)
        for p in order:
            neurons[p.name] = p.model.engine(p, xp, arith)
        # the fused neuron kernels compile (or load from numba's cache) here, not in a run
        if fixed:
            fused_kernel(xp)
        else:
            fused_float_kernel(xp)
        pipelined = not stream and windows_of(net) == "pipelined"
        depth = None
        if stepwise:
            if not pipelined:
                raise UnsupportedModelError(f"the network is recurrent (cycle {' -> '.join(net.cycle() or [])}); the "
                                            f"{self.name} backend runs recurrent graphs with pipelined windows only "
                                            "(network metadata windows='pipelined', as imported graphs have)")
            depth = check_steppable(net, self.name)
        elif pipelined:
            check_pipelined(net)
        return PreparedNet(net, order, synapses, neurons, rate, xp, pipelined, stepwise, depth)

    # -----------------------------------------------------------------------------------------------------
    def run(self, net, x: np.ndarray, steps: int | None = None, progress: Progress | None = None) -> Trace:
        """net: the network, or Engine.prepare(network). x: (N, *input) held for `steps` steps, or sequences
        (N, T, *input), one frame per step (steps: default T; beyond T the input is zero)."""
        prepared = net if isinstance(net, PreparedNet) else self.prepare(net)
        try:
            return self._run(prepared, x, steps, progress)
        finally:
            prepared.release()

    def _run(self, prepared: PreparedNet, x, steps: int | None, progress: Progress | None) -> Trace:
        net, xp = prepared.net, prepared.xp
        x = self._check_inputs(prepared, x)
        steps = run_steps_for(net, x, steps)
        if is_stream(net):
            return self._run_stream(prepared, x, steps, progress)
        t0 = time.perf_counter()
        outs, per_layer, scores = [], [], []
        pops = net.populations
        out_index = [p.name for p in pops].index(net.output)
        per_neuron = [np.zeros(p.shape) for p in pops]
        input_events = np.zeros(tuple(net.input_shape))
        readout = output_scale(net)
        warn_latency(net, steps)
        for n, events, states in self._chunks(prepared, x, steps, record=False):
            input_events += events
            # (B, n) spike counts per population, reduced where the spikes are: on a GPU only the output's counts
            # and the per-sample and per-neuron sums come to the host (all counts of a VGG-sized net at batch
            # 1,000 would be 1.6 GB to copy and sum on the CPU); numpy does the same work as before
            counts = [states[p.name][0].sum(0) for p in pops]
            out_counts = xp.host(counts[out_index])
            outs.append(out_counts)
            if readout is not None:
                last_v = xp.host(prepared.neurons[net.output].last_v)
                scores.append(output_scores(net, out_counts, last_v, readout))
            per_layer.append(np.stack([xp.host(c.sum(1)) for c in counts], axis=1))
            for li, c in enumerate(counts):
                per_neuron[li] += xp.host(c.sum(0)).reshape(pops[li].shape)
            if progress:
                progress(n)
        return Trace(backend=self.name, steps=steps, output_counts=np.concatenate(outs).astype(np.int64),
                     layer_spikes=np.concatenate(per_layer).astype(np.int64), neuron_spikes=per_neuron,
                     input_events=input_events, wall_s=time.perf_counter() - t0,
                     output_scores=np.concatenate(scores) if readout is not None else None)

    def record(self, net, x: np.ndarray, steps: int | None = None) -> list[LayerRecord]:
        """u, v (after reset) and spikes of every population at every step, as Lava's Monitors see them,
        in the network's population order. With pipelined windows (imported graphs) a population's steps are
        its own window's: step t of a population at depth d is global step t + d, the framework's step t."""
        prepared = net if isinstance(net, PreparedNet) else self.prepare(net)
        try:
            return self._record(prepared, x, steps)
        finally:
            prepared.release()

    def _record(self, prepared: PreparedNet, x, steps: int | None) -> list[LayerRecord]:
        x = self._check_inputs(prepared, x)
        steps = run_steps_for(prepared.net, x, steps)
        pops = prepared.net.populations
        if is_stream(prepared.net):
            res = StreamRun(prepared, self.mode == "fixed", steps, record=True).run(self._encode(prepared.net, x))
            return [LayerRecord(p.name, *(r[k].reshape((len(x), steps) + tuple(p.shape)) for k in ("u", "v")),
                                r["s"].reshape((len(x), steps) + tuple(p.shape)))
                    for p, r in zip(pops, res["records"])]
        parts = [[] for _ in pops]
        for _, _, states in self._chunks(prepared, x, steps, record=True):
            for li, p in enumerate(pops):
                s, u, v = states[p.name]
                parts[li].append([prepared.xp.host(a) for a in (u, v, s)])
        records = []
        for pop, part in zip(pops, parts):
            u, v, s = (np.concatenate([q[k] for q in part], axis=1) for k in range(3))
            shape = (u.shape[1], steps) + tuple(pop.shape)
            records.append(LayerRecord(pop.name, *(np.moveaxis(a, 0, 1).reshape(shape) for a in (u, v, s))))
        return records

    def _run_stream(self, prepared: PreparedNet, x, steps: int, progress: Progress | None) -> Trace:
        """A sigma-delta network: all samples in one stream (neurokit.backends.engine.stream)."""
        net = prepared.net
        t0 = time.perf_counter()
        frames = self._encode(net, x)
        runner = StreamRun(prepared, self.mode == "fixed", steps, segment_samples=self._chunk_size(prepared, steps))
        res = runner.run(frames)
        if progress:
            progress(len(x))
        readout = output_scale(net)
        return Trace(backend=self.name, steps=steps, output_counts=res["output_counts"],
                     layer_spikes=res["per_sample"],
                     neuron_spikes=[c.reshape(p.shape).astype(np.float64) for c, p in zip(res["per_neuron"], net.populations)],
                     input_events=res["input_events"], wall_s=time.perf_counter() - t0,
                     output_scores=res["scores"] / readout)

    # -----------------------------------------------------------------------------------------------------
    @staticmethod
    def _delayed(syn, s, constant: bool, q, n: int, steps: int, width: int) -> Drive:
        """A pipelined projection of delay D: the target's window step t gets what the source sent at its
        window step t - (D - 1), nothing before."""
        xp = syn.xp
        if constant:
            out = syn(s)
            out = xp.concatenate([out[None]] * steps) if steps else out[None][:0]
        else:
            out = syn(s[:steps].reshape((steps * n,) + tuple(q.in_shape))).reshape((steps, n, width))
        shift = min(q.delay - 1, steps)
        out = xp.concatenate([xp.zeros((shift, n, width), out.dtype), out[:steps - shift]])
        return Drive(out[0], out[1:], False, getattr(syn, "out_bound", 0))

    def _check_inputs(self, prepared: PreparedNet, x):
        x = check_inputs(prepared.net, x)
        if prepared.rate:
            check_encoding("rate", x)
        return x

    def _encode(self, net, x):
        return net.encode_input(x) if self.mode == "fixed" else np.asarray(x, np.float64)

    def _chunk_size(self, prepared: PreparedNet, steps: int) -> int:
        if self.batch_size:
            return self.batch_size
        xp = prepared.xp
        on_gpu = self.memory_mb is None and getattr(xp, "name", None) == "torch" and xp.device.type == "cuda"
        budget = memory_budget(self.memory_mb, cuda_free_bytes(xp.device) if on_gpu else None)
        return chunk_samples(steps, prepared.width, budget)

    def _chunks(self, prepared: PreparedNet, x, steps, record: bool):
        """Yields (n, input events per input element summed over the chunk's samples and steps,
        {population: (spikes, u, v)}, each (T, n, neurons))."""
        net, xp, rate = prepared.net, prepared.xp, prepared.rate
        fixed = self.mode == "fixed"
        chunk = self._chunk_size(prepared, steps)
        with exact_float32(), torch.no_grad():
            for i in range(0, len(x), chunk):
                n = min(chunk, len(x) - i)
                if rate:
                    spikes_in = rate_spikes(x[i:i + n], steps, first_index=i)
                    events = spikes_in.sum((0, 1))
                    source = (xp.asarray(np.ascontiguousarray(np.moveaxis(spikes_in, 1, 0))), False)
                elif is_sequence(net, x):  # one input frame per step; zeros after the sequence
                    frames = self._encode(net, sequence_steps(x[i:i + n], steps))
                    events = (frames != 0).sum((0, 1)).astype(np.float64)
                    source = (xp.asarray(np.ascontiguousarray(np.moveaxis(frames, 1, 0))), False)
                else:
                    frames = self._encode(net, x[i:i + n])
                    events = (frames != 0).sum(0) * float(input_steps(net, steps))
                    source = (xp.asarray(frames), True)
                if prepared.stepwise:
                    yield n, events, run_steps(prepared, source[0], source[1], n, steps, fixed, record)
                    continue
                outputs = {INPUT: source}  # source -> (values, constant over steps)
                states = {}
                for pop in prepared.order:
                    neu = prepared.neurons[pop.name]
                    drives = []
                    for q in net.incoming(pop.name):
                        s, constant = outputs[q.source]
                        syn = prepared.synapses[q.name]
                        if q.delay > 1 and prepared.pipelined:  # arrives q.delay - 1 steps into the window
                            drives.append(self._delayed(syn, s, constant, q, n, steps, neu.n))
                            continue
                        if constant:
                            rest = syn(s)
                            first = rest if prepared.pipelined else xp.zeros((n, neu.n), rest.dtype)
                        elif prepared.pipelined:  # the window starts one step after its source's: no step lost
                            out = syn(s[:steps].reshape((steps * n,) + tuple(q.in_shape))).reshape((steps, n, neu.n))
                            first, rest = out[0], out[1:]
                        else:
                            rest = syn(s[:steps - 1].reshape(((steps - 1) * n,) + tuple(q.in_shape)))
                            rest = rest.reshape((steps - 1, n, neu.n))
                            first = xp.zeros((n, neu.n), rest.dtype)
                        drives.append(Drive(first, rest, constant, getattr(syn, "out_bound", 0)))
                    spikes, u, v = neu.run(sum_drives(drives, steps, fixed, xp), steps, record)
                    states[pop.name] = (spikes, u, v)
                    outputs[pop.name] = (spikes.reshape((steps, n) + tuple(pop.shape)), False)
                yield n, events, states
