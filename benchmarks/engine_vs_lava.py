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
On the CPU, NEUROKIT_FUSED=0 runs the engine's numpy neuron path instead of its fused numba kernel (for A/B
runs); the JSON records which ran. Kernel compiles happen in Engine.prepare, outside the timed loops.

On a GPU (`--device cuda`) it measures what issue 14 asks of the GPU path instead, one subprocess per network:
the engine batched with the fused Triton neuron update (neurokit/backends/engine/fused_triton.py) on and off,
TF32 sums on and off (on only where fixed.tf32_exact licenses them), at batch 1, and bit-exactness of every
configuration against the CPU engine on a few samples; the GPU's name; and, per network, a physical limit
estimated from its shapes (multiply-adds per sample-step, spike densities, bytes moved) against the GPU's
datasheet peaks (GPU_PEAKS), with the fraction reached. Lava's steps per second come from a Lava run when Lava
imports, else from benchmarks/results/engine_vs_lava.json (the CPU run: a GPU machine may have no Lava).
Writes benchmarks/results/engine_gpu.json and engine_gpu.md. `--tiny` runs the same code paths in seconds
(4 samples, 4 steps, no timing repeats; with --device cpu-torch the fused kernel runs in Triton's CPU
interpreter) and writes nothing under benchmarks/results unless --out says where:

    python3 benchmarks/engine_vs_lava.py --device cuda            # about 3 minutes on an H200
    .venv/bin/python benchmarks/engine_vs_lava.py --device cpu-torch --tiny
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
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

    if what == "accel":
        return measure_accel(net_name, steps, batch, device, tiny=bool(os.environ.get("BENCH_TINY")))
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


def run_measurement(net_name: str, what: str, steps: int, batch: int, device: str, env: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", net_name, what, str(steps), str(batch), device]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=None if env is None else {**os.environ, **env})
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
    ap.add_argument("--tiny", action="store_true",
                    help="the GPU report's code paths in seconds: 4 samples, 4 steps, no repeats (any torch device)")
    ap.add_argument("--out", help="where the GPU report's JSON goes (default benchmarks/results/engine_gpu.json; "
                                  "the markdown beside it)")
    ap.add_argument("--peaks", choices=sorted(GPU_PEAKS),
                    help="the GPU_PEAKS entry for the limit lines (default: from the GPU's name; off a GPU, "
                         "to exercise them in a --tiny run)")
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
    if a.device.startswith("cuda") or a.tiny:
        accel_main(a)
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


# ---- the GPU report (issue 14) -------------------------------------------------------------------------------

# Peak rates by GPU, from NVIDIA's datasheets (SXM parts unless named): "NVIDIA H200 Tensor Core GPU" datasheet
# (H200 SXM: FP32 67 TFLOPS, TF32 Tensor Core 989 TFLOPS with sparsity, so 494 dense, 4.8 TB/s HBM3e) and
# "NVIDIA H100 Tensor Core GPU" datasheet (H100 SXM: 67 / 989 sparse / 3.35 TB/s; H100 PCIe: 51 / 756 sparse /
# 2.0 TB/s), "NVIDIA A100 Tensor Core GPU" datasheet (A100 80GB SXM: 19.5 / 312 sparse / 2,039 GB/s). fp32 is the
# non-tensor rate; TF32 the dense tensor-core rate (half the sparse figure). Matched on the name torch reports.
GPU_PEAKS = {
    "H200": {"fp32": 67e12, "tf32": 494e12, "hbm": 4.8e12, "source": "NVIDIA H200 Tensor Core GPU datasheet (SXM)"},
    "H100 PCIe": {"fp32": 51e12, "tf32": 378e12, "hbm": 2.0e12, "source": "NVIDIA H100 Tensor Core GPU datasheet (PCIe)"},
    "H100": {"fp32": 67e12, "tf32": 494e12, "hbm": 3.35e12, "source": "NVIDIA H100 Tensor Core GPU datasheet (SXM)"},
    "A100": {"fp32": 19.5e12, "tf32": 156e12, "hbm": 2.039e12, "source": "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM)"},
}
# what one population moves per sample-step at the least, in this engine's design (a synaptic sum, then the
# neuron update): its int32 drive read, its spike byte written
BYTES_PER_NEURON_STEP = 4 + 1
MIN_TIME_S = 2.0  # each timed configuration runs at least this long (one run at least)


def gpu_peaks(name: str) -> dict | None:
    for key in ("H200", "H100 PCIe", "H100", "A100"):
        if all(part in name for part in key.split()):
            return dict(GPU_PEAKS[key], key=key)
    return None


def net_shapes(qnet) -> dict:
    """Multiply-adds per sample-step of every projection (dense: n_in x n_out; conv: outputs x kernel volume per
    output), with its source; neurons per population; input elements."""
    import math

    import numpy as np

    from neurokit.backends.engine.geometry import conv_geometry

    projections = []
    for q in qnet.projections:
        if q.kind == "conv":  # the kernel the engine convolves: a folded pooling's small one (engine/geometry.py)
            _, kernel = conv_geometry(np.asarray(q.weight), q)
            macs = q.n_neurons * math.prod(kernel.shape[1:])
        else:
            macs = q.n_inputs * q.n_neurons
        projections.append({"name": q.name, "kind": q.kind, "source": q.source, "target": q.target, "macs": int(macs)})
    return {"projections": projections, "populations": {p.name: int(p.n_neurons) for p in qnet.populations},
            "inputs": int(math.prod(qnet.input_shape))}


def _fused_switch():
    """FixedNeurons.run through fused_triton.run_lif wherever fused_triton.available says so (NEUROKIT_FUSED=1
    and a CUDA device, or Triton's interpreter), else the engine's own loop. It stands in until FixedNeurons.run
    dispatches by itself; with NEUROKIT_FUSED=0 such a dispatch stands aside too (available says no)."""
    from neurokit.backends.engine import fused_triton
    from neurokit.backends.engine.fixed import FixedNeurons

    own = FixedNeurons.run

    def run(self, drive, steps, record=False):
        if fused_triton.available(self.xp):
            return fused_triton.run_lif(self, drive, steps, record)
        return own(self, drive, steps, record)

    FixedNeurons.run = run
    return fused_triton


def _same_records(a, b) -> bool:
    import numpy as np

    return all(np.array_equal(getattr(x, k), getattr(y, k)) for x, y in zip(a, b) for k in ("u", "v", "spikes"))


def _timed(fn, min_time: float) -> tuple[float, int]:
    fn()  # warm-up: kernels compiled, cuDNN's algorithms chosen, memory cached
    reps, t0 = 0, time.perf_counter()
    while reps < 1 or time.perf_counter() - t0 < min_time:
        fn()
        reps += 1
    return (time.perf_counter() - t0) / reps, reps


def measure_accel(net_name: str, steps: int, batch: int, device: str, tiny: bool) -> dict:
    """Everything the GPU report needs from one network, in one process (one build)."""
    import numpy as np
    import torch

    from neurokit.backends.engine import Engine

    cuda = device.startswith("cuda")
    fused_triton = _fused_switch()
    qnet, x = build(net_name)
    out = {"shapes": net_shapes(qnet), "torch": torch.__version__, "device": device}
    if cuda:
        out["gpu"] = torch.cuda.get_device_name(device)
        out["cuda"] = torch.version.cuda
        out["sms"] = torch.cuda.get_device_properties(device).multi_processor_count
    try:
        import triton

        out["triton"] = triton.__version__
    except Exception as e:  # noqa: BLE001 -- the report says why the fused configurations are missing
        out["triton"] = f"not importable: {type(e).__name__}: {e}"
    min_time = 0.0 if tiny else MIN_TIME_S
    n_record = 2 if tiny else (4 if net_name == "vgg" else 8)
    n_run = 2 if tiny else 32
    xs = np.concatenate([x] * (batch // len(x) + 1))[:batch]

    # the CPU engine: the reference (bit-exact to Lava: engine_vs_lava.json, tests/test_engine_differential.py)
    t0 = time.perf_counter()
    for ref_device in ("cpu", "cpu-torch"):  # numpy first; torch on the CPU where this numpy will not serve
        try:
            cpu = Engine(device=ref_device)
            ref_record = cpu.record(qnet, x[:n_record], steps)
            ref_trace = cpu.run(qnet, x[:n_run], steps)
            out["reference"] = ref_device
            break
        except Exception as e:  # noqa: BLE001
            out[f"reference_{ref_device}_failed"] = f"{type(e).__name__}: {e}"
    else:
        raise SystemExit("the CPU engine ran on neither numpy nor torch; no reference")
    out["reference_s"] = time.perf_counter() - t0
    events = np.asarray(ref_trace.input_events, np.float64).sum()
    out["input_density"] = events / (out["shapes"]["inputs"] * steps * n_run)
    per_pop = ref_trace.layer_spikes.sum(0)  # spikes per population over n_run samples and all steps
    out["spike_density"] = {p.name: float(c) / (p.n_neurons * steps * n_run) for p, c in zip(qnet.populations, per_pop)}

    configs = []
    for fused in (False, True):
        for tf32 in ((False, True) if cuda else (False,)):
            os.environ["NEUROKIT_FUSED"] = "1" if fused else "0"
            os.environ["NEUROKIT_TF32"] = "1" if tf32 else "0"
            engine = Engine(device=device)
            row = {"fused": fused, "tf32": tf32}
            if fused and not fused_triton.available(_xp(device)):
                row["skipped"] = "the fused kernel is not available on this device (fused_triton.available)"
                configs.append(row)
                continue
            configs.append(row)
            try:
                prepared = engine.prepare(qnet)
                row["tf32_projections"] = sorted(name for name, syn in prepared.synapses.items()
                                                 if getattr(syn, "tf32", False))
                if cuda:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats(device)
                got = engine.record(prepared, x[:n_record], steps)
                trace = engine.run(prepared, x[:n_run], steps)
                row["bit_exact"] = bool(_same_records(ref_record, got)
                                        and np.array_equal(ref_trace.layer_spikes, trace.layer_spikes)
                                        and np.array_equal(ref_trace.output_counts, trace.output_counts))
                row["values_compared"] = int(sum(r.u.size + r.v.size + r.spikes.size for r in got))
                del got, trace
                row["chunk"] = engine._chunk_size(prepared, steps)
                dt, reps = _timed(lambda: engine.run(prepared, xs, steps), min_time)
                row.update(wall_s=dt, repeats=reps, sample_steps_per_s=batch * steps / dt)
                if cuda:
                    row["gpu_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
            except Exception as e:  # noqa: BLE001 -- one configuration's failure leaves the others' figures
                row["error"] = f"{type(e).__name__}: {e}"[:500]
                print(f"{net_name} fused={fused} tf32={tf32}: {row['error']}", file=sys.stderr)
                continue
            print(f"{net_name} fused={fused} tf32={tf32}: {row['sample_steps_per_s']:,.0f} sample-steps/s, "
                  f"bit-exact {row['bit_exact']}", file=sys.stderr)
    out["configs"] = configs
    if not any("sample_steps_per_s" in c for c in configs):
        raise SystemExit(f"{net_name}: no configuration ran: " + "; ".join(c.get("error", "") for c in configs))
    # batch 1, in the configuration that ran fastest batched (latency: what one sample at a time costs)
    best = max((c for c in configs if "sample_steps_per_s" in c), key=lambda c: c["sample_steps_per_s"])
    os.environ["NEUROKIT_FUSED"], os.environ["NEUROKIT_TF32"] = str(int(best["fused"])), str(int(best["tf32"]))
    engine = Engine(device=device)
    prepared = engine.prepare(qnet)
    i = [0]

    def one():
        engine.run(prepared, x[i[0] % len(x):i[0] % len(x) + 1], steps)
        i[0] += 1

    dt, reps = _timed(one, min(min_time, 1.5))
    out["engine1"] = {"fused": best["fused"], "tf32": best["tf32"], "steps_per_s": steps / dt, "repeats": reps}
    return out


def _xp(device: str):
    from neurokit.backends.engine.arrays import arrays_for

    return arrays_for(device)


def physical_limits(res: dict, peaks: dict | None) -> dict | None:
    """Sample-steps per second the GPU's datasheet peaks allow this network (res: measure_accel's result):
    - arithmetic, dense: every multiply-add every step, as the engine's matmuls and convolutions do them
      (2 FLOPs each), at the TF32 tensor-core rate on projections licensed for it, else the fp32 rate;
    - arithmetic, event-driven: only the multiply-adds of non-zero inputs (multiply-adds x the source's spike
      density, or the input's non-zero fraction): what a sparse, event-driven implementation would need;
    - memory: BYTES_PER_NEURON_STEP per neuron per step (its int32 drive read, its spike written) at HBM rate.
    The limit of the engine's method is the slower of dense arithmetic and memory; the physical limit the
    slower of event-driven arithmetic and memory."""
    if peaks is None:
        return None
    shapes = res["shapes"]
    tf32 = set()
    for c in res["configs"]:
        if c.get("tf32"):
            tf32.update(c.get("tf32_projections", []))
    density = dict(res["spike_density"], input=res["input_density"])
    dense_s = event_s = macs = event_macs = 0.0
    for q in shapes["projections"]:
        rate = peaks["tf32"] if q["name"] in tf32 else peaks["fp32"]
        d = density["input" if q["source"] == "input" else q["source"]]
        macs += q["macs"]
        event_macs += q["macs"] * d
        dense_s += 2 * q["macs"] / rate
        event_s += 2 * q["macs"] * d / rate
    neurons = sum(shapes["populations"].values())
    memory_s = neurons * BYTES_PER_NEURON_STEP / peaks["hbm"]
    best = max(c["sample_steps_per_s"] for c in res["configs"] if "sample_steps_per_s" in c)
    engine_limit = 1 / max(dense_s, memory_s)
    physical = 1 / max(event_s, memory_s)
    return {"macs_per_sample_step": macs, "event_macs_per_sample_step": event_macs, "neurons": neurons,
            "bytes_per_sample_step": neurons * BYTES_PER_NEURON_STEP,
            "dense_arith_limit": 1 / dense_s if dense_s else None, "event_arith_limit": 1 / event_s if event_s else None,
            "memory_limit": 1 / memory_s, "engine_limit": engine_limit, "physical_limit": physical,
            "bound_by": "arithmetic" if dense_s >= memory_s else "memory",
            "best": best, "fraction_of_engine_limit": best / engine_limit, "fraction_of_physical_limit": best / physical}


def lava_figure(net_name: str, steps: int, tiny: bool) -> dict:
    """Lava fixed_pt's steps per second: measured when Lava imports here (not in --tiny), else read from the
    CPU benchmark's results file."""
    if importlib.util.find_spec("lava") is not None and not tiny:
        r = run_measurement(net_name, "lava", steps, 1, "cpu")
        return {"steps_per_s": r["steps_per_s"], "source": "measured here (Lava fixed_pt, one sample at a time)"}
    path = ROOT / "benchmarks" / "results" / "engine_vs_lava.json"
    why = "not measured in --tiny" if tiny else "Lava does not import here"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"steps_per_s": None, "source": f"{why}, and {path.name} is unreadable"}
    for r in record["results"]:
        if r["net"] == net_name:
            note = "" if r["steps"] == steps else f"; measured at T = {r['steps']}, not {steps}"
            return {"steps_per_s": r["lava"]["steps_per_s"],
                    "source": f"{path.relative_to(ROOT)} ({why}; {record['cpu_count']} CPU cores, "
                              f"{record['cpu']}{note})"}
    return {"steps_per_s": None, "source": f"no {net_name} row in {path.name}"}


def accel_main(a) -> None:
    t_start = time.perf_counter()
    steps, batch = (4, 4) if a.tiny else (a.steps, a.batch)
    env = {"BENCH_TINY": "1"} if a.tiny else {}
    if a.tiny and not a.device.startswith("cuda"):
        env["TRITON_INTERPRET"] = "1"  # the fused kernel's code path, in Triton's CPU interpreter
    results = []
    for net_name in a.nets.split(","):
        try:
            res = run_measurement(net_name, "accel", steps, batch, a.device, env)
        except SystemExit as e:  # one network's failure (say, out of memory) leaves the others' figures
            results.append({"net": net_name, "title": NET_TITLES[net_name], "error": str(e)})
            print(f"{net_name}: {e}", file=sys.stderr)
            continue
        res["net"], res["title"] = net_name, NET_TITLES[net_name]
        res["lava"] = lava_figure(net_name, steps, a.tiny)
        res["limits"] = physical_limits(res, gpu_peaks(a.peaks or res.get("gpu", "")))
        best = max(c["sample_steps_per_s"] for c in res["configs"] if "sample_steps_per_s" in c)
        res["ratio_batched"] = best / res["lava"]["steps_per_s"] if res["lava"]["steps_per_s"] else None
        res["ratio_batch1"] = (res["engine1"]["steps_per_s"] / res["lava"]["steps_per_s"]
                               if res["lava"]["steps_per_s"] else None)
        results.append(res)
    gpu = next((r["gpu"] for r in results if "gpu" in r), f"none (device {a.device})")
    peaks = gpu_peaks(a.peaks or gpu or "")
    record = {"steps": steps, "batch": batch, "device": a.device, "gpu": gpu, "peaks": peaks, "tiny": a.tiny,
              "peaks_assumed": bool(a.peaks),
              "cpu_count": os.cpu_count(), "python": platform.python_version(),
              "lava_importable": importlib.util.find_spec("lava") is not None,
              "wall_s": time.perf_counter() - t_start, "results": results}
    record["table"] = accel_table(record)
    if a.out:
        out = Path(a.out)
    elif a.tiny:
        out = Path(tempfile.mkdtemp(prefix="engine_gpu_tiny_")) / "engine_gpu.json"
    else:
        out = ROOT / "benchmarks" / "results" / "engine_gpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    out.with_suffix(".md").write_text(record["table"] + "\n")
    print(record["table"])
    print(f"wrote {out} and {out.with_suffix('.md').name} in {record['wall_s']:.0f} s")


def accel_table(record: dict) -> str:
    def cfg(r, fused, tf32):
        for c in r["configs"]:
            if c["fused"] == fused and c["tf32"] == tf32:
                if "skipped" in c:
                    return "n/a"
                if "error" in c:
                    return "failed (see the JSON)"
                return _num(c["sample_steps_per_s"]) + ("" if c["bit_exact"] else " (NOT bit-exact)")
        return "n/a"

    cuda = record["device"].startswith("cuda")
    lines = [f"GPU: {record['gpu']}; T = {record['steps']}, batch {record['batch']:,}"
             + (" (--tiny: code paths only, not a measurement)" if record["tiny"] else ""), ""]
    head = ["network", "Lava steps/s", "b=1 steps/s", "batched: loop fp32", "loop TF32", "fused fp32", "fused TF32",
            "best / Lava", "bit-exact vs CPU engine"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in record["results"]:
        if "error" in r:
            lines.append(f"| {r['title']} | failed: {r['error']} |" + " |" * (len(head) - 2))
            continue
        exact = all(c.get("bit_exact", True) for c in r["configs"])
        values = max((c.get("values_compared", 0) for c in r["configs"]), default=0)
        lava = r["lava"]["steps_per_s"]
        lines.append("| " + " | ".join([
            r["title"], _num(lava) if lava else "n/a", _num(r["engine1"]["steps_per_s"]),
            cfg(r, False, False), cfg(r, False, True) if cuda else "n/a", cfg(r, True, False),
            cfg(r, True, True) if cuda else "n/a",
            _ratio(r["ratio_batched"]),
            (f"yes ({values:,} values per configuration, {r['reference']} reference)" if exact else "NO"),
        ]) + " |")
    peaks = record.get("peaks")
    if peaks:
        assumed = " (assumed with --peaks, not this machine's)" if record.get("peaks_assumed") else ""
        lines += ["", f"Physical limits against {peaks['key']} peaks{assumed} ({peaks['source']}: fp32 {peaks['fp32'] / 1e12:g} "
                      f"TFLOP/s, TF32 dense {peaks['tf32'] / 1e12:g} TFLOP/s, HBM {peaks['hbm'] / 1e12:g} TB/s):", ""]
        head = ["network", "MACs / sample-step", "with spike density", "bytes / sample-step", "dense arithmetic limit",
                "event-driven limit", "memory limit", "best measured", "of the engine's limit", "of the physical limit"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in record["results"]:
            m = r.get("limits")
            if not m:
                continue
            lines.append("| " + " | ".join([
                r["title"], f"{m['macs_per_sample_step'] / 1e6:,.3g} M", f"{m['event_macs_per_sample_step'] / 1e6:,.3g} M",
                f"{m['bytes_per_sample_step'] / 1e3:,.3g} kB", _num(m["dense_arith_limit"]), _num(m["event_arith_limit"]),
                _num(m["memory_limit"]), _num(m["best"]), f"{100 * m['fraction_of_engine_limit']:.1f} %",
                f"{100 * m['fraction_of_physical_limit']:.2f} %",
            ]) + " |")
    elif not record["tiny"]:
        lines += ["", f"No peak figures for {record['gpu']} in GPU_PEAKS: no physical-limit line."]
    sources = {r["lava"]["source"] for r in record["results"] if "lava" in r}
    lines += ["", "Lava's figures: " + "; ".join(sorted(sources))]
    return "\n".join(lines)


def _ratio(x: float | None) -> str:
    return "n/a" if not x else f"{x:,.0f}x" if x >= 10 else f"{x:.2g}x"


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
