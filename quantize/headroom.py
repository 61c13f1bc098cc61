"""How close each layer comes to the chip's state and rate limits, estimated from calibration data.

Two sources:
- the rate model of the float network: layer l asks for d_l = W_l r_(l-1) + b_l thresholds per step,
  with r_0 the input and r_l = clip(d_l, 0, max rate). A neuron that asks for d > max rate fires at the
  max rate and the rest is lost; its v climbs by d - max rate per step. With d < 0, v falls by |d|.
- the integers of the quantized layer: one step's synaptic input enters u as (W8 . s) << (weight_exp + 6),
  and u wraps at the state width. For the graded first layer u is computed exactly on the calibration
  inputs; for spiking layers the worst case is every excitatory input spiking in the same step.
"""
from __future__ import annotations

import math

import numpy as np
import torch

# Percentile normalization (99.9 by default) clips about 0.1 % of activations by design; warn above 1 %.
RATE_SATURATION_TOLERANCE = 0.01


def max_rate(profile) -> float:
    """Spikes per step a neuron can reach: max_spikes_per_step, once per refractory delay."""
    return profile.neuron.max_spikes_per_step / profile.neuron.refractory_delay_min


def _forward(layer, x: torch.Tensor, weight=None) -> torch.Tensor:
    w = torch.as_tensor(layer.weight if weight is None else weight, dtype=x.dtype)
    if layer.kind == "conv":
        return torch.nn.functional.conv2d(x, w, None, tuple(layer.stride), tuple(layer.padding),
                                          tuple(layer.dilation), layer.groups)
    return x.reshape(len(x), -1) @ w.reshape(w.shape[0], -1).T


def rate_demand(net, calibration: np.ndarray, rate_cap: float, batch: int = 64) -> list[dict]:
    """Per layer of the float net: what the calibration inputs ask of its neurons, in thresholds per step."""
    stats = [dict(demand_max=-math.inf, demand_min=math.inf, saturated=0, count=0, u_max=0.0) for _ in net.layers]
    with torch.no_grad():
        for i in range(0, len(calibration), batch):
            r = torch.as_tensor(np.asarray(calibration[i:i + batch]), dtype=torch.float32)  # an estimate: float32 will do
            for layer, s in zip(net.layers, stats):
                syn = _forward(layer, r)
                d = syn + torch.as_tensor(layer.bias, dtype=torch.float32).reshape(1, *syn.shape[1:])
                s["demand_max"] = max(s["demand_max"], float(d.max()))
                s["demand_min"] = min(s["demand_min"], float(d.min()))
                s["saturated"] += int((d > rate_cap).sum())
                s["count"] += d.numel()
                s["u_max"] = max(s["u_max"], float(syn.abs().max()))
                r = d.clamp(0.0, rate_cap)
    return stats


def graded_u_peak(qlayer, x_int: np.ndarray, batch: int = 64) -> float:
    """Largest |W8 . x| over the calibration inputs (integer synaptic sum of the graded first layer)."""
    peak = 0.0
    with torch.no_grad():
        for i in range(0, len(x_int), batch):
            x = torch.as_tensor(np.asarray(x_int[i:i + batch]), dtype=torch.float64)  # exact below 2**53
            peak = max(peak, float(_forward(qlayer, x, qlayer.weight.astype(np.float64)).abs().max()))
    return peak


def binary_u_bound(qlayer) -> float:
    """Largest |W8 . s| for binary s: all excitatory (or all inhibitory) inputs of a neuron in one step."""
    per_out = qlayer.weight.astype(np.float64).reshape(len(qlayer.weight), -1)  # conv: a whole kernel, as inside the map
    return float(max(np.clip(per_out, 0, None).sum(1).max(initial=0), -np.clip(per_out, None, 0).sum(1).min(initial=0)))


def layer_headroom(layer, qlayer, demand: dict, profile, x_int: np.ndarray | None) -> dict:
    """u and v headroom and rate saturation of one layer, in raw state units and thresholds."""
    n = profile.neuron
    state_max = (1 << (n.state_bits - 1)) - 1
    unit = 2.0 ** (qlayer.weight_exp + n.activation_shift)  # one unit of W8 . s in u
    thr = qlayer.vth * 2.0 ** n.threshold_shift  # one threshold in raw v units
    cap = max_rate(profile)
    if x_int is not None:  # graded input: exact on the calibration data
        u_peak, u_source = graded_u_peak(qlayer, x_int) * unit, "calibration (exact)"
        u_bound = u_peak
    else:
        u_peak, u_source = demand["u_max"] * thr, "calibration (rate model)"
        u_bound = binary_u_bound(qlayer) * unit
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


def _bits(limit: float, value: float) -> float | None:
    """Spare bits before `value` reaches `limit` (negative: over by that many bits); None for zero."""
    return math.log2(limit / value) if value > 0 else None


def warnings_for(name: str, h: dict, profile, phase: bool = False) -> list[str]:
    """Warnings a user must see: u wrapping on calibration data, rate saturation beyond the tolerance.
    phase=True: a phase layer, whose accumulator saturates instead of wrapping and which has no rate limit."""
    out = []
    n = profile.neuron
    u, rate, v = h["u"], h["rate"], h["v"]
    if u["wraps"]:
        effect = "the phase accumulator saturates" if phase else "u wraps and flips sign"
        out.append(f"layer {name}: synaptic input u reaches {u['peak']:.3g} on calibration data, beyond the "
                   f"{n.state_bits}-bit state ({u['limit']:,}, neuron.state_bits): {effect}; "
                   "quantize with a larger headroom or fewer input bits")
    if rate["saturated_fraction"] > RATE_SATURATION_TOLERANCE and not phase:
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
