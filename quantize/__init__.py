"""Stage 2: the fixed-point pass. A normalized spiking network -> integer weights, exponents, thresholds
and biases within a hardware profile, with a per-population account of what was rounded and clipped.

    qnet, report = quantize(net, profile, calibration)

Each population gets one threshold scale vth shared by every projection into it; each projection its own
weight exponent and sign mode (nengo-loihi's discretize_block rule). The population's neuron model
(neurokit.neurons) quantizes its own parameters.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from neurokit.arithmetic import SDN_MESSAGE_BITS, SDN_SPIKE_EXP, SIGN_NAMES, arithmetic_of_profile, check_supported
from neurokit.encoding import encoding_of
from neurokit.network import INPUT, Population

from .discretize import (Limits, input_scale, plan_scales, population_scale, projection_scale, quantize_input,
                         quantize_weights)
from .headroom import max_rate, rate_demand, refractory_warning, simulated_demand, warnings_for
from .qnet import QProjection, QuantizedNet, load_quantized, save_quantized

__all__ = ["quantize", "QuantizedNet", "QProjection", "save_quantized", "load_quantized"]


def quantize(net, profile, calibration: np.ndarray, weight_bits: int | dict | None = None,
             input_bits: int = 8, headroom: float = 8.0, integer_weights: bool = False) -> tuple[QuantizedNet, dict]:
    """Quantize a float `neurokit.network.Network` for `profile`.

    calibration: sample inputs (N, *input_shape) that set the graded input's integer scale.
    weight_bits: one width for all projections, or {population or projection name: width}; default the
        profile's.
    headroom: v may reach this many thresholds before it saturates at the profile's state width.
    integer_weights: no weight exponent (0 on every projection), as lava-dl's netx format stores weights
        (neurokit.netx); the scales of all populations and the input are then planned together
        (discretize.plan_scales), since no projection can be rescaled on its own.

    Neuron models without a threshold (sigma-delta: NeuronModel.plans_scales) get two candidates, every
    population at its own largest scale, and scales planned across layers; the one whose output agrees
    with the float network's on more calibration samples (the engine, at the fewest steps the network
    needs) is kept, and the report says which and why.
    """
    from neurokit.backends.base import check_inputs, is_sequence

    calibration = check_inputs(net, np.asarray(calibration))
    if "dialect" in net.metadata or net.back_edges() or is_sequence(net, calibration):
        # leaky, recurrent or sequence-driven: what the neurons see comes from simulating them
        demands = simulated_demand(net, calibration, max_rate(profile))
    else:
        demands = rate_demand(net, calibration, max_rate(profile))  # float forward, once for every rule
    if is_sequence(net, calibration):
        demands["_sequences"] = calibration
        calibration = calibration.reshape((-1,) + tuple(net.input_shape))  # the frames the input sends
    args = (net, profile, calibration, weight_bits, input_bits, headroom, integer_weights, demands)
    models = {p.model for p in net.populations}
    if encoding_of(net) == "rate" or len(models) != 1 or not (integer_weights or next(iter(models)).plans_scales):
        qnet, report = _quantize(*args, use_plan=False)
        if "dialect" in net.metadata:
            report["fidelity"] = spike_fidelity(net, qnet, demands.get("_sequences", calibration))
        return qnet, report
    rules = {"per population": dict(use_plan=False), "planned across layers": dict(use_plan=True)}
    candidates = {name: _quantize(*args, **kw) for name, kw in rules.items()}
    samples = agreement_samples(net, len(calibration))
    reference = float_classes(net, calibration, samples)  # the float network's classes, once for both candidates
    scores = {name: agreement(net, q, calibration, samples, reference) for name, (q, _) in candidates.items()}
    best = max(rules, key=lambda name: scores[name])  # ties: the first (the per-population rule)
    qnet, report = candidates[best]
    report["scale_rule"] = {"chosen": best, "calibration_agreement": scores, "samples": samples}
    return qnet, report


AGREEMENT_SAMPLES = 256
# the most synaptic multiply-adds (dense count x steps x samples) one agreement run may take, about 5 s of the
# engine on 2 cores; a net beyond it compares its candidates on fewer samples (ResNet-18 on CIFAR: 5 G a
# sample over its steps, so 32, the floor, where 256 took 137 s for the three runs)
AGREEMENT_MAC_BUDGET = 1.5e11
AGREEMENT_MIN_SAMPLES = 32


def agreement_samples(net, available: int) -> int:
    """Calibration samples the scale rules are compared on: 256, fewer where one sample's run costs so much
    that 256 would pass AGREEMENT_MAC_BUDGET (never fewer than 32), and never more than there are."""
    from neurokit.backends.engine.stream import is_stream, min_steps

    steps = min_steps(net) if is_stream(net) else 32
    per_step = sum(q.n_neurons * (q.n_inputs if q.kind == "dense" else int(np.prod(np.shape(q.weight)[1:])))
                   for q in net.projections)
    fit = int(AGREEMENT_MAC_BUDGET // max(per_step * steps, 1))
    return max(1, min(available, AGREEMENT_SAMPLES, max(fit, AGREEMENT_MIN_SAMPLES)))


def _agreement_run(net, network, calibration: np.ndarray, samples: int, kind: str):
    """The engine's classes of `network` (net itself, or its quantized form) at the fewest steps net needs."""
    import warnings

    from neurokit.backends.engine import Engine
    from neurokit.backends.engine.stream import is_stream, min_steps

    x = np.asarray(calibration)[:samples]
    steps = min_steps(net) if is_stream(net) else 32  # agreement_samples() prices runs at these steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Engine(kind, device="cpu").run(network, x, steps).predictions()


def float_classes(net, calibration: np.ndarray, samples: int = 256) -> np.ndarray:
    """The float network's class on the first `samples` calibration samples (the engine's float run, at the
    fewest steps the network needs): what agreement() compares a quantized network with."""
    return _agreement_run(net, net, calibration, samples, "float")


def agreement(net, qnet, calibration: np.ndarray, samples: int = 256, reference: np.ndarray | None = None) -> float:
    """Fraction of calibration samples on which the quantized network's class equals the float network's
    (the engine, float and fixed point, at the fewest steps the network needs). reference: float_classes()
    of the same net, calibration and samples, when the caller has it (it is the same for every candidate)."""
    want = float_classes(net, calibration, samples) if reference is None else reference
    return float(np.mean(_agreement_run(net, qnet, calibration, samples, "fixed") == want))


def spike_fidelity(net, qnet, calibration: np.ndarray, samples: int = 64) -> dict:
    """How far Loihi's fixed point strays from the float network on calibration data: the fraction of spike
    bits (every population, every step) and of output spike counts that agree. The bound an imported graph's
    fixed-point run is checked against."""
    import warnings

    from neurokit.backends.base import is_sequence
    from neurokit.backends.engine import Engine

    x = np.asarray(calibration)[:samples]
    steps = None if is_sequence(net, x) else 32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = Engine("float", device="cpu").record(net, x, steps)
        got = Engine("fixed", device="cpu").record(qnet, x, steps)
    bits = np.concatenate([(a.spikes != 0).ravel() == (b.spikes != 0).ravel() for a, b in zip(want, got)])
    out = [i for i, p in enumerate(net.populations) if p.name == net.output][0]
    counts = (want[out].spikes != 0).sum(1) == (got[out].spikes != 0).sum(1)
    return {"spike_agreement": float(np.mean(bits)), "output_count_agreement": float(np.mean(counts)),
            "samples": int(len(x)), "steps": int(want[0].spikes.shape[1]),
            "measured_on": "calibration data, engine float vs fixed point"}


def _quantize(net, profile, calibration: np.ndarray, weight_bits, input_bits: int, headroom: float,
              integer_weights: bool, demands: dict, use_plan: bool) -> tuple[QuantizedNet, dict]:
    if not 1 <= input_bits <= profile.synapse.graded_message_bits_max:
        raise ValueError(f"input bits must be in 1..{profile.synapse.graded_message_bits_max}, got {input_bits}")
    if headroom < 1:
        raise ValueError(f"headroom must be at least 1 threshold, got {headroom}")
    arith = arithmetic_of_profile(profile)
    check_supported(arith, f"profile {profile.name}")  # the loader refuses such profiles; a hand-made one too
    bits = net.per_projection(weight_bits, "weight_bits names")

    encoding = encoding_of(net)
    rate = encoding == "rate"
    if rate:  # binary spikes: unit messages, no graded input
        q_in, signed, input_bits = 1.0, False, 1
    else:
        q_in, signed = input_scale(np.asarray(calibration), input_bits)
    plan = None
    if use_plan:
        # projections without a weight exponent cannot be rescaled on their own: plan every scale, and the
        # input's, together (discretize.plan_scales)
        (model,) = {p.model for p in net.populations}
        conv_fixed = not Limits.from_profile(profile).conv_applies_weight_exp
        caps = {p.name: min(model.scale_caps(p, model.scaled_bias(net, p), Limits.from_profile(profile), headroom,
                                             demands[p.name]).values()) for p in net.populations}
        plan = plan_scales(net, caps, float(np.max(np.abs(calibration))), input_bits,
                           SDN_SPIKE_EXP if encoding == "delta" else 0, model.message_units, signed,
                           bias_shift=model.bias_shift,
                           fixed=lambda q: integer_weights or (q.kind == "conv" and conv_fixed))
        q_in = plan.input_scale
    ideal = np.asarray(calibration, np.float64) * q_in
    x_int = ideal if rate else quantize_input(calibration, q_in, input_bits, signed)
    # message units per activation unit each source sends, and its message bits (0: binary spikes)
    sent = {INPUT: (1.0, 0) if rate else (q_in * 2.0 ** SDN_SPIKE_EXP, SDN_MESSAGE_BITS) if encoding == "delta"
            else (q_in, input_bits)}
    warnings = [w for w in [refractory_warning(profile)] if w]
    populations, projections, report_layers = {}, [], {}
    back = net.back_edges()
    for q in net.projections:  # a recurrent projection's source is quantized after it: its message format now
        if q.name in back:
            src = net.population(q.source)
            sent[src.name] = (src.model.message_scale(src.neuron), src.model.graded_output_bits)
    for pop in net.order("quantization", cycles=True):
        model = pop.model
        incoming = net.incoming(pop.name)
        lims = [Limits.from_profile(profile, bits[q.name]) for q in incoming]
        if integer_weights:  # netx's format: no weight exponent; CUBA biases with netx's bias_exp
            from neurokit.netx import NETX_BIAS_EXP

            lims = [dataclasses.replace(lim, weight_exp_min=0, weight_exp_max=0, bias_exp_min=NETX_BIAS_EXP,
                                        bias_exp_max=NETX_BIAS_EXP) for lim in lims]
        w_effs = [q.weight / sent[q.source][0] for q in incoming]
        bias = model.scaled_bias(net, pop)
        caps = model.scale_caps(pop, bias, lims[0], headroom, demands[pop.name])
        if plan is not None:
            caps["weight bits balanced across layers"] = plan.scales[pop.name]
        vth, limited_by = population_scale([(q.name, w, q.kind == "conv", lim) for q, w, lim in zip(incoming, w_effs, lims)],
                                           caps)
        qprojs, proj_reports, notes = [], [], []
        for q, w, lim in zip(incoming, w_effs, lims):
            sc = projection_scale(w, q.kind == "conv", vth, lim, limited_by)
            w8, wstats = quantize_weights(w, sc, lim)
            qp = QProjection(name=q.name, source=q.source, target=q.target, kind=q.kind, in_shape=q.in_shape,
                             out_shape=q.out_shape, weight=w8, stride=q.stride, padding=q.padding,
                             dilation=q.dilation, groups=q.groups, delay=q.delay, folded=q.folded,
                             weight_exp=sc.weight_exp, weight_bits=lim.weight_bits, sign_mode=sc.sign_mode,
                             graded_input_bits=sent[q.source][1])
            qprojs.append(qp)
            proj_reports.append({"name": q.name, "source": q.source, "kind": q.kind, "weight_bits": lim.weight_bits,
                                 "weight_exp": sc.weight_exp, "sign_mode": SIGN_NAMES[sc.sign_mode], "weights": wstats})
            if q.kind == "conv" and not lim.conv_applies_weight_exp:
                notes.append("conv weight_exp fixed at 0 (Lava's PyConvModelFixed ignores it)" if len(incoming) == 1
                             else f"{q.name}: conv weight_exp fixed at 0 (Lava's PyConvModelFixed ignores it)")
            if wstats["clipped_fraction"] > 0:
                notes.append(f"{wstats['clipped_fraction']:.1%} of weights clipped"
                             + (f" in {q.name}" if len(incoming) > 1 else ""))
        qn = model.quantize(net, pop, vth, lims[0], profile)
        qpop = Population(pop.name, pop.shape, qn.params)
        sent[pop.name] = (model.message_scale(qn.params), model.graded_output_bits)
        notes += qn.notes
        bstats = qn.bias
        if bstats["clipped_fraction"] > 0:
            notes.append(f"{bstats['clipped_fraction']:.1%} of biases clipped to the {profile.neuron.bias_mant_bits}-bit mantissa")
        h = model.headroom(qprojs, qpop, demands[pop.name], profile, x_int, arith)
        warnings += warnings_for(pop.name, h, profile, model)
        if not model.u_wraps and h["u"]["may_wrap"]:
            notes.append(f"the accumulator saturates at the {profile.neuron.state_bits}-bit state (no wrap) if "
                         f"one step's input exceeds {h['u']['limit']:,} (worst case "
                         f"{h['u']['worst_case']:.3g}; on calibration data one step's input peaks at "
                         f"{h['u']['peak']:.3g})")
        elif model.rate_coded and h["u"]["may_wrap"] and not h["u"]["wraps"]:
            share = h["u"]["limit"] / h["u"]["worst_case"]
            notes.append(f"u would wrap if a neuron's excitatory (or inhibitory) inputs spiked in one step with more "
                         f"than {share:.0%} of their total weight (worst case {h['u']['worst_case']:.3g} > "
                         f"{h['u']['limit']:,}); on calibration data u peaks at {h['u']['peak']:.3g}")
        populations[pop.name] = qpop
        projections += qprojs
        entry = {
            "name": pop.name, "kind": incoming[0].kind, "neurons": pop.n_neurons,
            "vth": vth, "scale_limited_by": limited_by, "bias": bstats,
            # the threshold is the integer vth by construction (weights and bias are scaled to it): no rounding;
            # v moves in steps of 1 / (vth << threshold_shift) thresholds
            "threshold": {"vth": vth, "rounding_error": 0.0,
                          "v_step_thresholds": 1.0 / (vth * (1 << profile.neuron.threshold_shift))},
            "headroom": h, "notes": notes, "projections": proj_reports, **qn.report,
        }
        if len(proj_reports) == 1:  # one projection: its weight facts are the population's
            entry.update({k: proj_reports[0][k] for k in ("weight_bits", "weight_exp", "sign_mode", "weights")})
        report_layers[pop.name] = entry
    report_layers = [report_layers[p.name] for p in net.populations]
    populations = [populations[p.name] for p in net.populations]
    # projections in the float network's order: the order Lava sums them in
    by_name = {q.name: q for q in projections}
    qnet = QuantizedNet(input_shape=tuple(net.input_shape), populations=populations,
                        projections=[by_name[q.name] for q in net.projections], output=net.output,
                        metadata={"headroom": headroom, **net.metadata}, input_scale=q_in, input_bits=input_bits,
                        input_signed=signed, profile=profile.name, arithmetic=arith)
    report = {
        "profile": profile.name,
        "arithmetic": qnet.arithmetic.to_dict(),
        "integer_weights": integer_weights,
        **({"scale_plan": {"input_bits": plan.input_bits, "weight_bits": plan.weight_bits}} if plan else {}),
        "input": {"encoding": encoding, "bits": input_bits, "signed": signed, "scale": q_in,
                  "clipped_fraction": float(np.mean(np.abs(ideal - x_int) > 0.5))},
        "headroom_thresholds": headroom,
        "max_rate": max_rate(profile),
        "layers": report_layers,
        "warnings": warnings,
    }
    return qnet, report
