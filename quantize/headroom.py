"""How close each population comes to the chip's state and rate limits, estimated from calibration data.

Two sources:
- the rate model of the float network: population p asks for d_p = sum over projections W r_source + b_p
  thresholds per step, with r_input the input and r_p = clip(d_p, 0, max rate). A neuron that asks for
  d > max rate fires at the max rate and the rest is lost; its v climbs by d - max rate per step. With
  d < 0, v falls by |d|.
- the integers of the quantized projections: one step's synaptic input enters u as the sum over
  projections of (W8 . s) << (weight_exp + 6), and u wraps at the state width. For a population fed only by
  the graded network input u is computed exactly on the calibration inputs; spiking inputs give a worst
  case: every excitatory input spiking in the same step.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from neurokit.network import INPUT, project

# Percentile normalization (99.9 by default) clips about 0.1 % of activations by design; warn above 1 %.
RATE_SATURATION_TOLERANCE = 0.01


def max_rate(profile) -> float:
    """Spikes per step a neuron can reach: max_spikes_per_step, once per refractory delay."""
    return profile.neuron.max_spikes_per_step / profile.neuron.refractory_delay_min


def rate_demand(net, calibration: np.ndarray, rate_cap: float, batch: int = 64) -> dict[str, dict]:
    """Per population of the float net: what the calibration inputs ask of its neurons, in thresholds per step."""
    order = net.order("the rate model of quantization")
    stats = {p.name: dict(demand_max=-math.inf, demand_min=math.inf, saturated=0, count=0, u_max=0.0)
             for p in order}
    with torch.no_grad():
        for i in range(0, len(calibration), batch):
            # an estimate: float32 will do
            rates = {INPUT: torch.as_tensor(np.asarray(calibration[i:i + batch]), dtype=torch.float32)}
            for pop in order:
                s = stats[pop.name]
                syn = sum(project(q, rates[q.source]) for q in net.incoming(pop.name))
                d = syn + torch.as_tensor(pop.neuron.bias, dtype=torch.float32).reshape(1, *syn.shape[1:])
                s["demand_max"] = max(s["demand_max"], float(d.max()))
                s["demand_min"] = min(s["demand_min"], float(d.min()))
                s["saturated"] += int((d > rate_cap).sum())
                s["count"] += d.numel()
                s["u_max"] = max(s["u_max"], float(syn.abs().max()))
                # a rate-coded population fires at most rate_cap per step; others (sigma-delta) send any ReLU
                rates[pop.name] = d.clamp(0.0, rate_cap) if pop.model.rate_coded else d.clamp(min=0.0)
    return stats


def simulated_demand(net, calibration: np.ndarray, rate_cap: float, samples: int = 64, steps: int = 32) -> dict:
    """rate_demand's statistics from simulating the float network (engine, float) on calibration data: what
    leaky, recurrent and sequence-driven populations see, which no rate model gives. Per population, in
    thresholds: u (the current, a_in and its decay) and u + bias per step."""
    import warnings

    from neurokit.backends.base import is_sequence
    from neurokit.backends.engine import Engine

    x = np.asarray(calibration)[:samples]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = Engine("float", device="cpu").record(net, x, None if is_sequence(net, x) else steps)
    stats = {}
    for pop, rec in zip(net.populations, records):
        u = rec.u.reshape(rec.u.shape[:2] + (-1,))
        d = u + np.asarray(pop.neuron.bias, np.float64).reshape(1, 1, -1)
        # a simulated neuron spikes at most once per step by construction: no rate to saturate
        stats[pop.name] = dict(demand_max=float(d.max()), demand_min=float(d.min()), saturated=0, count=int(d.size),
                               u_max=float(np.abs(u).max(initial=0.0)))
    return stats


def graded_u_peak(projections, x_int: np.ndarray, arith, batch: int = 64) -> float:
    """Largest |u| (raw units) the graded network input gives through `projections` on the calibration
    inputs: sum of the integer synaptic sums, each shifted by its weight exponent and the activation shift."""
    peak = 0.0
    with torch.no_grad():
        for i in range(0, len(x_int), batch):
            x = torch.as_tensor(np.asarray(x_int[i:i + batch]), dtype=torch.float64)  # exact below 2**53
            u = sum(project(q, x, q.weight.astype(np.float64)) * 2.0 ** (q.weight_exp + arith.activation_shift)
                    for q in projections)
            peak = max(peak, float(u.abs().max()))
    return peak


def binary_u_bound(proj, arith) -> np.ndarray:
    """Largest |u| (raw units) binary spikes can give through one projection in one step, per target neuron
    (a conv projection per output channel, a whole kernel as inside the map): all excitatory (or all
    inhibitory) inputs at once. Shaped to broadcast over the target's shape."""
    w = proj.weight.astype(np.float64)
    per_out = w.reshape(len(w), -1)
    worst = np.maximum(np.clip(per_out, 0, None).sum(1), -np.clip(per_out, None, 0).sum(1))
    worst = worst * 2.0 ** (proj.weight_exp + arith.activation_shift)
    return worst.reshape(-1, 1, 1) if proj.kind == "conv" else worst


def population_headroom(projections, pop, demand: dict, profile, x_int: np.ndarray, arith) -> dict:
    """u and v headroom and rate saturation of one quantized population, in raw state units and thresholds.
    projections: the quantized projections into it; x_int: the calibration inputs as integers."""
    n = profile.neuron
    state_max = (1 << (n.state_bits - 1)) - 1
    thr = pop.neuron.vth * 2.0 ** n.threshold_shift  # one threshold in raw v units
    cap = max_rate(profile)
    graded = [q for q in projections if q.graded_input_bits]
    binary = [q for q in projections if not q.graded_input_bits]
    if graded and not binary:  # only the graded input: exact on the calibration data
        u_peak, u_source = graded_u_peak(graded, x_int, arith), "calibration (exact)"
        u_bound = u_peak
    else:
        u_peak, u_source = demand["u_max"] * thr, "calibration (rate model)"
        u_bound = float(np.max(sum(binary_u_bound(q, arith) for q in binary), initial=0.0))
        if graded:
            u_bound += graded_u_peak(graded, x_int, arith)
    up = max(demand["demand_max"] - cap, 0.0)  # v climbs by this many thresholds per step
    down = max(-demand["demand_min"], 0.0)
    return {
        "u": {"peak": u_peak, "peak_from": u_source, "worst_case": u_bound, "limit": state_max,
              "headroom_bits": _bits(state_max, u_peak), "worst_case_headroom_bits": _bits(state_max, u_bound),
              "wraps": u_peak > state_max, "may_wrap": u_bound > state_max},
        "v": {"limit": state_max, "threshold_raw": thr, "saturation_thresholds": state_max / thr,
              "climb_per_step": up, "fall_per_step": down,
              "steps_to_saturate_up": (state_max - thr) / (up * thr) if up > 0 else None,
              "steps_to_saturate_down": state_max / (down * thr) if down > 0 else None},
        "rate": {"max_rate": cap, "demand_max": demand["demand_max"],
                 "saturated_fraction": demand["saturated"] / max(demand["count"], 1)},
    }


def sigma_delta_headroom(pop, demand: dict, profile) -> dict:
    """How close a sigma-delta population's state comes to the chip's signed state width on calibration data
    (the float activations times its scale V): sigma before the bias, act = relu(sigma + bias)."""
    state_max = (1 << (profile.neuron.state_bits - 1)) - 1
    scale = pop.neuron.scale
    peak = max(demand["u_max"], demand["demand_max"], -demand["demand_min"], 0.0) * scale
    return {
        "u": {"peak": peak, "peak_from": "calibration (float activations)", "worst_case": peak, "limit": state_max,
              "headroom_bits": _bits(state_max, peak), "worst_case_headroom_bits": _bits(state_max, peak),
              "wraps": peak > state_max, "may_wrap": peak > state_max},
        "v": {"limit": state_max, "threshold_raw": float(scale), "saturation_thresholds": state_max / scale},
        "rate": {"max_rate": None, "demand_max": demand["demand_max"], "saturated_fraction": 0.0},
    }


def _bits(limit: float, value: float) -> float | None:
    """Spare bits before `value` reaches `limit` (negative: over by that many bits); None for zero."""
    return math.log2(limit / value) if value > 0 else None


def warnings_for(name: str, h: dict, profile, model) -> list[str]:
    """Warnings a user must see: u wrapping on calibration data, rate saturation beyond the tolerance (for
    rate-coded neuron models; a model whose u saturates says so instead of wrapping)."""
    out = []
    n = profile.neuron
    u, rate, v = h["u"], h["rate"], h["v"]
    if u["wraps"]:
        effect = "u wraps and flips sign" if model.u_wraps else "the accumulator saturates"
        out.append(f"layer {name}: synaptic input u reaches {u['peak']:.3g} on calibration data, beyond the "
                   f"{n.state_bits}-bit state ({u['limit']:,}, neuron.state_bits): {effect}; "
                   "quantize with a larger headroom or fewer input bits")
    if rate["saturated_fraction"] > RATE_SATURATION_TOLERANCE and model.rate_coded:
        mx = n.cited("max_spikes_per_step").cite()
        out.append(f"layer {name}: {rate['saturated_fraction']:.1%} of calibration activations ask for more than "
                   f"{rate['max_rate']:g} spike per step (up to {rate['demand_max']:.2f}; neuron.max_spikes_per_step "
                   f"= {n.max_spikes_per_step}, {mx}); they saturate at {rate['max_rate']:g}, losing up to "
                   f"{1 - rate['max_rate'] / rate['demand_max']:.0%} of the largest activations, and v climbs "
                   f"{v['climb_per_step']:.2f} thresholds per step; normalize with a higher percentile")
    return out


def refractory_warning(profile) -> str | None:
    """neurokit's IF neurons must be able to spike in consecutive steps (refractory delay 1)."""
    n = profile.neuron
    if n.refractory_delay_min <= 1 <= n.refractory_delay_max:
        return None
    return (f"profile {profile.name}: refractory delays run {n.refractory_delay_min}..{n.refractory_delay_max} steps "
            f"(neuron.refractory_delay_min, {n.cited('refractory_delay_min').cite()}); neurokit's IF neurons need "
            f"1 (a spike in consecutive steps), so every neuron is capped at {max_rate(profile):g} spikes per step")
