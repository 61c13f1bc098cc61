"""Energy per inference: the SNN from counted events times the profile's per-event constants, the ANN from
its multiply-accumulates times a per-MAC constant. Every term names the profile constant it uses, so each
figure in a report traces to a value with its source (and an [UNVERIFIED] flag where the source is weak).

The SNN model is the event-energy model of Davies et al. 2018 (Table 2): synaptic operations, neuron
updates (active when the neuron spikes that step, inactive otherwise) and spike routing within a tile.
Static power, off-chip I/O and inter-tile hops are not counted; reports say so.
"""
from __future__ import annotations

import dataclasses

import numpy as np

PJ = 1e-12


@dataclasses.dataclass(frozen=True)
class EnergyTerm:
    """count events per inference, each costing the profile constant `constant` (pJ)."""

    name: str
    count: float
    constant: str  # "energy.<field>" in the profile
    pj_each: float
    source: str

    @property
    def joules(self) -> float:
        return self.count * self.pj_each * PJ


def ann_macs(ann, input_shape: tuple[int, ...]) -> list[tuple[str, int]]:
    """Multiply-accumulates per inference of each Linear/Conv2d of an ANN graph (neurokit.convert.ann;
    BatchNorm folded, so it costs nothing; pooling, ReLU and additions are not MACs)."""
    shapes = ann.shapes(input_shape)
    macs = []
    for op in ann.body:
        w = op.params.get("weight")
        if op.kind == "linear":
            macs.append((op.name, int(w.shape[0] * w.shape[1])))
        elif op.kind == "conv":
            per_output = int(np.prod(w.shape[1:]))  # (C_in / groups) * kH * kW
            macs.append((op.name, int(np.prod(shapes[op.name])) * per_output))
    return macs


def _term(profile, name: str, count: float, field: str) -> EnergyTerm:
    c = profile.energy.cited(field)
    return EnergyTerm(name, float(count), f"energy.{field}", float(c.value), c.cite())


def snn_energy(profile, layer_neurons: list[int], layer_spikes: list[float], layer_synops: list[float],
               steps: int) -> list[EnergyTerm]:
    """Per-inference energy terms of the SNN. layer_spikes and layer_synops are means per inference."""
    spikes = float(np.sum(layer_spikes))
    updates = float(np.sum(layer_neurons)) * steps  # every neuron updates every step
    return [
        _term(profile, "synaptic operations", float(np.sum(layer_synops)), "synop_pj"),
        _term(profile, "neuron updates, spiking", spikes, "neuron_update_active_pj"),
        _term(profile, "neuron updates, silent", updates - spikes, "neuron_update_inactive_pj"),
        _term(profile, "spikes routed", spikes, "spike_route_pj"),
    ]


def synop_joules(profile) -> float:
    """Energy of one synaptic operation (energy.synop_pj)."""
    return float(profile.energy.synop_pj) * PJ


def ann_energy(profile, macs: int) -> dict[str, EnergyTerm]:
    return {"fp32": _term(profile, "ANN MACs (fp32)", macs, "ann_mac_fp32_pj"),
            "int8": _term(profile, "ANN MACs (int8)", macs, "ann_mac_int8_pj")}


def total(terms) -> float:
    return float(sum(t.joules for t in terms))


NOT_COUNTED = "static/leakage power, off-chip I/O, inter-tile hops and host time are not counted"
