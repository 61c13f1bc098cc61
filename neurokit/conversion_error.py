"""Where a converted network loses accuracy, population by population (the error decomposition of the
conversion literature: Rueckauer et al. 2017 sec. 2.3; Bu et al. 2022 "clipping, quantization and
unevenness").

Every quantity is a mean absolute difference per neuron and sample in thresholds per step, the unit of a
normalized activation (1 = one spike every step). For population l, with a_l the normalized ANN activation
(ReLU of sum over projections W a_source + b_l, a_input the input), r_l the float SNN's rate (spikes / T)
and q_l the Loihi fixed-point SNN's rate:
- saturation: mean(max(a_l - 1, 0)). An SNN neuron fires at most once per step, so activation above the
  population's scale is lost; this is what the normalization percentile trades against resolution. Local:
  from the ANN's own inputs.
- sampling: mean |r_l - clip(sum W r_source + b_l, 0, 1)|. What the rate code with T steps adds at this
  population given the rates it actually receives: the 1/T resolution, the one-step synaptic delay per
  projection, uneven spike timing. It shrinks as T grows.
- quantization: mean |q_l - r_l|. What the fixed-point network (integer weights, biases, thresholds, 24-bit
  state) changes against the float SNN; it accumulates through the layers.
- total: mean |q_l - a_l|, the deployed network's deviation from the ANN.
The output population's rates include negative ANN outputs the SNN cannot fire for (ReLU applies there too).
"""
from __future__ import annotations

import numpy as np
import torch

from .network import INPUT, project

KINDS = ("saturation", "sampling", "quantization", "total")


def _drive(net, pop, values: dict, n: int) -> torch.Tensor:
    """sum over projections W x_source + b of one float population, float64, (N, n_neurons)."""
    total = sum(project(q, values[q.source]).reshape(n, -1) for q in net.incoming(pop.name))
    return total + torch.as_tensor(np.asarray(pop.neuron.bias).reshape(-1), dtype=torch.float64)


def layer_rates(backend, net, x: np.ndarray, steps: int, chunk: int = 16) -> list[np.ndarray]:
    """Spikes / steps of every neuron of every population: per population (N, n_neurons)."""
    per_layer = [[] for _ in net.populations]
    for i in range(0, len(x), chunk):
        for li, rec in enumerate(backend.record(net, x[i:i + chunk], steps)):
            per_layer[li].append(rec.spikes.reshape(rec.spikes.shape[0], steps, -1).sum(1) / steps)
    return [np.concatenate(p) for p in per_layer]


def decompose(net, qnet, x: np.ndarray, steps: int) -> list[dict]:
    """Per population of `net` (float Network) and `qnet` (its quantized form): the four errors on samples x."""
    from .backends.engine import Engine

    coded = [p.name for p in net.populations if not p.model.rate_coded]
    if coded:
        raise ValueError(f"the error decomposition measures rate codes; population {coded[0]} is not rate-coded")
    float_rates = layer_rates(Engine("float", device="cpu"), net, x, steps)
    fixed_rates = layer_rates(Engine("fixed", device="cpu"), qnet, x, steps)
    index = {p.name: i for i, p in enumerate(net.populations)}
    n = len(x)
    out = {}
    with torch.no_grad():
        inp = torch.as_tensor(np.asarray(x), dtype=torch.float64)
        ann, snn = {INPUT: inp}, {INPUT: inp}
        for pop in net.order("the error decomposition"):
            a = torch.relu(_drive(net, pop, ann, n)).numpy()
            expected = np.clip(_drive(net, pop, snn, n).numpy(), 0, 1)
            r, q = float_rates[index[pop.name]], fixed_rates[index[pop.name]]
            out[pop.name] = {
                "layer": pop.name,
                "activation_mean": float(a.mean()),
                "saturation": float(np.maximum(a - 1, 0).mean()),
                "saturated_fraction": float((a > 1).mean()),
                "sampling": float(np.abs(r - expected).mean()),
                "quantization": float(np.abs(q - r).mean()),
                "total": float(np.abs(q - a).mean()),
            }
            ann[pop.name], snn[pop.name] = torch.as_tensor(a), torch.as_tensor(r)
    return [out[p.name] for p in net.populations]
