"""The stages end to end: convert -> NIRGraph -> quantize -> quantized net -> run -> trace -> report.

Each CLI subcommand calls one function here; `deploy` calls them all. Inputs are checked before any
work starts, and files are written only at the end (atomically), so a failure leaves no partial output.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .errors import FileFormatError, NeurokitError

DEFAULT_PROFILE = "loihi2"


class StageClock:
    """Wall time of each named stage, in the order they ran."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0


@contextlib.contextmanager
def progress_bar(total: int, desc: str, enabled: bool = True):
    """A tqdm bar on stderr; yields the callback backends call with the number of samples just done."""
    if not enabled:
        yield None
        return
    import threading

    from tqdm import tqdm

    # tqdm's default lock is a multiprocessing one, which fixes the start method; Lava later insists on 'fork'.
    tqdm.set_lock(threading.RLock())
    with tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, mininterval=0.5, leave=False) as bar:
        yield bar.update


# ---- inputs ------------------------------------------------------------------------------------------

def take(n: int | None, x: np.ndarray, y: np.ndarray | None = None, what: str = "test", flag: str | None = None):
    """The first n samples (all when n is None), with a clear error naming the option (`flag`) that asked for
    them when there are fewer (default: --calibration for calibration samples, else --samples)."""
    flag = flag or ("--calibration" if what.startswith("calibration") else "--samples")
    if n is None:
        return x, y
    if n < 1:
        raise NeurokitError(f"{flag} must be at least 1, got {n}")
    if n > len(x):
        raise NeurokitError(f"{flag} {n}: the dataset has {len(x)} {what} samples; pass {flag} {len(x)} or less")
    return x[:n], (None if y is None else y[:n])


def check_steps(steps: int) -> int:
    if steps < 1:
        raise NeurokitError(f"--steps must be at least 1, got {steps}")
    return steps


def load_network(path: str | Path, dialect: str | None = None, dt: float | None = None, reset: str | None = None,
                 spikes: str = "single"):
    """A neurokit quantized network (QuantizedNet) from a quantized NIR file or a netx HDF5 file, or any
    supported NIR graph (a float Network; a foreign one read under `dialect`, neurokit.dialects)."""
    from quantize.qnet import from_nir as quantized_from_nir

    from .io import read_nir
    from .lower import from_nir

    from .netx import is_netx, read_netx

    if Path(path).is_file() and is_netx(path):  # lava-dl's netx HDF5 (neurokit.netx)
        return read_netx(path)
    graph = read_nir(path)
    if isinstance(graph.metadata, dict) and "neurokit_quantized" in graph.metadata:
        if dialect is not None:
            raise NeurokitError(f"--dialect {dialect}: {path} is a quantized neurokit file, which states its own rules; "
                                "drop --dialect")
        return quantized_from_nir(graph)
    return from_nir(graph, dialect, dt, reset, spikes)


# ---- stages ------------------------------------------------------------------------------------------

def check_labels(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> None:
    """Labels must be classes the model has: a label beyond its outputs would be scored silently as a miss."""
    with torch.no_grad():
        classes = int(model.eval()(torch.as_tensor(x[:1], dtype=torch.float32)).reshape(1, -1).shape[1])
    if len(y) and int(np.max(y)) >= classes:
        raise NeurokitError(f"the test labels go up to {int(np.max(y))} but the model has {classes} outputs; "
                            "pass data labelled 0 .. classes - 1 for this model")


def ann_predictions(model: torch.nn.Module, x: np.ndarray, batch: int = 500) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([model(torch.as_tensor(x[i:i + batch], dtype=torch.float32)).argmax(1).numpy()
                               for i in range(0, len(x), batch)])


def convert_model(model, calibration: np.ndarray, percentile: float = 99.9, v_init: float = 0.5,
                  input_coding: str = "current", method: str = "rate", train=None, settings=None,
                  readout: str = "spikes", replace_maxpool: str | None = None, return_ann: bool = False):
    """train: (x, y) labelled samples for the methods that train (neurokit.convert.methods.TRAINS)."""
    from .convert import check_input_shape, convert

    check_input_shape(model, calibration)
    return convert(model, calibration, percentile=percentile, v_init=v_init, input_encoding=input_coding,
                   method=method, train=train, settings=settings, readout=readout, replace_maxpool=replace_maxpool,
                   return_ann=return_ann)


def cache_folder() -> Path:
    """Where trained conversions are kept: $NEUROKIT_CACHE, else ~/.cache/neurokit/conversions."""
    return Path(os.environ.get("NEUROKIT_CACHE") or Path.home() / ".cache" / "neurokit" / "conversions")


def conversion_key(model, data, calib, x, y, method: str, settings, opt) -> str:
    """A hash of everything a trained conversion depends on: the model's weights, the training, calibration
    and test data, the method, its settings and the conversion options, and the converter's source code."""
    import hashlib
    import json

    h = hashlib.sha256()
    for source in sorted((Path(__file__).parent / "convert").rglob("*.py")):  # a changed converter: a new key
        h.update(source.read_bytes())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().numpy().tobytes())
    for a in (data.x_train, data.y_train, calib, x, y):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(json.dumps({"method": method, "settings": dataclasses.asdict(settings), "coding": opt.input_coding,
                         "readout": opt.readout, "maxpool": opt.replace_maxpool},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def load_cached_conversion(key: str | None):
    """(NIR graph, fine-tuned ANN accuracy) of an earlier identical conversion, or None."""
    if key is None:
        return None
    import json

    from .io import read_nir

    folder = cache_folder() / key
    try:
        meta = json.loads((folder / "meta.json").read_text())
        return read_nir(folder / "model.nir"), meta["tuned_accuracy"]
    except (OSError, ValueError, KeyError, FileFormatError):
        return None  # absent or damaged: convert again


def save_cached_conversion(key: str | None, graph, tuned_accuracy) -> None:
    if key is None:
        return
    import json

    from .io import atomic_write, write_nir

    folder = cache_folder() / key
    try:
        write_nir(graph, folder / "model.nir")
        atomic_write(folder / "meta.json", lambda p: Path(p).write_text(json.dumps({"tuned_accuracy": tuned_accuracy})))
    except OSError:
        pass  # a cache that cannot be written only costs time


def graph_accuracy(ann, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    """Test accuracy of an ANN graph (neurokit.convert.ann.AnnGraph) in float64: a fine-tuned ANN's own."""
    with torch.no_grad():
        pred = np.concatenate([ann.forward(torch.as_tensor(x[i:i + batch], dtype=torch.float64)).argmax(1).numpy()
                               for i in range(0, len(x), batch)])
    return float(np.mean(pred == y))


def replaced_ann_accuracy(model, x: np.ndarray, y: np.ndarray, replace_maxpool: str | None) -> float | None:
    """With --replace-maxpool: the accuracy of the ANN as neurokit reads it (AvgPool2d for MaxPool2d), the
    network the conversion starts from; None otherwise."""
    if replace_maxpool is None:
        return None
    from .convert import read_model

    ann = read_model(model, tuple(x.shape[1:]), replace_maxpool)
    with torch.no_grad():
        pred = np.concatenate([ann.forward(torch.as_tensor(x[i:i + 500], dtype=torch.float64)).argmax(1).numpy()
                               for i in range(0, len(x), 500)])
    return float(np.mean(pred == y))


def conversion_settings(percentile: float, v_init: float, target_steps: int | None, epochs: int | None,
                        lr: float | None, delta_threshold: float = 0.0, target: str = "sim"):
    """The conversion methods' Settings from command-line values (None: the method's default)."""
    from .convert import Settings

    if target_steps is not None and target_steps < 1:
        raise NeurokitError(f"--target-steps must be at least 1, got {target_steps}")
    if epochs is not None and epochs < 0:
        raise NeurokitError(f"--epochs must be 0 or more, got {epochs}")
    if lr is not None and not lr > 0:
        raise NeurokitError(f"--lr must be positive, got {lr}")
    if not delta_threshold >= 0:
        raise NeurokitError(f"--delta-threshold must be 0 or more, got {delta_threshold}")
    return Settings(percentile=percentile, v_init=v_init, epochs=epochs, lr=lr, target_steps=target_steps,
                    delta_threshold=delta_threshold, stock=target == "loihi2")


def quantize_network(net, profile, calibration: np.ndarray, weight_bits=None, input_bits: int = 8,
                     integer_weights: bool = False):
    from quantize import quantize

    from .backends.base import is_quantized

    if is_quantized(net):
        raise NeurokitError("this network is already quantized; quantize the float NIR graph that 'neurokit convert' wrote")
    return quantize(net, profile, calibration, weight_bits=weight_bits, input_bits=input_bits,
                    integer_weights=integer_weights)


def run_network(net, backend: str, x: np.ndarray, steps: int, show_progress: bool = True, device: str | None = None):
    """Simulate and return the Trace. Fixed-point backends need a quantized net, float ones a float graph."""
    from .backends import get_backend

    if device is not None and backend not in ("engine", "float"):
        raise NeurokitError(f"--device applies to the engine and float backends, not '{backend}'")
    runner = get_backend(backend, **({"device": device} if device is not None else {}))
    # a structure the backend cannot run fails before the progress bar
    if hasattr(runner, "prepare"):
        net = runner.prepare(net)  # the engine: recurrent graphs too
    else:
        net.order(f"the {backend} backend")
    check_latency(getattr(net, "net", net), steps)
    with progress_bar(len(x), f"{backend} T={steps}", show_progress) as update:
        return runner.run(net, x, steps, progress=update)


def check_latency(net, steps: int) -> None:
    """A network whose output needs more steps than asked for (a phase-coded net latches after its latency)
    would score at chance: one line naming the steps it needs."""
    from .network import latency

    need = latency(net)
    if need is not None and steps < need:
        raise NeurokitError(f"this phase-coded network latches its output after {need} steps; --steps {steps} gives no "
                            f"output: pass --steps {need} or more")


def check_record_memory(net, samples: int, steps: int) -> None:
    """Recording every value at every step (verify, deploy's Lava check) keeps samples x steps x neurons x 3
    values in memory, in Lava's processes and the engine: refuse what this machine cannot hold, in one line."""
    neurons = sum(p.n_neurons for p in net.populations)
    need = samples * steps * neurons * 3 * 8 * 3  # s, u, v as int64, in Lava's recorder, its file and the engine
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > avail:
        raise NeurokitError(f"recording {samples} samples x {steps} steps x {neurons:,} neurons needs about "
                            f"{need / 2**30:.1f} GiB; {avail / 2**30:.1f} GiB are free: fewer --samples or --steps")


def summarize_run(net, trace, labels: np.ndarray | None, mesh: dict | None = None) -> dict:
    """Accuracy and per-population spikes / synaptic operations per inference of one run, and the synaptic
    operations of each projection. mesh: neurokit.fit.routing.mesh_traffic of this run (messages, tile hops and
    bits per projection), when the network was placed."""
    from .backends.engine.stream import is_stream
    from .energy import op_counts
    from .report import RECORD_VERSION
    from .trace import synops_per_projection

    per_projection = synops_per_projection(net, trace)
    ops = op_counts(net, trace)  # NeuroBench's effective ACs / MACs, messages, dense ops
    spikes = trace.layer_spikes.mean(0)
    layers = []
    for i, p in enumerate(net.populations):
        incoming = net.incoming(p.name)
        layers.append({
            "name": p.name, "kind": incoming[0].kind if len(incoming) == 1 else "+".join(q.kind for q in incoming),
            "neurons": p.n_neurons, "spikes": float(spikes[i]),
            "synops": float(sum(per_projection[q.name] for q in incoming)),
            "spikes_per_neuron_step": float(spikes[i] / (p.n_neurons * trace.steps)),
            "inputs": [q.source for q in incoming],
        })
    return {
        "record_version": RECORD_VERSION,
        # a stream (sigma-delta) sends each sample's changes once: its messages do not grow with T
        "events_scale_with_steps": not is_stream(net),
        "backend": trace.backend, "samples": trace.samples, "steps": trace.steps,
        "accuracy": None if labels is None else trace.accuracy(labels),
        "layers": layers, "wall_s": trace.wall_s,
        "projections": [{"name": q.name, "source": q.source, "target": q.target, "kind": q.kind,
                         "synops": per_projection[q.name], **ops[q.name],
                         **({} if mesh is None else {"mesh_" + k: v for k, v in mesh["projections"][q.name].items()})}
                        for q in net.projections],
        "mesh": None if mesh is None else {k: mesh[k] for k in ("coordinates", "not_counted")},
        "ann_macs_per_layer": net.metadata.get("population_macs") or net.metadata.get("ann_macs", {}),
        "profile": getattr(net, "profile", None),
    }


@dataclasses.dataclass
class DeployOptions:
    model: str
    data: str = "mnist"
    profile: str = DEFAULT_PROFILE
    samples: int | None = None  # None: the whole test split
    steps: int = 64
    out: str | None = None
    backend: str = "engine"
    verify_samples: int = 8
    calibration: int = 500
    percentile: float = 99.9
    v_init: float = 0.5
    input_coding: str = "current"
    method: str | None = None  # None: the target's default (neurokit.targets)
    target: str = "loihi2"
    delta_threshold: float = 0.0
    readout: str = "spikes"
    target_steps: int | None = None  # the T a method tunes for (None: the method's default)
    epochs: int | None = None
    lr: float | None = None
    weight_bits: int | None = None
    input_bits: int = 8
    replace_maxpool: str | None = None
    netx: bool = False  # quantize for netx's format (integer weights) so that model.net can be written
    conversion_error: bool = True  # the per-layer decomposition (as long as an engine run that records)
    arch: str | None = None  # FILE.py:callable building the model for a state_dict checkpoint
    trust_model: bool = False  # load a whole pickled model (code)
    progress: bool = True
    reading: dict = dataclasses.field(default_factory=dict)  # a NIR graph's dialect options (neurokit.lower.from_nir)
    ann_energy: str = "estimate"  # or cuda | cpu: also measure the ANN's energy there (neurokit.ann_energy)


DEPLOY_BACKENDS = ("engine", "lava-fixed", "loihi")
ERROR_SAMPLES = 200  # test samples behind the report's per-layer conversion error (the engine records every step)


def deploy(opt: DeployOptions) -> dict:
    """Every stage on one model; returns the report (see neurokit.report.build_report).

    The float and fixed-point SNNs run on the same test samples. With the engine (the default), Lava's
    fixed_pt simulation re-runs the first `verify_samples` of them and must agree with the engine on
    every spike, u and v (neurokit.verify); the report says so, or says why it could not check."""
    if opt.out:  # one run at a time per --out, and never over an input
        from .io import arch_source, check_not_an_input, check_writable, run_lock

        check_not_an_input(opt.out, opt.model, opt.data, arch_source(opt.arch))
        check_writable(opt.out, folder=True)
        with run_lock(opt.out):
            return _deploy(opt)
    return _deploy(opt)


def _deploy(opt: DeployOptions) -> dict:
    from hw_profiles import load_profile

    from .backends import get_backend
    from .data import load_dataset
    from .io import load_torch_model
    from .lower import from_nir
    from .report import build_report
    from .targets import check_target, label, method_for, timing

    if Path(opt.model).suffix == ".nir":
        return _deploy_graph(opt)
    clock = StageClock()
    # Everything a user can get wrong is checked before the long stages start.
    if opt.steps is None:
        opt = dataclasses.replace(opt, steps=64)
    with clock("load"):
        profile = load_profile(opt.profile, energy=True)  # the report needs its energy constants
        check_steps(opt.steps)
        if opt.backend not in DEPLOY_BACKENDS:
            raise NeurokitError(f"deploy runs the quantized network on {', '.join(DEPLOY_BACKENDS)}, not '{opt.backend}'")
        if opt.verify_samples < 0:
            raise NeurokitError(f"--verify-samples must be 0 or more, got {opt.verify_samples}")
        method = method_for(opt.target, opt.method)
        get_backend(opt.backend)  # a missing Lava or lava-loihi fails here, before the long stages
        model = load_torch_model(opt.model, opt.arch, opt.trust_model)
        data = load_dataset(opt.data)
        calib, _ = take(opt.calibration, data.x_train, what="training", flag="--calibration")
        x, y = take(opt.samples, data.x_test, data.y_test)
    with clock("ann accuracy"):
        from .convert import check_input_shape
        from .convert.ann import read_model
        from .encoding import check_encoding

        check_input_shape(model, x)
        read_model(model, tuple(x.shape[1:]), opt.replace_maxpool)  # an unsupported layer, before it is scored
        check_labels(model, x, y)
        check_encoding(opt.input_coding, x)
        ann_accuracy = float(np.mean(ann_predictions(model, x) == y))
        replaced_accuracy = replaced_ann_accuracy(model, x, y, opt.replace_maxpool)
    ann_measured = None
    if opt.ann_energy != "estimate":
        with clock("ann energy"):
            from .ann_energy import measure_or_reason

            ann_measured = measure_or_reason(model, x, opt.ann_energy)
    with clock("convert"):
        settings = conversion_settings(opt.percentile, opt.v_init, opt.target_steps, opt.epochs, opt.lr,
                                       opt.delta_threshold, opt.target)
        from .convert.methods import TRAINS

        key = conversion_key(model, data, calib, x, y, method, settings, opt) if method in TRAINS else None
        cached = load_cached_conversion(key)
        if cached is not None:  # the same model, data and settings trained before: the same result
            graph, tuned_accuracy = cached
        else:
            graph, tuned = convert_model(model, calib, opt.percentile, opt.v_init, opt.input_coding, method,
                                         (data.x_train, data.y_train), settings, opt.readout, opt.replace_maxpool,
                                         return_ann=True)
            # a method that retrains the ANN is judged against the ANN it produced, beside the original
            tuned_accuracy = graph_accuracy(tuned, x, y) if method in TRAINS else None
            save_cached_conversion(key, graph, tuned_accuracy)
    with clock("lower"):
        net = from_nir(graph)
        check_target(net, opt.target)
    runs = spiking_stages(clock, net, profile, calib, x, opt.steps, opt)
    qnet = runs.qnet
    conversion_error = None
    if opt.conversion_error and all(p.model.rate_coded for p in net.populations):  # a decomposition of rate codes
        with clock("conversion error"):
            from .conversion_error import decompose

            n_err = min(len(x), ERROR_SAMPLES)
            conversion_error = {"samples": n_err, "layers": decompose(net, qnet, x[:n_err], opt.steps)}
    lava_check = lava_stage(clock, qnet, x, opt.steps, opt)
    netx = None
    if opt.target == "loihi2":
        with clock("netx check"):
            netx = check_netx(qnet, x[:opt.verify_samples], opt.steps)
    report = build_report(
        model=opt.model, dataset=data.name, profile=profile, steps=opt.steps,
        ann={"accuracy": ann_accuracy, **({"accuracy_fine_tuned": tuned_accuracy, "fine_tuned_by": method}
                                          if tuned_accuracy is not None else {}),
             **({"accuracy_maxpool_replaced": replaced_accuracy}
                                          if replaced_accuracy is not None else {})},
        **runs.report_parts(net, y, profile), conversion=net.metadata, lava_check=lava_check,
        stage_seconds=clock.seconds, conversion_error=conversion_error,
        target={"name": opt.target, "runs_on": label(net), **timing(net, opt.steps)}, netx=netx, ann_measured=ann_measured,
    )
    report["conversion_cache"] = None if key is None else {"key": key, "hit": cached is not None,
                                                           "folder": str(cache_folder())}
    if opt.out:
        with clock("write"):
            write_outputs(Path(opt.out), graph, qnet, report)
    report["stage_seconds"] = dict(clock.seconds)
    return report


def _deploy_graph(opt: DeployOptions) -> dict:
    """deploy of a spiking network exported to NIR (by another framework, read under opt.reading's dialect, or
    by neurokit): no ANN and no conversion; quantize, fit, run float and fixed point, check against Lava,
    report. Sequence data (N, T, ...) runs one frame per step for T steps unless --steps says otherwise."""
    from hw_profiles import load_profile

    from .backends import check_inputs, get_backend
    from .backends.base import is_sequence
    from .data import load_dataset
    from .io import read_nir
    from .lower import from_nir
    from .report import build_report
    from .targets import label, timing

    if opt.ann_energy != "estimate":
        raise NeurokitError(f"--ann-energy {opt.ann_energy} measures an ANN, and {opt.model} is a spiking network with "
                            "none; leave --ann-energy out")
    clock = StageClock()
    with clock("load"):
        profile = load_profile(opt.profile, energy=True)  # the report needs its energy constants
        if opt.backend not in DEPLOY_BACKENDS:
            raise NeurokitError(f"deploy runs the quantized network on {', '.join(DEPLOY_BACKENDS)}, not '{opt.backend}'")
        get_backend(opt.backend)
        graph = read_nir(opt.model)
        net = from_nir(graph, **opt.reading)
        data = load_dataset(opt.data)
        calib, _ = take(opt.calibration, data.x_train, what="calibration (training)")
        x, y = take(opt.samples, data.x_test, data.y_test)
        x, calib = check_inputs(net, x), check_inputs(net, calib)
        steps = opt.steps if opt.steps is not None else (x.shape[1] if is_sequence(net, x) else 64)
        check_steps(steps)
        classes = int(np.prod(net.output_population.shape))
        if len(y) and int(np.max(y)) >= classes:
            raise NeurokitError(f"the test labels go up to {int(np.max(y))} but the network's output {net.output} has "
                                f"{classes} neurons; pass data labelled 0 .. {classes - 1}")
    runs = spiking_stages(clock, net, profile, calib, x, steps, opt)
    lava_check = lava_stage(clock, runs.qnet, x, steps, opt)
    report = build_report(
        model=opt.model, dataset=data.name, profile=profile, steps=steps, ann=None,
        **runs.report_parts(net, y, profile), conversion=net.metadata, lava_check=lava_check,
        stage_seconds=clock.seconds, target={"name": "imported", "runs_on": label(net), **timing(net, steps)})
    if opt.out:
        with clock("write"):
            write_outputs(Path(opt.out), graph, runs.qnet, report)
    report["stage_seconds"] = dict(clock.seconds)
    return report


@dataclasses.dataclass
class SpikingRuns:
    """What quantize, fit and the float and fixed-point runs give deploy (both its paths)."""

    qnet: object
    quantization: dict  # quantize's report
    fit: object  # neurokit.fit.FitResult
    float_trace: object
    fixed_trace: object

    def report_parts(self, net, labels, profile) -> dict:
        """build_report's float_run, fixed_run, quantization and fit."""
        traffic = placed_traffic(self.qnet, self.fit, self.fixed_trace, profile)
        return {"float_run": summarize_run(net, self.float_trace, labels),
                "fixed_run": summarize_run(self.qnet, self.fixed_trace, labels, traffic),
                "quantization": self.quantization, "fit": fit_summary(self.qnet, profile, self.fit)}


def spiking_stages(clock, net, profile, calibration: np.ndarray, x: np.ndarray, steps: int, opt) -> SpikingRuns:
    """quantize, fit, then the float network and the quantized one on opt.backend, each stage timed on clock."""
    from .fit import fit_network

    with clock("quantize"):
        qnet, qreport = quantize_network(net, profile, calibration, opt.weight_bits, opt.input_bits, opt.netx)
    with clock("fit"):
        fit = fit_network(qnet, profile)
    with clock("float SNN"):
        float_trace = run_network(net, "float", x, steps, opt.progress)
    with clock(f"{opt.backend} SNN"):
        fixed_trace = run_network(qnet, opt.backend, x, steps, opt.progress)
    return SpikingRuns(qnet, qreport, fit, float_trace, fixed_trace)


def lava_stage(clock, qnet, x: np.ndarray, steps: int, opt) -> dict | None:
    """With the engine, Lava's fixed_pt on the first opt.verify_samples samples against it (or why it did not
    run: --verify-samples 0, no Lava); None on other backends."""
    if opt.backend != "engine":
        return None
    check_record_memory(qnet, min(len(x), opt.verify_samples), steps)
    with clock("Lava check"):
        return check_against_lava(qnet, x[:opt.verify_samples], steps)


def placed_traffic(qnet, fit, trace, profile) -> dict | None:
    """The run's mesh traffic (neurokit.fit.routing) when the network fits the board and the profile gives the
    mesh's layout; None otherwise (no placement to route on)."""
    from .fit.routing import mesh_traffic

    return mesh_traffic(qnet, fit, trace, profile) if fit.fits and profile.has_mesh else None


def fit_summary(qnet, profile, fit=None) -> dict:
    """Whether the quantized net fits the profile's board (neurokit.fit), in a few numbers and one line."""
    from .fit import fit_network

    fit = fit or fit_network(qnet, profile)
    return {"fits": fit.fits, "cores": fit.cores, "chips": fit.chips, "cores_available": fit.cores_available,
            "chips_available": fit.chips_available, "cores_per_chip": fit.cores_per_chip,
            "problem": None if fit.fits else fit.error_message(),
            "layers": [{"name": l.name, "cores": l.cores, "split": l.split} for l in fit.layers]}


def deploy_exit_code(report: dict) -> int:
    """0 when everything deploy claims holds; 1 when the net does not fit, or Lava (or netx's network) disagreed
    with the engine."""
    check = report.get("lava_check") or {}
    netx = (report.get("netx") or {}).get("check") or {}
    fits = (report.get("fit") or {}).get("fits", True)
    return 0 if fits and check.get("match", True) and netx.get("match", True) else 1


def check_netx(qnet, x: np.ndarray, steps: int) -> dict:
    """Whether the network goes into a netx file (neurokit.netx), and lava-dl's netx.hdf5.Network on that
    file in Lava fixed_pt against the engine on x (or why that did not run)."""
    import importlib.util
    import tempfile

    from .netx import NetxExportError, export_netx

    with tempfile.TemporaryDirectory(prefix="neurokit-netx-") as tmp:
        path = f"{tmp}/model.net"
        try:
            export_netx(qnet, path)
        except NetxExportError as e:
            return {"written": False, "reason": str(e)}
        if len(x) == 0:
            return {"written": True, "check": {"checked": False, "reason": "--verify-samples 0"}}
        if importlib.util.find_spec("lava") is None:
            return {"written": True, "check": {"checked": False, "reason": "Lava is not installed here"}}
        from .verify import verify_netx

        result = verify_netx(qnet, path, x, steps)
        result.pop("file", None)
        return {"written": True, "check": {"checked": True, **result}}


def check_against_lava(qnet, x: np.ndarray, steps: int) -> dict:
    """neurokit.verify on x, or why it did not run (no samples asked for, Lava not installed)."""
    if len(x) == 0:
        return {"checked": False, "reason": "--verify-samples 0"}
    import importlib.util

    if importlib.util.find_spec("lava") is None:  # the check needs Lava; the engine does not
        return {"checked": False, "reason": "Lava is not installed here (pip install 'neurokit[lava]' on Python 3.10)"}
    from .verify import verify

    return {"checked": True, **verify(qnet, x, steps)}


def write_outputs(out: Path, graph, qnet, report: dict) -> dict:
    """model.nir (float graph), model.q.nir (quantized), model.net (netx, when the report says it can be
    written), report.json, report.txt: written into a staged folder that replaces `out` whole at the end
    (neurokit.io.staged_folder), so `out` holds one complete run or is left as it was."""
    from quantize import save_quantized

    from .io import atomic_write, staged_folder, write_nir
    from .report import render_text, to_json

    names = {"nir": "model.nir", "quantized": "model.q.nir", "report_json": "report.json", "report_text": "report.txt"}
    if (report.get("netx") or {}).get("written"):
        names["netx"] = "model.net"
    files = {k: str(out / v) for k, v in names.items()}
    report["files"] = files
    with staged_folder(out) as tmp:
        write_nir(graph, tmp / names["nir"])
        save_quantized(qnet, tmp / names["quantized"])
        if "netx" in names:
            from .netx import export_netx

            export_netx(qnet, tmp / names["netx"])
        atomic_write(tmp / names["report_json"], lambda p: Path(p).write_text(to_json(report) + "\n"))
        atomic_write(tmp / names["report_text"], lambda p: Path(p).write_text(render_text(report) + "\n"))
    return files
