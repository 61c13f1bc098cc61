"""Stream networks (sigma-delta): all samples run through one network without reset, as on the chip.

Rules (neurokit.neurons.sigma_delta states them for every backend): sample k is held for T steps; the
input is delta-coded (x_t - x_(t-1), << spike_exp in fixed point), so it is non-zero only where a sample
starts; every projection delivers one step later (Lava's Dense / Conv a_buff), and a population's InPort
adds its projections' messages (int32). A population at depth d counts the messages it sends in steps
kT + d .. kT + T - 1 + d as sample k's, and sample k's scores are the output population's act at step
kT + T - 1 + d_min (pipelined readout), d_min the output's shortest path from the input. The output at step
t reflects the input at steps t - L, L over the lengths of every path from the input to it (each
population's sigma sums the deltas its sources sent: their act one step earlier), so with paths of
different lengths (skip connections) the read step sees sample k on every path only when
T >= D - d_min + 1 (D the longest path): shorter T mixes neighbouring samples, and the run warns.
The run lasts N T + (the deepest population's depth) steps.

The engine cuts the stream into segments of whole samples and carries every state across them: the
neurons' sigma, act and residue, each projection's message in flight, and the last input frame. In a
segment, a projection computes only the steps whose input holds a non-zero message (sigma-delta
traffic is sparse in time), in one matrix product or convolution.
"""
from __future__ import annotations

import numpy as np

from ...arithmetic import SDN_SPIKE_EXP, wrap32
from ...network import INPUT, depths


def readout_delay(net) -> int:
    """Steps from a sample's last input step to its read step: the output's shortest path."""
    return depths(net, shortest=True)[net.output]


def run_extra_steps(net) -> int:
    """Steps a stream runs beyond its samples' windows: the deepest population's depth (its last window)."""
    return max(depths(net).values())


def min_steps(net) -> int:
    """The fewest steps per sample for which every path to the output sees the same sample at its read step."""
    return depths(net)[net.output] - readout_delay(net) + 1


def warn_mixing(net, steps: int) -> None:
    import warnings

    need = min_steps(net)
    if steps < need:
        warnings.warn(f"this sigma-delta network's paths to the output differ by {need - 1} steps: with T = {steps} < "
                      f"{need} the output mixes neighbouring samples; run T >= {need}", stacklevel=3)


def check_stream(net, backend: str) -> None:
    """A stream network is made of stream populations only, reading the delta-coded input."""
    from ...encoding import encoding_of
    from ...errors import UnsupportedModelError

    models = {p.model.name for p in net.populations if p.model.stream}
    if models and len(models) != len({p.model.name for p in net.populations}):
        raise UnsupportedModelError(f"backend {backend}: sigma-delta populations run as a stream without reset and "
                                    "cannot share a network with windowed (spiking) populations; convert all of "
                                    "it with one method")
    if not models and encoding_of(net) == "delta":
        raise UnsupportedModelError(f"backend {backend}: delta-coded input is for sigma-delta networks; this one has "
                                    "none (convert with --input-coding current or rate)")
    if models and encoding_of(net) != "delta":
        raise UnsupportedModelError(f"backend {backend}: a sigma-delta network reads delta-coded input; its "
                                    f"metadata says input_encoding={encoding_of(net)!r} (convert with --method sdnn)")


def is_stream(net) -> bool:
    return any(p.model.stream for p in net.populations)


class StreamRun:
    """One pass of N samples through a prepared stream network (neurokit.backends.engine.PreparedNet)."""

    def __init__(self, prepared, fixed: bool, steps: int, record: bool = False, segment_samples: int = 256):
        self.prepared, self.fixed, self.steps, self.record = prepared, fixed, steps, record
        self.segment_samples = max(1, segment_samples)
        self.depth = depths(prepared.net)
        warn_mixing(prepared.net, steps)

    def run(self, frames: np.ndarray) -> dict:
        """frames (N, *input_shape): the encoded samples (integers in fixed point). Returns per-sample message
        counts per population (N, P), per-neuron message counts (population shapes), output counts (N, n_out),
        the output's act at each read step (N, n_out), input messages per input element, and with record
        every population's messages, sigma and act at steps 0 .. N T - 1 as (N, T, n)."""
        prepared, xp, T = self.prepared, self.prepared.xp, self.steps
        net = prepared.net
        n = len(frames)
        pops = net.populations
        index = {p.name: i for i, p in enumerate(pops)}
        out_name = net.output
        read_delay = readout_delay(net)
        total = n * T + run_extra_steps(net)
        for group in prepared.neurons.values():
            group.reset()
        carry = {q.name: None for q in net.projections}
        frames = np.asarray(frames)
        dtype = np.int32 if self.fixed else np.float64
        previous = np.zeros(frames.shape[1:], dtype)
        per_sample = np.zeros((n, len(pops)), np.int64)
        per_neuron = [np.zeros(p.n_neurons, np.int64) for p in pops]
        out_counts = np.zeros((n, net.output_population.n_neurons), np.int64)
        scores = np.zeros((n, net.output_population.n_neurons), np.float64)
        input_events = np.zeros(frames.shape[1:], np.float64)
        records = [{k: np.zeros((n * T, p.n_neurons), dtype) for k in ("s", "u", "v")} for p in pops] if self.record else None
        seg = self.segment_samples * T
        for g0 in range(0, total, seg):
            g1 = min(total, g0 + seg)
            g = np.arange(g0, g1)
            x = frames[np.minimum(g // T, n - 1)].astype(dtype)
            msgs = x - np.concatenate([previous[None], x[:-1]])
            previous = x[-1].copy()
            if self.fixed:
                msgs = msgs << SDN_SPIKE_EXP
            input_events += (msgs != 0).sum(0)
            sent = {INPUT: xp.asarray(msgs)}
            for pop in prepared.order:
                drive = self._drive(pop, sent, carry, g1 - g0)
                d = self.depth[pop.name]
                read = ()
                if pop.name == out_name:
                    k = (g - read_delay - (T - 1))
                    read = np.flatnonzero((k >= 0) & (k % T == 0) & (k // T < n))
                msg, sig, act, acts = prepared.neurons[pop.name].run(drive, self.record, read)
                sent[pop.name] = msg
                self._count(pop, msg, g, d, per_sample, per_neuron, index, out_counts if pop.name == out_name else None)
                if pop.name == out_name and len(read):
                    scores[(g[read] - read_delay - (T - 1)) // T] = xp.host(acts)
                if self.record:
                    keep = g < n * T
                    rec = records[index[pop.name]]
                    for key, a in (("s", msg), ("u", sig), ("v", act)):
                        rec[key][g[keep]] = xp.host(a)[keep]
        result = {"per_sample": per_sample, "per_neuron": per_neuron, "output_counts": out_counts,
                  "scores": scores, "input_events": input_events}
        if self.record:
            result["records"] = [{k: a.reshape((n, T, -1)) for k, a in r.items()} for r in records]
        return result

    def _drive(self, pop, sent, carry, steps: int):
        """What arrives at each step of the segment: each projection's output one step late, summed (int32)."""
        xp, net = self.prepared.xp, self.prepared.net
        total = None
        for q in net.incoming(pop.name):
            syn = self.prepared.synapses[q.name]
            m = sent[q.source]
            m = m.reshape((steps,) + tuple(q.in_shape))
            out = xp.zeros((steps, q.n_neurons), xp.int64 if self.fixed else xp.float64)
            rows = xp.any_rows(m)
            if len(rows):
                out[rows] = xp.astype(syn(m[rows]), out.dtype)
            first = carry[q.name] if carry[q.name] is not None else xp.zeros((1, q.n_neurons), out.dtype)
            carry[q.name] = out[-1:]
            arrived = xp.concatenate([first, out[:-1]]) if steps > 1 else first
            total = arrived if total is None else total + arrived
        return wrap32(total) if self.fixed else total

    def _count(self, pop, msg, g, d, per_sample, per_neuron, index, out_counts):
        """Messages sent in each sample's window (steps kT + d .. kT + T - 1 + d)."""
        xp, T = self.prepared.xp, self.steps
        n = len(per_sample)
        k = g - d
        inside = (k >= 0) & (k < n * T)
        if not inside.any():
            return
        nz = xp.host(msg != 0)[inside]
        sample = k[inside] // T
        i = index[pop.name]
        per_sample[:, i] += np.bincount(sample, weights=nz.sum(1), minlength=n)[:n].astype(np.int64)
        per_neuron[i] += nz.sum(0)
        if out_counts is not None:
            np.add.at(out_counts, sample, nz.astype(np.int64))
