"""The neurokit command end to end (real Lava), and every bad-input path: one line, exit 2, no output left."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurokit.cli import main

DEPLOY_KEYS = {"ann_accuracy", "snn_float_accuracy", "fixed_accuracy", "samples", "steps", "ann_macs",
               "energy_snn_j", "energy_ann_j", "layers"}


def _digits_mlp() -> nn.Module:
    """A 64-32-10 MLP trained briefly on sklearn's digits (the dataset's fixed training split)."""
    from neurokit.data import load_dataset

    d = load_dataset("digits")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.from_numpy(d.x_train), torch.from_numpy(d.y_train)
    for _ in range(60):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "digits_mlp.pt"
    torch.save(_digits_mlp(), path)
    return path


def _run(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_deploy_json_end_to_end(digits_model, tmp_path, capsys):
    out = tmp_path / "run"
    html = tmp_path / "report.html"
    rc, stdout, _ = _run(["deploy", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--samples", 20, "--steps", 24,
                          "--out", out, "--json", "--quiet", "--html", html], capsys)
    assert rc == 0
    r = json.loads(stdout)
    assert r["files"]["html"] == str(html) and html.read_text().startswith("<!DOCTYPE html>")
    assert DEPLOY_KEYS <= set(r)
    assert r["samples"] == 20 and r["steps"] == 24 and r["backend"] == "engine"
    check = r["lava_check"]  # Lava re-ran the first samples: the engine agreed on every value
    assert check["checked"] and check["match"] and check["samples"] == 8 and check["first_mismatch"] is None
    for key in ("ann_accuracy", "snn_float_accuracy", "fixed_accuracy"):
        assert 0.0 <= r[key] <= 1.0
    assert r["ann_accuracy"] > 0.8  # the MLP learned something, and the SNN follows it
    assert r["fixed_accuracy"] >= r["ann_accuracy"] - 0.15
    assert r["ann_macs"] == 64 * 32 + 32 * 10
    assert [l["name"] for l in r["layers"]] == ["if0", "if1"]
    assert all(l["synops"] > 0 and l["spikes"] >= 0 for l in r["layers"])
    # layer 0's synops are graded input messages: nonzero pixels x fan-out 32, every one of the T steps
    from neurokit.data import load_dataset

    nonzero = np.count_nonzero(load_dataset("digits").x_test[:20]) / 20
    assert r["layers"][0]["synops"] == pytest.approx(nonzero * 32 * 24)
    assert r["layers"][1]["synops"] == pytest.approx(r["layers"][0]["spikes"] * 10)
    assert r["energy_snn_j"] > 0 and r["energy_ann_j"] == pytest.approx(r["ann_macs"] * 4.6e-12)
    assert {c["key"] for c in r["constants"]} >= {"energy.synop_pj", "energy.ann_mac_fp32_pj"}
    assert sorted(p.name for p in out.iterdir()) == ["model.nir", "model.q.nir", "report.json", "report.txt"]
    assert json.loads((out / "report.json").read_text())["fixed_accuracy"] == r["fixed_accuracy"]
    first = r["projections"][0]  # the graded input: NeuroBench MACs, nonzero pixels x nonzero weights x T
    assert first["op_kind"] == "MAC" and 0 < first["effective_ops"] <= first["synops"]
    rc, again, _ = _run(["report", out / "report.json", "--json"], capsys)  # deploy's report.json re-reports
    again = json.loads(again)
    assert rc == 0 and again["energy"]["models"] == r["energy"]["models"]
    assert again["energy"]["break_even"] == r["energy"]["break_even"]
    assert r["fit"] == {"fits": True, "cores": 2, "chips": 1, "cores_available": 120, "chips_available": 1,
                        "cores_per_chip": 120, "problem": None,
                        "layers": [{"name": "if0", "cores": 1, "split": "32 neurons per core"},
                                   {"name": "if1", "cores": 1, "split": "10 neurons per core"}]}


def test_deploy_of_a_net_that_does_not_fit_writes_the_report_and_exits_1(digits_model, tmp_path, capsys):
    profile = tmp_path / "small.toml"
    profile.write_text('extends = "loihi2"\nname = "small"\ndescription = "8 neurons per core, 2 cores"\n\n[core]\n'
                       'neurons_per_core = { value = 8, source = "test", verified = true }\n\n[chip]\n'
                       'cores_per_chip = { value = 2, source = "test", verified = true }\n')
    out = tmp_path / "run"
    rc, stdout, err = _run(["deploy", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--samples", 10, "--steps", 8, "--profile",
                            profile, "--verify-samples", 0, "--out", out, "--quiet"], capsys)
    assert rc == 1 and err == ""
    assert "does NOT fit small (6 cores needed, 2 there; the network needs 6 cores on 3 chips" in stdout
    assert "the energy below is that of a hypothetical larger board" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["fit"]["fits"] is False and report["fit"]["cores"] == 6


def test_deploy_with_a_phase_coded_method(digits_model, tmp_path, capsys):
    rc, stdout, _ = _run(["deploy", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--samples", 40, "--steps", 16,
                          "--method", "phase", "--target-steps", 16, "--json", "--quiet"], capsys)
    r = json.loads(stdout)
    assert rc == 0 and r["conversion"]["method"] == "phase" and r["conversion"]["readout"] == "potential"
    assert r["lava_check"]["checked"] and r["lava_check"]["match"]  # the phase neuron in Lava == the engine
    assert r["conversion_error"] is None  # a rate-code decomposition: not computed for phase coding
    assert r["fixed_accuracy"] >= r["ann_accuracy"] - 0.1
    assert r["layers"][-1]["spikes"] == 0  # the output layer is read as a latched potential


def test_stages_one_by_one(digits_model, tmp_path, capsys):
    g, q, rec = tmp_path / "m.nir", tmp_path / "m.q.nir", tmp_path / "run.json"
    assert _run(["convert", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--out", g, "--json"], capsys)[0] == 0
    rc, out, _ = _run(["quantize", g, "--data", "digits", "--out", q, "--json"], capsys)
    assert rc == 0 and [l["name"] for l in json.loads(out)["layers"]] == ["if0", "if1"]
    rc, out, _ = _run(["run", q, "--data", "digits", "--backend", "lava-fixed", "--samples", 5, "--steps", 16,
                       "--out", rec, "--quiet"], capsys)
    assert rc == 0 and "lava-fixed: accuracy" in out
    lava = json.loads(rec.read_text())
    rc, out, _ = _run(["run", q, "--data", "digits", "--samples", 5, "--steps", 16, "--json", "--quiet"], capsys)
    engine = json.loads(out)  # the default backend is the engine, and it counts what Lava counted
    assert rc == 0 and engine["backend"] == "engine" and engine["accuracy"] == lava["accuracy"]
    assert [l["spikes"] for l in engine["layers"]] == [l["spikes"] for l in lava["layers"]]
    rc, out, _ = _run(["verify", q, "--data", "digits", "--samples", 2, "--steps", 8, "--json"], capsys)
    v = json.loads(out)
    assert rc == 0 and v["match"] is True and v["first_mismatch"] is None and (v["samples"], v["steps"]) == (2, 8)
    rc, out, _ = _run(["verify", q, "--data", "digits", "--samples", 1, "--steps", 4], capsys)
    assert rc == 0 and "bit-exact" in out
    rc, _, err = _run(["verify", g, "--data", "digits"], capsys)
    assert rc == 2 and "quantize it first" in err
    rc, out, _ = _run(["report", rec], capsys)
    assert rc == 0 and "energy.synop_pj" in out and "[UNVERIFIED]" in out
    rc, out, _ = _run(["run", g, "--data", "digits", "--backend", "float", "--steps", 16, "--json", "--quiet"], capsys)
    assert rc == 0 and json.loads(out)["samples"] == 500


def test_convert_method_options_reach_the_graph(digits_model, tmp_path, capsys):
    g = tmp_path / "m.nir"
    rc, out, _ = _run(["convert", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--method", "rate", "--percentile", 100,
                       "--v-init", 0, "--out", g, "--json"], capsys)
    r = json.loads(out)
    assert rc == 0 and r["method"] == "rate" and r["normalization"] == "max"
    from neurokit.lower import from_nir
    from neurokit.io import read_nir

    net = from_nir(read_nir(g))
    assert net.metadata["method"] == "rate" and all(np.all(p.neuron.v_init == 0) for p in net.populations)
    rc, _, err = _run(["convert", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--target-steps", 0, "--out", tmp_path / "x.nir"],
                      capsys)
    assert rc == 2 and err.strip() == "neurokit: error: --target-steps must be at least 1, got 0"
    rc, _, err = _run(["convert", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--method", "phase", "--input-coding", "rate",
                       "--out", tmp_path / "x.nir"], capsys)
    assert rc == 2 and "phase coding takes current-coded input" in err
    assert not (tmp_path / "x.nir").exists()


def test_help_for_every_subcommand(capsys):
    for cmd in ("convert", "quantize", "run", "verify", "report", "deploy", "sweep"):
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
        assert "usage: neurokit " + cmd in capsys.readouterr().out


def _state_dict_file(tmp_path: Path) -> Path:
    p = tmp_path / "sd.pt"
    torch.save(_digits_mlp().state_dict(), p)
    return p


def _unsupported_file(tmp_path: Path) -> Path:
    p = tmp_path / "maxpool.pt"
    torch.save(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 10)), p)
    return p


def _corrupt_file(tmp_path: Path) -> Path:
    p = tmp_path / "corrupt.pt"
    p.write_bytes(b"\x80\x02not a checkpoint")
    return p


class _Payload:
    """Unpickling this calls os.system: what a hostile .pt carries."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _pickle_payload_file(tmp_path: Path) -> Path:
    p = tmp_path / "payload.pt"
    torch.save({"model": _Payload(tmp_path / "PWNED")}, p)
    return p


def test_a_pickled_model_runs_no_code_without_trust(tmp_path, capsys):
    """A checkpoint carrying a pickle payload is refused before anything in it runs; a whole pickled model
    is refused with the way out named; weights plus --arch load without trust."""
    payload = _pickle_payload_file(tmp_path)
    for cmd in (["convert", payload, "--out", tmp_path / "g.nir"], ["deploy", payload, "--out", tmp_path / "d"],
                ["fit", payload]):
        rc, _, err = _run(cmd + ["--data", "digits", "--quiet"], capsys)
        assert rc == 2 and "pickled Python objects" in err and "--trust-model" in err
        assert not (tmp_path / "PWNED").exists()
    whole = tmp_path / "whole.pt"
    torch.save(_digits_mlp(), whole)
    rc, _, err = _run(["convert", whole, "--data", "digits", "--out", tmp_path / "w.nir"], capsys)
    assert rc == 2 and "a pickled model is code" in err and not (tmp_path / "w.nir").exists()
    # the safe route: weights and the code that builds the model, named by the user
    arch = tmp_path / "arch.py"
    arch.write_text("from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), "
                    "nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))\n")
    weights = _state_dict_file(tmp_path)
    assert _run(["convert", weights, "--arch", f"{arch}:build", "--data", "digits", "--out", tmp_path / "s.nir",
                 "--quiet"], capsys)[0] == 0
    rc, _, err = _run(["convert", weights, "--arch", f"{arch}:nothing", "--data", "digits", "--out",
                       tmp_path / "n.nir"], capsys)
    assert rc == 2 and "no callable 'nothing'" in err


BAD_DEPLOYS = {
    "missing file": (lambda t: t / "nope.pt", [], "file not found"),
    "corrupt checkpoint": (_corrupt_file, [], "not a readable torch checkpoint"),
    "state_dict": (_state_dict_file, [], "state_dict); pass the architecture"),
    "unsupported layer": (_unsupported_file, [], "MaxPool2d"),
    "wrong input shape": (None, ["--data", "mnist"], "does not fit the model"),
    "unknown profile": (None, ["--profile", "loihi9"], "unknown hardware profile 'loihi9'"),
    "too many samples": (None, ["--samples", "100000"], "--samples 500 or less"),
    "bad percentile": (None, ["--percentile", "0"], "percentile"),
    "loihi without lava-loihi": (None, ["--backend", "loihi"], "lava-loihi"),
}


@pytest.mark.parametrize("case", sorted(BAD_DEPLOYS))
def test_deploy_bad_input_one_line_exit_2_no_output(case, digits_model, tmp_path, capsys):
    make, extra, expected = BAD_DEPLOYS[case]
    model = digits_model if make is None else make(tmp_path)
    out = tmp_path / "out"
    argv = ["deploy", "--target", "sim", "--trust-model", model, "--data", "digits", "--samples", 5, "--steps", 4, "--out", out, "--quiet"] + extra
    rc, stdout, stderr = _run(argv, capsys)
    assert rc == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurokit: error: ")
    assert expected in lines[0]
    assert stdout == ""
    assert not out.exists()


def test_bad_nir_and_profile_files(tmp_path, capsys):
    junk = tmp_path / "junk.nir"
    junk.write_text("not hdf5")
    rc, _, err = _run(["quantize", junk, "--data", "digits", "--out", tmp_path / "q.nir"], capsys)
    assert rc == 2 and "not a NIR file" in err and not (tmp_path / "q.nir").exists()
    bad_profile = tmp_path / "mine.toml"
    bad_profile.write_text('name = "mine"\ndescription = "x"\n[synapse]\nweight_bits = { value = 99, source = "me", verified = true }\n')
    rc, _, err = _run(["report", junk, "--profile", bad_profile], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1


def test_console_script_exit_code(tmp_path):
    """The installed entry point maps errors to exit status 2 as well."""
    proc = subprocess.run([sys.executable, "-m", "neurokit.cli", "run", str(tmp_path / "none.nir"), "--data", "digits"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("none.nir: file not found")


def test_run_record_feeds_report_energy(tmp_path, capsys):
    """report recomputes energy from a run record: synops x 23.6 pJ plus neuron and routing terms."""
    record = {"record_version": 2, "network": "n.nir", "dataset": "d", "backend": "lava-fixed", "samples": 2,
              "steps": 10, "accuracy": 0.5, "wall_s": 1.0, "ann_macs_per_layer": {"fc1": 1000},
              "layers": [{"name": "if0", "kind": "dense", "neurons": 10, "spikes": 20.0, "synops": 100.0,
                          "spikes_per_neuron_step": 0.2}],
              "projections": [{"name": "fc1", "source": "input", "target": "if0", "kind": "dense", "synops": 100.0,
                               "messages": 50.0, "effective_ops": 80.0, "op_kind": "MAC", "dense_ops": 1000.0}]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record))
    rc, out, _ = _run(["report", path, "--json"], capsys)
    r = json.loads(out)
    expected = (100 * 23.6 + 20 * 81.0 + (10 * 10 - 20) * 52.0 + 20 * 1.7) * 1e-12
    assert rc == 0 and r["energy_snn_j"] == pytest.approx(expected)
    assert r["energy_ann_j"] == pytest.approx(1000 * 4.6e-12)
    paper = r["energy"]["models"]["paper_45nm"]  # the papers' convention: effective MACs x 4.6 pJ, nothing else
    assert paper["joules"] == pytest.approx(80 * 4.6e-12) == paper["joules_low"] == paper["joules_high"]
    static = r["energy"]["models"]["loihi_static"]
    assert static["joules"] == pytest.approx(expected + 10 * 0.232078 * 152.9e-6)
    assert static["joules_low"] < static["joules"] <= static["joules_high"]


@pytest.mark.parametrize("argv, expected", [
    (["quantize", "m.nir", "--out", "q.nir", "--weight-bits", "if0=x"], "'if0=x' is not N or LAYER=N"),
    (["run"], "the following arguments are required: network"),
    (["deploy", "--target", "sim", "--trust-model", "m.pt", "--steps", "many"], "argument --steps: invalid int value: 'many'"),
    (["convert", "--target", "sim", "--trust-model", "m.pt", "--out", "g.nir", "--method", "magic"], "argument --method: invalid choice: 'magic'"),
])
def test_usage_errors_are_one_line_exit_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and lines[0].startswith("neurokit: error: ") and expected in lines[0]


def test_engine_device_errors_are_one_line(digits_model, tmp_path, capsys):
    g, q = tmp_path / "m.nir", tmp_path / "m.q.nir"
    assert _run(["convert", "--target", "sim", "--trust-model", digits_model, "--data", "digits", "--out", g, "--quiet"], capsys)[0] == 0
    assert _run(["quantize", g, "--data", "digits", "--out", q, "--quiet"], capsys)[0] == 0
    cases = [("bogus", "unknown device 'bogus'")]
    if not torch.cuda.is_available():
        cases.append(("cuda", "torch sees no CUDA GPU here; use --device cpu"))
    for device, expected in cases:
        rc, out, err = _run(["run", q, "--data", "digits", "--samples", 2, "--steps", 4, "--device", device], capsys)
        lines = err.strip().splitlines()
        assert rc == 2 and out == "" and len(lines) == 1 and expected in lines[0]
