"""torch.export programs (.pt2) as model input (issue 15, item 1).

The finding, on the torch this project pins (2.3.1): torch.export.load unpickles the program's
serialized_state_dict.pt and serialized_constants.pt with torch.load(buffer), whose default is
weights_only=False (torch/_export/serde/serialize.py, deserialize_torch_artifact), so a .pt2 can carry code that
runs on load. neurokit therefore never calls torch.export.load: it reads a .pt2's weights only, with
torch.load(weights_only=True), into the model --arch builds, and refuses a .pt2 without --arch in one line."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from neurokit.cli import main

ARCH = ("from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), "
        "nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 10))\n")


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(64, 10))
    model.train()(torch.rand(16, 1, 8, 8))  # BatchNorm statistics that are not the defaults
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A small CNN as torch.export.save writes it, beside arch.py (the code that builds it)."""
    d = tmp_path_factory.mktemp("pt2")
    torch.export.save(torch.export.export(_cnn(), (torch.zeros(1, 1, 8, 8),)), d / "cnn.pt2")
    (d / "arch.py").write_text(ARCH)
    return d / "cnn.pt2"


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile(exported: Path, out: Path, marker: Path, members=("serialized_constants.pt",)) -> Path:
    """The exported program with a pickle payload in place of the named members."""
    buf = io.BytesIO()
    torch.save({"x": _Payload(marker)}, buf)
    with zipfile.ZipFile(exported) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, buf.getvalue() if name.endswith(members) else src.read(name))
    return out


def test_torch_export_load_runs_a_payload_on_this_torch(exported, tmp_path):
    """The finding the README and --help state: if this fails, torch changed and they must be revisited."""
    marker = tmp_path / "RAN"
    try:
        torch.export.load(_hostile(exported, tmp_path / "evil.pt2", marker))
    except Exception:  # torch 2.3.1 then fails on a Sequential's graph (its nn_module_stack): too late
        pass
    assert marker.exists()  # the constants are unpickled before the graph is read
    with pytest.raises(Exception, match="Failed deserializing node"):
        torch.export.load(exported)  # and torch 2.3.1 cannot read an nn.Sequential's own program back


def test_a_pt2_converts_with_arch_and_no_trust(exported, tmp_path, capsys):
    """A .pt2's weights go into the --arch model, without --trust-model, and give the graph the state_dict
    route gives (torch 2.3.1's own torch.export.load cannot even read a Sequential's program back)."""
    from neurokit.io import load_torch_model

    arch = f"{exported.parent}/arch.py:build"
    model = load_torch_model(exported, arch)
    want = _cnn().state_dict()
    assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())
    torch.save(want, tmp_path / "cnn.pt")
    for src, out in ((exported, tmp_path / "a.nir"), (tmp_path / "cnn.pt", tmp_path / "b.nir")):
        assert main(["convert", str(src), "--arch", arch, "--data", "digits", "--calibration", "50",
                     "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    import nir

    a, b = nir.read(tmp_path / "a.nir", type_check=False), nir.read(tmp_path / "b.nir", type_check=False)
    assert sorted(a.nodes) == sorted(b.nodes)
    for name, node in a.nodes.items():
        for field in ("weight", "bias", "v_threshold"):
            if hasattr(node, field):
                np.testing.assert_array_equal(getattr(node, field), getattr(b.nodes[name], field))
    assert main(["fit", str(exported), "--arch", arch, "--data", "digits", "--calibration", "20", "--json"]) == 0


@pytest.mark.parametrize("members", [("serialized_constants.pt",), ("serialized_state_dict.pt",)])
def test_a_hostile_pt2_runs_nothing(members, exported, tmp_path, capsys):
    marker = tmp_path / "RAN"
    evil = _hostile(exported, tmp_path / "evil.pt2", marker, members)
    arch = f"{exported.parent}/arch.py:build"
    for argv in (["convert", evil, "--data", "digits", "--out", tmp_path / "g.nir"],
                 ["convert", evil, "--trust-model", "--data", "digits", "--out", tmp_path / "g.nir"],
                 ["fit", evil, "--data", "digits"],
                 ["deploy", evil, "--trust-model", "--data", "digits", "--out", tmp_path / "run"],
                 ["convert", evil, "--arch", arch, "--data", "digits", "--calibration", "50", "--out",
                  tmp_path / "g.nir"]):
        rc = main([str(a) for a in argv] + ["--quiet"])
        err = capsys.readouterr().err
        if "--arch" in argv and members == ("serialized_constants.pt",):  # the constants are never read
            assert rc == 0, err
            (tmp_path / "g.nir").unlink()
        else:
            assert rc == 2 and err.count("\n") == 1, err
            assert ("deserialize_torch_artifact" in err if "--arch" not in argv else
                    "holds pickled Python objects (posix.system)" in err), err
        assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pt2"]
