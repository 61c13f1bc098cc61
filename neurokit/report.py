"""Stage 5: the report. Accuracy of ANN, float SNN and fixed-point SNN; spikes and synaptic operations per
layer; ANN MACs; energy per inference with every constant named and cited from the hardware profile.

build_report() returns a JSON-ready dict (the `--json` output); render_text() prints it as tables.
"""
from __future__ import annotations

import json

import numpy as np

from . import energy
from .tables import si, text_table

# the layout of run records (`neurokit run --out`) and reports (deploy's report.json): `neurokit report`
# reads only its own version. 2: projections carry NeuroBench op counts; energy under several models.
RECORD_VERSION = 2


def to_json(obj, indent: int | None = 2) -> str:
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    return json.dumps(obj, indent=indent, default=default)


def build_report(*, model: str, dataset: str, profile, steps: int, fixed_run: dict, ann: dict | None = None,
                 float_run: dict | None = None, quantization: dict | None = None, conversion: dict | None = None,
                 lava_check: dict | None = None, stage_seconds: dict | None = None,
                 conversion_error: dict | None = None, fit: dict | None = None, target: dict | None = None,
                 netx: dict | None = None, ann_measured: dict | None = None) -> dict:
    """fixed_run / float_run: neurokit.pipeline.summarize_run() of the deployed and the float reference runs
    on the same samples; lava_check: neurokit.pipeline.check_against_lava(). Energy and per-layer figures
    come from fixed_run, the network as it runs on the chip. conversion_error: {"samples", "layers":
    neurokit.conversion_error.decompose()}. ann_measured: neurokit.ann_energy.measure_or_reason() (the ANN's energy
    on a real device, or why it could not be measured)."""
    profile.require_energy()
    layers = fixed_run["layers"]
    macs = int(sum(((conversion or {}).get("ann_macs") or {}).values()))
    macs_per_layer = (conversion or {}).get("population_macs") or (conversion or {}).get("ann_macs") or {}
    counts = energy.counts_of(fixed_run, steps)
    chips = int((fit or {}).get("chips") or 1)
    section = energy.energy_section(profile, counts, steps, macs, chips,
                                    layer_macs(macs_per_layer, [l["name"] for l in layers]),
                                    events_scale=fixed_run.get("events_scale_with_steps", True),
                                    ann_measured=ann_measured)
    snn_terms = energy.model_terms(profile, counts, steps, chips)["loihi"]
    ann_terms = energy.ann_energy(profile, macs)
    used = {c for m in section["models"].values() for t in m["terms"] for c in t["constants"]}
    used |= {c for b in section["baselines"].values() for t in b["terms"] for c in t["constants"]}
    synops = sum(l["synops"] for l in layers)
    report = {
        "record_version": RECORD_VERSION,
        "model": model, "dataset": dataset, "profile": profile.name, "profile_path": str(profile.path),
        "target": target,  # {"name", "runs_on"}: neurokit.targets
        "netx": netx,  # neurokit.pipeline.check_netx: the netx file and lava-dl's run of it
        "backend": fixed_run["backend"], "samples": fixed_run["samples"], "steps": steps,
        "ann_accuracy": None if ann is None else ann["accuracy"],
        "ann_accuracy_maxpool_replaced": (ann or {}).get("accuracy_maxpool_replaced"),
        "ann_accuracy_fine_tuned": (ann or {}).get("accuracy_fine_tuned"),
        "ann_fine_tuned_by": (ann or {}).get("fine_tuned_by"),
        "snn_float_accuracy": None if float_run is None else float_run["accuracy"],
        "fixed_accuracy": fixed_run["accuracy"],
        "lava_check": lava_check,
        "ann_macs": macs, "ann_macs_per_layer": macs_per_layer,
        "synops": synops, "synops_per_ann_mac": synops / macs if macs else None,
        "spikes": sum(l["spikes"] for l in layers),
        "energy_snn_j": energy.total(snn_terms), "energy_ann_j": ann_terms["fp32"].joules,
        "energy_ann_int8_j": ann_terms["int8"].joules,
        "energy_terms": [t.to_dict() for t in snn_terms + list(ann_terms.values())],
        "energy_not_counted": energy.NOT_COUNTED,
        # every model's terms and totals with ranges, per-layer energy, NeuroBench counts, break-even analysis
        "energy": section,
        "fit": fit,  # neurokit.pipeline.fit_summary: energy is only the chip's when the net fits
        "layers": layers,
        "mesh": fixed_run.get("mesh"),  # how the mesh traffic was estimated (neurokit.fit.routing), when placed
        "ann_measured": ann_measured,  # neurokit.ann_energy: the ANN on a real device (deploy --ann-energy)
        # synaptic operations and their energy per projection: where a population sums several, which costs what
        "projections": [dict(p, energy_j=p["synops"] * energy.synop_joules(profile))
                        for p in fixed_run.get("projections", [])],
        "quantization": quantization,
        "conversion": conversion,
        "conversion_error": conversion_error,
        "constants": [dict(key=k, value=c.value, low=c.span[0], high=c.span[2], source=c.source,
                           verified=c.verified) for k, c in profile.constants() if k in used],
        "stage_seconds": stage_seconds or {},
        "files": {},  # filled by neurokit.pipeline.write_outputs
    }
    return report


def layer_macs(macs: dict, names: list[str]) -> list:
    """ANN MACs per population: keyed by population name (neurokit.convert's population_macs), or, for older
    records keyed by ANN layer, in order when there is one per population; None where unknown."""
    if all(n in macs for n in names):
        return [int(macs[n]) for n in names]
    values = list(macs.values())
    return [int(v) for v in values] if len(values) == len(names) else [None] * len(names)


def _pct(x) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f} %"


def render_text(r: dict) -> str:
    n, T = r["samples"], r["steps"]
    out = [f"neurokit report: {r['model']} on {r['dataset']}, profile {r['profile']}, T = {T} steps"]
    conv = r.get("conversion") or {}
    if conv.get("method"):
        out.append(f"conversion: {conv['method']} ({conversion_summary(conv)})")
    if conv.get("dialect"):
        d = conv["dialect"]
        out.append(f"imported: a {d['framework']} NIR graph read with dialect {d['dialect']} (checked against "
                   f"{d['checked_against']}): dt = {d['dt']:g}, reset {d['reset']}, spike when v {d['threshold']}, "
                   f"decay {d['decay']}; every layer answers one step after its input (pipelined windows)")
        out += [f"  note: {n}" for n in conv.get("import_notes", [])]
    cache = r.get("conversion_cache")
    if cache and cache["hit"]:
        out.append(f"conversion: the trained result of an identical earlier run, reused from {cache['folder']}/"
                   f"{cache['key']} (delete it, or set NEUROKIT_CACHE, to train again)")
    if r.get("target"):
        t = r["target"]
        timing = (f"; latency {t['latency_steps']} steps from a sample's first input step, one sample every "
                  f"{t['steps_per_sample']} steps" if "latency_steps" in t else "")
        out.append(f"target: {t['name']}; runs on {t['runs_on']}{timing}")
    out.append("")
    out.append("Accuracy")
    rows = [["ANN (torch float32)", n, _pct(r["ann_accuracy"])]] if r.get("ann_accuracy") is not None else []
    if r.get("ann_accuracy_fine_tuned") is not None:
        rows.append([f"ANN as {r['ann_fine_tuned_by']} fine-tuned it (float64)", n, _pct(r["ann_accuracy_fine_tuned"])])
    if r.get("ann_accuracy_maxpool_replaced") is not None:
        rows.append(["ANN, MaxPool2d read as AvgPool2d (float64)", n, _pct(r["ann_accuracy_maxpool_replaced"])])
    rows += [["SNN float (as Lava floating_pt)", n, _pct(r["snn_float_accuracy"])],
            [f"SNN fixed point, {r['backend']} (as Lava fixed_pt)", n, _pct(r["fixed_accuracy"])]]
    out += text_table(["model", "samples", "accuracy"], rows)
    check = r.get("lava_check")
    if check and check["checked"]:
        verdict = ("bit-exact: every spike (or graded message), u and v (sigma and act) of every neuron at every step"
                   if check["match"] else
                   "MISMATCH, first at layer {layer} neuron {neuron} sample {sample} step {step} ({variable}: "
                   "Lava {lava}, engine {engine})".format(**check["first_mismatch"]))
        out.append(f"  Lava fixed_pt re-ran the first {check['samples']} samples: engine {verdict}")
    elif check:
        out.append(f"  engine not checked against Lava: {check['reason']}")
    netx = r.get("netx")
    if netx and not netx["written"]:
        out.append(f"  netx file not written: {netx['reason']}")
    elif netx:
        c = netx["check"]
        if not c["checked"]:
            out.append(f"  netx file written; not run in Lava: {c['reason']}")
        elif c["match"]:
            out.append(f"  lava-dl netx.hdf5.Network ran the netx file on the first {c['samples']} samples in Lava "
                       "fixed_pt: bit-exact (every message, sigma and act at every step, and the readout)")
        else:
            m = c["first_mismatch"]
            where = ("the readout differs" if m is None else
                     "first at layer {layer} neuron {neuron} sample {sample} step {step} ({variable}: netx {lava}, "
                     "engine {engine})".format(**m))
            out.append(f"  lava-dl netx.hdf5.Network on the netx file: MISMATCH, {where}")
    out += ["", f"Per layer, per inference ({r['backend']}, mean over {n} samples)"]
    macs = layer_macs(r.get("ann_macs_per_layer") or {}, [l["name"] for l in r["layers"]])
    rows = []
    for l, m in zip(r["layers"], macs):
        rows.append([l["name"], l["kind"], l["neurons"], f"{l['spikes']:.0f}", f"{l['spikes'] / max(l['neurons'] * T, 1):.4f}",
                     f"{l['synops']:.4g}", "-" if m is None else f"{m:,}"])
    rows.append(["total", "", sum(l["neurons"] for l in r["layers"]), f"{r['spikes']:.0f}", "",
                 f"{r['synops']:.4g}", f"{r['ann_macs']:,}"])
    out += text_table(["layer", "kind", "neurons", "spikes", "spikes/neuron/step", "synops in", "ANN MACs"], rows)
    out.append("  synops in: messages into the layer's synapses x structural fan-out (from the input: its messages)")
    if any(len(l.get("inputs", ())) > 1 for l in r["layers"]):  # a graph: say what each projection costs
        rows = [[p["name"], p["source"], p["target"], p["kind"], f"{p['synops']:.4g}", si(p["energy_j"], "J")]
                for p in r.get("projections", [])]
        out += ["", "Per projection, per inference"]
        out += text_table(["projection", "from", "to", "kind", "synops", "synop energy"], rows)
    out += ["", "Energy per inference (event model; constants below)"]
    rows = [[t["name"], f"{t['count']:.4g}", t["constant"], f"{t['pj_each']:g}", si(t["joules"], "J")]
            for t in r["energy_terms"]]
    out += text_table(["term", "count", "constant", "pJ each", "energy"], rows)
    ratio = r["energy_snn_j"] / r["energy_ann_j"] if r["energy_ann_j"] else float("nan")
    fit = r.get("fit")
    if fit and fit["fits"]:
        out.append(f"  fits {r['profile']}: {fit['cores']:,} of {fit['cores_available']:,} cores on {fit['chips']} of "
                   f"{fit['chips_available']} chip{'s' if fit['chips_available'] > 1 else ''}")
    elif fit:
        out.append(f"  does NOT fit {r['profile']} ({fit['cores']:,} cores needed, {fit['cores_available']:,} there; "
                   f"{fit['problem']}): the energy below is that of a hypothetical larger board")
    if r["ann_macs"]:
        out.append(f"  SNN on {r['profile']}: {si(r['energy_snn_j'], 'J')}   ANN fp32: {si(r['energy_ann_j'], 'J')}   "
                   f"ANN int8: {si(r['energy_ann_int8_j'], 'J')}   SNN/ANN(fp32) = {ratio:.3g}")
    else:  # an imported spiking network: no ANN to compare with
        out.append(f"  SNN on {r['profile']}: {si(r['energy_snn_j'], 'J')}   (a spiking network from NIR: no ANN to "
                   "compare with)")
    out.append(f"  not counted: {r['energy_not_counted']}")
    if r.get("energy"):
        out += energy_model_lines(r["energy"])
    if r.get("sweep"):
        out += sweep_lines(r["sweep"])
    if r.get("quantization"):
        out += ["", quantization_title(r["quantization"])]
        out += quantization_lines(r["quantization"])
        if r.get("snn_float_accuracy") is not None and r.get("fixed_accuracy") is not None:
            change = r["fixed_accuracy"] - r["snn_float_accuracy"]
            out.append(f"  accuracy float -> fixed point ({r['backend']}, {n} samples, T = {T}): "
                       f"{_pct(r['snn_float_accuracy'])} -> {_pct(r['fixed_accuracy'])} ({100 * change:+.1f} points)")
    if r.get("conversion_error"):
        out += _conversion_error_rows(r["conversion_error"], T)
    out += ["", f"Constants used ({r['profile_path']})"]
    for c in r["constants"]:
        flag = "" if c["verified"] else "  [UNVERIFIED]"
        out.append(f"  {c['key']} = {c['value']}{flag}\n      source: {c['source']}")
    if r.get("stage_seconds"):
        out += ["", "Stage wall times"]
        out += text_table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in r["stage_seconds"].items()])
    if r.get("files"):
        out += ["", "Files"] + [f"  {k}: {v}" for k, v in r["files"].items()]
    return "\n".join(out)


def conversion_summary(c: dict) -> str:
    """One line of what the converter did, from the graph's metadata."""
    parts = [f"normalization {c.get('normalization', '?')}"]
    if c.get("lambdas"):
        parts.append("lambda " + ", ".join(f"{v:.3g}" for v in c["lambdas"]))
    if c.get("delta_threshold") is not None:
        parts.append(f"sigma-delta, delta threshold {c['delta_threshold']:g}")
    elif c.get("v_init") is not None:
        parts.append(f"v_init {c['v_init']:g} thresholds")
    if c.get("input_encoding"):
        parts.append(f"{c['input_encoding']} input")
    if c.get("readout"):
        parts.append(f"readout {c['readout']}")
    return "; ".join(parts)


def _conversion_error_rows(e: dict, steps: int) -> list[str]:
    """neurokit.conversion_error's per-layer decomposition, in thresholds per step."""
    out = ["", f"Conversion error per layer (mean |difference| in thresholds per step, {e['samples']} samples, T = {steps})"]
    rows = [[l["layer"], f"{l['activation_mean']:.4f}", f"{l['saturation']:.4f}", f"{100 * l['saturated_fraction']:.2f} %",
             f"{l['sampling']:.4f}", f"{l['quantization']:.4f}", f"{l['total']:.4f}"] for l in e["layers"]]
    out += text_table(["layer", "mean activation", "saturation", "saturated", "sampling (T)", "quantization", "total"], rows)
    out.append("  saturation: activation above one spike per step (local); sampling: the rate code at T given the "
               "layer's actual inputs; quantization: fixed point vs float SNN (cumulative); total: fixed point vs ANN")
    return out


def quantization_title(q: dict) -> str:
    i = q["input"]
    coding = ("rate-coded binary spikes" if i.get("encoding") == "rate" else
              f"{i['bits']}-bit frames sent as changes (netx input Delta, << 6), {i['scale']:.4g} levels per unit"
              if i.get("encoding") == "delta" else
              f"{i['bits']}-bit graded current, {i['scale']:.4g} levels per unit, "
              f"{i['clipped_fraction']:.2%} of calibration values clipped")
    return f"Quantization onto {q['profile']} (input: {coding}; v headroom {q['headroom_thresholds']:g} thresholds)"


def quantization_lines(q: dict) -> list[str]:
    rows = []
    for l in q["layers"]:
        b = l["bias"]
        projections = l.get("projections") or [l]
        for j, p in enumerate(projections):
            w = p["weights"]
            name = l["name"] if len(projections) == 1 else f"{l['name']} <- {p['source']}"
            own = [l["vth"], l["scale_limited_by"]] if j == 0 else ["", ""]
            tail = [f"{b['bias_exp']}", f"{b['clipped_fraction']:.1%}", f"{b['rel_error_max']:.2%}", l["reset"]] \
                if j == 0 else ["", "", "", ""]
            rows.append([name, p["weight_bits"], p["weight_exp"], p["sign_mode"], *own,
                         f"{w['zeroed_fraction']:.1%}", f"{w['clipped_fraction']:.1%}",
                         f"{w['rel_error_mean']:.2%}/{w['rel_error_max']:.2%}", *tail])
    lines = text_table(["layer", "w bits", "w exp", "sign", "vth / V", "limited by", "w→0", "w clipped",
                    "w err mean/max", "b exp", "b clipped", "b err max", "reset"], rows)
    lines.append("  vth / V: the population's integer scale (spiking: its threshold; sigma-delta: state units per "
                 "activation unit); w→0: nonzero weights rounded to 0; w err: mean and max |error| / max |w|; "
                 "b err max: max |error| / max |bias|")
    if q.get("scale_rule"):
        r = q["scale_rule"]
        on = f"{r['samples']} calibration samples" if r.get("samples") else "calibration samples"
        lines.append(f"  scales: {r['chosen']} (agreement with the float network on {on}: "
                     + ", ".join(f"{k} {100 * v:.1f} %" for k, v in r["calibration_agreement"].items()) + ")")
    for l in q["layers"]:
        lines += [f"  note {l['name']}: {note}" for note in l["notes"]]
    if all("headroom" in l for l in q["layers"]):
        lines += _headroom_rows(q)
    if q.get("accuracy"):
        a = q["accuracy"]
        lines.append(f"  accuracy float -> fixed point ({a['backend']}, {a['samples']} test samples, T = {a['steps']}): "
                     f"{_pct(a['float'])} -> {_pct(a['fixed'])} ({100 * a['change']:+.1f} points)")
    if q.get("bit_search"):
        lines += _bit_search_rows(q["bit_search"])
    lines += [f"  warning: {w}" for w in q.get("warnings", [])]
    return lines


def _bits_spare(b) -> str:
    return "-" if b is None else f"{b:+.1f}"


def _number(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def _steps(x) -> str:
    return "-" if x is None else (f"{x:.0f}" if x < 1e6 else ">1e6")


def _headroom_rows(q: dict) -> list[str]:
    """u and v headroom against the state width, and the rate each layer asks for (calibration data)."""
    rows = []
    for l in q["layers"]:
        u, v, r = l["headroom"]["u"], l["headroom"]["v"], l["headroom"]["rate"]
        # a sigma-delta layer's act does not climb (no spikes to keep up with): "-" there
        rows.append([l["name"], f"{u['peak']:.3g}", _bits_spare(u["headroom_bits"]), f"{u['worst_case']:.3g}",
                     _bits_spare(u["worst_case_headroom_bits"]), _number(v.get("climb_per_step")),
                     _number(v.get("fall_per_step")), _steps(v.get("steps_to_saturate_up")),
                     _steps(v.get("steps_to_saturate_down")), f"{r['demand_max']:.2f}", f"{r['saturated_fraction']:.2%}"])
    limit = q["layers"][0]["headroom"]["u"]["limit"] if q["layers"] else 0
    lines = ["", f"State headroom and rate (calibration data; u wraps and v saturates beyond {limit:,}; "
                 f"max rate {q.get('max_rate', 1):g} spike per step)"]
    lines += text_table(["layer", "u peak", "bits spare", "u worst", "bits spare", "v up/step", "v down/step",
                     "steps to v max", "steps to v min", "asks spikes/step", "> max rate"], rows)
    lines.append("  u peak: exact on calibration inputs for the graded first layer, rate-model estimate after it; "
                 "u worst: all excitatory inputs in one step; v up/down: thresholds per step v climbs (asking "
                 "more than the max rate) or falls (net inhibition)")
    return lines


def _bit_search_rows(s: dict) -> list[str]:
    lines = ["", f"Weight-bit search: accuracy budget {100 * s['max_drop']:.2f} points below {_pct(s['reference'])} "
                 f"({s['reference_bits']}-bit weights); result {_pct(s['accuracy'])} after {len(s['trials'])} trials"]
    lines += text_table(["layer", "weight bits", "weights", "weights x bits"],
                    [[name, s["bits"][name], f"{s['weights'][name]:,}", f"{s['weights'][name] * s['bits'][name]:,}"]
                     for name in s["bits"]])
    return lines


def _range(lo: float, v: float, hi: float, unit: str = "J") -> str:
    return f"{si(v, unit)} ({si(lo, unit)} - {si(hi, unit)})" if lo != hi else si(v, unit)


def energy_model_lines(e: dict) -> list[str]:
    """Operation counts, energy per model with ranges, and the break-even analysis."""
    c = e["counts"]["total"]
    out = ["", f"Operations per inference ({e['counts']['definition']})"]
    rows = [["effective ACs (binary input)", f"{c['effective_acs']:.4g}"],
            ["effective MACs (graded input)", f"{c['effective_macs']:.4g}"],
            ["dense ops (NeuroBench 'Dense': every input, every synapse, every step)",
             "-" if c["dense_ops"] is None else f"{c['dense_ops']:.4g}"],
            ["synops the chip walks (zero weights included)", f"{c['synops']:.4g}"],
            ["messages sent (spikes, graded messages, input)", f"{c['messages']:.4g}"],
            ["neuron updates (active / idle)", f"{c['neuron_updates']:.4g} ({c['neuron_updates_active']:.4g} / "
                                               f"{c['neuron_updates_idle']:.4g})"],
            ["ANN MACs (dense)", f"{e['ann_macs']:,}"]]
    if c.get("hops_ew") is not None:  # the run was placed: its mesh traffic (neurokit.fit.routing)
        rows[5:5] = [["messages core to core (a spike to each core that listens)", f"{c['mesh_messages']:.4g}"],
                     ["tile hops east-west / north-south (estimated)", f"{c['hops_ew']:.4g} / {c['hops_ns']:.4g}"],
                     ["messages to another chip (not priced)", f"{c['chip_crossings']:.4g}"],
                     ["payload bits moved (headers not counted)", f"{c['bits_moved']:.4g}"]]
    out += text_table(["count", "per inference"], rows)
    if e["counts"].get("mesh"):
        out.append(f"  mesh: {e['counts']['mesh']['coordinates']}; not counted: {e['counts']['mesh']['not_counted']}")
    out += ["", "Energy per inference under each model (low - high: " + e["ranges"] + ")"]
    rows = [[m["title"], _range(m["joules_low"], m["joules"], m["joules_high"])] for m in e["models"].values()]
    if e["ann_macs"]:
        rows += [[b["title"], _range(b["joules_low"], b["joules"], b["joules_high"])] for b in e["baselines"].values()]
    out += text_table(["model", "energy (range)"], rows)
    out += [f"  {m['title']}: {m['description']}" for m in e["models"].values()]
    if e["ann_macs"]:
        out.append(f"  ANN: {e['ann_macs']:,} dense MACs x the 45 nm per-MAC energy (Horowitz 2014)")
    m = e.get("ann_measured")
    if m and m.get("measured"):
        out.append(f"  ANN measured: {si(m['joules_per_inference'], 'J')} per inference, dynamic "
                   f"{si(m['dynamic_joules_per_inference'], 'J')} ({m['meter']}: {m['note']})")
    elif m:
        out.append(f"  ANN not measured on {m['device']}: {m['reason']}; the 45 nm estimates stand in")
    if not e["break_even"]:
        out.append("  break-even: no ANN to compare with")
        return out
    out += ["", f"Break-even (T = {e['steps']}; {e['scaling']})"]
    rows = []
    for b in e["break_even"]:
        m = e["models"][b["model"]]["title"]
        rows.append([m, e["baselines"][b["baseline"]]["title"], f"{b['ratio']:.3g} ({b['ratio_low']:.3g}-"
                     f"{b['ratio_high']:.3g})", "SNN" if b["snn_cheaper"] else "ANN",
                     "-" if b["max_steps"] is None else f"{b['max_steps']} ({b['max_steps_low']}-{b['max_steps_high']})",
                     f"{100 * b['neuron_update_share']:.0f} %",
                     "-" if b["synops_per_mac"] is None else f"{b['synops_per_mac']:.3g}",
                     "-" if b["breakeven_synops_per_mac"] is None else f"{b['breakeven_synops_per_mac']:.3g}"])
    out += text_table(["SNN model", "against", "SNN/ANN (range)", "cheaper", "largest T where SNN wins",
                       "neuron-update share", "ops per MAC", "break-even ops per MAC"], rows)
    for b in e["break_even"]:
        if b["baseline"] != "ann_fp32":
            continue
        out.append(f"  {e['models'][b['model']]['title']} vs {e['baselines'][b['baseline']]['title']}: {b['verdict']}")
        out += [f"    - {line}" for line in b["changes"]]
    return out


def sweep_lines(sw: dict) -> list[str]:
    """The configurations a sweep tried (report --sweep): how many, which wins within a point of the ANN, and
    whether any costs less than the ANN."""
    ok = [t for t in sw["rows"] if t["status"] == "ok"]
    methods = sorted({str(t["method"]) for t in ok})
    steps = sorted({t["steps"] for t in ok if t["steps"] is not None})
    out = ["", f"Configurations ({sw['results']}): {len(ok)} of {len(sw['rows'])} trials ran, methods "
               f"{', '.join(methods) or '-'}, T in {', '.join(map(str, steps)) or '-'}"]
    v = sw["verdict"]
    if v.get("best"):
        b = v["best"]
        out.append(f"  lowest Loihi energy within {v['within_points']:g} point of the ANN: {b['label']}, "
                   f"{100 * b['fixed_accuracy']:.1f} % against {100 * b['ann_accuracy']:.1f} %, {si(b['energy_j'], 'J')} "
                   f"({b['energy_j'] / b['energy_ann_j']:.2g} x the ANN's fp32 energy)")
    else:
        out.append(f"  no configuration is within {v['within_points']:g} point of the ANN on a board it fits")
    if v.get("beats_ann"):
        out.append(f"  cheaper than the ANN (fp32): trials {', '.join(map(str, v['beats_ann']))}")
    elif v.get("closest_to_ann"):
        c = v["closest_to_ann"]
        out.append(f"  no configuration costs less than the ANN (fp32); the closest is {c['label']} at {c['ratio']:.2g} x")
    pareto = [t["label"] for t in ok if t.get("pareto")]
    if pareto:
        out.append(f"  accuracy-energy Pareto front: {'; '.join(pareto)}")
    return out
