"""The report as one self-contained HTML file: matplotlib figures embedded as base64 PNG, tables, no scripts,
no network access (no external stylesheet, font or image).

render_html(report) reads nothing but the report dict (neurokit.report.build_report, the `--json` output),
so `report --json` carries everything the page shows.
"""
from __future__ import annotations

import base64
import html
import io

from .report import quantization_lines, quantization_title, sweep_lines
from .tables import si

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { padding: 0.6em 1em; border-radius: 4px; margin: 0.4em 0; }
.win { background: #e6f4ea; border-left: 4px solid #1e8e3e; } .lose { background: #fce8e6; border-left: 4px solid #d93025; }
.unverified { color: #b06000; font-weight: 600; } .small { font-size: 0.85em; color: #555; }
pre { background: #f8f8f8; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
img { max-width: 100%; } .figs { display: flex; flex-wrap: wrap; gap: 1em; } .figs img { width: 520px; }
"""

COLORS = {"synops": "#4c78a8", "updates": "#f58518", "route": "#54a24b", "static": "#b279a2", "ann": "#e45756"}


def escape(x) -> str:
    """Text safe inside HTML."""
    return html.escape(str(x))


def png_uri(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def html_table(head: list[str], rows: list[list], num: set[int] = frozenset()) -> str:
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td class='num'>{escape(c)}</td>" if i in num else f"<td>{escape(c)}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    return "\n".join(out + ["</table>"])


def _rng(lo, v, hi, unit="J") -> str:
    return si(v, unit) if lo == hi else f"{si(v, unit)} ({si(lo, unit)} – {si(hi, unit)})"


def figures(r: dict) -> dict[str, str]:
    """name -> data URI of each figure, drawn from the report dict alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    e = r["energy"]
    layers = e["layers"]
    names = [l["name"] for l in layers]
    x = np.arange(len(names))
    figs = {}

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    syn = np.array([l["loihi_synops_j"] for l in layers]) * 1e6
    upd = np.array([l["loihi_updates_j"] for l in layers]) * 1e6
    route = np.array([l["loihi_route_j"] for l in layers]) * 1e6
    ax.bar(x, syn, color=COLORS["synops"], label="synaptic ops")
    ax.bar(x, upd, bottom=syn, color=COLORS["updates"], label="neuron updates")
    ax.bar(x, route, bottom=syn + upd, color=COLORS["route"], label="spike routing")
    ann = [l.get("ann_fp32_j") for l in layers]
    if any(a is not None for a in ann):
        ax.scatter(x, [np.nan if a is None else a * 1e6 for a in ann], marker="_", s=400, color=COLORS["ann"],
                   zorder=3, label="ANN fp32 (45 nm)")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("µJ per inference")
    ax.set_title(f"Energy per layer, Loihi per-op model, T = {r['steps']}")
    ax.legend(fontsize=8)
    figs["layer_energy"] = png_uri(fig)

    fig, ax1 = plt.subplots(figsize=(6.4, 3.6))
    w = 0.4
    ax1.bar(x - w / 2, [l["spikes"] for l in layers], w, color=COLORS["updates"], label="spikes / messages out")
    ax1.set_ylabel("spikes per inference")
    ax2 = ax1.twinx()
    ax2.bar(x + w / 2, [l["synops"] for l in layers], w, color=COLORS["synops"], label="synops in")
    ax2.set_ylabel("synops per inference")
    ax1.set_xticks(x, names, rotation=30, ha="right")
    ax1.set_title("Spikes and synaptic operations per layer")
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, fontsize=8)
    figs["layer_spikes"] = png_uri(fig)

    items = [(m["title"], m["joules_low"], m["joules"], m["joules_high"], COLORS["synops"])
             for m in e["models"].values()]
    if e["ann_macs"]:
        items += [(b["title"], b["joules_low"], b["joules"], b["joules_high"], COLORS["ann"])
                  for b in e["baselines"].values()]
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    y = np.arange(len(items))
    vals = np.array([i[2] for i in items]) * 1e6
    err = np.array([[i[2] - i[1], i[3] - i[2]] for i in items]).T * 1e6
    ax.barh(y, vals, xerr=err, color=[i[4] for i in items], capsize=4)
    ax.set_yticks(y, [i[0] for i in items])
    ax.set_xscale("log")
    ax.set_xlabel("µJ per inference (bar: value; whiskers: low – high)")
    ax.set_title("Energy per inference under each model")
    figs["models"] = png_uri(fig)

    if e["break_even"]:
        T = r["steps"]
        ts = np.unique(np.geomspace(1, max(4 * T, 64), 60).astype(int))
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        for key, m, c in zip(e["models"], e["models"].values(), ("#4c78a8", "#b279a2", "#72b7b2")):
            at = lambda which: (m["per_sample"][which] + m["per_run_steps"][which] * ts / T) * 1e6  # noqa: E731
            ax.plot(ts, at(1), color=c, label=m["title"])
            ax.fill_between(ts, at(0), at(2), color=c, alpha=0.15)
        for b, ls in zip(e["baselines"].values(), ("--", ":")):
            ax.axhline(b["joules"] * 1e6, color=COLORS["ann"], ls=ls, label=b["title"])
        ax.axvline(T, color="#888", lw=0.8, label=f"this run, T = {T}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("time steps T")
        ax.set_ylabel("µJ per inference")
        ax.set_title("Energy against T: where the SNN lines cross the ANN's")
        ax.legend(fontsize=7)
        figs["break_even"] = png_uri(fig)
    fit = r.get("fit") or {}
    if fit.get("layers"):
        figs["core_map"] = core_map(fit)
    return figs


def core_map(fit: dict) -> str:
    """Every core of the board as a cell, chip by chip, colored by the population the fit placed on it (in the
    populations' order; neurokit.fit counts cores per population, it does not assign core coordinates)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    per_chip = int(fit.get("cores_per_chip") or fit["cores_available"])
    chips = max(int(fit["chips"]), 1)
    cols = int(np.ceil(np.sqrt(per_chip * 1.5)))
    rows = int(np.ceil(per_chip / cols))
    owner = np.full(chips * per_chip, -1)
    start = 0
    for i, layer in enumerate(fit["layers"]):
        owner[start:start + layer["cores"]] = i
        start += layer["cores"]
    cmap = plt.get_cmap("tab20")
    fig, axes = plt.subplots(1, chips, figsize=(min(3.2 * chips, 12), 2.6), squeeze=False)
    for c, ax in enumerate(axes[0]):
        grid = np.full((rows, cols, 3), 0.93)
        for k in range(per_chip):
            o = owner[c * per_chip + k]
            if o >= 0:
                grid[k // cols, k % cols] = cmap(o % 20)[:3]
        ax.imshow(grid, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"chip {c}", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(i % 20)) for i in range(len(fit["layers"]))]
    fig.legend(handles, [f"{l['name']} ({l['cores']})" for l in fit["layers"]], fontsize=7, loc="center right")
    fig.suptitle(f"Core map: {fit['cores']} of {fit['cores_available']} cores", fontsize=9)
    return png_uri(fig)


def render_html(r: dict) -> str:
    e = r["energy"]
    figs = figures(r)
    T, n = r["steps"], r["samples"]
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>neurokit report: {escape(r['model'])}</title><style>{CSS}</style></head><body>",
             f"<h1>neurokit report: {escape(r['model'])}</h1>",
             f"<p class='small'>{escape(r['dataset'])}, profile {escape(r['profile'])}, backend {escape(r['backend'])}, "
             f"{n} samples, T = {T} steps; report record version {escape(r.get('record_version'))}</p>"]

    # verdicts first: what a reader deciding on Loihi wants
    parts.append("<h2>Verdict</h2>")
    if not e["break_even"]:
        parts.append("<p>No ANN to compare with (a spiking network imported from NIR).</p>")
    for b in e["break_even"]:
        if b["baseline"] != "ann_fp32":
            continue
        cls = "win" if b["snn_cheaper"] else "lose"
        parts.append(f"<div class='verdict {cls}'><b>{escape(e['models'][b['model']]['title'])}</b> against "
                     f"{escape(e['baselines'][b['baseline']]['title'])}: {escape(b['verdict'])}<ul>"
                     + "".join(f"<li>{escape(c)}</li>" for c in b["changes"]) + "</ul></div>")

    parts.append("<h2>Accuracy</h2>")
    pct = lambda v: "–" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    rows = []
    if r.get("ann_accuracy") is not None:
        rows.append(["ANN (torch float32)", pct(r["ann_accuracy"])])
    rows += [["SNN float", pct(r.get("snn_float_accuracy"))], [f"SNN fixed point ({r['backend']})", pct(r["fixed_accuracy"])]]
    parts.append(html_table(["model", "accuracy"], rows, {1}))

    parts.append("<h2>Energy per inference</h2>")
    rows = [[m["title"], _rng(m["joules_low"], m["joules"], m["joules_high"]), m["description"]]
            for m in e["models"].values()]
    if e["ann_macs"]:
        rows += [[b["title"], _rng(b["joules_low"], b["joules"], b["joules_high"]),
                  f"{e['ann_macs']:,} dense MACs"] for b in e["baselines"].values()]
    parts.append(html_table(["model", "energy (low – high)", "what it counts"], rows, {1}))
    parts.append(f"<p class='small'>{escape(e['ranges'])}. Not counted: {escape(r['energy_not_counted'])}.</p>")
    parts.append("<div class='figs'>" + "".join(f"<img alt='{k}' src='{figs[k]}'>" for k in ("models", "break_even")
                                                 if k in figs) + "</div>")
    for key, m in e["models"].items():
        rows = [[t["name"], f"{t['count']:.4g}", ", ".join(t["constants"]), f"{t['pj_each']:.4g}",
                 _rng(t["joules_low"], t["joules"], t["joules_high"])] for t in m["terms"]]
        parts.append(f"<h3>{escape(m['title'])}</h3>" + html_table(["term", "count", "constants", "pJ each", "energy"], rows,
                                                            {1, 3, 4}))

    if e["break_even"]:
        parts.append(f"<h2>Break-even</h2><p class='small'>{escape(e['scaling'])}</p>")
        rows = [[e["models"][b["model"]]["title"], e["baselines"][b["baseline"]]["title"],
                 f"{b['ratio']:.3g} ({b['ratio_low']:.3g} – {b['ratio_high']:.3g})",
                 "SNN" if b["snn_cheaper"] else "ANN",
                 "–" if b["max_steps"] is None else f"{b['max_steps']} ({b['max_steps_low']} – {b['max_steps_high']})",
                 f"{100 * b['neuron_update_share']:.0f} %",
                 "–" if b["synops_per_mac"] is None else f"{b['synops_per_mac']:.3g}",
                 "–" if b["breakeven_synops_per_mac"] is None else f"{b['breakeven_synops_per_mac']:.3g}"]
                for b in e["break_even"]]
        parts.append(html_table(["SNN model", "against", "SNN / ANN", "cheaper", "largest T where the SNN wins",
                             "neuron-update share", "ops per MAC", "break-even ops per MAC"], rows, {2, 4, 5, 6, 7}))

    parts.append("<h2>Per layer</h2><div class='figs'>" + "".join(
        f"<img alt='{k}' src='{figs[k]}'>" for k in ("layer_energy", "layer_spikes")) + "</div>")
    if "core_map" in figs:
        fit = r["fit"]
        parts.append("<h2>Fit</h2><p>" + escape(f"{fit['cores']} of {fit['cores_available']} cores on {fit['chips']} of "
                                             f"{fit['chips_available']} chips" + ("" if fit["fits"] else
                                                                                   f": does NOT fit ({fit['problem']})"))
                     + "</p>" + f"<img alt='core_map' src='{figs['core_map']}'>")
        parts.append(html_table(["layer", "cores", "cut"], [[l["name"], l["cores"], l["split"]] for l in fit["layers"]],
                            {1}))
    if e["counts"].get("mesh"):
        rows = [[l["name"], f"{l['mesh_messages']:.4g}", f"{l['hops_ew']:.4g}", f"{l['hops_ns']:.4g}",
                 f"{l['chip_crossings']:.4g}", f"{l['bits_moved']:.4g}"] for l in e["layers"]]
        parts.append("<h3>Mesh traffic into each layer, per inference</h3>"
                     + html_table(["layer", "messages core to core", "tile hops E-W", "tile hops N-S",
                                   "to another chip (not priced)", "payload bits"], rows, {1, 2, 3, 4, 5})
                     + f"<p class='small'>Coordinates: {escape(e['counts']['mesh']['coordinates'])}. Not counted: "
                     f"{escape(e['counts']['mesh']['not_counted'])}.</p>")
    rows = [[l["name"], l["neurons"], f"{l['spikes']:.4g}", f"{l['synops']:.4g}", f"{l['effective_acs']:.4g}",
             f"{l['effective_macs']:.4g}", "–" if l["ann_macs"] is None else f"{l['ann_macs']:,}",
             si(l["loihi_j"], "J"), si(l["paper_45nm_j"], "J"),
             "–" if l["ann_fp32_j"] is None else si(l["ann_fp32_j"], "J")] for l in e["layers"]]
    parts.append(html_table(["layer", "neurons", "spikes", "synops in", "effective ACs", "effective MACs", "ANN MACs",
                         "Loihi per-op", "papers' 45 nm", "ANN fp32"], rows, set(range(1, 10))))
    parts.append(f"<p class='small'>Op counts: {escape(e['counts']['definition'])}.</p>")

    if r.get("sweep") and any(t["status"] == "ok" and t["energy_j"] is not None for t in r["sweep"]["rows"]):
        from .sweep import against_steps, pareto_plot

        sw = r["sweep"]
        lines = sweep_lines(sw)
        parts.append(f"<h2>Configurations: accuracy and energy against T, Pareto front</h2><p>{escape(lines[1])}</p><ul>"
                     + "".join(f"<li>{escape(x.strip())}</li>" for x in lines[2:]) + "</ul><div class='figs'>"
                     + f"<img alt='against_steps' src='{png_uri(against_steps(sw))}'>"
                     + f"<img alt='pareto' src='{png_uri(pareto_plot(sw))}'></div>")
    if r.get("quantization"):
        q = r["quantization"]
        parts.append("<h2>Quantization</h2><p>" + escape(quantization_title(q)) + "</p><pre>"
                     + escape("\n".join(quantization_lines(q))) + "</pre>")

    parts.append("<h2>Constants and their sources</h2>")
    rows = [[c["key"], f"{c['value']:g}", f"{c['low']:g} – {c['high']:g}",
             "yes" if c["verified"] else "UNVERIFIED", c["source"]] for c in r["constants"]]
    parts.append(html_table(["constant", "value", "range", "verified", "source"], rows, {1, 2}))
    parts.append(f"<p class='small'>Profile file: {escape(r['profile_path'])}; references: docs/references.md "
                 "section D.</p></body></html>")
    return "\n".join(parts)
