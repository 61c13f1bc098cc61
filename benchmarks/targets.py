"""Deployment targets against time steps: what a Loihi 2 chip runs (stock sigma-delta neurons) next to
neurokit's simulation-only rate conversion, on the same model, the same test images and the same T.

Networks: the bundled MNIST CNN (examples/mnist_cnn) and the MNIST ResNet (examples/mnist_resnet), 1,000
test images each. Variants:
  sdnn           --target loihi2 (default): sigma-delta, weight exponents per projection (Lava's Dense
                 applies them); runs on the chip through Lava's processes
  sdnn --netx    --target loihi2 --netx: integer weights (lava-dl netx's format), scales planned across
                 layers; the network in model.net
  sdnn d=0.1     a delta threshold of 0.1 (units of each layer's scale): fewer messages
  lif            --target loihi2 --method lif: Lava's stock LIFReset (reset to zero), pipelined windows,
                 threshold balancing chosen on calibration data for each T (converted per T)
  lasnn (stock)  --target loihi2 --method lasnn --target-steps 8: distilled on the stock LIFReset (reset to
                 zero, pipelined windows), trained once at T = 8, run at every T (about 3 min)
  rate (sim)     --target sim --method rate, percentile 99.9, potential readout: ConversionLIF (reset by
                 subtraction), no Loihi 2 microcode
For T in {1, 2, 4, 8, 16, 32}: accuracy of the ANN, of the float SNN and of the Loihi 2 fixed-point SNN
(the engine, bit-exact with Lava fixed_pt), messages (spikes) and synaptic operations per inference, the
event-model energy per inference (hw_profiles/loihi2.toml's cited constants), and latency: a sigma-delta
stream reads sample k at step kT + T - 1 + (the output's shortest path), so its latency is T + depth steps
and its throughput one sample per T steps; a windowed (rate) network resets every T steps: latency T.

    .venv/bin/python benchmarks/targets.py [--nets cnn,resnet] [--samples 1000]

Writes benchmarks/results/targets.json and targets.md.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
STEPS = (1, 2, 4, 8, 16, 32)
NETS = {"cnn": ("bundled MNIST CNN", ROOT / "examples" / "mnist_cnn" / "mnist_cnn.pt", "make_model"),
        "resnet": ("MNIST ResNet", ROOT / "examples" / "mnist_resnet" / "mnist_resnet.pt", "MnistResNet")}
# name: (target, method, Settings fields, readout, integer weights, converted per T)
VARIANTS = {
    "sdnn": ("loihi2", "sdnn", {}, "potential", False, False),
    "sdnn --netx": ("loihi2", "sdnn", {}, "potential", True, False),
    "sdnn d=0.1": ("loihi2", "sdnn", {"delta_threshold": 0.1}, "potential", False, False),
    "lif": ("loihi2", "lif", {}, "potential", False, True),
    "lasnn (stock)": ("loihi2", "lasnn", {"target_steps": 8, "stock": True}, "potential", False, False),
    "rate (sim)": ("sim", "rate", {"percentile": 99.9, "v_init": 0.5}, "potential", False, False),
}


def measure(name, path, variant, x, y, calib, profile, train=None):
    from neurokit import energy
    from neurokit.backends import get_backend
    from neurokit.backends.engine.stream import is_stream, readout_delay
    from neurokit.network import depths
    from neurokit.convert import Settings, convert
    from neurokit.lower import from_nir
    from neurokit.netx import NetxExportError, export_netx
    from neurokit.pipeline import ann_predictions, summarize_run
    from neurokit.targets import label
    from quantize import quantize

    target, method, fields, readout, integer, per_t = VARIANTS[variant]
    from neurokit.io import load_torch_model

    model = load_torch_model(path[0], f"{path[0].parent / 'train.py'}:{path[1]}")
    ann = float(np.mean(ann_predictions(model, x) == y))
    t0 = time.perf_counter()
    rows, net, q, rep, netx = [], None, None, {}, None
    for T in STEPS:
        if net is None or per_t:
            try:
                settings = Settings(**fields, target_steps=T) if per_t else Settings(**fields)
                settings.readout = readout
                net = from_nir(convert(model, calib, method=method, settings=settings, readout=readout, train=train))
            except Exception as e:  # a method that cannot take this network: recorded, not hidden
                return {"net": name, "variant": variant, "target": target, "refused": str(e).splitlines()[0],
                        "rows": []}
            q, rep = quantize(net, profile, calib, integer_weights=integer)
            with tempfile.TemporaryDirectory() as tmp:  # the real export: refusals name the first obstacle
                try:
                    export_netx(q, f"{tmp}/m.net")
                    netx = "yes"
                except NetxExportError as e:
                    netx = f"no: {str(e).split(';')[0]}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # T too short for a residual stream's skip paths: measured anyway
            f = get_backend("float").run(net, x, T)
            t = get_backend("engine").run(q, x, T)
        run = summarize_run(q, t, y)
        layers = run["layers"]
        terms = energy.snn_energy(profile, [l["neurons"] for l in layers], [l["spikes"] for l in layers],
                                  [l["synops"] for l in layers], T)
        stream = is_stream(q)
        pipelined = stream or net.metadata.get("windows") == "pipelined"
        rows.append({
            "T": T, "ann": ann, "float": f.accuracy(y), "fixed": t.accuracy(y),
            "spikes": float(sum(l["spikes"] for l in layers)), "synops": float(sum(l["synops"] for l in layers)),
            "energy_uj": energy.total(terms) * 1e6,
            "latency_steps": T + (readout_delay(q) if stream else max(depths(q).values()) if pipelined else 0),
            "throughput_steps": T,
            **({"alpha": net.metadata["threshold_balancing"]["alpha"]} if "threshold_balancing" in net.metadata else {}),
        })
    macs = int(sum(net.metadata.get("ann_macs", {}).values()))
    return {"net": name, "variant": variant, "target": target, "runs_on": label(q), "netx_file": netx,
            "integer_weights": integer, "scale_plan": rep.get("scale_plan"), "ann_macs": macs,
            "ann_energy_uj": energy.ann_energy(profile, macs)["fp32"].joules * 1e6,
            "depth": max(depths(q).values()) if is_stream(q) else None, "rows": rows,
            "seconds": time.perf_counter() - t0}


def render(results: dict) -> str:
    out = [f"# Targets against T ({results['samples']} MNIST test images, profile loihi2)", ""]
    for r in results["runs"]:
        if r.get("refused"):
            out += [f"## {r['net']}: {r['variant']} (target {r['target']}): refused", "", f"{r['refused']}", ""]
            continue
        out.append(f"## {r['net']}: {r['variant']} (target {r['target']}; runs on {r['runs_on']}; netx file: "
                   f"{r['netx_file']})")
        out.append("")
        out.append("| T | ANN | float SNN | Loihi 2 fixed point | spikes / messages | synops | energy (µJ) | "
                   "latency (steps) | steps per sample |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in r["rows"]:
            out.append(f"| {row['T']} | {100 * row['ann']:.1f} % | {100 * row['float']:.1f} % | "
                       f"{100 * row['fixed']:.1f} % | {row['spikes']:,.0f} | {row['synops']:.3g} | "
                       f"{row['energy_uj']:.3g} | {row['latency_steps']} | {row['throughput_steps']} |")
        out.append(f"\nANN: {r['ann_macs']:,} MACs, {r['ann_energy_uj']:.3g} µJ (fp32)" +
                   (f"; weight bits planned: {', '.join(f'{k} {v:.1f}' for k, v in r['scale_plan']['weight_bits'].items())}"
                    f", input {r['scale_plan']['input_bits']:.1f} bits" if r["scale_plan"] else ""))
        out.append("")
    return "\n".join(out)


def summary_table(results: dict, at: int = 8) -> str:
    """One row per network and variant: fixed-point accuracy at every T, and the traffic at T = `at`."""
    head = ("| network | variant (target) | ANN | " + " | ".join(f"T={t}" for t in STEPS)
            + f" | spikes / messages at T={at} | synops at T={at} | energy at T={at} | netx file |")
    out = [head, "|" + "---|" * (len(STEPS) + 7)]
    for r in results["runs"]:
        if r.get("refused"):
            out.append(f"| {r['net']} | {r['variant']} ({r['target']}) | | refused: {r['refused']} |"
                       + " |" * (len(STEPS) + 3))
            continue
        rows = {row["T"]: row for row in r["rows"]}
        a = rows[at]
        out.append(f"| {r['net']} | {r['variant']} ({r['target']}) | {100 * a['ann']:.1f} % | "
                   + " | ".join(f"{100 * rows[t]['fixed']:.1f} %" for t in STEPS)
                   + f" | {a['spikes']:,.0f} | {a['synops']:.3g} | {a['energy_uj']:.3g} µJ | {r['netx_file']} |")
    return "\n".join(out)


def main() -> None:
    from hw_profiles import load_profile
    from neurokit.data import load_dataset

    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", default="cnn,resnet")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--summary", action="store_true", help="print the summary table of the saved results and exit")
    a = ap.parse_args()
    if a.summary:
        print(summary_table(json.loads((RESULTS / "targets.json").read_text())))
        return
    data = load_dataset("mnist")
    x, y = data.x_test[:a.samples], data.y_test[:a.samples]
    calib = data.x_train[:500]
    profile = load_profile("loihi2")
    runs = []
    for key in a.nets.split(","):
        name, *path = NETS[key]
        for variant in a.variants.split(","):
            runs.append(measure(name, path, variant, x, y, calib, profile, (data.x_train, data.y_train)))
            print(f"{name} / {variant}: " + ", ".join(f"T={r['T']} {100 * r['fixed']:.1f}" for r in runs[-1]["rows"]),
                  flush=True)
    done = {(r["net"], r["variant"]) for r in runs}
    old = json.loads((RESULTS / "targets.json").read_text())["runs"] if (RESULTS / "targets.json").exists() else []
    order = [(NETS[k][0], v) for k in NETS for v in VARIANTS]  # (title, variant)
    merged = [r for r in old if (r["net"], r["variant"]) not in done and (r["net"], r["variant"]) in order] + runs
    merged.sort(key=lambda r: order.index((r["net"], r["variant"])))
    results = {"samples": len(x), "machine": platform.platform(), "python": platform.python_version(), "runs": merged}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "targets.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "targets.md").write_text("# Summary (fixed point)\n\n" + summary_table(results) + "\n\n" + render(results) + "\n")


if __name__ == "__main__":
    main()
