"""`neurokit sweep`: the config, the cache key, the Pareto front, and a small sweep on local Ray with 2 workers
that resumes from the cache, records a failed trial, and is served whole from the cache the second time."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from neurokit.cli import main
from neurokit.errors import NeurokitError
from neurokit.sweep import load_sweep, mark_pareto

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "digits_cnn" / "digits_cnn.pt"
ARCH = f"{ROOT / 'examples' / 'digits_cnn' / 'train.py'}:make_model"


def _config(tmp_path: Path, body: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'model = "{MODEL}"\narch = "{ARCH}"\ndata = "digits"\nsamples = 40\ncalibration = 100\n' + body)
    return path


def test_grid_and_list_expand_with_the_shared_options(tmp_path):
    cfg = _config(tmp_path, '[grid]\nmethod = ["sdnn", "lif"]\nsteps = [4, 8]\nweight_bits = [8, "affine0=4"]\n'
                            '[[trials]]\nmethod = "rate"\ntarget = "sim"\nsteps = 16\n')
    sweep = load_sweep(cfg)
    assert len(sweep.trials) == 9
    assert all(t["samples"] == 40 and t["calibration"] == 100 and t["verify_samples"] == 0 for t in sweep.trials)
    assert sweep.trials[1]["weight_bits"] == {"affine0": 4}
    assert sweep.trials[-1]["method"] == "rate" and sweep.trials[-1]["target"] == "sim"
    assert sweep.varied == ["method", "steps", "weight_bits", "target"]


def test_no_method_means_the_targets_default_and_paths_are_relative_to_the_config(tmp_path):
    (tmp_path / "m.pt").write_bytes(b"")
    sweep = load_sweep(_config(tmp_path, "[grid]\nsteps = [4, 8]\n"))
    assert {t["method"] for t in sweep.trials} == {"sdnn"}  # loihi2's default
    rel = tmp_path / "rel.json"
    rel.write_text(json.dumps({"model": "m.pt", "data": "d.npz", "trials": [{"target": "sim"}]}))
    sweep = load_sweep(rel)
    assert sweep.model == str(tmp_path / "m.pt") and sweep.data == str(tmp_path / "d.npz")
    assert [t["method"] for t in sweep.trials] == ["rate"]


@pytest.mark.parametrize("body, words", [
    ("[grid]\nstep = [4]\n", "unknown option 'step'"),
    ("steps = [4, 8]\n", "one value per trial"),
    ("weight_bits = [8, 4]\n", "one value per trial"),
    ("[grid]\nsteps = []\n", "steps has no values"),
    ("[grid]\nweight_bits = [\"x=y\"]\n", "weight_bits"),
])
def test_config_mistakes_are_one_line(tmp_path, body, words):
    with pytest.raises(NeurokitError, match=words):
        load_sweep(_config(tmp_path, body))


def test_pareto_front_is_the_trials_nothing_beats_among_those_that_fit():
    rows = [dict(status="ok", fits=True, fixed_accuracy=a, energy_j=e) for a, e in
            [(0.9, 5.0), (0.8, 2.0), (0.85, 6.0), (0.8, 3.0), (0.95, 9.0)]]
    rows.append(dict(status="ok", fits=False, fixed_accuracy=0.99, energy_j=1.0))  # does not fit: no front
    rows.append(dict(status="failed", fits=None, fixed_accuracy=None, energy_j=None))
    mark_pareto(rows)
    assert [r.get("pareto") for r in rows] == [True, True, False, False, True, None, None]


def test_verdict_names_the_cheapest_trial_within_a_point_of_the_ann():
    from neurokit.sweep import verdict

    base = dict(status="ok", ann_accuracy=0.96, energy_ann_j=1.0, label="x")
    rows = [dict(base, trial=1, fits=True, fixed_accuracy=0.97, energy_j=8.0),
            dict(base, trial=2, fits=True, fixed_accuracy=0.951, energy_j=5.0),
            dict(base, trial=3, fits=True, fixed_accuracy=0.94, energy_j=0.5),  # cheaper than the ANN, 2 points off
            dict(base, trial=4, fits=False, fixed_accuracy=0.96, energy_j=2.0),  # does not fit
            dict(base, trial=5, status="failed", fits=None, fixed_accuracy=None, energy_j=None)]
    v = verdict(rows)
    assert v["best"]["trial"] == 2 and v["beats_ann"] == [3] and v["closest_to_ann"]["trial"] == 3
    assert verdict(rows[:1] + rows[3:])["best"]["trial"] == 1


def _sweep(cfg: Path, out: Path, cache: Path, capsys) -> tuple[int, dict]:
    code = main(["sweep", str(cfg), "--out", str(out), "--workers", "2", "--cache", str(cache), "--json", "--quiet"])
    return code, json.loads(capsys.readouterr().out)


def test_sweep_on_local_ray_resumes_records_failures_and_is_served_from_the_cache(tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray")
    pytest.importorskip("matplotlib")
    cache, out = tmp_path / "cache", tmp_path / "out"
    # half the grid first: what an interrupted sweep leaves in the cache
    code, first = _sweep(_config(tmp_path, '[grid]\nmethod = ["sdnn", "lif"]\nsteps = [4]\n', "half.toml"), out,
                         cache, capsys)
    assert code == 0 and (first["computed"], first["cached"]) == (2, 0)
    assert first["ray"]["address"] == "local" and first["ray"]["cpus"] == 2

    # the whole grid (4 configurations) and a trial the target refuses
    cfg = _config(tmp_path, '[grid]\nmethod = ["sdnn", "lif"]\nsteps = [4, 8]\n[[trials]]\nmethod = "rate"\n')
    code, full = _sweep(cfg, out, cache, capsys)
    assert code == 1  # a trial failed; the others ran
    assert (full["trials"], full["cached"], full["computed"], full["failed"]) == (5, 2, 3, 1)
    rows = {r["label"]: r for r in full["rows"]}
    assert rows["sdnn T=4"]["cached"] and rows["lif T=4"]["cached"] and not rows["lif T=8"]["cached"]
    assert rows["sdnn T=4"]["fixed_accuracy"] == first["rows"][0]["fixed_accuracy"]
    failed = rows["rate"]
    assert failed["status"] == "failed" and "method 'rate'" in failed["error"] and "\n" not in failed["error"]
    for r in full["rows"]:
        if r["status"] == "ok":
            assert r["fixed_accuracy"] > 0.2 and r["energy_j"] > 0 and r["synops"] > 0 and r["spikes"] > 0
            assert r["fits"] and r["method"] in ("sdnn", "lif")
    assert any(r["pareto"] for r in full["rows"])
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 5 and table[4]["status"] == "failed" and table[0]["method"] == "sdnn"
    assert json.loads((out / "results.json").read_text())["trials"] == 5
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "sweep.html").read_text()  # self-contained: the plots embedded, no scripts, nothing fetched
    assert "alt='against_steps'" in page and "alt='pareto'" in page and "<script" not in page
    assert "http://" not in page and "https://" not in page
    assert "lowest Loihi energy within 1 point of the ANN" in page or "no trial is within 1 point" in page

    # again: every trial from the cache (the failure too: the input's fault), Ray never started
    def no_ray(*a, **k):
        raise AssertionError("a cached sweep started Ray")

    monkeypatch.setattr("neurokit.sweep.start_ray", no_ray)
    code, again = _sweep(cfg, out, cache, capsys)
    assert code == 1 and (again["computed"], again["cached"]) == (0, 5) and again["ray"] is None
    assert [r["fixed_accuracy"] for r in again["rows"]] == [r["fixed_accuracy"] for r in full["rows"]]


def test_bad_configs_exit_2_in_one_line(tmp_path, capsys):
    assert main(["sweep", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"neurokit: error: {tmp_path / 'none.toml'}: sweep config not found"
    bad = tmp_path / "bad.toml"
    bad.write_text("model = [")
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"neurokit: error: {bad}: not a valid TOML file") and "\n" not in err
    missing = tmp_path / "missing-model.toml"
    missing.write_text('model = "nope.pt"\narch = "x.py:f"\n')
    assert main(["sweep", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert "nope.pt: file not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
