"""Energy per inference under several models, every figure with its range, and the break-even analysis.

Operation counts (op_counts) follow NeuroBench's published definitions of synaptic operations
(NeuroBench/neurobench docs/metrics/workload_metrics/synaptic_operations.rst and metrics/utils/layers;
docs/references.md D.4): per projection, the effective operations are the synapses a nonzero input reaches
through a nonzero weight (zero activations and zero weights excluded, the bias excluded); they are
accumulates (ACs) when the projection's input is binary (spikes) and multiply-accumulates (MACs) when it is
graded (a current-coded input frame, sigma-delta messages); none through the projection that stands for
netx's bias-driven Input block (the sample is that layer's bias on the chip). tests/test_energy_report.py
checks them against neurobench's own counter, single_layer_MACs, on the same layers where the package is
installed. Beside them:
the structural synaptic operations Loihi's synaptic memory walks (zero weights included: what the chip
pays for), messages sent, and neuron updates (every neuron every step, active when it fires).

Energy models, each a sum of terms count x constant(s) from the profile's [energy] section, where every
constant carries value, low, high, source and verified flag:
  loihi         the per-op event model of Davies et al. 2018 (Table 2; Loihi 1 figures as Loihi 2 proxy):
                structural synops, neuron updates (active / idle), and routing: core-to-core messages and
                tile hops when the run was placed (neurokit.fit.routing), else one within-tile route per spike;
  loihi_static  the same plus static power x latency (T steps x step time, per chip used);
  paper_45nm    the conversion papers' convention: effective ACs x 0.9 pJ + effective MACs x 4.6 pJ
                (Horowitz 2014, 45 nm), no neuron updates, no static power;
against the ANN's dense MACs x 4.6 pJ (fp32) or x 0.23 pJ (int8), 45 nm. A figure's range takes every
constant at its low, then at its high (all terms grow with their constants).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

PJ = 1e-12

NEUROBENCH = ("NeuroBench's published definitions (neurobench docs/metrics/workload_metrics/"
              "synaptic_operations.rst): effective ACs for binary input, effective MACs for graded input, zero "
              "activations and zero weights excluded, bias excluded")


@dataclasses.dataclass(frozen=True)
class EnergyTerm:
    """count events per inference, each costing the product of the profile constants `constants` x unit J."""

    name: str
    count: float
    constant: str  # "energy.<field>", the first (for a product, e.g. static power x step time, see `constants`)
    pj_each: float  # the product of the constants' values, in pJ per event
    source: str
    low_pj: float = math.nan
    high_pj: float = math.nan
    constants: tuple[str, ...] = ()

    @property
    def joules(self) -> float:
        return self.count * self.pj_each * PJ

    @property
    def joules_low(self) -> float:
        return self.count * self.low_pj * PJ

    @property
    def joules_high(self) -> float:
        return self.count * self.high_pj * PJ

    def to_dict(self) -> dict:
        return dict(name=self.name, count=self.count, constant=self.constant, constants=list(self.constants),
                    pj_each=self.pj_each, pj_low=self.low_pj, pj_high=self.high_pj, joules=self.joules,
                    joules_low=self.joules_low, joules_high=self.joules_high, source=self.source)


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


# ---- operation counts ------------------------------------------------------------------------------------

def nonzero_fanout(proj) -> np.ndarray:
    """Synapses with a nonzero weight that each presynaptic neuron of `proj` reaches (shape proj.in_shape):
    NeuroBench's binarised layer (weights != 0 -> 1) applied to a one-hot input."""
    import torch

    w = np.asarray(proj.weight)
    if proj.kind == "dense":
        return (w != 0).sum(0).reshape(proj.in_shape).astype(np.float64)
    x = torch.zeros((1,) + tuple(proj.in_shape), dtype=torch.float64, requires_grad=True)
    k = torch.as_tensor((w != 0).astype(np.float64))
    y = torch.nn.functional.conv2d(x, k, None, tuple(proj.stride), tuple(proj.padding), tuple(proj.dilation),
                                   proj.groups)
    y.sum().backward()
    return x.grad[0].numpy()


def graded_source(net, proj) -> bool:
    """Whether `proj` carries graded values (MACs under NeuroBench) rather than binary spikes (ACs): the
    network's input unless rate-coded, and populations that send graded messages (sigma-delta)."""
    from .encoding import encoding_of
    from .network import INPUT

    if proj.source == INPUT:
        return encoding_of(net) != "rate"
    return net.population(proj.source).model.graded_output_bits > 0


def op_counts(net, trace) -> dict[str, dict]:
    """Per projection, mean per inference: messages its source sent, effective operations (NeuroBench:
    nonzero inputs x nonzero weights) and whether they are ACs or MACs, and NeuroBench's dense count (every
    input at every step x every synapse)."""
    from .netx import bias_input_projection
    from .network import INPUT, fanout

    index = {p.name: i for i, p in enumerate(net.populations)}
    n = max(trace.samples, 1)
    out = {}
    free = bias_input_projection(net)
    for q in net.projections:
        if q.name == free:  # netx's bias-driven Input block: the sample is a bias on the chip, no messages
            out[q.name] = {"messages": 0.0, "effective_ops": 0.0, "op_kind": "MAC", "dense_ops": 0.0}
            continue
        events = np.asarray(trace.input_events if q.source == INPUT else trace.neuron_spikes[index[q.source]],
                            dtype=np.float64).reshape(q.in_shape)
        graded = graded_source(net, q)
        out[q.name] = {
            "messages": float(events.sum()) / n,
            "effective_ops": float(np.sum(events * nonzero_fanout(q))) / n,
            "op_kind": "MAC" if graded else "AC",
            "dense_ops": float(np.sum(fanout(q))) * trace.steps,
        }
    return out


def counts_of(run: dict, steps: int) -> dict:
    """Totals and per-layer counts from a run summary (neurokit.pipeline.summarize_run). Projections carry
    NeuroBench counts since record version 2; without them (a hand-made record) the structural synops into
    each layer stand in for its ACs, and counts['neurobench'] is False."""
    layers, projections = run["layers"], run.get("projections") or []
    neurobench = bool(projections) and all("effective_ops" in p for p in projections)
    per_layer = []
    for l in layers:
        into = [p for p in projections if p.get("target") == l["name"]]
        if neurobench:
            acs = sum(p["effective_ops"] for p in into if p["op_kind"] == "AC")
            macs = sum(p["effective_ops"] for p in into if p["op_kind"] == "MAC")
            dense = sum(p["dense_ops"] for p in into)
        else:
            acs, macs, dense = float(l["synops"]), 0.0, None
        updates = float(l["neurons"]) * steps
        per_layer.append({"name": l["name"], "neurons": l["neurons"], "spikes": float(l["spikes"]),
                          "synops": float(l["synops"]), "effective_acs": acs, "effective_macs": macs,
                          "dense_ops": dense, "neuron_updates": updates,
                          "neuron_updates_active": min(float(l["spikes"]), updates),
                          "neuron_updates_idle": max(updates - float(l["spikes"]), 0.0)})
    total = {k: float(sum(l[k] for l in per_layer)) for k in
             ("neurons", "spikes", "synops", "effective_acs", "effective_macs", "neuron_updates",
              "neuron_updates_active", "neuron_updates_idle")}
    total["dense_ops"] = float(sum(l["dense_ops"] for l in per_layer)) if neurobench else None
    # mesh traffic (neurokit.fit.routing), per target layer, when the run was placed
    mesh = bool(projections) and all("mesh_messages" in p for p in projections)
    for l in per_layer:
        into = [p for p in projections if p.get("target") == l["name"]] if mesh else []
        for k, field in MESH_COUNTS.items():
            l[k] = float(sum(p[field] or 0.0 for p in into)) if mesh else None
    for k in MESH_COUNTS:
        total[k] = float(sum(l[k] for l in per_layer)) if mesh else None
    # messages sent: every population's spikes (or graded messages) and the input's, once per sender
    inputs = [p["messages"] for p in projections if p.get("source") == "input" and "messages" in p]
    total["messages"] = total["spikes"] + (float(inputs[0]) if inputs else 0.0)
    return {"neurobench": neurobench, "definition": NEUROBENCH if neurobench else
            "structural synops stand in for ACs (the record has no per-projection counts)",
            "mesh": run.get("mesh") if mesh else None, "total": total, "layers": per_layer}


# count -> the projection field (neurokit.pipeline.summarize_run) it sums
MESH_COUNTS = {"mesh_messages": "mesh_messages", "hops_ew": "mesh_hops_ew", "hops_ns": "mesh_hops_ns",
               "chip_crossings": "mesh_chip_crossings", "bits_moved": "mesh_bits_moved"}


def placed(profile, counts: dict) -> bool:
    """Whether routing is priced per message and hop: the run has mesh counts and the profile their prices."""
    return counts["total"].get("hops_ew") is not None and profile.has_mesh


def route_terms(profile, counts: dict) -> list[EnergyTerm]:
    """Routing energy: per core-to-core message and tile hop when the run was placed (neurokit.fit.routing),
    else one within-tile route per spike (spike_route_pj, whose high adds one tile hop)."""
    t = counts["total"]
    if not placed(profile, counts):
        return [_term(profile, "spikes routed", t["spikes"], "spike_route_pj")]
    return [_term(profile, "messages core to core", t["mesh_messages"], "message_pj"),
            _term(profile, "tile hops east-west", t["hops_ew"], "hop_ew_pj"),
            _term(profile, "tile hops north-south", t["hops_ns"], "hop_ns_pj")]


# ---- energy models -----------------------------------------------------------------------------------------

MODELS = {
    "loihi": ("Loihi per-op", "Davies et al. 2018 Table 2 event energies (Loihi 1 as Loihi 2 proxy): synops the "
              "chip walks (zero weights included), neuron updates active and idle, and messages with their tile hops "
              "on the fit's placement (or, unplaced, one within-tile route per spike)"),
    "loihi_static": ("Loihi per-op + static", "the per-op model plus static power x latency (T steps x step time, "
                     "per chip used)"),
    "paper_45nm": ("papers' 45 nm", "the conversion papers' convention after Horowitz 2014: effective ACs x "
                   "0.9 pJ + effective MACs x 4.6 pJ; neuron updates and static power not counted"),
}
BASELINES = {"ann_fp32": ("ANN fp32 45 nm", "ann_mac_fp32_pj"), "ann_int8": ("ANN int8 45 nm", "ann_mac_int8_pj")}
COMPARE = {"loihi": ("ann_fp32", "ann_int8"), "loihi_static": ("ann_fp32", "ann_int8"), "paper_45nm": ("ann_fp32",)}


def _term(profile, name: str, count: float, *fields: str, unit_pj: float = 1.0) -> EnergyTerm:
    """count x the product of the profile's energy constants `fields` x unit_pj, in pJ."""
    cited = [profile.energy.cited(f) for f in fields]
    value = low = high = unit_pj
    for c in cited:
        lo, v, hi = c.span
        value, low, high = value * v, low * lo, high * hi
    source = "; ".join(c.cite() for c in cited)
    return EnergyTerm(name, float(count), f"energy.{fields[0]}", float(value), source, float(low), float(high),
                      tuple(f"energy.{f}" for f in fields))


def model_terms(profile, counts: dict, steps: int, chips: int = 1) -> dict[str, list[EnergyTerm]]:
    """Each model's terms per inference from counts_of()['total']."""
    t = counts["total"]
    per_op = [
        _term(profile, "synaptic operations", t["synops"], "synop_pj"),
        _term(profile, "neuron updates, spiking", t["neuron_updates_active"], "neuron_update_active_pj"),
        _term(profile, "neuron updates, silent", t["neuron_updates_idle"], "neuron_update_inactive_pj"),
    ] + route_terms(profile, counts)
    # W x us = 1e-6 J = 1e6 pJ per chip-step
    static = _term(profile, "static power x latency (chip-steps)", steps * chips, "static_power_w", "step_time_us",
                   unit_pj=1e6)
    paper = [_term(profile, "effective ACs", t["effective_acs"], "paper_ac_pj"),
             _term(profile, "effective MACs", t["effective_macs"], "paper_mac_pj")]
    return {"loihi": per_op, "loihi_static": per_op + [static], "paper_45nm": paper}


def baseline_terms(profile, macs: int) -> dict[str, EnergyTerm]:
    return {k: _term(profile, f"ANN MACs ({title.split()[1]})", macs, field) for k, (title, field) in BASELINES.items()}


def _sum(terms) -> tuple[float, float, float]:
    return (float(sum(t.joules_low for t in terms)), float(sum(t.joules for t in terms)),
            float(sum(t.joules_high for t in terms)))


def _max_steps(budget: float, per_step: float) -> int | None:
    """The largest whole T with T x per_step <= budget; 0 when not even one step fits; None: unbounded."""
    if per_step <= 0:
        return None
    return int(math.floor(budget / per_step * (1 + 1e-12)))


UPDATE_TERMS = ("neuron updates, spiking", "neuron updates, silent")


def is_step_term(t: EnergyTerm) -> bool:
    """Terms paid every step whatever the input: neuron updates and static power."""
    return t.name in UPDATE_TERMS or t.name.startswith("static")


def split_by_steps(terms: list[EnergyTerm], events_scale: bool) -> dict:
    """The energy as per-step (grows with T) and per-sample (fixed) parts, each (low, value, high): neuron
    updates and static power grow with T; events (synops, routing, ACs, MACs) grow with T when rates per step
    hold (rate coding) and not when each sample's messages are sent once (sigma-delta streams)."""
    step = [t for t in terms if is_step_term(t) or events_scale]
    fixed = [t for t in terms if t not in step]
    return {"per_run_steps": _sum(step), "per_sample": _sum(fixed)}


def energy_at(split: dict, steps: int, at: float, which: int = 1) -> float:
    """Energy at `at` steps from a run at `steps` (which: 0 low, 1 value, 2 high)."""
    return split["per_sample"][which] + split["per_run_steps"][which] * at / steps


def _largest_steps(split: dict, steps: int, budget: float, which: int) -> int | None:
    fixed, step = split["per_sample"][which], split["per_run_steps"][which] / steps
    if fixed >= budget:
        return 0
    return _max_steps(budget - fixed, step)


def break_even(model: str, terms: list[EnergyTerm], baseline: str, base: EnergyTerm, steps: int, counts: dict,
               macs: int, events_scale: bool = True) -> dict:
    """Whether the SNN costs less than the ANN under one model, the largest T at which it still would (neuron
    updates and static power grow with T; events too when events_scale, else they are paid once per sample),
    the neuron-update share (the floor no spike sparsity removes), synops per MAC and what would change the
    verdict."""
    lo, e, hi = _sum(terms)
    split = split_by_steps(terms, events_scale)
    ann_lo, ann, ann_hi = base.joules_low, base.joules, base.joules_high
    t = counts["total"]
    updates = [x for x in terms if x.name in UPDATE_TERMS]
    upd = sum(x.joules for x in updates)
    # the floor: every neuron updates every step, idle at the least, whatever the spikes
    idle_each = next((x.pj_each for x in updates if x.name == "neuron updates, silent"), 0.0) * PJ
    floor_per_step = t["neurons"] * idle_each
    if model == "paper_45nm":
        syn_terms = terms
        ops = t["effective_acs"] + t["effective_macs"]
        syn_note = "effective ops (ACs + MACs)"
    else:
        syn_terms = [x for x in terms if x.name == "synaptic operations"]
        ops = t["synops"]
        syn_note = "synops"
    syn = sum(x.joules for x in syn_terms)
    other = e - syn
    out = {
        "model": model, "baseline": baseline, "steps": steps,
        "snn_j": e, "snn_j_low": lo, "snn_j_high": hi, "ann_j": ann, "ann_j_low": ann_lo, "ann_j_high": ann_hi,
        "ratio": e / ann if ann else None, "ratio_low": lo / ann_hi if ann_hi else None,
        "ratio_high": hi / ann_lo if ann_lo else None,
        "snn_cheaper": bool(e < ann), "snn_cheaper_low": bool(lo < ann_hi), "snn_cheaper_high": bool(hi < ann_lo),
        "max_steps": _largest_steps(split, steps, ann, 1), "max_steps_low": _largest_steps(split, steps, ann_lo, 2),
        "max_steps_high": _largest_steps(split, steps, ann_hi, 0), "events_scale_with_steps": events_scale,
        "neuron_update_share": upd / e if e else 0.0,
        "floor_max_steps": _max_steps(ann, floor_per_step) if floor_per_step else None,
        "synops_per_mac": ops / macs if macs else None,
        "breakeven_synops_per_mac": ((ann - other) / (syn / ops) / macs) if (macs and ops and syn and ann > other) else
                                    (0.0 if macs else None),
        "ops_counted": syn_note,
    }
    out["changes"] = _changes(out, terms, syn_note)
    out["verdict"] = _verdict(out)
    return out


def _verdict(b: dict) -> str:
    r = b["ratio"]
    spread = f" (range {b['ratio_low']:.3g}-{b['ratio_high']:.3g})"
    if b["snn_cheaper"]:
        return (f"the SNN costs {r:.3g}x the ANN{spread}: cheaper by {1 / r:.3g}x at T = {b['steps']}, "
                f"and up to T = {b['max_steps']}")
    return f"the SNN costs {r:.3g}x the ANN{spread}: the ANN is cheaper at T = {b['steps']}"


def _changes(b: dict, terms: list[EnergyTerm], syn_note: str) -> list[str]:
    """What would change the verdict, one sentence each."""
    T, out = b["steps"], []
    ms = b["max_steps"]
    if ms is not None and ms >= 1:
        out.append(f"time steps: the SNN costs less than the ANN for T <= {ms} at today's rates "
                   f"(range {b['max_steps_low']}-{b['max_steps_high']}); whether accuracy holds there is the "
                   "T sweep's question")
    elif ms is None and b["snn_cheaper"]:
        out.append("time steps: any T (nothing this model counts grows with T)")
    elif ms == 0 and b["events_scale_with_steps"]:
        out.append(f"time steps: no T >= 1 wins; one step alone costs {b['snn_j'] / T / b['ann_j']:.3g}x the ANN")
    elif ms == 0:
        out.append("time steps: no T >= 1 wins; each sample's messages (sent once, not per step) alone cost "
                   "more than the ANN")
    if not b["events_scale_with_steps"]:
        out.append("this network sends each sample's messages once (sigma-delta): only neuron updates and static "
                   "power grow with T")
    if b["floor_max_steps"] is not None:
        out.append(f"neuron updates ({100 * b['neuron_update_share']:.0f} % of the SNN's energy) are the floor: "
                   f"with no spikes at all they alone exceed the ANN beyond T = {b['floor_max_steps']}; fewer "
                   "neurons or steps, not sparsity, move it")
    spm, be = b["synops_per_mac"], b["breakeven_synops_per_mac"]
    if spm is not None:
        if be:
            out.append(f"sparsity: {syn_note} per ANN MAC must fall from {spm:.3g} to {be:.3g} at T = {T} "
                       f"({spm / be:.3g}x fewer) for the SNN to break even" if spm > be else
                       f"sparsity: {syn_note} per ANN MAC could rise from {spm:.3g} to {be:.3g} at T = {T} before "
                       "the ANN wins")
        else:
            out.append(f"sparsity: no {syn_note} count breaks even at T = {T}: the other terms alone "
                       "(neuron updates, routing, static) exceed the ANN")
    if not b["snn_cheaper"]:
        out.append(f"constants: the SNN's per-event energies would have to fall {b['ratio']:.3g}-fold (or the ANN's "
                   f"per-MAC energy rise as much) for the SNN to win at T = {T}")
    static = [x for x in terms if x.name.startswith("static")]
    if static and b["snn_j"]:
        share = static[0].joules / b["snn_j"]
        out.append(f"static power x latency is {100 * share:.0f} % of it ({static[0].pj_each * PJ * 1e6:.3g} µJ "
                   f"per chip-step, range {static[0].low_pj * PJ * 1e6:.3g}-{static[0].high_pj * PJ * 1e6:.3g}): a "
                   "shorter step moves it most")
    return out


def measured_term(measured: dict) -> EnergyTerm:
    """The ANN's measured energy per inference (neurokit.ann_energy) as a baseline term: one inference."""
    pj = measured["joules_per_inference"] / PJ
    return EnergyTerm(f"ANN measured ({measured['device']})", 1.0, "measured", pj, measured["note"], pj, pj,
                      ("measured",))


def energy_section(profile, counts: dict, steps: int, macs: int, chips: int = 1,
                   macs_per_layer: list | None = None, events_scale: bool = True,
                   ann_measured: dict | None = None) -> dict:
    """The report's energy: every model's terms and totals with ranges, the ANN baselines (the 45 nm MAC
    estimates, and the ANN measured on a device when ann_measured holds a measurement), per-layer energy and
    the break-even analysis."""
    models = model_terms(profile, counts, steps, chips)
    bases = baseline_terms(profile, macs)
    titles = {k: t for k, (t, _) in BASELINES.items()}
    compare = dict(COMPARE)
    if ann_measured and ann_measured.get("measured"):
        bases["ann_measured"] = measured_term(ann_measured)
        titles["ann_measured"] = (f"ANN measured, {ann_measured['name']} ({ann_measured['device']}, batch "
                                  f"{ann_measured['batch_size']})")
        compare = {k: v + ("ann_measured",) if k != "paper_45nm" else v for k, v in COMPARE.items()}
    out_models = {}
    for key, terms in models.items():
        lo, e, hi = _sum(terms)
        out_models[key] = {"title": MODELS[key][0], "description": MODELS[key][1], "joules": e, "joules_low": lo,
                           "joules_high": hi, "terms": [t.to_dict() for t in terms],
                           **split_by_steps(terms, events_scale)}
    out_bases = {k: {"title": titles[k], "joules": t.joules, "joules_low": t.joules_low,
                     "joules_high": t.joules_high, "terms": [t.to_dict()]} for k, t in bases.items()}
    be = []
    if macs:
        for key, terms in models.items():
            for b in compare[key]:
                be.append(break_even(key, terms, b, bases[b], steps, counts, macs, events_scale))
    e = profile.energy
    per_layer = []
    for i, l in enumerate(counts["layers"]):
        # routing as the model prices it: the layer's own spikes when unplaced; the messages sent into it when
        # placed (with its synops)
        route = sum(t.joules for t in route_terms(profile, {"total": l}))
        syn, act, idle = (l["synops"] * e.synop_pj, l["neuron_updates_active"] * e.neuron_update_active_pj,
                          l["neuron_updates_idle"] * e.neuron_update_inactive_pj)
        m = (macs_per_layer or [None] * len(counts["layers"]))[i]
        per_layer.append({**l, "loihi_synops_j": syn * PJ, "loihi_updates_j": (act + idle) * PJ,
                          "loihi_route_j": route, "loihi_j": (syn + act + idle) * PJ + route,
                          "paper_45nm_j": (l["effective_acs"] * e.paper_ac_pj + l["effective_macs"] * e.paper_mac_pj) * PJ,
                          "ann_macs": m, "ann_fp32_j": None if m is None else m * e.ann_mac_fp32_pj * PJ})
    return {"models": out_models, "baselines": out_bases, "break_even": be, "layers": per_layer,
            "counts": counts, "chips": chips, "steps": steps, "ann_macs": macs, "ann_measured": ann_measured,
            "ranges": "low/high: every constant at its profile low, then at its high (the spread between published "
                      "readings, not a confidence interval)",
            "events_scale_with_steps": events_scale,
            "scaling": ("against T: neuron updates, static power and events grow with T (rates per step as measured)"
                        if events_scale else "against T: neuron updates and static power grow with T; each sample's "
                        "messages are sent once (sigma-delta), as measured")}


# ---- the older single-model helpers (the report's energy_terms; kept for callers) ---------------------------

def snn_energy(profile, layer_neurons: list[int], layer_spikes: list[float], layer_synops: list[float],
               steps: int) -> list[EnergyTerm]:
    """Per-inference Loihi per-op terms of the SNN. layer_spikes and layer_synops are means per inference."""
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


NOT_COUNTED = ("off-chip I/O, chip-to-chip links, routing headers, host time, and (in the per-op model) static power are "
               "not counted; the 'Loihi per-op + static' model adds static power x latency")
