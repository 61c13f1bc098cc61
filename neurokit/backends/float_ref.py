"""Float reference: the spiking network in float64 torch, batched, with Lava's discrete-time semantics
(see neurokit.network). Lava's floating_pt run of the same network matches it up to float rounding."""
from __future__ import annotations

import time

import numpy as np
import torch

from ..encoding import check_encoding, encoding_of, rate_spikes
from ..network import SpikingNet
from ..trace import Trace
from .base import Progress, check_inputs, check_network


def synapse_forward(layer, weight: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    if layer.kind == "conv":
        return torch.nn.functional.conv2d(s, weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)
    return s.flatten(1) @ weight.T


def initial_v(layer) -> np.ndarray:
    return np.zeros(layer.out_shape) if layer.v_init is None else np.asarray(layer.v_init, np.float64)


class FloatReference:
    name = "float"

    def __init__(self, batch_size: int = 250):
        self.batch_size = batch_size

    def run(self, net: SpikingNet, x: np.ndarray, steps: int, progress: Progress | None = None) -> Trace:
        check_network(net, self.name, quantized=False)
        x = check_inputs(net, x)
        rate = encoding_of(net) == "rate"
        if rate:
            check_encoding("rate", x)
        input_events = np.zeros(x.shape[1:])
        t0 = time.perf_counter()
        weights = [torch.from_numpy(l.weight) for l in net.layers]
        biases = [torch.from_numpy(l.bias).unsqueeze(0) for l in net.layers]
        outs, per_layer = [], []
        neuron_spikes = [np.zeros(l.out_shape) for l in net.layers]
        with torch.no_grad():
            for i in range(0, len(x), self.batch_size):
                xb = torch.as_tensor(x[i:i + self.batch_size], dtype=torch.float64)
                n = xb.shape[0]
                v = [torch.from_numpy(initial_v(l)).expand((n,) + l.out_shape).clone() for l in net.layers]
                pending = [torch.zeros_like(vi) for vi in v]  # one step of synaptic delay per layer
                counts = [torch.zeros_like(vi) for vi in v]
                spikes_in = torch.from_numpy(rate_spikes(x[i:i + n], steps, first_index=i)).double() if rate else None
                if rate:
                    input_events += spikes_in.sum((0, 1)).numpy()
                for t in range(steps):
                    s = spikes_in[:, t] if rate else xb
                    for li, layer in enumerate(net.layers):
                        arriving = pending[li]
                        pending[li] = synapse_forward(layer, weights[li], s).reshape(v[li].shape)
                        v[li] += arriving + biases[li]
                        spikes = v[li] > 1.0
                        if layer.reset == "subtract":
                            v[li] -= spikes.double()
                        else:
                            v[li][spikes] = 0.0
                        counts[li] += spikes
                        s = spikes.double()
                outs.append(counts[-1].reshape(n, -1).numpy())
                per_layer.append(np.stack([c.reshape(n, -1).sum(1).numpy() for c in counts], axis=1))
                for li, c in enumerate(counts):
                    neuron_spikes[li] += c.sum(0).numpy()
                if progress:
                    progress(n)
        return Trace(
            backend=self.name, steps=steps, output_counts=np.concatenate(outs).astype(np.int64),
            layer_spikes=np.concatenate(per_layer).astype(np.int64), neuron_spikes=neuron_spikes,
            input_events=input_events if rate else (x != 0).sum(0) * float(steps), wall_s=time.perf_counter() - t0,
        )
