"""neurokit's own simulator: Lava's arithmetic, fast.

mode "fixed" (backend "engine") runs a quantize.QuantizedNet with the integer arithmetic of Lava's fixed_pt
models (see fixed.py): spikes, u and v equal Lava's at every step. mode "float" (backend "float") runs the
float neurokit.network.SpikingNet as Lava's floating_pt models do (see floating.py). Phase-coded layers
(neurokit.network.PhaseCode) run neurokit's PhaseNeuron arithmetic instead (FixedPhaseNeurons,
FloatPhaseNeurons), and a phase-coded output layer's latched potential becomes Trace.output_scores.

Why it is fast: the nets are feed-forward, so instead of stepping every layer once per time step (Lava
passes messages between processes at every step) the engine runs one layer over all T steps of a batch
of samples, then the next. The synaptic input of all steps is one matrix product (or convolution) on
float BLAS, exact for integer sums (fixed.py), and only the neuron update loops over time. A held
(current-coded) input gives the first layer the same synaptic input every step: it is computed once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time

import numpy as np
import torch

from ...encoding import check_encoding, encoding_of, rate_spikes
from ...trace import Trace
from ..base import (LayerRecord, Progress, check_inputs, check_network, check_phase, input_steps, output_scale,
                    output_scores, warn_latency)
from .arrays import arrays_for, check_device
from .fixed import FixedNeurons, FixedPhaseNeurons, FixedSynapse
from .floating import FloatNeurons, FloatPhaseNeurons, FloatSynapse

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
        """f(values, bound) -> (new values, new bound), applied elementwise to every step."""
        first, _ = f(self.first, self.bound)
        rest, bound = f(self.rest, self.bound)
        return Drive(first, rest, self.constant, bound)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def exact_float32():
    """TF32 keeps 10 mantissa bits: exact for 0/1 and 8-bit mantissas, not for wider graded inputs. Off."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@dataclasses.dataclass
class PreparedNet:
    """A network laid out for the engine (weights as Lava holds them, on the device): Engine.prepare's
    result. Reuse it across runs to skip that work, as Lava reuses a compiled network."""

    net: object
    synapses: list
    neurons: list
    rate: bool
    xp: object

    @property
    def width(self) -> int:
        """The widest layer input or output: what one sample's working set scales with."""
        return max(max(l.n_inputs, l.n_neurons) for l in self.net.layers)


def max_graded_input(net) -> int:
    """Largest |value| the quantized input format can send (bounds the synaptic sums of layer 0)."""
    return (1 << (net.input_bits - 1)) if net.input_signed else (1 << net.input_bits) - 1


class Engine:
    """Backend "engine" (mode fixed) or "float" (mode float). device: "cpu" (numpy), "cpu-torch", "cuda",
    or None for the GPU when there is one. memory_mb bounds the working set of one batch chunk."""

    def __init__(self, mode: str = "fixed", device: str | None = None, memory_mb: int = 1024,
                 batch_size: int | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode, self.memory_mb, self.batch_size = mode, memory_mb, batch_size
        self.device = check_device(device or default_device())
        self.name = "engine" if mode == "fixed" else "float"

    def prepare(self, net) -> PreparedNet:
        fixed = self.mode == "fixed"
        check_network(net, self.name, quantized=fixed)
        rate = encoding_of(net) == "rate"
        check_phase(net, rate)
        xp = arrays_for(self.device)
        synapses, neurons = [], []
        for i, layer in enumerate(net.layers):
            phase = layer.phase is not None
            if fixed:
                synapses.append(FixedSynapse.build(layer, xp, max_graded_input(net) if i == 0 and not rate else 1))
                neurons.append((FixedPhaseNeurons if phase else FixedNeurons).build(layer, xp))
            else:
                synapses.append(FloatSynapse.build(layer, xp, graded=i == 0 and not rate))
                neurons.append((FloatPhaseNeurons if phase else FloatNeurons).build(layer, xp))
        return PreparedNet(net, synapses, neurons, rate, xp)

    # -----------------------------------------------------------------------------------------------------
    def run(self, net, x: np.ndarray, steps: int, progress: Progress | None = None) -> Trace:
        """net: the network, or Engine.prepare(network)."""
        prepared = net if isinstance(net, PreparedNet) else self.prepare(net)
        net, xp = prepared.net, prepared.xp
        x = self._check_inputs(prepared, x)
        t0 = time.perf_counter()
        outs, per_layer, scores = [], [], []
        per_neuron = [np.zeros(l.out_shape) for l in net.layers]
        input_events = np.zeros(x.shape[1:])
        readout = output_scale(net)
        warn_latency(net, steps)
        for n, events, layers in self._chunks(prepared, x, steps, record=False):
            input_events += events
            counts = [xp.host(s.sum(0)) for s, _, _ in layers]  # (B, n) per layer
            outs.append(counts[-1])
            if readout is not None:
                scores.append(output_scores(net, counts[-1], xp.host(prepared.neurons[-1].last_v), readout))
            per_layer.append(np.stack([c.sum(1) for c in counts], axis=1))
            for li, c in enumerate(counts):
                per_neuron[li] += c.sum(0).reshape(net.layers[li].out_shape)
            if progress:
                progress(n)
        return Trace(backend=self.name, steps=steps, output_counts=np.concatenate(outs).astype(np.int64),
                     layer_spikes=np.concatenate(per_layer).astype(np.int64), neuron_spikes=per_neuron,
                     input_events=input_events, wall_s=time.perf_counter() - t0,
                     output_scores=np.concatenate(scores) if readout is not None else None)

    def record(self, net, x: np.ndarray, steps: int) -> list[LayerRecord]:
        """u, v (after reset) and spikes of every layer at every step, as Lava's Monitors see them."""
        prepared = net if isinstance(net, PreparedNet) else self.prepare(net)
        x = self._check_inputs(prepared, x)
        parts = [[] for _ in prepared.net.layers]
        for _, _, layers in self._chunks(prepared, x, steps, record=True):
            for li, (s, u, v) in enumerate(layers):
                parts[li].append([prepared.xp.host(a) for a in (u, v, s)])
        records = []
        for l, p in zip(prepared.net.layers, parts):
            u, v, s = (np.concatenate([q[k] for q in p], axis=1) for k in range(3))
            shape = (u.shape[1], steps) + tuple(l.out_shape)
            records.append(LayerRecord(l.name, *(np.moveaxis(a, 0, 1).reshape(shape) for a in (u, v, s))))
        return records

    # -----------------------------------------------------------------------------------------------------
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
        per_sample = steps * prepared.width * 40  # bytes: int64 drive and state, float input, spikes, headroom
        return max(1, int(self.memory_mb * 2**20 // per_sample))

    def _chunks(self, prepared: PreparedNet, x, steps, record: bool):
        """Yields (n, input events per input element summed over the chunk's samples and steps,
        [(spikes, u, v) per layer, each (T, n, neurons)])."""
        net, xp, rate = prepared.net, prepared.xp, prepared.rate
        chunk = self._chunk_size(prepared, steps)
        with exact_float32(), torch.no_grad():
            for i in range(0, len(x), chunk):
                n = min(chunk, len(x) - i)
                if rate:
                    spikes_in = rate_spikes(x[i:i + n], steps, first_index=i)
                    events = spikes_in.sum((0, 1))
                    s, constant = xp.asarray(np.ascontiguousarray(np.moveaxis(spikes_in, 1, 0))), False
                else:
                    frames = self._encode(net, x[i:i + n])
                    events = (frames != 0).sum(0) * float(input_steps(net, steps))
                    s, constant = xp.asarray(frames), True
                layers = []
                for layer, syn, neu in zip(net.layers, prepared.synapses, prepared.neurons):
                    if constant:
                        rest = syn(s)
                    else:
                        rest = syn(s[:steps - 1].reshape(((steps - 1) * n,) + tuple(layer.in_shape)))
                        rest = rest.reshape((steps - 1, n, neu.n))
                    first = xp.zeros((n, neu.n), rest.dtype)
                    spikes, u, v = neu.run(Drive(first, rest, constant, getattr(syn, "out_bound", 0)), steps, record)
                    layers.append((spikes, u, v))
                    s, constant = spikes.reshape((steps, n) + tuple(layer.out_shape)), False
                yield n, events, layers
