"""What a run records, and the synaptic operations it implies.

A synaptic operation (synop) is one message delivered to one synapse: a spike of neuron j costs
fanout(j) synops in each projection it feeds, fanout being the structural connections of j in that
projection (what the chip's synaptic memory walks, zero weights included). Under current coding the
network's input is graded and sent every step, each nonzero value costing fanout(j) graded synops per step;
under rate coding each input spike costs fanout(j). A phase-coded population reading the held input reads
it in one step only (its integration window), so only that step's messages count. The projection that
stands for netx's bias-driven Input block (neurokit.netx.bias_input_projection: on the chip the sample is
that layer's bias) sends nothing and costs none.
"""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Trace:
    backend: str
    steps: int
    output_counts: np.ndarray  # (N, n_out) spike counts of the output population
    layer_spikes: np.ndarray  # (N, P) total spikes per population per sample (the network's population order)
    neuron_spikes: list[np.ndarray]  # per population: spike count per neuron summed over samples (its shape)
    input_events: np.ndarray  # per input element: messages it sent, summed over samples and steps
    wall_s: float = 0.0
    output_scores: np.ndarray | None = None  # (N, n_out) float: the potential readout, in thresholds (or None)

    @property
    def samples(self) -> int:
        return int(self.output_counts.shape[0])

    def predictions(self) -> np.ndarray:
        """argmax of the output scores when the net is read out by potential (neurokit.network.readout_of),
        else of the output spike counts; ties go to the lowest class index."""
        if self.output_scores is not None:
            return np.argmax(self.output_scores, axis=1)
        return np.argmax(self.output_counts, axis=1)

    def accuracy(self, labels: np.ndarray) -> float:
        return float(np.mean(self.predictions() == np.asarray(labels)[: self.samples]))


def synops_per_projection(net, trace: Trace) -> dict[str, float]:
    """Mean synaptic operations per inference through each projection: its source's messages (the input's,
    or a population's spikes) times each sender's fan-out in it."""
    from .netx import bias_input_projection
    from .network import INPUT, fanout

    index = {p.name: i for i, p in enumerate(net.populations)}
    out = {}
    free = bias_input_projection(net)
    for q in net.projections:
        if q.name == free:
            out[q.name] = 0.0
            continue
        f = fanout(q)
        events = trace.input_events if q.source == INPUT else trace.neuron_spikes[index[q.source]]
        out[q.name] = float(np.sum(np.asarray(events).reshape(f.shape) * f)) / max(trace.samples, 1)
    return out

