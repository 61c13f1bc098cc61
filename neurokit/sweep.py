"""`neurokit sweep CONFIG`: one model evaluated over a grid or a list of settings (method x T x weight bits x
profile x target, or any other deploy option), each trial a deploy-like run in a Ray task.

A config (TOML or JSON) names the model and data once, options shared by every trial, and the trials:

    model = "mnist_cnn.pt"                    # paths are relative to the config file
    arch = "train.py:make_model"
    data = "mnist"                            # a built-in dataset or an .npz
    samples = 500                             # any deploy option, for every trial
    [grid]                                    # every combination of these
    method = ["sdnn", "lif"]
    steps = [4, 8, 16]
    weight_bits = [8, 4]
    [[trials]]                                # and / or trials listed one by one (on top of the shared options)
    method = "rate"
    target = "sim"
    steps = 32

Each trial runs neurokit.pipeline.deploy (convert, quantize, fit, float and fixed-point runs, the report)
with no Lava check and no conversion-error table unless the config asks (verify_samples, conversion_error),
and records accuracy (ANN, float SNN, fixed point), spikes, synaptic operations and energy per inference,
the fit, and its time. Results are cached by a content hash of the model's weights, the --arch file, the
data, the profile, every option and neurokit's own source (plus torch and numpy's versions): a re-run is
served from the cache without starting Ray, and a sweep that was interrupted resumes where it stopped, since
each trial's result is stored the moment it arrives. A failed trial is recorded with its one-line error and
the others go on; failures that are the input's fault (neurokit's own errors: the same input fails the same
way) are cached too, others (a crashed or killed worker) are tried again on the next run.

Output (--out): results.csv and results.json (one row per trial) and pareto.png (fixed-point accuracy
against energy per inference, the Pareto front of the trials that fit the profile's board marked).
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .errors import NeurokitError

SCHEMA = "neurokit-sweep-1"
AXES = ("method", "steps", "weight_bits", "profile", "target")  # always in the table, in this order
PER_SWEEP = ("model", "arch", "data", "trust_model")  # one model and one dataset per sweep
NOT_OPTIONS = ("out", "progress", "reading")  # deploy options a trial does not take
# a sweep's defaults where they differ from deploy's: no Lava re-run and no conversion-error table per trial
TRIAL_DEFAULTS = {"verify_samples": 0, "conversion_error": False}


def trial_options() -> dict[str, object]:
    """The deploy options a trial may set, with their defaults (neurokit.pipeline.DeployOptions)."""
    from .pipeline import DeployOptions

    out = {}
    for f in dataclasses.fields(DeployOptions):
        if f.name in PER_SWEEP + NOT_OPTIONS or f.name == "model":
            continue
        out[f.name] = f.default_factory() if f.default is dataclasses.MISSING else f.default
    out.update(TRIAL_DEFAULTS)
    return out


# ---- the config ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Sweep:
    path: Path
    model: str
    arch: str | None
    data: str
    trust_model: bool
    trials: list[dict]  # every trial's options (all of trial_options(), resolved)
    varied: list[str]  # the options that differ between trials, AXES first
    named: list[list[str]]  # per trial, the varied options its grid axes or its [[trials]] entry set: its label

    @property
    def columns(self) -> list[str]:
        """The options the table shows: the issue's axes always, then any other option that varies."""
        return list(AXES) + [n for n in self.varied if n not in AXES]


def read_config(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise NeurokitError(f"{path}: sweep config not found")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            return json.loads(text)
        try:
            import tomllib
        except ModuleNotFoundError:  # Python < 3.11
            import tomli as tomllib
        return tomllib.loads(text)
    except ValueError as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise NeurokitError(f"{path}: not a valid {'JSON' if path.suffix == '.json' else 'TOML'} file ({e})") from None


def _option_name(key: str, where: str, allowed) -> str:
    name = key.replace("-", "_")
    if name not in allowed:
        raise NeurokitError(f"{where}: unknown option '{key}'; a trial takes {', '.join(sorted(allowed))}")
    return name


def _value(name: str, value, where: str):
    """A config value as deploy takes it (weight_bits: N, {LAYER: N} or 'LAYER=N,...')."""
    if name == "weight_bits" and isinstance(value, str):
        from .cli import weight_bits_arg

        try:
            return weight_bits_arg(value)
        except Exception as e:
            raise NeurokitError(f"{where}: weight_bits {e}") from None
    if isinstance(value, list) or (isinstance(value, dict) and name != "weight_bits"):
        raise NeurokitError(f"{where}: {name} = {value!r}; one value per trial (list several values under [grid])")
    return value


def load_sweep(path: str | Path) -> Sweep:
    """The config at `path`, every trial resolved to a full set of options; one line naming the first problem."""
    path = Path(path)
    raw = read_config(path)
    if not isinstance(raw, dict):
        raise NeurokitError(f"{path}: a sweep config is a table (TOML) or an object (JSON) of options")
    defaults = trial_options()
    base = dict(defaults)
    here = path.resolve().parent

    def rel(p):  # paths relative to the config file
        return None if p is None else str(p if Path(p).is_absolute() else here / p)

    if "model" not in raw:
        raise NeurokitError(f"{path}: no model; name the torch checkpoint with model = \"FILE.pt\"")
    model = rel(raw["model"])
    arch = raw.get("arch")
    if arch and ":" in arch and arch.rsplit(":", 1)[0].endswith(".py"):
        arch = rel(arch.rsplit(":", 1)[0]) + ":" + arch.rsplit(":", 1)[1]
    data = raw.get("data", "mnist")
    from .data import BUILTIN

    data = data if data in BUILTIN else rel(data)
    for key, value in raw.items():
        if key in PER_SWEEP or key in ("grid", "trials"):
            continue
        name = _option_name(key, str(path), defaults)
        base[name] = _value(name, value, str(path))
    grid = raw.get("grid", {})
    listed = raw.get("trials", [])
    if not isinstance(grid, dict) or not isinstance(listed, list) or not all(isinstance(t, dict) for t in listed):
        raise NeurokitError(f"{path}: [grid] is a table of option = [values] and [[trials]] a list of tables")
    axes = []
    for key, values in grid.items():
        name = _option_name(key, f"{path} [grid]", defaults)
        values = values if isinstance(values, list) else [values]
        if not values:
            raise NeurokitError(f"{path} [grid]: {key} has no values")
        axes.append((name, [_value(name, v, f"{path} [grid]") for v in values]))
    trials, named = [], []
    if axes or not listed:  # no grid and no list: one trial of the shared options
        for combo in itertools.product(*(v for _, v in axes)):
            trials.append({**base, **dict(zip((n for n, _ in axes), combo))})
            named.append([n for n, _ in axes])
    for i, t in enumerate(listed):
        where = f"{path} [[trials]] #{i + 1}"
        trials.append({**base, **{(n := _option_name(k, where, defaults)): _value(n, v, where) for k, v in t.items()}})
        named.append([k.replace("-", "_") for k in t])
    for t in trials:
        if t["profile"] and t["profile"] not in _bundled_profiles():
            t["profile"] = rel(t["profile"])
        t["method"] = _resolved_method(t)
    varied = [n for n in defaults if len({json.dumps(t[n], sort_keys=True, default=str) for t in trials}) > 1]
    varied = [a for a in AXES if a in varied] + [n for n in varied if n not in AXES]
    named = [[n for n in varied if n in names] for names in named]
    return Sweep(path, model, arch, data, bool(raw.get("trust_model", False)), trials, varied, named)


def _bundled_profiles() -> list[str]:
    from hw_profiles import available_profiles

    return available_profiles()


def _resolved_method(t: dict):
    """The method a trial runs (the target's default when none is named); as given when the target refuses it
    (the trial then fails with deploy's message)."""
    from .targets import method_for

    try:
        return method_for(t["target"], t["method"])
    except NeurokitError:
        return t["method"]


# ---- content hashes -----------------------------------------------------------------------------------

def code_hash() -> str:
    """neurokit's, the quantizer's and the profiles' source: results of other code are not reused."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for package in ("neurokit", "quantize", "hw_profiles"):
        for f in sorted((root / package).rglob("*")):
            if f.suffix in (".py", ".toml") and f.is_file():
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    import torch

    h.update(f"torch {torch.__version__} numpy {np.__version__}".encode())
    return h.hexdigest()


def data_hash(dataset) -> str:
    h = hashlib.sha256(dataset.name.encode())
    for a in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        h.update(str((a.dtype, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def profile_hash(profile: str) -> str:
    """The profile as loaded (with whatever it extends), not where it lies."""
    from hw_profiles import load_profile

    p = load_profile(profile)
    return hashlib.sha256(repr([getattr(p, f.name) for f in dataclasses.fields(p) if f.name != "path"])
                          .encode()).hexdigest()


def trial_key(inputs: dict, options: dict, profile_digest: str) -> str:
    h = hashlib.sha256(SCHEMA.encode())
    for part in (inputs["code"], inputs["model"], inputs["arch"], inputs["data"], profile_digest):
        h.update(part.encode())
    opts = {k: v for k, v in options.items() if k != "profile"}
    h.update(json.dumps(opts, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


# ---- one trial (in a Ray worker) ----------------------------------------------------------------------

def run_trial(options: dict, sweep: dict, files: dict, threads: int = 1, conversion_cache: str | None = None,
              code: str | None = None) -> dict:
    """deploy() with `options` on the sweep's model and data; the files (model, arch, data) arrive as bytes,
    so a worker on another machine needs neurokit, not the files. Returns the trial's metrics or its error.
    code: the driver's code_hash(); a worker whose neurokit differs refuses (its result would be cached as
    the driver's code's)."""
    import tempfile

    t0 = time.perf_counter()
    try:
        if code is not None and code_hash() != code:
            raise RuntimeError(f"this worker's neurokit ({Path(__file__).resolve().parent}) differs from the "
                               "driver's; install the same version on every node")
        import torch

        from .pipeline import DeployOptions, deploy

        torch.set_num_threads(threads)
        if conversion_cache:
            os.environ.setdefault("NEUROKIT_CACHE", conversion_cache)
        with tempfile.TemporaryDirectory(prefix="neurokit-sweep-") as tmp:
            where = {}
            for role, (name, blob) in files.items():
                (Path(tmp) / role).mkdir()
                where[role] = Path(tmp) / role / name
                where[role].write_bytes(blob)
            arch = sweep["arch"]
            if "arch" in where:
                arch = f"{where['arch']}:{arch.rsplit(':', 1)[1]}"
            opt = DeployOptions(model=str(where["model"]), arch=arch, data=str(where.get("data", sweep["data"])),
                                trust_model=sweep["trust_model"], progress=False, **options)
            report = deploy(opt)
        return {"status": "ok", "metrics": metrics_of(report), "seconds": time.perf_counter() - t0,
                "host": os.uname().nodename}
    except Exception as e:
        from hw_profiles import ProfileError

        return {"status": "failed", "error": one_line(e), "seconds": time.perf_counter() - t0,
                "host": os.uname().nodename,
                # the input's fault: the same trial fails the same way, so the failure is cached too
                "deterministic": isinstance(e, (NeurokitError, ProfileError, ValueError))}


def one_line(e: BaseException) -> str:
    text = " ".join((str(e).strip() or type(e).__name__).split())
    return text if isinstance(e, (NeurokitError, ValueError)) else f"{type(e).__name__}: {text}"


def metrics_of(report: dict) -> dict:
    fit = report.get("fit") or {}
    target = report.get("target") or {}
    check = report.get("lava_check") or {}
    return {
        "method": (report.get("conversion") or {}).get("method"),
        "ann_accuracy": report.get("ann_accuracy"), "ann_accuracy_fine_tuned": report.get("ann_accuracy_fine_tuned"),
        "float_accuracy": report.get("snn_float_accuracy"), "fixed_accuracy": report.get("fixed_accuracy"),
        "spikes": report.get("spikes"), "synops": report.get("synops"),
        "energy_j": report.get("energy_snn_j"), "energy_ann_j": report.get("energy_ann_j"),
        "fits": fit.get("fits"), "cores": fit.get("cores"), "chips": fit.get("chips"),
        "latency_steps": target.get("latency_steps"), "runs_on": target.get("runs_on"),
        "lava_match": check.get("match") if check.get("checked") else None,
        "samples": report.get("samples"), "stage_seconds": report.get("stage_seconds"),
    }


# ---- the sweep (the driver) ---------------------------------------------------------------------------

def sweep_cache_folder() -> Path:
    """Trial results: beside the trained conversions (neurokit.pipeline.cache_folder), in sweeps/."""
    from .pipeline import cache_folder

    return cache_folder() / "sweeps"


def _inputs(sweep: Sweep) -> tuple[dict, dict]:
    """(content hashes, files to ship) of the sweep's model, arch file and data; checks they load first, so
    a wrong path is one line, not a failed trial each."""
    from .data import BUILTIN, load_dataset
    from .io import arch_source, load_torch_model

    if Path(sweep.model).suffix == ".nir":  # a spiking network's graph: deploy quantizes and runs it as it is
        from .io import read_nir

        read_nir(sweep.model)
    else:
        load_torch_model(sweep.model, sweep.arch, sweep.trust_model)
    dataset = load_dataset(sweep.data)
    files = {"model": (Path(sweep.model).name, Path(sweep.model).read_bytes())}
    arch_file = arch_source(sweep.arch)
    if arch_file:
        files["arch"] = (Path(arch_file).name, Path(arch_file).read_bytes())
    if sweep.data not in BUILTIN:
        files["data"] = (Path(sweep.data).name, Path(sweep.data).read_bytes())
    digest = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    hashes = {"code": code_hash(), "model": digest(files["model"][1]),
              "arch": digest(files["arch"][1]) + sweep.arch.rsplit(":", 1)[1] if arch_file else str(sweep.arch),
              "data": data_hash(dataset)}
    return hashes, files


def _read_cached(folder: Path, key: str) -> dict | None:
    try:
        result = json.loads((folder / f"{key}.json").read_text())
        return result if result.get("key") == key and result.get("status") in ("ok", "failed") else None
    except (OSError, ValueError, AttributeError):
        return None  # absent or damaged: run it again


def _write_cached(folder: Path, key: str, result: dict) -> None:
    from .io import atomic_write

    try:
        atomic_write(folder / f"{key}.json", lambda p: Path(p).write_text(json.dumps(result, default=str)))
    except OSError:
        pass  # a cache that cannot be written only costs time


def start_ray(address: str | None, workers: int | None):
    """Ray, started here (address None: a local instance with `workers` CPUs) or joined (an existing cluster)."""
    import logging

    try:
        import ray
    except ModuleNotFoundError:
        raise NeurokitError("neurokit sweep runs trials on Ray, which is not installed: pip install "
                            "'neurokit[sweep]'") from None
    kw = dict(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    if address is None:
        # the workers import this very neurokit (a checkout may differ from the one installed)
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join([root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
        ray.init(address="local", num_cpus=workers or os.cpu_count(), runtime_env={"env_vars": {"PYTHONPATH": path}},
                 **kw)
    else:
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as e:
            raise NeurokitError(f"--address {address}: no Ray cluster there ({one_line(e)})") from None
    return ray


def run_sweep(config: str | Path, out: str | Path | None = None, address: str | None = None,
              workers: int | None = None, device: str = "auto", cache: str | Path | None = None,
              progress: bool = True) -> dict:
    """Every trial of the config, from the cache or on Ray; writes results.csv, results.json and pareto.png
    into `out` and returns the results (the JSON)."""
    from .io import check_not_an_input, check_writable, run_lock

    t0 = time.perf_counter()
    if workers is not None and workers < 1:
        raise NeurokitError(f"--workers must be at least 1, got {workers}")
    sweep = load_sweep(config)
    out = Path(out) if out is not None else Path("runs") / f"sweep-{Path(config).stem}"
    check_not_an_input(out, config, sweep.model, sweep.data)
    check_writable(out, folder=True)
    with run_lock(out):
        inputs, files = _inputs(sweep)
        folder = Path(cache) if cache is not None else sweep_cache_folder()
        keys, rows, seen = [], [], {}
        profiles = {}
        for i, t in enumerate(sweep.trials):
            if t["profile"] not in profiles:
                try:
                    profiles[t["profile"]] = profile_hash(t["profile"])
                except Exception as e:  # a bad profile fails its trials, not the sweep
                    profiles[t["profile"]] = "unreadable:" + one_line(e)
            key = trial_key(inputs, t, profiles[t["profile"]])
            if key in seen:
                continue  # the same trial twice (e.g. a listed trial the grid has too): run once
            seen[key] = i
            keys.append(key)
            rows.append({"trial": len(rows) + 1, "key": key, "options": t, "named": sweep.named[i]})
        results = {}
        for row in rows:
            hit = _read_cached(folder, row["key"])
            if hit is not None:
                results[row["key"]] = {**hit, "cached": True}
        pending = [r for r in rows if r["key"] not in results]
        say = (lambda s: print(s, file=sys.stderr, flush=True)) if progress else (lambda s: None)
        say(f"sweep: {len(rows)} trials, {len(rows) - len(pending)} from the cache ({folder}), {len(pending)} to run")
        ray_info = None
        if pending:
            ray_info = _run_on_ray(sweep, pending, files, inputs["code"], folder, results, address, workers, device, say, len(rows))
        table = [_row(sweep, r, results[r["key"]]) for r in rows]
        mark_pareto(table)
        summary = {
            "schema": SCHEMA, "config": str(config), "model": sweep.model, "arch": sweep.arch, "data": sweep.data,
            "varied": sweep.varied, "cache": str(folder), "ray": ray_info,
            "trials": len(table), "computed": sum(not t["cached"] for t in table),
            "cached": sum(t["cached"] for t in table), "failed": sum(t["status"] != "ok" for t in table),
            "wall_s": time.perf_counter() - t0, "rows": table, "verdict": verdict(table),
        }
        summary["files"] = write_results(out, summary)
        summary["wall_s"] = time.perf_counter() - t0
    return summary


def _run_on_ray(sweep, pending, files, code, folder, results, address, workers, device, say, total) -> dict:
    import signal

    from .interrupts import SIGNALS, Interrupted

    saved = {s: signal.getsignal(s) for s in SIGNALS}
    ray = start_ray(address, workers)
    got = []

    def interrupted(signum, frame):  # Ray's SIGTERM handler exits at once: this one cancels the trials first
        got.append(signum)
        raise Interrupted(signum)

    for s in SIGNALS:
        signal.signal(s, interrupted)
    try:
        gpus = ray.cluster_resources().get("GPU", 0) if device != "cpu" else 0
        if device == "gpu" and not gpus:
            raise NeurokitError("--device gpu: the Ray cluster has no GPU")
        per_task = {"num_cpus": 1, "num_gpus": 1 if gpus else 0}
        task = ray.remote(max_retries=0, **per_task)(run_trial)
        shared = {"model": sweep.model, "arch": sweep.arch, "data": sweep.data, "trust_model": sweep.trust_model}
        files_ref = ray.put(files)
        from .pipeline import cache_folder

        limit = workers if (workers and address is not None) else len(pending)  # in flight at once on a cluster
        queue, running = list(pending), {}
        done = total - len(pending)
        try:
            while queue or running:
                while queue and len(running) < limit:
                    r = queue.pop(0)
                    running[task.remote(r["options"], shared, files_ref, 1, str(cache_folder()), code)] = r
                ready, _ = ray.wait(list(running), num_returns=1)
                r = running.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except Exception as e:  # the worker died (killed, out of memory): recorded, not cached
                    result = {"status": "failed", "error": one_line(e).splitlines()[0][:500], "deterministic": False}
                result = {**result, "key": r["key"]}
                if result["status"] == "ok" or result.get("deterministic"):
                    _write_cached(folder, r["key"], result)
                results[r["key"]] = {**result, "cached": False}
                done += 1
                say(f"[{done}/{total}] {label(r['options'], r['named'])}: " + _short(result))
        except KeyboardInterrupt:
            for ref in running:
                ray.cancel(ref, force=True)
            say(f"sweep: interrupted; {done} of {total} trials are done and cached: run the same command again to "
                "resume")
            if got:  # ray.wait turns the signal's exception into a plain KeyboardInterrupt: name the signal again
                raise Interrupted(got[-1]) from None
            raise
        resources = ray.cluster_resources()
        return {"address": address or "local", "cpus": resources.get("CPU"), "gpus": resources.get("GPU", 0),
                "per_trial": per_task}
    finally:
        ray.shutdown()
        for s, h in saved.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def _short(result: dict) -> str:
    if result["status"] != "ok":
        return f"FAILED: {result['error']}"
    m = result["metrics"]
    return (f"fixed {100 * m['fixed_accuracy']:.1f} %, {m['energy_j'] * 1e6:.3g} µJ/inference"
            f"{'' if m['fits'] else ', does not fit'} ({result['seconds']:.1f} s)")


def label(options: dict, names: list[str]) -> str:
    """A trial in a few words: the options its grid axes or its [[trials]] entry set (those that vary)."""
    parts = []
    for name in names:
        v = options.get(name)
        if name == "profile":
            v = Path(v).stem if v and v.endswith(".toml") else v
        if name == "weight_bits":
            v = "profile" if v is None else (",".join(f"{k}={b}" for k, b in v.items()) if isinstance(v, dict) else v)
        short = {"steps": "T", "weight_bits": "w"}.get(name, None)
        parts.append(f"{short}={v}" if short else (str(v) if name in ("method", "profile", "target") else f"{name}={v}"))
    return " ".join(parts) or "the one trial"


def _row(sweep: Sweep, r: dict, result: dict) -> dict:
    m = result.get("metrics") or {}
    opts = r["options"]
    row = {"trial": r["trial"], "label": label(opts, r["named"]), "status": result["status"],
           "cached": bool(result.get("cached"))}
    for name in sweep.columns:
        row[name] = opts[name]
    if m.get("method"):
        row["method"] = m["method"]
    row.update({k: m.get(k) for k in ("ann_accuracy", "ann_accuracy_fine_tuned", "float_accuracy", "fixed_accuracy",
                                       "spikes", "synops", "energy_j", "energy_ann_j", "fits", "cores", "chips",
                                       "latency_steps", "lava_match", "samples")})
    row.update({"pareto": False, "seconds": result.get("seconds"), "host": result.get("host"),
                "error": result.get("error"), "key": r["key"], "options": opts,
                "stage_seconds": m.get("stage_seconds")})
    return row


def verdict(table: list[dict], within: float = 0.01) -> dict:
    """The trial with the lowest Loihi energy per inference among those within `within` of the ANN's accuracy
    (fixed point, on a board it fits), and whether any trial costs less than the ANN (fp32, same profile)."""
    ok = [t for t in table if t["status"] == "ok" and t["fixed_accuracy"] is not None and t["energy_j"] is not None]
    close = [t for t in ok if t["ann_accuracy"] is not None and t["fits"] is not False
             and t["fixed_accuracy"] >= t["ann_accuracy"] - within]
    best = min(close, key=lambda t: t["energy_j"], default=None)
    cheaper = [t for t in ok if t["energy_ann_j"] and t["energy_j"] < t["energy_ann_j"]]
    cheapest = min(ok, key=lambda t: t["energy_j"] / t["energy_ann_j"] if t["energy_ann_j"] else float("inf"),
                   default=None)
    return {"within_points": 100 * within,
            "best": None if best is None else {"trial": best["trial"], "label": best["label"],
                                               "fixed_accuracy": best["fixed_accuracy"],
                                               "ann_accuracy": best["ann_accuracy"], "energy_j": best["energy_j"],
                                               "energy_ann_j": best["energy_ann_j"]},
            "beats_ann": [t["trial"] for t in cheaper],
            "closest_to_ann": None if cheapest is None or not cheapest["energy_ann_j"] else
            {"trial": cheapest["trial"], "label": cheapest["label"],
             "ratio": cheapest["energy_j"] / cheapest["energy_ann_j"]}}


def mark_pareto(table: list[dict]) -> None:
    """row["pareto"] = True for the trials no other trial beats on both accuracy (higher) and energy (lower),
    among those that ran and fit the profile's board (energy is only the chip's when the net fits)."""
    ok = [t for t in table if t["status"] == "ok" and t["fits"] and t["fixed_accuracy"] is not None
          and t["energy_j"] is not None]
    for t in ok:
        t["pareto"] = not any(o is not t and o["fixed_accuracy"] >= t["fixed_accuracy"] and o["energy_j"] <= t["energy_j"]
                              and (o["fixed_accuracy"] > t["fixed_accuracy"] or o["energy_j"] < t["energy_j"])
                              for o in ok)


CSV_SKIP = ("options", "stage_seconds")


def to_csv(table: list[dict]) -> str:
    columns = [c for c in table[0] if c not in CSV_SKIP] if table else []
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for t in table:
        w.writerow(["" if t[c] is None else (json.dumps(t[c], sort_keys=True) if isinstance(t[c], dict) else t[c])
                    for c in columns])
    return buf.getvalue()


def write_results(out: Path, summary: dict) -> dict:
    """results.csv, results.json, sweep.html and (when a trial ran) pareto.png, written into `out` whole
    (staged_folder)."""
    from .io import staged_folder
    from .report import to_json

    names = {"csv": "results.csv", "json": "results.json", "html": "sweep.html"}
    plotted = any(t["status"] == "ok" and t["energy_j"] is not None for t in summary["rows"])
    if plotted:
        names["plot"] = "pareto.png"
    files = {k: str(out / v) for k, v in names.items()}
    summary["files"] = files
    with staged_folder(out) as tmp:
        (tmp / names["csv"]).write_text(to_csv(summary["rows"]))
        (tmp / names["json"]).write_text(to_json(summary) + "\n")
        if plotted:
            pareto_plot(summary, tmp / names["plot"])
        (tmp / names["html"]).write_text(render_sweep_html(summary))
    return files


def pareto_plot(summary: dict, path: Path | None = None):
    """The accuracy-energy plot (PNG at `path`); without a path, the figure (for the HTML page)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    rows = [t for t in summary["rows"] if t["status"] == "ok" and t["energy_j"] is not None
            and t["fixed_accuracy"] is not None]
    methods = sorted({str(t.get("method")) for t in rows})
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    markers = dict(zip(sorted({str(t.get("target")) for t in rows}), "os^Dv<>p"))
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    for t in rows:
        c = colors[str(t.get("method"))]
        ax.scatter(t["energy_j"] * 1e6, 100 * t["fixed_accuracy"], marker=markers[str(t.get("target"))], s=40,
                   facecolors=c if t["fits"] else "none", edgecolors=c, zorder=3)
    front = sorted((t for t in rows if t["pareto"]), key=lambda t: t["energy_j"])
    if front:
        ax.step([t["energy_j"] * 1e6 for t in front], [100 * t["fixed_accuracy"] for t in front], where="post",
                color="black", lw=1, zorder=2, label="Pareto front (trials that fit)")
        for t in front:
            ax.annotate(t["label"], (t["energy_j"] * 1e6, 100 * t["fixed_accuracy"]), fontsize=7,
                        xytext=(4, -10), textcoords="offset points")
    for m in methods:
        ax.scatter([], [], color=colors[m], label=f"method {m}")
    for tg, mk in markers.items():
        ax.scatter([], [], marker=mk, color="gray", label=f"target {tg}")
    if any(not t["fits"] for t in rows):
        ax.scatter([], [], facecolors="none", edgecolors="gray", label="does not fit the board")
    energies = [t["energy_j"] for t in rows]
    if max(energies) > 10 * min(energies):  # a log axis only where the energies span a decade
        ax.set_xscale("log")
    ticks = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(ticks)
    ax.xaxis.set_minor_formatter(ticks)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_xlabel("SNN energy per inference (µJ, profile's event model)")
    ax.set_ylabel("fixed-point accuracy (%)")
    samples = {t.get("samples") for t in rows}
    ax.set_title(f"{Path(summary['model']).name} on {Path(str(summary['data'])).name}: {len(rows)} trials"
                 + (f", {samples.pop()} test samples each" if len(samples) == 1 else ""), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    if path is None:
        return fig
    fig.savefig(path)
    plt.close(fig)


def against_steps(summary: dict):
    """Fixed-point accuracy and energy per inference against T, one line per method (and weight bits, profile,
    target where those vary), from the trials that ran."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [t for t in summary["rows"] if t["status"] == "ok" and t["energy_j"] is not None]
    other = [k for k in ("weight_bits", "profile", "target") if len({str(t.get(k)) for t in rows}) > 1]
    lines: dict[str, list] = {}
    for t in rows:
        name = " ".join([str(t.get("method"))] + [f"{k}={t.get(k) if t.get(k) not in (None, '') else 'default'}"
                                                  for k in other])
        lines.setdefault(name, []).append(t)
    fig, (acc, en) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    for name, ts in sorted(lines.items()):
        ts = sorted(ts, key=lambda t: t["steps"])
        steps = [t["steps"] for t in ts]
        acc.plot(steps, [100 * t["fixed_accuracy"] for t in ts], "o-", label=name)
        en.plot(steps, [t["energy_j"] * 1e6 for t in ts], "o-", label=name)
    ann = [t["ann_accuracy"] for t in rows if t.get("ann_accuracy") is not None]
    if ann:
        acc.axhline(100 * ann[0], color="#e45756", ls="--", label="ANN")
    ann_j = [t["energy_ann_j"] for t in rows if t.get("energy_ann_j")]
    if ann_j:
        en.axhline(ann_j[0] * 1e6, color="#e45756", ls="--", label="ANN fp32")
    for ax, label in ((acc, "fixed-point accuracy (%)"), (en, "µJ per inference (Loihi per-op)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("time steps T")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    en.set_yscale("log")
    acc.legend(fontsize=7)
    fig.tight_layout()
    return fig


def render_sweep_html(summary: dict) -> str:
    """The sweep as one self-contained page: the verdict, accuracy and energy against T per method, the
    accuracy-energy Pareto front and the table (neurokit.html_report's conventions: embedded PNGs, no scripts)."""
    from .html_report import CSS, escape, html_table, png_uri

    rows = summary["rows"]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>neurokit sweep</title><style>{CSS}</style>"
             "</head><body>", f"<h1>Sweep: {escape(Path(summary['model']).name)} on "
             f"{escape(Path(str(summary['data'])).name)}</h1>"]
    parts += [f"<p>{escape(line)}</p>" for line in render_sweep(summary).splitlines()[-4:]
              if line.startswith(("lowest", "no trial", "cheaper"))]
    if any(t["status"] == "ok" and t["energy_j"] is not None for t in rows):
        parts.append("<div class='figs'>" + f"<img alt='against_steps' src='{png_uri(against_steps(summary))}'>"
                     + f"<img alt='pareto' src='{png_uri(pareto_plot(summary))}'></div>")
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}"  # noqa: E731
    table = [[t["trial"], t["label"], t["status"], pct(t.get("ann_accuracy")), pct(t.get("fixed_accuracy")),
              "-" if t.get("energy_j") is None else f"{t['energy_j'] * 1e6:.3g}",
              "-" if t.get("fits") is None else ("yes" if t["fits"] else "NO"), "*" if t.get("pareto") else "",
              t.get("error") or ""] for t in rows]
    parts.append(html_table(["#", "trial", "status", "ANN %", "fixed %", "µJ / inference", "fits", "Pareto",
                             "error"], table, {0, 3, 4, 5}))
    parts.append("</body></html>")
    return "\n".join(parts)


def render_sweep(summary: dict) -> str:
    from .tables import text_table

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f}"

    rows = []
    for t in summary["rows"]:
        if t["status"] == "ok":
            rows.append([t["trial"], t["label"], pct(t["ann_accuracy"]), pct(t["float_accuracy"]),
                         pct(t["fixed_accuracy"]), f"{t['spikes']:.4g}", f"{t['synops']:.4g}",
                         f"{t['energy_j'] * 1e6:.3g}", "yes" if t["fits"] else "NO", "*" if t["pareto"] else "",
                         "cache" if t["cached"] else f"{t['seconds']:.1f} s"])
        else:
            rows.append([t["trial"], t["label"], "-", "-", "FAILED", "", "", "", "", "",
                         "cache" if t["cached"] else f"{(t['seconds'] or 0):.1f} s"])
    lines = text_table(["#", "trial", "ANN %", "float %", "fixed %", "spikes", "synops", "µJ/inf", "fits",
                        "pareto", "time"], rows)
    lines += [f"trial {t['trial']} failed: {t['error']}" for t in summary["rows"] if t["status"] != "ok"]
    v = summary.get("verdict") or {}
    if v.get("best"):
        b = v["best"]
        lines.append(f"lowest Loihi energy within {v['within_points']:g} point of the ANN: trial {b['trial']} "
                     f"({b['label']}), {pct(b['fixed_accuracy'])} % against {pct(b['ann_accuracy'])} %, "
                     f"{b['energy_j'] * 1e6:.3g} µJ ({b['energy_j'] / b['energy_ann_j']:.2g} x the ANN's fp32 energy)")
    elif v:
        lines.append(f"no trial is within {v['within_points']:g} point of the ANN on a board it fits")
    if v.get("beats_ann"):
        lines.append(f"cheaper than the ANN (fp32): trials {', '.join(map(str, v['beats_ann']))}")
    elif v.get("closest_to_ann"):
        c = v["closest_to_ann"]
        lines.append(f"no trial costs less than the ANN (fp32); the closest is trial {c['trial']} ({c['label']}) at "
                     f"{c['ratio']:.2g} x: see a report's break-even analysis for why")
    r = summary["ray"]
    where = "" if r is None else (f" on Ray ({r['address']}, {r['cpus']:g} CPUs"
                                  + (f", {r['gpus']:g} GPUs" if r["gpus"] else "") + ")")
    lines.append(f"{summary['trials']} trials: {summary['computed']} run{where}, {summary['cached']} from the cache, "
                 f"{summary['failed']} failed; {summary['wall_s']:.1f} s")
    lines.append("wrote " + ", ".join(summary["files"].values()))
    return "\n".join(lines)


ROW_FIELDS = ("trial", "label", "status", "method", "steps", "fixed_accuracy", "ann_accuracy", "energy_j",
              "energy_ann_j", "fits", "pareto")


def read_results(path: str | Path) -> dict:
    """A sweep's results.json (neurokit sweep --out), for a report to show beside its own run: the model, the
    data, the verdict and the rows (the fields the figures and the verdict read). One line when it is not one."""
    from .errors import FileFormatError

    path = Path(path)
    fix = "give the results.json a 'neurokit sweep CONFIG --out DIR' wrote"
    try:
        summary = json.loads(path.read_text())
    except OSError as e:
        raise FileFormatError(f"{path}: cannot read the sweep results ({e.strerror or e}); {fix}") from None
    except (ValueError, UnicodeDecodeError):
        raise FileFormatError(f"{path}: not JSON, so not a sweep's results; {fix}") from None
    if not isinstance(summary, dict) or summary.get("schema") != SCHEMA or not isinstance(summary.get("rows"), list):
        raise FileFormatError(f"{path}: not the results of this neurokit's sweep (schema {SCHEMA}); {fix}")
    rows = []
    for r in summary["rows"]:
        if not isinstance(r, dict) or any(k not in r for k in ROW_FIELDS):
            missing = next((k for k in ROW_FIELDS if not isinstance(r, dict) or k not in r), "?")
            raise FileFormatError(f"{path}: a trial row has no '{missing}'; {fix}")
        rows.append({k: r.get(k) for k in ROW_FIELDS + ("weight_bits", "profile", "target", "samples")})
    return {"results": str(path), "model": summary.get("model"), "data": summary.get("data"),
            "rows": rows, "verdict": verdict(rows)}
