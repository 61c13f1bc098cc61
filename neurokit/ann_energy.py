"""The ANN's energy per inference measured on a real device, beside the 45 nm MAC estimates.

- cuda: NVIDIA's NVML energy counter (nvmlDeviceGetTotalEnergyConsumption: millijoules since the driver
  loaded, Volta and later), read through ctypes from libnvidia-ml, so no Python package is needed;
- cpu: Intel RAPL through the powercap files (/sys/class/powercap/intel-rapl:N/energy_uj, microjoules, each
  package domain, wrapping at max_energy_range_uj), where this machine lets them be read.

The torch model runs on the test inputs in batches of `batch_size`, repeated until at least `seconds` have
passed; the counter's difference over that time, divided by the inferences run, is the energy per inference
(the whole device or package: static power included). The idle power, read over `idle_seconds` before, gives
the dynamic part: (energy - idle power x time) / inferences. When the meter cannot be read the result says
why and the report keeps the MAC estimates.
"""
from __future__ import annotations

import ctypes
import time
from pathlib import Path

import numpy as np

RAPL_ROOT = Path("/sys/class/powercap")
DEVICES = ("cuda", "cpu")


class MeterUnavailable(RuntimeError):
    """The energy counter cannot be read here (no GPU, no NVML, RAPL not readable): the reason."""


# ---- the meters: each a callable returning joules so far ---------------------------------------------------

def nvml_meter(device_index: int = 0):
    """Joules so far on GPU `device_index` (NVML's index) from NVML's total-energy counter."""
    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError as e:
        raise MeterUnavailable(f"NVML (libnvidia-ml.so.1) cannot be loaded: {e}") from None
    if lib.nvmlInit_v2() != 0:
        raise MeterUnavailable("nvmlInit failed: no NVIDIA driver answers")
    handle = ctypes.c_void_p()
    if lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(device_index), ctypes.byref(handle)) != 0:
        raise MeterUnavailable(f"NVML has no GPU {device_index}")
    value = ctypes.c_ulonglong()

    def read() -> float:
        rc = lib.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(value))
        if rc != 0:
            raise MeterUnavailable(f"nvmlDeviceGetTotalEnergyConsumption returned {rc} (the counter needs a Volta or "
                                   "later GPU)")
        return value.value * 1e-3  # mJ -> J

    read()
    return read


def rapl_domains(root: Path = RAPL_ROOT) -> list[Path]:
    """The package domains (intel-rapl:N, not their subdomains), which count the whole socket."""
    return sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)


def rapl_meter(root: Path = RAPL_ROOT):
    """Joules so far summed over the CPU packages, from RAPL's energy_uj counters (wraps accounted for
    between successive reads)."""
    domains = rapl_domains(root)
    if not domains:
        raise MeterUnavailable(f"no RAPL package domain under {root} (not an Intel/AMD RAPL machine, or not exposed "
                               "in this container)")
    try:
        wrap = [int((d / "max_energy_range_uj").read_text()) for d in domains]
        last = [int((d / "energy_uj").read_text()) for d in domains]
    except (OSError, ValueError) as e:
        raise MeterUnavailable(f"RAPL counters are not readable ({e}); reading energy_uj needs root on most kernels")
    total = [0]

    def read() -> float:
        for i, d in enumerate(domains):
            now = int((d / "energy_uj").read_text())
            total[0] += now - last[i] if now >= last[i] else now + wrap[i] - last[i]
            last[i] = now
        return total[0] * 1e-6

    return read


# ---- measuring ------------------------------------------------------------------------------------------------

def measure(model, x: np.ndarray, device: str, batch_size: int = 256, seconds: float = 2.0,
            idle_seconds: float = 1.0) -> dict:
    """J per inference of `model` on `device` (cuda | cpu) over inputs x; raises MeterUnavailable with the
    reason when the counter cannot be read."""
    import torch

    if device not in DEVICES:
        raise ValueError(f"--ann-energy measures on {', '.join(DEVICES)}, not {device!r}")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise MeterUnavailable("torch sees no CUDA GPU here")
        meter, name = nvml_meter(torch.cuda.current_device()), torch.cuda.get_device_name()
        sync = torch.cuda.synchronize
    else:
        meter, name = rapl_meter(), cpu_name()
        sync = lambda: None  # noqa: E731
    model = model.to(device).eval()
    batch = torch.as_tensor(np.asarray(x[:batch_size], np.float32), device=device)
    with torch.no_grad():
        model(batch)  # warm-up: kernels chosen, memory allocated
        sync()
        e0, t0 = meter(), time.perf_counter()
        time.sleep(idle_seconds)
        idle_w = (meter() - e0) / (time.perf_counter() - t0)
        runs, e0, t0 = 0, meter(), time.perf_counter()
        while runs == 0 or time.perf_counter() - t0 < seconds:
            model(batch)
            runs += 1
            sync()
        joules, elapsed = meter() - e0, time.perf_counter() - t0
    model.to("cpu")
    n = runs * len(batch)
    return {"device": device, "name": name, "meter": "NVML total energy" if device == "cuda" else "RAPL packages",
            "batch_size": int(len(batch)), "inferences": int(n), "seconds": float(elapsed),
            "joules_per_inference": joules / n, "idle_watts": idle_w,
            "dynamic_joules_per_inference": max(joules - idle_w * elapsed, 0.0) / n,
            "note": f"{n:,} inferences in batches of {len(batch)} over {elapsed:.2f} s on {name}; the whole device's "
                    f"energy (static included), idle {idle_w:.3g} W measured over {idle_seconds:g} s before"}


def measure_or_reason(model, x, device: str, **kw) -> dict:
    """measure(), or {"device", "measured": False, "reason"} when the meter cannot be read."""
    try:
        return {"measured": True, **measure(model, x, device, **kw)}
    except MeterUnavailable as e:
        return {"device": device, "measured": False, "reason": str(e)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU"
