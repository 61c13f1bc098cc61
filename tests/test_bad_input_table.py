"""Bad input, case by case (issue 15): each class of bad input through the command that reads it, in process.
Every case asserts its exit code, one line on stderr (what neurokit says) and that nothing was written; the
last test renders the cases as the README's table (between the bad-input-table markers), so the table is
what the tests saw. NEUROKIT_UPDATE_README=1 rewrites the README's table instead of comparing.

Each case is cheap: tiny models on sklearn's digits, hand-built graphs, no Lava run."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Callable

import nir
import numpy as np
import pytest
import torch
from torch import nn

from neurokit.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bad-input-table:start -->", "<!-- bad-input-table:end -->"


# ---- inputs -------------------------------------------------------------------------------------------
# Each builder writes its files into the case's folder `d` and returns nothing; the command line names them.

MLP = "nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, {n}))"


def _mlp(n_out: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return eval(MLP.format(n=n_out)).eval()


def weights(d: Path, tamper: Callable | None = None, n_out: int = 10, name: str = "w.pt") -> None:
    """w.pt (a state_dict) and arch.py:build, the code that builds its model."""
    model = _mlp(n_out)
    if tamper:
        tamper(model)
    torch.save(model.state_dict(), d / name)
    (d / "arch.py").write_text(f"from torch import nn\n\ndef build():\n    return {MLP.format(n=n_out)}\n")


class Payload:
    """Unpickling this calls os.system: what a hostile checkpoint carries."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def payload(d: Path) -> None:
    torch.save({"model": Payload(d / "PWNED")}, d / "payload.pt")  # a file appearing in d fails the case


def exported_program(d: Path, payload_in: str | None = None) -> None:
    """p.pt2: the MLP as torch.export.save writes it (arch.py builds it), a pickle payload in place of the
    member named `payload_in`."""
    import io
    import zipfile

    weights(d)
    torch.export.save(torch.export.export(_mlp(), (torch.zeros(2, 1, 8, 8),)), d / "p.pt2")
    if payload_in:
        buf = io.BytesIO()
        torch.save({"x": Payload(d / "PWNED")}, buf)
        with zipfile.ZipFile(d / "p.pt2") as src:
            members = {n: src.read(n) for n in src.namelist()}
        with zipfile.ZipFile(d / "p.pt2", "w") as dst:
            for name, data in members.items():
                dst.writestr(name, buf.getvalue() if name.endswith(payload_in) else data)


def whole_model(d: Path) -> None:
    torch.save(_mlp(), d / "whole.pt")


def maxpool_model(d: Path) -> None:
    torch.save(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 10)),
               d / "maxpool.pt")


def lstm_model(d: Path) -> None:
    torch.save(nn.Sequential(nn.Flatten(), nn.LSTM(64, 10)), d / "lstm.pt")


def _digits():
    from neurokit.data import load_dataset

    return load_dataset("digits")


def npz(d: Path, change: Callable | None = None, name: str = "data.npz") -> None:
    """The digits split as an .npz, changed by `change(arrays)`."""
    data = _digits()
    arrays = {k: getattr(data, k).copy() for k in ("x_train", "y_train", "x_test", "y_test")}
    if change:
        change(arrays)
    np.savez(d / name, **arrays)


def float_graph(d: Path) -> None:
    from neurokit.convert import convert
    from neurokit.io import write_nir

    write_nir(convert(_mlp(), _digits().x_train[:100]), d / "g.nir")


def quantized(d: Path, tamper: Callable | None = None) -> None:
    """q.nir: the MLP converted and quantized for loihi2, its first population or projection changed by
    `tamper(qnet)` (what an edited file holds)."""
    from hw_profiles import load_profile

    from neurokit.convert import convert
    from neurokit.lower import from_nir
    from quantize import quantize, save_quantized

    x = _digits().x_train[:100]
    q, _ = quantize(from_nir(convert(_mlp(), x)), load_profile("loihi2"), x)
    if tamper:
        tamper(q)
    save_quantized(q, d / "q.nir")


def _set_neuron(**fields):
    def tamper(q):
        pop = q.populations[0]
        pop.neuron = dataclasses.replace(pop.neuron, **fields)
    return tamper


def nir_graph(d: Path, case: str = "plain") -> None:
    """A hand-built IF graph, 8x8 input -> 8 -> 10 neurons, broken as `case` says."""
    def if_(n):
        return nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.zeros(n), metadata={"reset_mode": "subtract"})

    def affine(n_out, n_in):
        return nir.Affine(weight=np.full((n_out, n_in), 0.1), bias=np.zeros(n_out))

    nodes = {"input": nir.Input(input_type=np.array((1, 8, 8))),
             "flat": nir.Flatten(input_type={"input": np.array((1, 8, 8))}, start_dim=0, end_dim=-1),
             "a": affine(8, 64), "n0": if_(8), "b": affine(10, 9 if case == "shape" else 8), "n1": if_(10),
             "output": nir.Output(output_type=np.array((10,)))}
    edges = [("input", "flat"), ("flat", "a"), ("a", "n0"), ("n0", "b"), ("b", "n1"), ("n1", "output")]
    nir.write(d / "g.nir", nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    if case == "unknown type":  # a node type this NIR version does not define (a newer NIR, or another tool's)
        import h5py

        with h5py.File(d / "g.nir", "r+") as f:
            node = f["node"]["nodes"]["n0"]
            del node["type"]
            node["type"] = np.bytes_("Sigmoid")


def foreign_graph(d: Path, case: str = "plain") -> None:
    """s.nir: a LIF layer as an SNN framework exports it (no metadata), digits' (1, 8, 8) frames in;
    seq.npz: spike sequences for it."""
    tau = {"tau": -0.01, "dt": 0.5e-4, "no leak": 10.0}.get(case, 0.01)
    v_th = np.array([1.0, np.nan] + [1.0] * 8) if case == "nan" else np.ones(10)
    nodes = {"input": nir.Input(input_type=np.array((64,))), "a": nir.Linear(weight=np.full((10, 64), 0.2)),
             "lif": nir.LIF(tau=np.full(10, tau), r=np.ones(10), v_leak=np.zeros(10), v_threshold=v_th,
                            v_reset=np.zeros(10)), "output": nir.Output(output_type=np.array((10,)))}
    edges = [("input", "a"), ("a", "lif"), ("lif", "output")]
    nir.write(d / "s.nir", nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    rng = np.random.default_rng(0)
    x = (rng.random((6, 8, 64)) < 0.3).astype(np.float32)
    np.savez(d / "seq.npz", x_train=x, y_train=np.arange(6) % 10, x_test=x, y_test=np.arange(6) % 10)


def junk(d: Path, name: str) -> None:
    (d / name).write_bytes(b"\x80\x02not what it claims to be")


def a_file(d: Path) -> None:
    (d / "a_file").write_text("x")


def a_folder(d: Path) -> None:
    (d / "folder").mkdir()


def small_profile(d: Path) -> None:
    (d / "small.toml").write_text(
        'extends = "loihi2"\nname = "small"\ndescription = "8 neurons per core, 2 cores"\n\n[core]\n'
        'neurons_per_core = { value = 8, source = "test", verified = true }\n\n[chip]\n'
        'cores_per_chip = { value = 2, source = "test", verified = true }\n')


def run_record(d: Path, **layer) -> None:
    from neurokit.report import RECORD_VERSION

    record = {"record_version": RECORD_VERSION, "network": "q.nir", "dataset": "digits", "backend": "engine",
              "steps": 4, "layers": [{"name": "if0", "neurons": 16, "spikes": 3.0, "synops": 10.0, **layer}],
              "projections": [{"name": "if0", "source": "input", "target": "if0", "kind": "dense", "synops": 10.0,
                               "messages": 2.0, "effective_ops": 8.0, "dense_ops": 10.0, "op_kind": "MAC"}]}
    (d / "run.json").write_text(json.dumps(record))


def both(*builders: Callable) -> Callable:
    def build(d: Path) -> None:
        for b in builders:
            b(d)
    return build


# ---- the cases ----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Case:
    input: str  # the class of bad input, as the table names it
    argv: str  # the command line, relative to the case's folder
    build: Callable[[Path], None]
    exit: int
    says: str  # a fragment of the one line neurokit prints
    writes: tuple[str, ...] = ()  # what the command writes by design (deploy's report of a net that does not fit)

    @property
    def command(self) -> str:
        return self.argv.split()[0]


CONVERT = "convert w.pt --arch arch.py:build --data digits --out g.nir"
DEPLOY = "deploy w.pt --arch arch.py:build --data digits --samples 5 --steps 2 --verify-samples 0 --out run"
QUANTIZE = "quantize g.nir --data digits --out q2.nir"
RUN = "run q.nir --data digits --samples 2 --steps 2 --out run.json"

CASES = [
    # model files
    Case("model file missing", "convert nope.pt --arch arch.py:build --data digits --out g.nir", weights, 2,
         "nope.pt: file not found"),
    Case("model file corrupt", "convert bad.pt --arch arch.py:build --data digits --out g.nir",
         both(weights, lambda d: junk(d, "bad.pt")), 2, "a corrupt file, or pickled objects"),
    Case("model file corrupt, --trust-model", "convert bad.pt --trust-model --data digits --out g.nir",
         lambda d: junk(d, "bad.pt"), 2, "not a readable torch checkpoint"),
    Case("pickle payload, no --trust-model", "convert payload.pt --data digits --out g.nir", payload, 2,
         "holds pickled Python objects (posix.system)"),
    Case("pickle payload, no --trust-model", "fit payload.pt --data digits", payload, 2,
         "holds pickled Python objects (posix.system)"),
    Case("pickle payload, no --trust-model", "deploy payload.pt --data digits --out run", payload, 2,
         "holds pickled Python objects (posix.system)"),
    Case("whole pickled model, no --trust-model", "convert whole.pt --data digits --out g.nir", whole_model, 2,
         "(torch.nn.modules.container.Sequential), not only weights; a pickled model is code"),
    Case("weights without --arch", "fit w.pt --data digits", weights, 2, "pass the architecture"),
    Case("torch.export program (.pt2) without --arch", "convert p.pt2 --trust-model --data digits --out g.nir",
         exported_program, 2, "a torch.export program (.pt2), refused without --arch (with --trust-model too)"),
    Case(".pt2 with a pickle payload in its weights", "convert p.pt2 --arch arch.py:build --data digits --out g.nir",
         lambda d: exported_program(d, "serialized_state_dict.pt"), 2,
         "its serialized_state_dict.pt holds pickled Python objects (posix.system)"),
    Case("weights that do not fit --arch", "convert w3.pt --arch arch.py:build --data digits --out g.nir",
         both(weights, lambda d: torch.save(_mlp(3).state_dict(), d / "w3.pt")), 2,
         "the weights do not fit the model --arch arch.py:build builds"),
    Case("checkpoint dict holding a model, no --trust-model", "convert ckpt.pt --data digits --out g.nir",
         lambda d: torch.save({"model": _mlp(), "epoch": 3}, d / "ckpt.pt"), 2,
         "holds pickled Python objects (torch.nn.modules.container.Sequential)"),
    Case("checkpoint dict holding a model, --trust-model", "convert ckpt.pt --trust-model --data digits --out g.nir",
         lambda d: torch.save({"model": _mlp(), "epoch": 3}, d / "ckpt.pt"), 2,
         "a checkpoint dict (keys 'model', 'epoch') whose 'model' holds a whole model (Sequential)"),
    Case("checkpoint dict holding a state_dict", CONVERT.replace("w.pt", "ckpt.pt", 1), both(weights, lambda d: torch.save(
        {"model_state_dict": _mlp().state_dict(), "epoch": 3}, d / "ckpt.pt")), 2,
         "whose 'model_state_dict' looks like the model's state_dict"),
    Case("NaN weight", CONVERT, lambda d: weights(d, lambda m: m[1].weight.data.__setitem__((0, 0), float("nan"))),
         2, "'1.weight' holds nan"),
    Case("Inf bias", DEPLOY, lambda d: weights(d, lambda m: m[4].bias.data.__setitem__(3, float("inf"))), 2,
         "'4.bias' holds inf"),
    Case("negative BatchNorm variance", "fit w.pt --arch arch.py:build --data digits",
         lambda d: weights(d, lambda m: m[2].running_var.__setitem__(2, -1.0)), 2, "running_var holds -1.0 < 0"),
    Case("MaxPool2d", "convert maxpool.pt --trust-model --data digits --out g.nir", maxpool_model, 2,
         "--replace-maxpool avg"),
    Case("LSTM layer", "deploy lstm.pt --trust-model --data digits --samples 5 --out run", lstm_model, 2,
         "(LSTM) is not supported"),
    # data
    Case("data of the wrong shape", CONVERT.replace("digits", "data.npz"),
         both(weights, lambda d: npz(d, lambda a: a.update(x_train=a["x_train"][..., :7, :7]))), 2,
         "does not fit the model"),
    Case("NaN in the data", CONVERT.replace("digits", "data.npz"),
         both(weights, lambda d: npz(d, lambda a: a["x_train"].__setitem__((0, 0, 0, 0), np.nan))), 2,
         "x_train[0, 0, 0, 0] = nan"),
    Case("complex data", RUN.replace("digits", "data.npz"),
         both(quantized, lambda d: npz(d, lambda a: a.update(x_test=a["x_test"].astype(np.complex64)))), 2,
         "x_test holds complex64 values"),
    Case("negative label", RUN.replace("digits", "data.npz"),
         both(quantized, lambda d: npz(d, lambda a: a.update(y_test=-a["y_test"] - 1))), 2,
         "labels are class indices"),
    Case("fewer test labels than samples", DEPLOY.replace("digits", "data.npz"),
         both(weights, lambda d: npz(d, lambda a: a.update(y_test=a["y_test"][:7]))), 2,
         "y_test has 7 labels for the 500 samples of x_test"),
    Case("more training labels than samples", "convert w.pt --arch arch.py:build --data data.npz --target sim "
         "--method tcl --epochs 1 --out g.nir", both(weights, lambda d: npz(d, lambda a: a.update(
             y_train=np.concatenate([a["y_train"], a["y_train"][:3]])))), 2,
         "y_train has 1300 labels for the 1297 samples of x_train"),
    Case("labels beyond the model's classes", DEPLOY, lambda d: weights(d, n_out=3), 2, "the model has 3 outputs"),
    Case("empty test split", RUN.replace("digits", "data.npz"),
         both(quantized, lambda d: npz(d, lambda a: a.update(x_test=a["x_test"][:0], y_test=a["y_test"][:0]))), 2,
         "x_test is empty"),
    Case("more samples than the split has", "run q.nir --data digits --samples 100000 --steps 2", quantized, 2,
         "pass --samples 500 or less"),
    Case("--calibration 0", CONVERT + " --calibration 0", weights, 2, "--calibration must be at least 1, got 0"),
    Case("--calibration beyond the training split", "quantize g.nir --data digits --calibration 100000 --out q.nir",
         float_graph, 2, "pass --calibration 1297 or less"),
    Case("--calibration beyond the training split", DEPLOY + " --calibration 5000", weights, 2,
         "pass --calibration 1297 or less"),
    Case("--eval-samples beyond the test split", "quantize g.nir --data digits --eval-samples 100000 --out q.nir",
         float_graph, 2, "pass --eval-samples 500 or less"),
    Case("unknown dataset", "run q.nir --data cifar --steps 2", quantized, 2, "unknown dataset 'cifar'"),
    # graphs and quantized files
    Case("NIR file that is not HDF5", QUANTIZE, lambda d: junk(d, "g.nir"), 2, "not a NIR file"),
    Case("NIR graph with mismatched shapes", QUANTIZE, lambda d: nir_graph(d, "shape"), 2,
         "NIR node 'b' expects 9 inputs, gets 8"),
    Case("NIR node of a type NIR does not define", "fit g.nir", lambda d: nir_graph(d, "unknown type"), 2,
         "NIR node 'n0' has type 'Sigmoid', which NIR 1.0.8 does not define"),
    Case("NIR node of a type NIR does not define", QUANTIZE, lambda d: nir_graph(d, "unknown type"), 2,
         "NIR node 'n0' has type 'Sigmoid'"),
    Case("quantized file: threshold out of range", RUN, lambda d: quantized(d, _set_neuron(vth=10 ** 10)), 2,
         "vth = 10000000000"),
    Case("quantized file: decay out of range", RUN, lambda d: quantized(d, _set_neuron(du=-1)), 2,
         "du, dv = (-1, 0)"),
    Case("quantized file: sign mode out of range", "verify q.nir --data digits --samples 1 --steps 2",
         lambda d: quantized(d, lambda q: setattr(q.projections[0], "sign_mode", 7)), 2, "sign_mode = 7"),
    Case("quantized file: 99-bit weights", "export q.nir --out model.net",
         lambda d: quantized(d, lambda q: setattr(q.projections[0], "weight_bits", 99)), 2, "weight_bits = 99"),
    Case("float graph where a quantized one goes", "export g.nir --out model.net", float_graph, 2,
         "'neurokit export' takes a quantized network and this is a float graph"),
    Case("float graph where a quantized one goes", "verify g.nir --data digits --samples 1 --steps 2", float_graph, 2,
         "'neurokit verify' takes a quantized network and this is a float graph"),
    Case("float graph where a quantized one goes", "run g.nir --data digits --samples 1 --steps 2 --backend lava-fixed",
         float_graph, 2, "backend 'lava-fixed' takes a quantized network"),
    Case("neurokit's own graph to import", "import g.nir --out g2.nir", float_graph, 2, "nothing to import"),
    # profiles
    Case("unknown profile", "fit g.nir --profile loihi9", float_graph, 2, "unknown hardware profile 'loihi9'"),
    Case("profile that is a folder", "quantize g.nir --data digits --profile folder --out q.nir",
         both(float_graph, a_folder), 2, "is a folder, not a .toml"),
    # outputs
    Case("--out under a file", CONVERT.replace("--out g.nir", "--out a_file/g.nir"), both(weights, a_file), 2,
         "is a file, so nothing can be written under it"),
    Case("--out a folder where a file goes", "quantize g.nir --data digits --out folder",
         both(float_graph, a_folder), 2, "is a folder; pass a file name"),
    Case("--out a file where a folder goes", DEPLOY.replace("--out run", "--out a_file"), both(weights, a_file), 2,
         "is a file; pass a folder"),
    Case("--out equal to an input", CONVERT.replace("--out g.nir", "--out w.pt"), weights, 2, "would destroy it"),
    # run records
    Case("run record that is not JSON", "report run.json", lambda d: junk(d, "run.json"), 2, "not a run record"),
    Case("run record with NaN", "report run.json", lambda d: run_record(d, spikes=float("nan")), 2, "spikes = nan"),
    Case("run record with a negative count", "report run.json", lambda d: run_record(d, synops=-1), 2,
         "synops = -1"),
    # sizes
    Case("--steps 0", "run q.nir --data digits --samples 2 --steps 0", quantized, 2, "--steps must be at least 1"),
    Case("net too big for the chip", "fit g.nir --profile small.toml", both(float_graph, small_profile), 1,
         "needs"),
    Case("net too big for the chip", DEPLOY.replace("--out run", "--profile small.toml --out run"),
         both(weights, small_profile), 1, "does NOT fit small", writes=("run",)),
    # NIR graphs from other frameworks (neurokit import, and every command that reads them)
    Case("a framework's graph without --dialect", "import s.nir --out m.nir", foreign_graph, 2,
         "the graph does not say which framework wrote it"),
    Case("a framework's graph without --dialect", "run s.nir --data seq.npz", foreign_graph, 2, "pass --dialect"),
    Case("a time constant <= 0", "import s.nir --dialect nir --dt 1e-3 --out m.nir",
         lambda d: foreign_graph(d, "tau"), 2, "NIR node 'lif' (LIF): tau = -0.01; a time constant must be positive"),
    Case("a NaN neuron parameter", "import s.nir --dialect snntorch --out m.nir", lambda d: foreign_graph(d, "nan"), 2,
         "NIR node 'lif' (LIF): v_threshold holds NaN or Inf"),
    Case("a dt longer than a time constant", "run s.nir --dialect nir --dt 1e-3 --data seq.npz",
         lambda d: foreign_graph(d, "dt"), 2, "dt / tau = 0.001 / 5e-05 = 20 > 1"),
    Case("a decay that rounds to no leak", "quantize s.nir --dialect nir --dt 1e-3 --data seq.npz --calibration 6 --out q.nir",
         lambda d: foreign_graph(d, "no leak"), 2, "rounds to no leak in Lava's 12-bit decay"),
    Case("several spikes per step (sinabs MultiSpike)", "import s.nir --dialect sinabs --spikes multi --out m.nir",
         foreign_graph, 2, "Loihi 2's LIF sends one per step"),
    Case("--dialect on neurokit's own file", "quantize g.nir --dialect snntorch --data digits --out q2.nir",
         float_graph, 2, "this graph was written by neurokit, which states its own rules; drop --dialect"),
]


# ---- running them -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    exit: int
    says: str  # the line neurokit printed, the case's folder left out
    stdout: str
    new_files: list[str]


_OUTCOMES: dict[int, Outcome] = {}


def _files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def outcome(i: int, tmp_path_factory, capsys) -> Outcome:
    """Case i run once per session in a folder of its own (the table test reuses what the case test saw)."""
    if i not in _OUTCOMES:
        case = CASES[i]
        d = tmp_path_factory.mktemp(f"case{i}")
        case.build(d)
        before = _files(d)
        capsys.readouterr()
        cwd = os.getcwd()
        os.chdir(d)  # the command line names files relative to the case's folder, as a user types them
        try:
            rc = main(case.argv.split() + ["--quiet"])
        finally:
            os.chdir(cwd)
        out, err = capsys.readouterr()
        says = err.strip()
        if case.exit == 1 and case.command == "deploy":  # deploy says why in its report, on stdout
            says = next((line.strip() for line in out.splitlines() if case.says in line), "")
        _OUTCOMES[i] = Outcome(rc, says.removeprefix("neurokit: error: ").replace(f"{d}/", ""), out,
                               sorted(_files(d) - before))
    return _OUTCOMES[i]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c.command}: {c.input}" for c in CASES])
def test_bad_input_one_line_and_nothing_written(i, tmp_path_factory, capsys):
    case, got = CASES[i], outcome(i, tmp_path_factory, capsys)
    assert got.exit == case.exit, got
    assert got.says and "\n" not in got.says and case.says in got.says, got
    if case.exit == 2:
        assert got.stdout == "", got
    assert got.new_files == sorted(f for f in got.new_files if f.split("/")[0] in case.writes), got
    if case.writes:
        assert {f.split("/")[0] for f in got.new_files} == set(case.writes), got


def render_table(outcomes: list[Outcome]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = ["| input class | command | exit | what neurokit says |", "|---|---|---|---|"]
    for case, got in zip(CASES, outcomes):
        rows.append(f"| {cell(case.input)} | `{cell(case.argv)}` | {got.exit} | {cell(got.says)} |")
    return "\n".join(rows)


def test_readme_table_is_what_the_cases_do(tmp_path_factory, capsys):
    table = render_table([outcome(i, tmp_path_factory, capsys) for i in range(len(CASES))])
    text = README.read_text()
    assert START in text and END in text, f"README.md needs the markers {START} and {END}"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    block = f"{START}\n{table}\n{END}"
    if os.environ.get("NEUROKIT_UPDATE_README"):
        README.write_text(head + block + tail)
        return
    assert f"{START}{rest.split(END, 1)[0]}{END}" == block, (
        "README.md's bad-input table differs from what the tests saw; run "
        "NEUROKIT_UPDATE_README=1 pytest tests/test_bad_input_table.py and review the diff")
