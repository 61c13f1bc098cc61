"""SpikingJelly's float simulator against neurokit's engine: the same CNN, the same images, the same T.

Issue 14 asks the engine on 2 CPU cores to be no slower than the peers' own float simulators on the same
model and T. SpikingJelly 2.0.0 cannot be installed beside neurokit's pins (it needs Python >= 3.11 and
torch >= 2.6; lava-dl pins torch 2.3), so its rows run in .venv-spikingjelly (scripts/setup-interop.sh).

Models: the bundled MNIST CNN (examples/mnist_cnn, conv-BN-ReLU-avgpool x2, dense; about 0.29 M MACs) and
a 1 M-MAC MNIST CNN defined here (conv 1->16 3x3, avgpool, conv 16->32 3x3, avgpool, dense; trained for 3
epochs on neurokit's MNIST split with a fixed seed at every run). Both frameworks load the same weights (a
state_dict the parent writes once) and read the same images (an .npz the parent writes).

The same computation on both sides: rate conversion with layer-wise max-norm on the same 500 training
images (SpikingJelly's RateCodingRecipe mode "max", one calibration batch; neurokit's rate method with
percentile 100), integrate-and-fire neurons with reset by subtraction starting at v = 0, the analog image
as an input current at every step, batch norm folded, and the class read from the output layer's summed
input (SpikingJelly sums the last Linear's outputs over T; neurokit's "potential" readout, count + v /
threshold). What differs: neurokit keeps Lava's one-step synaptic delay per layer (the output sees T - 3
steps of input), fires at v > threshold (SpikingJelly at v >= threshold), and sums in float64 (float mode)
or Loihi 2's integers (fixed mode) where SpikingJelly sums in float32.

Rows: SpikingJelly (single-step mode, its documented ann2snn evaluation loop: functional.reset_net per
batch, then T calls of the net on the image), neurokit's float engine (Engine("float", device="cpu")) and
its fixed-point engine (quantize to the loihi2 profile, Engine("fixed", device="cpu")), each in a fresh
subprocess with torch (and BLAS) threads set to --threads, the same --batch (neurokit: Engine batch_size).
Only the simulation is timed: conversion, quantization and Engine.prepare are reported separately, and a
2-sample warm-up precedes the timed run. Where a neurokit row is slower than SpikingJelly, a cProfile of that
engine run (on --profile-images images, same T and batch) is recorded with its top entries.

    .venv/bin/python benchmarks/peer_speed.py [--images 1000] [--steps 128] [--batch 100] [--threads 2]
    .venv/bin/python benchmarks/peer_speed.py --quick        # 100 images, T = 16: checks the script only

Prints a markdown table and writes benchmarks/results/peer_speed.json and peer_speed.md (not with --quick);
--render re-prints the table of the results file.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SJ_PYTHON = ROOT / ".venv-spikingjelly" / "bin" / "python"
MODELS = ("bundled", "cnn1m")
TITLES = {"bundled": "bundled MNIST CNN", "cnn1m": "1 M-MAC MNIST CNN"}
CALIBRATION = 500
TRAIN_EPOCHS = 5


# ---- the models: plain torch, so that both environments build them from this file ----------------------

def make_model(name: str):
    from torch import nn

    if name == "bundled":  # a copy of examples/mnist_cnn/train.py:make_model (the parent checks they agree)
        return nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Dropout(0.2), nn.Linear(16 * 7 * 7, 10),
        )
    if name == "cnn1m":  # 112,896 + 903,168 + 15,680 MACs
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
        )
    raise ValueError(name)


def _load(name: str, work: Path):
    import torch

    model = make_model(name)
    model.load_state_dict(torch.load(work / f"{name}.pt", map_location="cpu", weights_only=True))
    return model.eval()


def _data(work: Path):
    import numpy as np

    with np.load(work / "data.npz") as f:
        return f["calib"], f["x"], f["y"]


def _prepare_models(work: Path, log, epochs: int) -> dict:
    """Writes WORK/{bundled,cnn1m}.pt and WORK/data.npz; returns ANN facts per model."""
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from neurokit.data import load_dataset
    from neurokit.io import load_torch_model

    torch.set_num_threads(2)
    data = load_dataset("mnist")
    facts = {}
    bundled_pt = ROOT / "examples" / "mnist_cnn" / "mnist_cnn.pt"
    reference = load_torch_model(bundled_pt, str(ROOT / "examples" / "mnist_cnn" / "train.py") + ":make_model")
    copy = make_model("bundled")
    if repr(copy) != repr(reference):
        raise SystemExit("peer_speed: make_model('bundled') no longer matches examples/mnist_cnn/train.py:make_model")
    copy.load_state_dict(reference.state_dict())
    torch.save(copy.state_dict(), work / "bundled.pt")
    facts["bundled"] = {"weights": str(bundled_pt.relative_to(ROOT)), "training": "examples/mnist_cnn/train.py"}

    torch.manual_seed(0)
    model = make_model("cnn1m")
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    torch.save(model.state_dict(), work / "cnn1m.pt")
    facts["cnn1m"] = {"weights": f"trained here: {epochs} epochs, Adam 2e-3, batch 64, seed 0",
                      "training_s": round(time.perf_counter() - t0, 1)}
    log(f"trained the 1 M-MAC CNN in {facts['cnn1m']['training_s']} s")
    np.savez(work / "data.npz", calib=data.x_train[:CALIBRATION], x=data.x_test, y=data.y_test)
    for name in MODELS:
        m = _load(name, work)
        with torch.no_grad():
            facts[name]["ann_accuracy"] = float((m(torch.from_numpy(data.x_test)).argmax(1).numpy() == data.y_test).mean())
    return facts


# ---- the children ----------------------------------------------------------------------------------------

def child_spikingjelly(work: Path, name: str, images: int, steps: int, batch: int) -> dict:
    """Runs in .venv-spikingjelly: ann2snn rate conversion, then the timed simulation."""
    import numpy as np
    import torch
    from spikingjelly.activation_based import ann2snn, functional

    calib, x, y = _data(work)
    x, y = torch.from_numpy(x[:images]), y[:images]
    model = _load(name, work)
    t0 = time.perf_counter()
    recipe = ann2snn.RateCodingRecipe(dataloader=[torch.from_numpy(calib)], mode="max")  # one batch: no momentum
    snn = ann2snn.Converter(recipe=recipe, device="cpu").convert(model).eval()
    convert_s = time.perf_counter() - t0
    with torch.no_grad():
        functional.reset_net(snn)
        for _ in range(2):  # warm-up
            snn(x[:2])
        functional.reset_net(snn)
        preds = []
        t0 = time.perf_counter()
        for i in range(0, len(x), batch):
            functional.reset_net(snn)
            img = x[i:i + batch]
            out = snn(img)
            for _ in range(steps - 1):
                out = out + snn(img)
            preds.append(out.argmax(1))
        run_s = time.perf_counter() - t0
    preds = torch.cat(preds).numpy()
    return {"run_s": run_s, "convert_s": convert_s, "accuracy": float(np.mean(preds == y)),
            "predictions": preds.tolist(), "torch": torch.__version__, "spikingjelly": _version("spikingjelly"),
            "numpy": np.__version__, "python": platform.python_version(), "threads": torch.get_num_threads(),
            "neuron": "IFNode(v_reset=None), single-step mode, backend torch"}


def _neurokit_engine(work: Path, name: str, mode: str, batch: int):
    """(engine, prepared net, x, y, stage times) for one neurokit row."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from hw_profiles import load_profile
    from neurokit.backends.engine import Engine
    from neurokit.convert import Settings, convert
    from neurokit.lower import from_nir
    from quantize import quantize

    calib, x, y = _data(work)
    model = _load(name, work)
    stages = {}
    t0 = time.perf_counter()
    graph = convert(model, calib, method="rate", settings=Settings(percentile=100.0, v_init=0.0),
                    input_encoding="current", readout="potential")
    net = from_nir(graph)
    stages["convert_s"] = time.perf_counter() - t0
    macs = sum(net.metadata["ann_macs"].values())
    if mode == "fixed":
        t0 = time.perf_counter()
        net, _ = quantize(net, load_profile("loihi2"), calib)
        stages["quantize_s"] = time.perf_counter() - t0
    # multiply-adds of each projection as the engine computes it, per sample-step (pooling is folded into the
    # next projection's weights, as the chip runs it; a projection from the held input is computed once)
    stages["projection_macs"] = {q.name: int(q.n_neurons * (np.prod(np.shape(q.weight)[1:]) if q.kind == "conv"
                                                            else q.n_inputs)) for q in net.projections}
    engine = Engine(mode, device="cpu", batch_size=batch)
    t0 = time.perf_counter()
    prepared = engine.prepare(net)
    stages["prepare_s"] = time.perf_counter() - t0
    return engine, prepared, x, y, stages, macs


def child_neurokit(work: Path, name: str, mode: str, images: int, steps: int, batch: int, profile: bool) -> dict:
    import numpy as np
    import torch

    engine, prepared, x, y, stages, macs = _neurokit_engine(work, name, mode, batch)
    x, y = x[:images], y[:images]
    engine.run(prepared, x[:2], steps)  # warm-up
    if profile:
        import cProfile
        import io
        import pstats

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        engine.run(prepared, x, steps)
        prof.disable()
        wall = time.perf_counter() - t0
        stats = pstats.Stats(prof, stream=io.StringIO())
        total = sum(v[2] for v in stats.stats.values())  # tottime summed over all functions
        top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]
        rows = [{"function": f"{Path(f).name}:{line}({fn})", "calls": int(nc), "tottime_s": round(tt, 3),
                 "share": round(tt / total, 3), "cumtime_s": round(ct, 3)}
                for (f, line, fn), (cc, nc, tt, ct, _) in top]
        return {"images": images, "wall_s": wall, "top": rows}
    t0 = time.perf_counter()
    trace = engine.run(prepared, x, steps)
    run_s = time.perf_counter() - t0
    preds = trace.predictions()
    return {"run_s": run_s, **stages, "accuracy": float(np.mean(preds == y)), "predictions": preds.tolist(),
            "macs": int(macs), "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "threads": torch.get_num_threads(),
            "chunk": engine._chunk_size(prepared, steps)}


def _version(package: str) -> str:
    from importlib.metadata import version

    try:
        return version(package)
    except Exception:
        return "unknown"


# ---- the parent ------------------------------------------------------------------------------------------

def _child(python: str, args: list[str], threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PEER_SPEED_THREADS=str(threads))  # OMP_WAIT_POLICY: set by main
    load = os.getloadavg()[0]
    proc = subprocess.run([python, str(Path(__file__).resolve()), "--child", *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"peer_speed: {' '.join(args[:3])} failed with exit code {proc.returncode}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_before"] = round(load, 2)
    result["load_after"] = round(os.getloadavg()[0], 2)
    return result


def _commit() -> str:
    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--batch", type=int, default=100,
                    help="samples per batch, both frameworks (the engine holds all T steps of a batch's layer: "
                         "at T = 128 about 13 MB per sample for the 1 M-MAC CNN's first layer)")
    ap.add_argument("--threads", type=int, default=2, help="torch and BLAS threads in every measurement")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--omp-wait-policy", default="PASSIVE", choices=("PASSIVE", "ACTIVE", "unset"),
                    help="OMP_WAIT_POLICY of every process (default PASSIVE: on cores other jobs share, OpenMP's "
                         "spinning threads made a 2-thread torch convolution 17x slower here; see the README)")
    ap.add_argument("--quick", action="store_true", help="100 images, T = 16; checks the script, writes nothing")
    ap.add_argument("--profile-images", type=int, default=200,
                    help="images of the cProfile run made for a neurokit row slower than SpikingJelly (0: none)")
    ap.add_argument("--sj-python", default=os.environ.get("SPIKINGJELLY_PYTHON", str(SJ_PYTHON)),
                    help="the Python of the SpikingJelly environment (default .venv-spikingjelly)")
    ap.add_argument("--render", action="store_true", help="print the table of the results file, measure nothing")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        import torch

        torch.set_num_threads(int(os.environ.get("PEER_SPEED_THREADS", "2")))
        kind, work, name, *rest = a.child
        if kind == "sj":
            result = child_spikingjelly(Path(work), name, *map(int, rest))
        else:
            mode, images, steps, batch, profile = rest
            result = child_neurokit(Path(work), name, mode, int(images), int(steps), int(batch), profile == "1")
        import resource

        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        print(json.dumps(result))
        return
    if a.omp_wait_policy != "unset":  # before torch starts its OpenMP runtime, here and in every child
        os.environ["OMP_WAIT_POLICY"] = a.omp_wait_policy
    if a.render:
        print(table(json.loads((RESULTS / "peer_speed.json").read_text())))
        return
    if not Path(a.sj_python).exists():
        raise SystemExit(f"peer_speed: no SpikingJelly environment at {a.sj_python}; make it with "
                         "scripts/setup-interop.sh spikingjelly (or point --sj-python at one)")
    if a.quick:
        a.images, a.steps, a.profile_images = 100, 16, min(a.profile_images, 50)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    record = {"images": a.images, "steps": a.steps, "batch": a.batch, "threads": a.threads,
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
              "cpu_count": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
              "neurokit_commit": _commit(), "uptime_before": _uptime(), "calibration_images": CALIBRATION,
              "models": []}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="peer_speed_") as tmp:
        work = Path(tmp)
        facts = _prepare_models(work, log, TRAIN_EPOCHS)
        for name in a.models.split(","):
            row = {"model": name, "title": TITLES[name], **facts[name]}
            row["spikingjelly"] = _child(a.sj_python, ["sj", str(work), name, str(a.images), str(a.steps),
                                                       str(a.batch)], a.threads)
            log(f"{name} spikingjelly: {_brief(row['spikingjelly'])}")
            for mode in ("float", "fixed"):
                row[f"neurokit_{mode}"] = _child(sys.executable, ["nk", str(work), name, mode, str(a.images),
                                                                  str(a.steps), str(a.batch), "0"], a.threads)
                log(f"{name} neurokit {mode}: {_brief(row[f'neurokit_{mode}'])}")
            row["macs"] = row["neurokit_float"]["macs"]
            sj = row["spikingjelly"]
            sj_classes = sj.pop("predictions")
            for key in ("spikingjelly", "neurokit_float", "neurokit_fixed"):
                r = row[key]
                r["sample_steps_per_s"] = a.images * a.steps / r["run_s"]
                r["vs_spikingjelly"] = sj["run_s"] / r["run_s"]  # > 1: faster than SpikingJelly
                if key != "spikingjelly":  # the share of images given the class SpikingJelly gives them
                    r["agrees_with_spikingjelly"] = sum(p == q for p, q in zip(r.pop("predictions"), sj_classes)) / a.images
            for mode in ("float", "fixed"):
                r = row[f"neurokit_{mode}"]
                if r["vs_spikingjelly"] < 1 and a.profile_images:
                    n = min(a.profile_images, a.images)
                    r["profile"] = _child(sys.executable, ["nk", str(work), name, mode, str(n), str(a.steps),
                                                           str(a.batch), "1"], a.threads)
                    log(f"{name} neurokit {mode} profiled on {n} images: "
                        + ", ".join(f"{e['function']} {100 * e['share']:.0f} %" for e in r["profile"]["top"][:4]))
            record["models"].append(row)
    record["uptime_after"] = _uptime()
    record["wall_s"] = round(time.perf_counter() - t_start, 1)
    first = record["models"][0]
    record["versions"] = {"spikingjelly env": {k: first["spikingjelly"][k] for k in ("python", "torch", "spikingjelly", "numpy")},
                          "neurokit env": {k: first["neurokit_float"][k] for k in ("python", "torch", "numpy")}}
    record["table"] = table(record)
    print(header(record))
    print(record["table"])
    if a.quick:
        print("(--quick: nothing written)")
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "peer_speed.json").write_text(json.dumps(record, indent=1) + "\n")
    (RESULTS / "peer_speed.md").write_text(markdown(record))
    print(f"wrote {(RESULTS / 'peer_speed.json').relative_to(ROOT)}, peer_speed.md")


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _brief(r: dict) -> str:
    return f"{r['run_s']:.2f} s, accuracy {100 * r['accuracy']:.1f} %"


def header(record: dict) -> str:
    v = record["versions"]
    sj, nk = v["spikingjelly env"], v["neurokit env"]
    return (f"{record['images']:,} MNIST test images, T = {record['steps']}, batch {record['batch']}, "
            f"{record['threads']} torch/BLAS threads (OMP_WAIT_POLICY {record['omp_wait_policy']}), {record['cpu_count']} CPU cores ({record['cpu']}); "
            f"SpikingJelly {sj['spikingjelly']} (torch {sj['torch']}, Python {sj['python']}), neurokit "
            f"{record['neurokit_commit']} (torch {nk['torch']}, numpy {nk['numpy']}, Python {nk['python']}).\n"
            f"Load: before `{record['uptime_before']}`; after `{record['uptime_after']}`.")


def table(record: dict) -> str:
    head = ["model", "MACs", "simulator", "seconds", "sample-steps/s", "vs SpikingJelly", "accuracy (ANN)",
            "same class as SJ", "peak MB", "load avg"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    names = {"spikingjelly": "SpikingJelly float32", "neurokit_float": "neurokit engine, float",
             "neurokit_fixed": "neurokit engine, fixed point"}
    for row in record["models"]:
        for key, label in names.items():
            r = row[key]
            ratio = r["vs_spikingjelly"]
            vs = "1" if key == "spikingjelly" else (f"{ratio:.2f}x faster" if ratio >= 1 else f"{1 / ratio:.2f}x slower")
            lines.append("| " + " | ".join([
                row["title"], f"{row['macs']:,}", label, f"{r['run_s']:.1f}", f"{r['sample_steps_per_s']:,.0f}", vs,
                f"{100 * r['accuracy']:.1f} % ({100 * row['ann_accuracy']:.1f} %)",
                "-" if key == "spikingjelly" else f"{100 * r['agrees_with_spikingjelly']:.1f} %",
                f"{r['peak_rss_mb']:,.0f}",
                f"{r['load_before']:.1f} / {r['load_after']:.1f}",
            ]) + " |")
    return "\n".join(lines)


def markdown(record: dict) -> str:
    out = ["# SpikingJelly against neurokit's engine (benchmarks/peer_speed.py)", "", header(record), "",
           record["table"], "",
           "Seconds: the simulation of all images only (conversion, quantization and Engine.prepare excluded). "
           "Peak MB: the measuring process's peak resident memory. "
           "Load avg: the 1-minute load average before / after each measurement (other jobs share the cores).", ""]
    for row in record["models"]:
        stages = [f"SpikingJelly conversion {row['spikingjelly']['convert_s']:.2f} s"]
        for mode in ("float", "fixed"):
            r = row[f"neurokit_{mode}"]
            stages.append(f"neurokit {mode}: convert {r['convert_s']:.2f} s"
                          + (f", quantize {r['quantize_s']:.2f} s" if "quantize_s" in r else "")
                          + f", prepare {r['prepare_s']:.3f} s")
        pm = row["neurokit_float"]["projection_macs"]
        out += [f"## {row['title']}", "", f"Weights: {row['weights']}. " + "; ".join(stages) + ".", "",
                f"Multiply-adds per sample-step: the ANN (and SpikingJelly) {row['macs']:,}; neurokit's projections, "
                "with each average pooling folded into the next layer's weights as the chip runs it, "
                + ", ".join(f"{k} {v:,}" for k, v in pm.items()) + f" ({sum(pm.values()):,}; a projection from "
                "the held input image is computed once per sample, not per step).", ""]
        for mode in ("float", "fixed"):
            prof = row[f"neurokit_{mode}"].get("profile")
            if not prof:
                continue
            out += [f"cProfile of the neurokit {mode} run ({prof['images']} images, same T and batch; "
                    f"{prof['wall_s']:.1f} s under the profiler), top functions by own time:", "",
                    "| function | calls | own s | share | cumulative s |", "|---|---|---|---|---|"]
            out += [f"| `{e['function']}` | {e['calls']:,} | {e['tottime_s']:.3f} | {100 * e['share']:.0f} % | "
                    f"{e['cumtime_s']:.3f} |" for e in prof["top"]]
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    main()
