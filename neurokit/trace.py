"""What a run records, and the synaptic operations it implies.

A synaptic operation (synop) is one message delivered to one synapse: a spike of neuron j costs
fanout(j) synops, fanout being the structural connections of j in the next synapse layer (what the
chip's synaptic memory walks, zero weights included). Under current coding the first layer's input is
graded and sent every step, each nonzero value costing fanout(j) graded synops per step; under rate coding
each input spike costs fanout(j). A phase-coded first layer reads the held input in one step only (its
integration window), so only that step's messages count.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch


@dataclasses.dataclass
class Trace:
    backend: str
    steps: int
    output_counts: np.ndarray  # (N, n_out) spike counts of the last layer
    layer_spikes: np.ndarray  # (N, L) total spikes per layer per sample
    neuron_spikes: list[np.ndarray]  # per layer: spike count per neuron summed over samples (out_shape)
    input_events: np.ndarray  # per input element: messages it sent into layer 0, summed over samples and steps
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


def fanout(layer) -> np.ndarray:
    """Structural fan-out of each presynaptic neuron of `layer` (shape layer.in_shape)."""
    if layer.kind == "dense":
        return np.full(layer.in_shape, float(np.prod(layer.out_shape)))
    x = torch.zeros((1,) + tuple(layer.in_shape), dtype=torch.float64, requires_grad=True)
    k = torch.ones(layer.weight.shape, dtype=torch.float64)
    y = torch.nn.functional.conv2d(x, k, None, layer.stride, layer.padding, layer.dilation, layer.groups)
    y.sum().backward()
    return x.grad[0].numpy()


def synops_per_layer(layers, trace: Trace) -> np.ndarray:
    """Mean synaptic operations per inference into each layer (index 0: input messages)."""
    out = []
    for i, layer in enumerate(layers):
        f = fanout(layer)
        if i == 0:
            events = trace.input_events.reshape(f.shape)
        else:
            events = trace.neuron_spikes[i - 1].reshape(f.shape)
        out.append(float(np.sum(events * f)) / max(trace.samples, 1))
    return np.array(out)
