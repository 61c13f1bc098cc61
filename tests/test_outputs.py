"""Whole-run outputs (issue 15, item 3): a deploy's folder holds one complete run (a previous run's files go
with it), one run at a time per --out, never an input as output, files with the user's umask."""
from __future__ import annotations

import os

import torch
from torch import nn

from neurokit.cli import main


def _run(argv, capsys):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def _model(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "w.pt"
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).state_dict(), path)
    arch = tmp_path / "arch.py"
    arch.write_text("from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), "
                    "nn.ReLU(), nn.Linear(16, 10))\n")
    return path, f"{arch}:build"


def _deploy(path, arch, out, capsys):
    return _run(["deploy", path, "--arch", arch, "--data", "digits", "--samples", 5, "--steps", 2,
                 "--verify-samples", 0, "--out", out, "--quiet"], capsys)


def test_a_run_replaces_the_folder_whole_with_the_users_umask(tmp_path, capsys):
    path, arch = _model(tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    old = os.umask(0o027)
    try:
        rc, err = _deploy(path, arch, out, capsys)
    finally:
        os.umask(old)
    assert rc == 0, err
    assert not (out / "stale.txt").exists()  # the whole folder is this run's
    assert {"model.nir", "model.q.nir", "report.json", "report.txt"} <= {p.name for p in out.iterdir()}
    assert (out / "report.json").stat().st_mode & 0o777 == 0o640
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")]
    assert leftovers == []  # no partial folder, no lock


def test_one_run_per_out_and_never_over_an_input(tmp_path, capsys):
    path, arch = _model(tmp_path)
    out = tmp_path / "run"
    lock = tmp_path / ".run.lock"
    lock.write_text(str(os.getpid()))  # a live run holds it
    rc, err = _deploy(path, arch, out, capsys)
    assert rc == 2 and "another neurokit run" in err and not out.exists()
    lock.write_text("999999999")  # its owner is gone: taken over
    rc, err = _deploy(path, arch, out, capsys)
    assert rc == 0, err
    assert not lock.exists()
    before = path.read_bytes()
    rc, err = _run(["convert", path, "--arch", arch, "--data", "digits", "--out", path], capsys)
    assert rc == 2 and "would destroy it" in err and path.read_bytes() == before


def test_a_closed_stdout_pipe_is_not_a_traceback(tmp_path):
    """`neurokit ... | head`: when the reader has gone, neurokit exits 141 (SIGPIPE's code) without a traceback."""
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).with_name("neurokit"))
    p = subprocess.Popen([exe, "fit", "examples/mnist_cnn/mnist_cnn.pt", "--arch", "examples/mnist_cnn/train.py:make_model",
                          "--calibration", "16", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # the reader leaves before neurokit writes
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 141
    assert "Traceback" not in err


def test_bad_output_paths_profiles_and_run_records_are_one_line(tmp_path, capsys):
    import json

    path, arch = _model(tmp_path)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    base = ["deploy", path, "--arch", arch, "--data", "digits", "--samples", 5, "--steps", 2, "--quiet"]
    for extra, expected in ((["--out", a_file / "run"], "is a file, so nothing can be written under it"),
                            (["--out", a_file], "is a file; pass a folder"),
                            (["--profile", tmp_path, "--out", tmp_path / "r"], "is a folder, not a .toml")):
        rc, err = _run(base + extra, capsys)
        assert rc == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    rc, err = _run(["convert", path, "--arch", arch, "--data", "digits", "--out", a_file / "g.nir"], capsys)
    assert rc == 2 and "nothing can be written under it" in err
    for record, expected in (({"layers": "x", "steps": "a", "backend": 3}, "steps a positive integer"),
                             ({"layers": [{"name": "l", "neurons": 4, "spikes": float("nan"), "synops": 1}],
                               "steps": 4, "backend": "engine"}, "spikes = nan"),
                             ({"layers": [{"name": "l", "neurons": 4, "spikes": -1, "synops": 1}], "steps": 4,
                               "backend": "engine"}, "spikes = -1")):
        from neurokit.report import RECORD_VERSION

        run = tmp_path / "run.json"
        run.write_text(json.dumps({"record_version": RECORD_VERSION, **record}))
        rc, err = _run(["report", run], capsys)
        assert rc == 2 and expected in err, err
