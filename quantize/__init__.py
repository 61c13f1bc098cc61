"""Stage 2: the fixed-point pass. A normalized spiking network -> integer weights, exponents, thresholds
and biases within a hardware profile, with a per-layer account of what was rounded and clipped.

    qnet, report = quantize(net, profile, calibration)
"""
from __future__ import annotations

import numpy as np

from .discretize import (IF_DU, IF_DV, SIGN_NAMES, Limits, choose_scale, input_scale, phase_decay, phase_gain,
                         quantize_bias, quantize_input, quantize_phase_thresholds, quantize_v_init, quantize_weights)
from .headroom import layer_headroom, max_rate, rate_demand, refractory_warning, warnings_for
from .qnet import QLayer, QPhase, QuantizedNet, load_quantized, save_quantized

__all__ = ["quantize", "QuantizedNet", "QLayer", "save_quantized", "load_quantized"]


def quantize(net, profile, calibration: np.ndarray, weight_bits: int | dict | None = None,
             input_bits: int = 8, headroom: float = 8.0) -> tuple[QuantizedNet, dict]:
    """Quantize a `neurokit.network.SpikingNet` for `profile`.

    calibration: sample inputs (N, *input_shape) that set the graded input's integer scale.
    weight_bits: one width for all layers, or {layer name: width}; default the profile's.
    headroom: v may reach this many thresholds before it saturates at the profile's state width.
    """
    if not 1 <= input_bits <= profile.synapse.graded_message_bits_max:
        raise ValueError(f"input bits must be in 1..{profile.synapse.graded_message_bits_max}, got {input_bits}")
    if headroom < 1:
        raise ValueError(f"headroom must be at least 1 threshold, got {headroom}")
    from neurokit.encoding import encoding_of

    if isinstance(weight_bits, dict):
        unknown = sorted(set(weight_bits) - {l.name for l in net.layers})
        if unknown:
            raise ValueError(f"weight_bits names layer '{unknown[0]}', which the network does not have; "
                             f"its layers: {', '.join(l.name for l in net.layers)}")

    rate = encoding_of(net) == "rate"
    if rate:  # binary spikes: unit messages, no graded input
        q_in, signed, input_bits = 1.0, False, 1
    else:
        q_in, signed = input_scale(np.asarray(calibration), input_bits)
    ideal = np.asarray(calibration, np.float64) * q_in
    x_int = ideal if rate else quantize_input(calibration, q_in, input_bits, signed)
    demands = rate_demand(net, np.asarray(calibration), max_rate(profile))
    warnings = [w for w in [refractory_warning(profile)] if w]
    layers, report_layers = [], []
    # phase layers: the integer decay of each layer, which fixes the base its sender's code must use
    decays = [phase_decay(l.phase.in_base) if l.phase is not None else None for l in net.layers]
    for i, layer in enumerate(net.layers):
        nwb = weight_bits.get(layer.name) if isinstance(weight_bits, dict) else weight_bits
        lim = Limits.from_profile(profile, nwb)
        graded = i == 0 and not rate
        w_eff = layer.weight / q_in if graded else layer.weight
        bias, phase_report = layer.bias, None
        if layer.phase is not None:
            code = layer.phase
            # the float net's bias carries 1 / G, G = sum of the float decay's powers over the integration
            # window; the integer decay D / 4096 has its own G: correct the bias for it (layer 0 integrates
            # one step: G = 1 either way)
            gain_fix = float(np.sum(code.in_base ** -np.arange(code.integrate, dtype=np.float64)))
            gain_fix /= phase_gain(decays[i], code.integrate)
            bias = layer.bias * gain_fix
        sc = choose_scale(w_eff, bias, layer.kind == "conv", lim, headroom)
        w8, wstats = quantize_weights(w_eff, sc, lim)
        bmant, bexp, bstats = quantize_bias(bias, sc.vth, lim)
        qphase = None
        if layer.phase is not None:
            nxt = decays[i + 1] if i + 1 < len(net.layers) else None
            code_base = 4096.0 / nxt if nxt is not None else code.base  # what the receiver decodes
            thr, tstats = quantize_phase_thresholds(code.shift, code_base, code.window, sc.vth, lim)
            qphase = QPhase(decay=decays[i], thresholds=thr, window=code.window, offset=code.offset,
                            base=code_base, shift=code.shift, in_base=4096.0 / decays[i],
                            integrate=code.integrate)
            phase_report = {"window": code.window, "offset": code.offset, "integrate": code.integrate,
                            "decay": decays[i],
                            "in_base": code.in_base, "in_base_effective": 4096.0 / decays[i],
                            "base": code.base, "base_effective": code_base, "shift": code.shift,
                            "bias_gain_correction": gain_fix, "thresholds": tstats}
        layers.append(QLayer(
            name=layer.name, kind=layer.kind, in_shape=layer.in_shape, out_shape=layer.out_shape, weight=w8,
            weight_exp=sc.weight_exp, weight_bits=lim.weight_bits, sign_mode=sc.sign_mode, vth=sc.vth,
            bias_mant=bmant, bias_exp=bexp, du=IF_DU, dv=IF_DV, reset=layer.reset, stride=layer.stride,
            padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
            graded_input_bits=input_bits if graded else 0,
            v_init=quantize_v_init(None if qphase else layer.v_init, sc.vth, lim, layer.out_shape), phase=qphase,
        ))
        notes = []
        if layer.kind == "conv" and not lim.conv_applies_weight_exp:
            notes.append("conv weight_exp fixed at 0 (Lava's PyConvModelFixed ignores it)")
        if qphase is not None:
            notes.append("phase neuron (single-spike phase coding): runs on neurokit's PhaseNeuron; on Loihi 2 it "
                         "needs a custom neuron program (see neurokit/convert/methods/phase.py)")
            if phase_report["thresholds"]["distinct"] < code.window:
                notes.append(f"only {phase_report['thresholds']['distinct']} of {code.window} phase thresholds are "
                             "distinct integers: some phases never fire")
        elif layer.reset == "subtract" and not profile.neuron.reset_by_subtraction:
            notes.append("reset by subtraction: runs on neurokit's ConversionLIF; the stock Loihi LIF resets to 0")
        if bstats["clipped_fraction"] > 0:
            notes.append(f"{bstats['clipped_fraction']:.1%} of biases clipped to the {profile.neuron.bias_mant_bits}-bit mantissa")
        if wstats["clipped_fraction"] > 0:
            notes.append(f"{wstats['clipped_fraction']:.1%} of weights clipped")
        headroom_i = layer_headroom(layer, layers[-1], demands[i], profile, x_int if graded else None)
        warnings += warnings_for(layer.name, headroom_i, profile, phase=qphase is not None)
        if qphase is not None and headroom_i["u"]["may_wrap"]:
            notes.append(f"the phase accumulator saturates at the {profile.neuron.state_bits}-bit state (no wrap) if "
                         f"one step's input exceeds {headroom_i['u']['limit']:,} (worst case "
                         f"{headroom_i['u']['worst_case']:.3g}; on calibration data one step's input peaks at "
                         f"{headroom_i['u']['peak']:.3g})")
        elif headroom_i["u"]["may_wrap"] and not headroom_i["u"]["wraps"]:
            share = headroom_i["u"]["limit"] / headroom_i["u"]["worst_case"]
            notes.append(f"u would wrap if a neuron's excitatory (or inhibitory) inputs spiked in one step with more "
                         f"than {share:.0%} of their total weight (worst case {headroom_i['u']['worst_case']:.3g} > "
                         f"{headroom_i['u']['limit']:,}); on calibration data u peaks at {headroom_i['u']['peak']:.3g}")
        report_layers.append({
            "name": layer.name, "kind": layer.kind, "neurons": layer.n_neurons,
            "weight_bits": lim.weight_bits, "weight_exp": sc.weight_exp, "sign_mode": SIGN_NAMES[sc.sign_mode],
            "vth": sc.vth, "scale_limited_by": sc.limited_by, "weights": wstats, "bias": bstats,
            # the threshold is the integer vth by construction (weights and bias are scaled to it): no rounding;
            # v moves in steps of 1 / (vth << threshold_shift) thresholds
            "threshold": {"vth": sc.vth, "rounding_error": 0.0,
                          "v_step_thresholds": 1.0 / (sc.vth * (1 << profile.neuron.threshold_shift))},
            "headroom": headroom_i,
            "reset": layer.reset, "notes": notes,
            "neuron": "if" if qphase is None else "phase",
            **({"phase": phase_report} if phase_report else {}),
        })
    qnet = QuantizedNet(input_shape=tuple(net.input_shape), input_scale=q_in, input_bits=input_bits,
                        input_signed=signed, layers=layers, profile=profile.name,
                        metadata={"headroom": headroom, **net.metadata})
    report = {
        "profile": profile.name,
        "input": {"encoding": "rate" if rate else "current", "bits": input_bits, "signed": signed, "scale": q_in,
                  "clipped_fraction": float(np.mean(np.abs(ideal - x_int) > 0.5))},
        "headroom_thresholds": headroom,
        "max_rate": max_rate(profile),
        "layers": report_layers,
        "warnings": warnings,
    }
    return qnet, report
