"""neurokit's energy model against the one published Loihi 2 measurement: lava-dl's PilotNet benchmarks on an
Oheo Gulch board (one Loihi 2 chip).

The measurement (lava-nc/lava-dl, tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb, recorded outputs
at commit d825ac5; docs/references.md D.2): PilotNet SNN, 16 steps per frame, 10,000 steps, 408.91 fps,
total power 0.679234 W, static 0.232078 W: 1.661103 mJ per inference in all, 1.093544 mJ dynamic. The
notebook also records the chip's activity counters per core (cell 27: synaptic operations, neuron updates,
output and input spikes over the run), as a plot; this script reads them back from the plot's pixels.

The network is the file lava-dl ships with its ground truth (tests/lava/lib/dl/netx/gts/pilotnet_lif/
network.net, byte-identical to the notebook's network.net); neurokit reads it (neurokit.netx.read_netx)
and its engine runs it bit-exactly as Lava does (tests/test_pilotnet.py). Two inputs:

- zero: what the chip ran. The notebook writes the frame with `net.in_layer.neuron.bias = image`
  (cell 11), but Lava's LIF holds its bias in the Var `bias_mant` (lava-nc/lava proc/lif/process.py, since
  before v0.4.0) and a Process has no __setattr__ hook, so the assignment makes a plain attribute and the
  chip's Input block ran with bias 0. The recorded counters agree: the Input block's 13 cores send no
  spikes, conv 0's 25 cores do no synaptic operations, and the synaptic operations of conv 1 .. conv 4 are
  neurokit's counts for an all-zero input to within 0.3 % (conv 1, conv 2) and 6 % (conv 3, conv 4).
- image: the ground truth's image (image.npy), the frame lava-dl's own tests drive the network with: what
  the benchmark meant to run (its frame 100 of the PilotNet driving data set is not available here).

For each: neurokit's per-inference counts (T = 16 steps) and the energy of each model in the profile
(hw_profiles/oheo_gulch.toml: Loihi per-op, per-op + static power x latency, the papers' 45 nm
convention), the ratio of the prediction to the measurement, and the per-op model again with the synaptic
operations the chip counts (non-zero weights only, as the counters show) in place of the structural ones.

PilotNet SDNN (…/pilotnet_sdnn/benchmark.ipynb, cells 15, 21, 22, 25): 16.87 fps (host-bound), total
0.275709 W against 0.281775 W static: 16.343833 mJ per frame, all static; the dynamic figure (-0.36 mJ) is
below the power meter's resolution. Its network (a 200 x 66 SDNN whose input Delta has vThMant 6) and its
video frames are not the ground truth's (a 100 x 33 SDNN, one frame): the script reports neurokit's counts
for the ground truth's frame, the chip's recorded synaptic operations per frame, and what they imply.

    .venv/bin/python benchmarks/pilotnet_energy.py [--lava] [--notebooks DIR]

--lava also runs lava-dl's netx.hdf5.Network on the file in Lava fixed_pt against the engine on both inputs
(neurokit.verify.verify_netx; about 15 s). --notebooks DIR re-reads the activity plots from the notebooks
(DIR/pilotnet_snn/benchmark.ipynb, DIR/pilotnet_sdnn/benchmark.ipynb: lava-dl's tutorials/lava/lib/dl/netx)
instead of the values stored below. Writes benchmarks/results/pilotnet_energy.json and .md.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
STEPS = 16  # reset_interval of the benchmark (cell 5)
RUN_STEPS = 10_000  # num_steps of the benchmark (cell 7): the activity counters cover them
LAVA_DL_COMMIT = "d825ac506eb9bb91ea2b945116fb45a40e775451"
SNN_NOTEBOOK = "tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb"
SDNN_NOTEBOOK = "tutorials/lava/lib/dl/netx/pilotnet_sdnn/benchmark.ipynb"

MEASURED = {  # recorded outputs of the notebooks (docs/references.md D.2)
    "snn": {"fps": 408.91, "total_w": 0.679234, "static_w": 0.232078, "dynamic_w": 0.447156,
            "total_mj": 1.661103, "dynamic_mj": 1.093544, "cells": "17 (fps), 23 (power), 24 (energy)"},
    "sdnn": {"fps": 16.87, "total_w": 0.275709, "static_w": 0.281775, "dynamic_w": -0.006066,
             "total_mj": 16.343833, "dynamic_mj": -0.359587, "cells": "15 (fps), 21 (power), 22 (energy)"},
}
# the mapping's per-core table (SNN cell 15 output, top to bottom), in core index order: (layer, cores)
SNN_CORES = [("fc-3", 1), ("fc-2", 1), ("fc-1", 1), ("fc-0", 12), ("conv-4", 2), ("conv-3", 3), ("conv-2", 3),
             ("conv-1", 13), ("conv-0", 25), ("input", 13)]
# neurons per core in that table (the compiler's allocation; a layer's last core may hold fewer)
SNN_NEURONS_PER_CORE = {"fc-3": 1, "fc-2": 10, "fc-1": 50, "fc-0": 8, "conv-4": 2048, "conv-3": 2048, "conv-2": 2688,
                        "conv-1": 2160, "conv-0": 3072, "input": 3168}
SDNN_CORES = [("fc-3", 1), ("fc-2", 1), ("fc-1", 1), ("fc-0", 12), ("conv-4", 2), ("conv-3", 3), ("conv-2", 3),
              ("conv-1", 13), ("conv-0", 25)]
NAMES = ["input"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(4)]  # the SNN's populations
# The activity plots (SNN cell 27, SDNN cell 25) read back per core (digitize): millions of events over
# the run, None where the line lies under another at the bottom of the plot (below about one pixel: 4.3 M
# for the SNN plot, 0.15 M for the SDNN's). Stored by `--notebooks` (lava-dl at LAVA_DL_COMMIT).
ACTIVITY_FILE = RESULTS / "pilotnet_chip_activity.json"
PIXEL = {"snn": 4.3, "sdnn": 0.15}  # millions per pixel of each plot


# ---- reading the recorded plots --------------------------------------------------------------------------

def notebook_png(path: Path, cell: int) -> bytes:
    import base64

    nb = json.loads(path.read_text())
    for out in nb["cells"][cell].get("outputs", []):
        if "image/png" in out.get("data", {}):
            return base64.b64decode(out["data"]["image/png"])
    raise ValueError(f"{path}: cell {cell} holds no plot")


def digitize(png: bytes, y_ticks: list[float], x_ticks: list[float], cores: int) -> dict[str, list]:
    """The per-core value of each line of a lava-dl activity plot (matplotlib's default colours in the
    order the notebook plots them), in the plot's units: the frame and the tick marks located from the
    pixels, each core's value read in its column (the middle of the line there; its top at a peak, its
    bottom at a dip). None where the line cannot be seen (under a later line at the bottom)."""
    import io

    from PIL import Image

    im = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w, _ = im.shape
    dark = im.sum(2) < 200
    left = min(x for x in range(w) if dark[:, x].sum() > 0.6 * h)
    bottom = max(y for y in range(h) if dark[y, :].sum() > 0.6 * w)
    ys = [y for y in range(h) if dark[y, left - 4] and dark[y, left - 2]]  # tick marks, top to bottom
    xs = [x for x in range(w) if dark[bottom + 2, x] and dark[bottom + 3, x]]
    if len(ys) != len(y_ticks) or len(xs) != len(x_ticks):
        raise ValueError(f"found {len(ys)} y ticks and {len(xs)} x ticks, expected {len(y_ticks)} and {len(x_ticks)}")
    ys = ys[::-1]  # bottom (smallest value) first
    per_y = (y_ticks[-1] - y_ticks[0]) / (ys[0] - ys[-1])
    per_x = (xs[-1] - xs[0]) / (x_ticks[-1] - x_ticks[0])
    # the legend's frame (matplotlib's light grey edge) inside the axes: its line samples are not data
    grey = np.all(np.abs(im - 214) <= 8, axis=2)
    grey[:, :left + 5] = False
    grey[bottom - 5:, :] = False
    edge_rows = [y for y in range(h) if grey[y].sum() > 50]
    edge_cols = [x for x in range(w) if grey[:, x].sum() > 30]
    colours = {"syn_ops": (31, 119, 180), "neuron_updates": (255, 127, 14), "output_spikes": (44, 160, 44),
               "input_spikes": (214, 39, 40)}
    out = {}
    for name, c in colours.items():
        hit = np.abs(im - np.array(c)).sum(2) < 60
        if edge_rows and edge_cols:
            hit[edge_rows[0]:edge_rows[-1] + 1, edge_cols[0]:edge_cols[-1] + 1] = False
        spans = []
        for i in range(cores):
            rows = np.nonzero(hit[:, int(round(xs[0] + per_x * (i - x_ticks[0])))])[0]
            spans.append((rows.min(), rows.max(), float(np.median(rows))) if len(rows) else None)
        values = []
        for i, s in enumerate(spans):
            if s is None:
                values.append(None)
                continue
            near = [spans[j][2] for j in (i - 1, i + 1) if 0 <= j < cores and spans[j] is not None]
            y = s[2]
            if len(near) == 2 and all(n > s[2] + 2 for n in near):
                y = s[0] + 1  # a peak
            elif len(near) == 2 and all(n < s[2] - 2 for n in near):
                y = s[1] - 1  # a dip
            values.append(round(float(y_ticks[0] + (ys[0] - y) * per_y), 1))
        out[name] = values
    return out


def per_layer(values: list, layout: list, pixel: float = 0.0) -> dict:
    """Per-core values -> per layer: the sum, how many of its cores were seen, and the reading's resolution
    (one pixel per core, `pixel` in the values' units)."""
    out, i = {}, 0
    for name, cores in layout:
        seen = [v for v in values[i:i + cores] if v is not None]
        out[name] = {"sum": float(sum(seen)), "cores": cores, "seen": len(seen), "plus_minus": cores * pixel}
        i += cores
    return out


# ---- neurokit's prediction -------------------------------------------------------------------------------

def gts() -> Path:
    spec = importlib.util.find_spec("lava")
    if spec is None:
        sys.exit("needs lava-dl 0.6 (its installed tests package holds the PilotNet files): make setup")
    folder = Path(list(spec.submodule_search_locations)[0]).parent / "tests/lava/lib/dl/netx/gts"
    if not (folder / "pilotnet_lif/network.net").exists():
        sys.exit(f"{folder}: lava-dl's PilotNet ground truth is not installed")
    return folder


def energy_of(net, x, steps: int, profile) -> dict:
    """neurokit's run record and report on x: counts per inference and every model's energy."""
    from neurokit.backends import get_backend
    from neurokit.fit import fit_network
    from neurokit.pipeline import placed_traffic, summarize_run
    from neurokit.report import build_report

    trace = get_backend("engine", device="cpu").run(net, x, steps)
    fit = fit_network(net, profile)  # the placement the mesh traffic is routed on (neurokit.fit.routing)
    run = summarize_run(net, trace, None, placed_traffic(net, fit, trace, profile))
    report = build_report(model="PilotNet", dataset="lava-dl ground truth", profile=profile, steps=steps,
                          fixed_run=run, conversion={"ann_macs": {}})
    e = report["energy"]
    models = {k: {"mj": m["joules"] * 1e3, "mj_low": m["joules_low"] * 1e3, "mj_high": m["joules_high"] * 1e3,
                  "terms": {t["name"]: {"count": t["count"], "uj": t["joules"] * 1e6} for t in m["terms"]}}
              for k, m in e["models"].items()}
    return {"run": run, "models": models, "total": e["counts"]["total"]}


def chip_synops_model(result: dict, profile) -> dict:
    """The per-op model with the synaptic operations the chip counts: non-zero weights only (NeuroBench's
    effective ACs), with the same constants and ranges."""
    from neurokit.energy import route_terms

    en = profile.energy
    t = result["total"]
    syn = en.cited("synop_pj").span
    act, idle = (en.cited(k).span for k in ("neuron_update_active_pj", "neuron_update_inactive_pj"))
    ops = t["effective_acs"] + t["effective_macs"]
    routes = route_terms(profile, {"total": t})  # messages and tile hops on the placement, as the report prices them
    route = [sum(r.joules_low for r in routes), sum(r.joules for r in routes), sum(r.joules_high for r in routes)]

    def total(i):
        return (ops * syn[i] + t["neuron_updates_active"] * act[i] + t["neuron_updates_idle"] * idle[i]) * 1e-9 \
            + route[i] * 1e3  # pJ -> mJ; J -> mJ

    return {"mj_low": total(0), "mj": total(1), "mj_high": total(2), "synops": ops}


def snn(folder: Path, profile, activity: dict, lava: bool) -> dict:
    from neurokit.netx import read_netx

    path = folder / "pilotnet_lif/network.net"
    net = read_netx(path)
    image = np.load(folder / "pilotnet_lif/image.npy").transpose(2, 1, 0)[None].astype(np.float32)
    inputs = {"zero": 0 * image, "image": image}
    measured = MEASURED["snn"]
    chip = {k: per_layer(v, SNN_CORES, PIXEL["snn"]) for k, v in activity.items() if k != "input_spikes"}
    per_inference = STEPS / RUN_STEPS * 1e6  # millions over the run -> events per inference
    out = {"file": "lava-dl 0.6 tests/lava/lib/dl/netx/gts/pilotnet_lif/network.net", "steps": STEPS, "measured": measured, "chip_activity_per_layer_millions": chip,
           "inputs": {}}
    names = dict(zip([p.name for p in net.populations], NAMES))
    for key, x in inputs.items():
        r = energy_of(net, x, STEPS, profile)
        chip_model = chip_synops_model(r, profile)
        layers = []
        for layer in r["run"]["layers"]:
            name = names[layer["name"]]
            into = [p for p in r["run"]["projections"] if p["target"] == layer["name"]]
            syn, spk = chip["syn_ops"][name], chip["output_spikes"][name]
            layers.append({"layer": name, "neurons": layer["neurons"], "spikes": layer["spikes"],
                           "synops_structural": layer["synops"],
                           "synops_nonzero_weights": sum(p["effective_ops"] for p in into),
                           # a layer's chip count only where every core's line could be read
                           "chip_synops": syn["sum"] * per_inference if syn["seen"] == syn["cores"] else None,
                           "chip_synops_plus_minus": syn["plus_minus"] * per_inference,
                           "chip_spikes": spk["sum"] * per_inference if spk["seen"] == spk["cores"] else None,
                           "chip_spikes_plus_minus": spk["plus_minus"] * per_inference})
        m = r["models"]
        entry = {
            "layers": layers, "totals": r["total"],
            "per_op_mj": m["loihi"], "per_op_static_mj": m["loihi_static"], "paper_45nm_mj": m["paper_45nm"],
            "per_op_chip_synops_mj": chip_model,
            "ratio_dynamic": m["loihi"]["mj"] / measured["dynamic_mj"],
            "ratio_dynamic_range": [m["loihi"]["mj_low"] / measured["dynamic_mj"],
                                    m["loihi"]["mj_high"] / measured["dynamic_mj"]],
            "ratio_dynamic_chip_synops": chip_model["mj"] / measured["dynamic_mj"],
            "ratio_dynamic_chip_synops_range": [chip_model["mj_low"] / measured["dynamic_mj"],
                                                chip_model["mj_high"] / measured["dynamic_mj"]],
            "ratio_total": m["loihi_static"]["mj"] / measured["total_mj"],
            "ratio_total_range": [m["loihi_static"]["mj_low"] / measured["total_mj"],
                                  m["loihi_static"]["mj_high"] / measured["total_mj"]],
        }
        # what one synaptic operation would cost if the measured dynamic energy were synops and neurokit's
        # neuron updates and routing (Loihi 1's constants) alone
        other = sum(v["uj"] for k, v in m["loihi"]["terms"].items() if k != "synaptic operations") * 1e-3
        entry["implied_pj_per_chip_synop"] = (measured["dynamic_mj"] - other) / chip_model["synops"] * 1e9
        entry["implied_pj_per_chip_synop_all_dynamic"] = measured["dynamic_mj"] / chip_model["synops"] * 1e9
        out["inputs"][key] = entry
    # the chip's counters against neurokit's count on the zero input, layer by layer, and its neuron updates
    zero = out["inputs"]["zero"]["layers"]
    out["synops_chip_over_neurokit_nonzero"] = {
        l["layer"]: l["chip_synops"] / l["synops_nonzero_weights"] for l in zero
        if l["chip_synops"] and l["synops_nonzero_weights"]}
    updates = per_layer(activity["neuron_updates"], SNN_CORES)
    out["chip_neuron_updates_per_allocated_neuron_step"] = {
        k: v["sum"] * 1e6 / (v["cores"] * SNN_NEURONS_PER_CORE[k] * RUN_STEPS) for k, v in updates.items()
        if v["seen"] == v["cores"]}
    if lava:
        from neurokit.verify import verify_netx

        v = verify_netx(net, str(path), np.concatenate([inputs["zero"], inputs["image"]]), STEPS)
        out["lava_check"] = {k: v[k] for k in ("runner", "match", "samples", "steps", "values_compared",
                                               "first_mismatch", "lava_s", "engine_s")}
    return out


def sdnn(folder: Path, profile, activity: dict | None) -> dict:
    from neurokit.netx import read_netx

    path = folder / "pilotnet_sdnn/network.net"
    net = read_netx(path)
    frame = np.load(folder / "pilotnet_sdnn/input.npy")[..., 0].transpose(2, 1, 0)[None].astype(np.float32)
    r = energy_of(net, frame, 1, profile)  # one step per frame, as the benchmark runs it
    measured = MEASURED["sdnn"]
    out = {"file": "lava-dl 0.6 tests/lava/lib/dl/netx/gts/pilotnet_sdnn/network.net", "measured": measured,
           "ground_truth_frame": {"per_op_mj": r["models"]["loihi"], "totals": r["total"],
                                  "note": "one frame from rest (every pixel changes): the most one frame sends, on "
                                          "the ground truth's 100 x 33 network, not the benchmark's 200 x 66 one"},
           "frame_time_ms": 1e3 / measured["fps"],
           "static_x_frame_time_mj": measured["static_w"] / measured["fps"] * 1e3}
    out["predicted_dynamic_power_mw_at_measured_fps"] = r["models"]["loihi"]["mj"] * measured["fps"]
    if activity is not None:
        chip = per_layer(activity["syn_ops"], SDNN_CORES)
        total = sum(v["sum"] for v in chip.values()) * 1e6
        frames = 2000  # num_steps of the SDNN benchmark (cell 5), one frame per step
        per_frame = total / frames
        en = profile.energy.cited("synop_pj").span
        out["chip_synops_per_frame"] = per_frame
        out["chip_synops_per_frame_energy_uj"] = [per_frame * e * 1e-6 for e in en]
        out["chip_synops_power_mw_at_measured_fps"] = [per_frame * e * 1e-12 * measured["fps"] * 1e3 for e in en]
    return out


# ---- output ------------------------------------------------------------------------------------------------

def markdown(res: dict) -> str:
    s = res["snn"]
    m = s["measured"]
    lines = [
        "# PilotNet on Loihi 2: neurokit's energy model against lava-dl's measurement",
        "",
        f"Measured (lava-dl `{SNN_NOTEBOOK}` at {LAVA_DL_COMMIT[:7]}, Oheo Gulch, cells {m['cells']}): "
        f"{m['fps']} fps at {STEPS} steps per frame, total {m['total_mj']:.3f} mJ, dynamic {m['dynamic_mj']:.3f} mJ "
        f"per inference (static {m['static_w']} W).",
        "",
        "| input | per-op (Loihi 1 constants) | ratio to measured dynamic | per-op, chip's synop count | ratio | "
        "per-op + static x latency | ratio to measured total | papers' 45 nm |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, title in (("zero", "all-zero (what the chip ran)"), ("image", "ground truth image")):
        e = s["inputs"][key]
        lines.append(
            f"| {title} | {e['per_op_mj']['mj']:.3f} mJ ({e['per_op_mj']['mj_low']:.3f}-{e['per_op_mj']['mj_high']:.3f}) "
            f"| {e['ratio_dynamic']:.2f} ({e['ratio_dynamic_range'][0]:.2f}-{e['ratio_dynamic_range'][1]:.2f}) "
            f"| {e['per_op_chip_synops_mj']['mj']:.3f} mJ ({e['per_op_chip_synops_mj']['mj_low']:.3f}-"
            f"{e['per_op_chip_synops_mj']['mj_high']:.3f}) "
            f"| {e['ratio_dynamic_chip_synops']:.2f} ({e['ratio_dynamic_chip_synops_range'][0]:.2f}-"
            f"{e['ratio_dynamic_chip_synops_range'][1]:.2f}) "
            f"| {e['per_op_static_mj']['mj']:.3f} mJ | {e['ratio_total']:.2f} "
            f"| {e['paper_45nm_mj']['mj'] * 1e3:.1f} µJ |")
    lines += ["", "Per layer and inference (T = 16): neurokit's counts and the chip's counters (read from the "
              "recorded activity plot, SNN cell 27; per 10,000 steps / 625).", "",
              "| layer | neurons | spikes (zero) | spikes, chip | synops structural (zero) | synops non-zero weights "
              "(zero) | synops, chip | chip / neurokit | synops non-zero weights (image) |",
              "|---|---|---|---|---|---|---|---|---|"]

    def chip_cell(value, pm):
        return f"{value:,.0f} ± {pm:,.0f}" if value is not None else f"< {pm:,.0f} (not read)"

    for z, im in zip(s["inputs"]["zero"]["layers"], s["inputs"]["image"]["layers"]):
        ratio = s["synops_chip_over_neurokit_nonzero"].get(z["layer"])
        lines.append(f"| {z['layer']} | {z['neurons']:,} | {z['spikes']:,.0f} | "
                     f"{chip_cell(z['chip_spikes'], z['chip_spikes_plus_minus'])} | "
                     f"{z['synops_structural']:,.0f} | {z['synops_nonzero_weights']:,.0f} | "
                     f"{chip_cell(z['chip_synops'], z['chip_synops_plus_minus'])} | "
                     f"{'' if ratio is None else f'{ratio:.3f}'} | {im['synops_nonzero_weights']:,.0f} |")
    upd = s["chip_neuron_updates_per_allocated_neuron_step"]
    lines += ["", "Chip counts per inference: the plot's value per core, summed over the layer's cores, x 16 / 10,000; "
              "± one pixel per core. Not read: the line lies under another at the bottom of the plot.", "",
              "Chip neuron-update counter per allocated neuron and step (neurokit counts 1): "
              + ", ".join(f"{k} {v:.2f}" for k, v in upd.items()) + ".", ""]
    z = s["inputs"]["zero"]
    lines.append(f"Implied energy per synaptic operation the chip counts, zero input: "
                 f"{z['implied_pj_per_chip_synop']:.1f} pJ (the measured dynamic energy less neurokit's neuron "
                 f"updates and routing), {z['implied_pj_per_chip_synop_all_dynamic']:.1f} pJ if all of it were "
                 "synaptic operations; the profile's synop_pj is 23.6 pJ (23.6-35.5).")
    if "lava_check" in s:
        c = s["lava_check"]
        lines += ["", f"Lava check: {c['runner']}, {c['samples']} inputs x {c['steps']} steps, "
                  f"{c['values_compared']:,} values: {'bit-exact' if c['match'] else 'MISMATCH ' + str(c['first_mismatch'])}."]
    d = res["sdnn"]
    dm = d["measured"]
    lines += ["", "## PilotNet SDNN", "",
              f"Measured (`{SDNN_NOTEBOOK}`, cells {dm['cells']}): {dm['fps']} fps (host-bound), total "
              f"{dm['total_mj']:.2f} mJ per frame = static {dm['static_w']} W x {d['frame_time_ms']:.1f} ms "
              f"({d['static_x_frame_time_mj']:.2f} mJ); dynamic {dm['dynamic_w'] * 1e3:.1f} mW ({dm['dynamic_mj']:.2f} mJ "
              "per frame): below the power meter's resolution.",
              "",
              f"neurokit, ground truth network (100 x 33) and frame from rest: per-op "
              f"{d['ground_truth_frame']['per_op_mj']['mj'] * 1e3:.1f} µJ per frame "
              f"({d['ground_truth_frame']['totals']['synops']:,.0f} synops); at {dm['fps']} fps that is "
              f"{d['predicted_dynamic_power_mw_at_measured_fps']:.2f} mW."]
    if "chip_synops_per_frame" in d:
        lo, mid, hi = d["chip_synops_per_frame_energy_uj"]
        plo, pmid, phi = d["chip_synops_power_mw_at_measured_fps"]
        lines.append(f"The chip's recorded synaptic operations (SDNN cell 25; 2,000 frames of video): "
                     f"{d['chip_synops_per_frame']:,.0f} per frame, {mid:.1f} µJ at 23.6 pJ ({lo:.1f}-{hi:.1f}): "
                     f"{pmid:.3f} mW at {dm['fps']} fps, against a measured dynamic power of "
                     f"{dm['dynamic_w'] * 1e3:.1f} mW.")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lava", action="store_true", help="also check Lava fixed_pt against the engine (about 15 s)")
    ap.add_argument("--notebooks", help="lava-dl's tutorials/lava/lib/dl/netx folder: re-read the activity plots "
                    f"(and store them in {ACTIVITY_FILE.name})")
    ap.add_argument("--out", default=str(RESULTS / "pilotnet_energy.json"))
    a = ap.parse_args()
    from hw_profiles import load_profile

    profile = load_profile("oheo_gulch", energy=True)
    if a.notebooks:
        base = Path(a.notebooks)
        snn_act = digitize(notebook_png(base / "pilotnet_snn/benchmark.ipynb", 27),
                           [0.2 * i * 1e3 for i in range(8)], [10 * i for i in range(8)], 74)
        sdnn_act = digitize(notebook_png(base / "pilotnet_sdnn/benchmark.ipynb", 25),
                            [0.2 * i * 1e2 for i in range(6)], [10 * i for i in range(7)], 61)
        activity = {"snn": snn_act, "sdnn": sdnn_act, "source": f"lava-dl {LAVA_DL_COMMIT}: {SNN_NOTEBOOK} cell 27, "
                    f"{SDNN_NOTEBOOK} cell 25 (recorded plots), read by benchmarks/pilotnet_energy.py digitize()"}
        ACTIVITY_FILE.write_text(json.dumps(activity) + "\n")
    else:
        activity = json.loads(ACTIVITY_FILE.read_text())
    folder = gts()
    res = {"lava_dl_commit": LAVA_DL_COMMIT, "profile": "oheo_gulch", "python": platform.python_version(),
           "activity_millions_per_core": activity,
           "snn": snn(folder, profile, activity["snn"], a.lava), "sdnn": sdnn(folder, profile, activity["sdnn"])}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=float) + "\n")
    md = markdown(res)
    out.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
