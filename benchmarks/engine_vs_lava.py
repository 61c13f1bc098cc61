"""Lava fixed_pt against neurokit's engine on the same quantized networks, in one run.

Networks: a 784-512-10 MLP (trained briefly on MNIST), the bundled MNIST CNN, and a VGG-style
CIFAR-shaped CNN (examples/vgg_cifar, untrained, smooth random images). For each: Lava's steps per second
(one sample at a time: Lava has no batch, so its sample-steps per second equal its steps per second),
the engine at batch 1 and at batch 1,000, the ratios, and peak memory (resident set of the whole process
tree, Lava's runtime processes included). Each measurement runs in a fresh subprocess. Neither side's
preparation is timed: Lava's compile and first sample, the engine's Engine.prepare. Every network is
checked first: `neurokit.verify` on it must report bit-exact agreement, or the benchmark stops.

    .venv/bin/python benchmarks/engine_vs_lava.py [--steps 32] [--batch 1000] [--device cpu]

Prints a markdown table and writes benchmarks/results/engine_vs_lava.json (--render re-prints its table).
NEUROKIT_FUSED=0 runs the engine's numpy neuron path instead of its fused kernel (for A/B runs); the JSON
records which ran. Kernel compiles happen in Engine.prepare, outside the timed loops.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NETS = ("mlp", "cnn", "vgg")
NET_TITLES = {"mlp": "784-512-10 MLP (MNIST)", "cnn": "bundled MNIST CNN", "vgg": "VGG-style CNN, 3x32x32"}


# ---- the networks (built inside each subprocess, identically: fixed seeds) ------------------------------

def build(name: str):
    """(quantized net, inputs for up to 1,000 samples)."""
    import numpy as np
    import torch

    from hw_profiles import load_profile
    from neurokit.convert import convert
    from neurokit.data import load_dataset
    from neurokit.io import load_torch_model
    from neurokit.lower import from_nir
    from quantize import quantize

    torch.manual_seed(0)
    if name == "vgg":
        sys.path.insert(0, str(ROOT / "examples" / "vgg_cifar"))
        from model import make_model, random_cifar

        data = random_cifar(1200, seed=0)["x_train"]
        model, calib, x = make_model(), data[:200], data[200:]
    else:
        data = load_dataset("mnist")
        calib, x = data.x_train[:500], data.x_test[:1000]
        if name == "cnn":
            model = load_torch_model(ROOT / "examples" / "mnist_cnn" / "mnist_cnn.pt", str(ROOT / "examples" / "mnist_cnn" / "train.py") + ":make_model")
        else:
            model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                        torch.nn.Linear(512, 10))
            opt = torch.optim.Adam(model.parameters(), 1e-3)
            xt, yt = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
            for i in range(300):
                idx = torch.randint(0, len(xt), (256,))
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
                opt.step()
            model.eval()
    net = from_nir(convert(model, calib))
    qnet, _ = quantize(net, load_profile("loihi2"), calib)
    return qnet, np.ascontiguousarray(x)


# ---- one measurement (runs in a subprocess) --------------------------------------------------------------

def measure(net_name: str, what: str, steps: int, batch: int, device: str) -> dict:
    import numpy as np

    qnet, x = build(net_name)
    if what == "verify":
        from neurokit.verify import verify

        r = verify(qnet, x[:2], steps)
        return {"match": r["match"], "samples": r["samples"], "steps": r["steps"], "values": r["values_compared"]}
    if what == "lava":
        from lava.magma.core.run_conditions import RunSteps
        from lava.magma.core.run_configs import Loihi2SimCfg

        from neurokit.backends.lava.network import build as build_lava
        from neurokit.backends.lava.network import input_frames

        n = 4
        source, _ = build_lava(qnet, True, input_frames(qnet, qnet.encode_input(x[:n])), steps)
        cfg = Loihi2SimCfg(select_tag="fixed_pt")
        try:
            source.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)  # compile, start, first sample
            t0 = time.perf_counter()
            source.run(condition=RunSteps(num_steps=(n - 1) * steps), run_cfg=cfg)
            dt = time.perf_counter() - t0
        finally:
            source.stop()
        return {"steps_per_s": (n - 1) * steps / dt, "sample_steps_per_s": (n - 1) * steps / dt}
    from neurokit.backends import get_backend

    engine = get_backend("engine", device=device)
    prepared = engine.prepare(qnet)  # once, as Lava compiles once (its compile time is not counted either)
    if what == "engine1":
        engine.run(prepared, x[:1], steps)  # warm-up
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 3.0 or reps < 5:
            engine.run(prepared, x[reps % len(x):reps % len(x) + 1], steps)
            reps += 1
        dt = time.perf_counter() - t0
        return {"steps_per_s": reps * steps / dt, "sample_steps_per_s": reps * steps / dt}
    xs = np.concatenate([x] * (batch // len(x) + 1))[:batch]
    engine.run(prepared, xs[:2], steps)  # warm-up
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3.0 or reps < 1:  # short runs are repeated: one 0.2 s run is noise
        engine.run(prepared, xs, steps)
        reps += 1
    dt = (time.perf_counter() - t0) / reps
    return {"steps_per_s": steps / dt, "sample_steps_per_s": batch * steps / dt, "wall_s": dt, "repeats": reps}


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of pid and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run_measurement(net_name: str, what: str, steps: int, batch: int, device: str) -> dict:
    cmd = [sys.executable, __file__, "--child", net_name, what, str(steps), str(batch), device]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    peak = [0.0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{net_name}/{what} failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak[0]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--device", default="cpu", help="engine device: cpu (numpy), cpu-torch, cuda")
    ap.add_argument("--nets", default=",".join(NETS))
    ap.add_argument("--render", action="store_true", help="print the table of the last results file, measure nothing")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.render:
        print(table(json.loads((ROOT / "benchmarks" / "results" / "engine_vs_lava.json").read_text())))
        return
    if a.child:
        import torch

        net_name, what, steps, batch, device = a.child
        # batch 1 is latency-bound: torch's second thread only adds synchronization to its small convolutions
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", 1 if what == "engine1" else (os.cpu_count() or 1))))
        print(json.dumps(measure(net_name, what, int(steps), int(batch), device)))
        return

    results = []
    for net_name in a.nets.split(","):
        row = {"net": net_name, "title": NET_TITLES[net_name], "steps": a.steps, "batch": a.batch, "device": a.device}
        for what in ("verify", "lava", "engine1", "engine_batch"):
            row[what] = run_measurement(net_name, what, a.steps, a.batch, a.device)
            print(f"{net_name} {what}: {row[what]}", file=sys.stderr)
        if not row["verify"]["match"]:
            raise SystemExit(f"{net_name}: the engine does not match Lava; not benchmarking a wrong result")
        lava = row["lava"]["steps_per_s"]
        row["ratio_batch1"] = row["engine1"]["steps_per_s"] / lava
        row["ratio_batched"] = row["engine_batch"]["sample_steps_per_s"] / lava
        results.append(row)

    out = ROOT / "benchmarks" / "results" / "engine_vs_lava.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"steps": a.steps, "batch": a.batch, "device": a.device, "cpu_count": os.cpu_count(),
              "fused": os.environ.get("NEUROKIT_FUSED", "1") != "0",
              "cpu": platform.processor() or platform.machine(), "results": results}
    record["table"] = table(record)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"T = {a.steps}, engine device {a.device}, {os.cpu_count()} CPU cores, {record['cpu']}")
    print(record["table"])
    print(f"wrote {out.relative_to(ROOT)}")


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def table(record: dict) -> str:
    head = ["network", "Lava fixed_pt steps/s", "engine b=1 steps/s", "ratio b=1",
            f"engine b={record['batch']:,} sample-steps/s", "ratio batched", "peak MB: Lava / engine b=1 / batched",
            "bit-exact"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in record["results"]:
        lines.append("| " + " | ".join([
            r["title"], _num(r["lava"]["steps_per_s"]), _num(r["engine1"]["steps_per_s"]),
            f"{r['ratio_batch1']:,.0f}x", _num(r["engine_batch"]["sample_steps_per_s"]), f"{r['ratio_batched']:,.0f}x",
            f"{r['lava']['peak_rss_mb']:,.0f} / {r['engine1']['peak_rss_mb']:,.0f} / {r['engine_batch']['peak_rss_mb']:,.0f}",
            f"yes ({r['verify']['values']:,} values)" if r["verify"]["match"] else "NO",
        ]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
