"""Where a converted network loses accuracy, layer by layer (the error decomposition of the conversion
literature: Rueckauer et al. 2017 sec. 2.3; Bu et al. 2022 "clipping, quantization and unevenness").

Every quantity is a mean absolute difference per neuron and sample in thresholds per step, the unit of a
normalized activation (1 = one spike every step). For layer l, with a_l the normalized ANN activation
(ReLU of W_l a_(l-1) + b_l, a_(-1) the input), r_l the float SNN's rate (spikes / T) and q_l the Loihi
fixed-point SNN's rate:
- saturation: mean(max(a_l - 1, 0)). An SNN neuron fires at most once per step, so activation above the
  layer's scale is lost; this is what the normalization percentile trades against resolution. Local: from
  the ANN's own inputs.
- sampling: mean |r_l - clip(W_l r_(l-1) + b_l, 0, 1)|. What the rate code with T steps adds at this layer
  given the rates it actually receives: the 1/T resolution, the one-step synaptic delay per layer, uneven
  spike timing. It shrinks as T grows.
- quantization: mean |q_l - r_l|. What the fixed-point network (integer weights, biases, thresholds, 24-bit
  state) changes against the float SNN; it accumulates through the layers.
- total: mean |q_l - a_l|, the deployed network's deviation from the ANN.
The last layer's rates include negative ANN outputs the SNN cannot fire for (ReLU applies there too).
"""
from __future__ import annotations

import numpy as np
import torch

KINDS = ("saturation", "sampling", "quantization", "total")


def _forward(layer, x: torch.Tensor) -> torch.Tensor:
    """W x + b of one float layer, float64, (N, n_neurons)."""
    from quantize.headroom import _forward as synapse

    return synapse(layer, x).reshape(len(x), -1) + torch.as_tensor(layer.bias.reshape(-1), dtype=x.dtype)


def layer_rates(backend, net, x: np.ndarray, steps: int, chunk: int = 16) -> list[np.ndarray]:
    """Spikes / steps of every neuron of every layer: per layer (N, n_neurons)."""
    per_layer = [[] for _ in net.layers]
    for i in range(0, len(x), chunk):
        for li, rec in enumerate(backend.record(net, x[i:i + chunk], steps)):
            per_layer[li].append(rec.spikes.reshape(rec.spikes.shape[0], steps, -1).sum(1) / steps)
    return [np.concatenate(p) for p in per_layer]


def decompose(net, qnet, x: np.ndarray, steps: int) -> list[dict]:
    """Per layer of `net` (float SpikingNet) and `qnet` (its quantized form): the four errors on samples x."""
    from .backends.engine import Engine

    phase = [l.name for l in net.layers if l.phase is not None]
    if phase:
        raise ValueError(f"the error decomposition measures rate codes; layer {phase[0]} is phase-coded")
    float_rates = layer_rates(Engine("float", device="cpu"), net, x, steps)
    fixed_rates = layer_rates(Engine("fixed", device="cpu"), qnet, x, steps)
    out = []
    with torch.no_grad():
        ann = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        snn_in = ann
        for li, layer in enumerate(net.layers):
            a = torch.relu(_forward(layer, ann.reshape((len(x),) + tuple(layer.in_shape)))).numpy()
            expected = np.clip(_forward(layer, snn_in.reshape((len(x),) + tuple(layer.in_shape))).numpy(), 0, 1)
            r, q = float_rates[li], fixed_rates[li]
            out.append({
                "layer": layer.name,
                "activation_mean": float(a.mean()),
                "saturation": float(np.maximum(a - 1, 0).mean()),
                "saturated_fraction": float((a > 1).mean()),
                "sampling": float(np.abs(r - expected).mean()),
                "quantization": float(np.abs(q - r).mean()),
                "total": float(np.abs(q - a).mean()),
            })
            ann, snn_in = torch.as_tensor(a), torch.as_tensor(r)
    return out
