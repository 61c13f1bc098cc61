"""The fit result as text: one row per layer (its fullest core against the per-core limits), totals,
problems with suggestions, and every profile constant used with its source."""
from __future__ import annotations


def render_fit(r: dict, model: str = "") -> str:
    from ..tables import text_table

    verdict = "fits" if r["fits"] else "does NOT fit"
    out = [f"neurokit fit: {model + ' ' if model else ''}{verdict} on {r['profile']} "
           f"({r['cores']:,} of {r['cores_available']:,} cores, {r['chips']} of {r['chips_available']} "
           f"chip{'s' if r['chips_available'] > 1 else ''})", ""]
    lim = {c["key"]: c["value"] for c in r["constants"]}
    per_core = {"neurons": ("neurons_per_core", "core.neurons_per_core"),
                "memory": ("memory_bits_per_core", "core.synaptic_memory_bits"),
                "axons_in": ("axons_in_per_core", "core.axons_in"), "axons_out": ("axons_out_per_core", "core.axons_out")}

    def limited_by(l: dict) -> str:
        used, key = per_core[l["limited_by"]]
        return f"{l['limited_by']} {l[used] / lim[key]:.0%}"

    rows = []
    for l in r["layers"]:
        mem = f"{l['memory_bits_per_core']:,} / {l['memory_limit_bits']:,} ({l['memory_bits_per_core'] / l['memory_limit_bits']:.0%})"
        rows.append([l["name"] + ("" if l["fits"] else " !"), l["kind"], l["encoding"], l["weight_bits"], f"{l['cores']:,}",
                     f"{l['neurons_per_core']:,}", f"{l['synapses_per_core']:,}", mem, f"{l['axons_in_per_core']:,}",
                     f"{l['axons_out_per_core']:,}", limited_by(l)])
    out += text_table(["layer", "kind", "encoding", "w bits", "cores", "neurons/core", "synapses/core",
                   "memory bits/core (used / limit)", "axons in", "axons out", "closest limit"], rows)
    if not all(l["fits"] for l in r["layers"]):
        out.append("  ! does not fit (see Problems): shown on its finest cut, or, when only its output axons overflow, "
                   "on the cut that meets its other limits")
    out.append(f"  per core: the fullest core of the layer; limits {lim['core.neurons_per_core']:,} neurons, "
               f"{lim['core.axons_in']:,} axons in, {lim['core.axons_out']:,} axons out; memory counts synapse "
               f"lists plus {lim['core.neuron_memory_bits']} bits of state per neuron")
    u = r["utilization"]
    out += ["", f"Total: {r['cores']:,} cores on {r['chips']} chip{'s' if r['chips'] != 1 else ''} "
                f"({r['cores_per_chip']} cores per chip); board {r['chips_available']} chip"
                f"{'s' if r['chips_available'] > 1 else ''}, {r['cores_available']:,} cores: {u['cores']:.1%} of its cores",
            f"  utilization of the cores used: neurons {u['neurons']:.1%}, synaptic memory {u['memory']:.1%}"]
    for l in r["layers"]:
        out.append(f"  {l['name']}: {l['split']}")
    if r["problems"]:
        out += ["", "Problems"]
        for p in r["problems"]:
            out.append(f"  {p['message']}")
            out += [f"    - {s}" for s in p["suggestions"]]
    out += ["", f"Constants used ({r['profile_path']})"]
    for c in r["constants"]:
        flag = "" if c["verified"] else "  [UNVERIFIED]"
        out.append(f"  {c['key']} = {c['value']}{flag}\n      source: {c['source']}")
    return "\n".join(out)
