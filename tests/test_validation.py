"""Numbers at the boundaries (issue 15, item 2): NaN / Inf / negative-variance models, bad data arrays and
tampered quantized files are refused in one line naming the value, exit 2, nothing written."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from neurokit.cli import main
from quantize import quantize, save_quantized


def _run(argv, capsys):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10)).eval()


def _arch(tmp_path):
    arch = tmp_path / "arch.py"
    arch.write_text("from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), "
                    "nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))\n")
    return f"{arch}:build"


@pytest.mark.parametrize("tamper, expected", [
    (lambda m: m[1].weight.data.__setitem__((0, 0), float("nan")), "'1.weight' holds nan"),
    (lambda m: m[4].bias.data.__setitem__(3, float("inf")), "'4.bias' holds inf"),
    (lambda m: m[2].running_var.__setitem__(2, -1.0), "running_var holds -1.0 < 0"),
])
def test_models_with_nan_inf_or_negative_variance_are_refused(tamper, expected, tmp_path, capsys):
    model = _mlp()
    tamper(model)
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    rc, err = _run(["convert", path, "--arch", _arch(tmp_path), "--data", "digits", "--out", tmp_path / "g.nir"], capsys)
    assert rc == 2 and expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "g.nir").exists()


@pytest.mark.parametrize("change, expected", [
    (lambda d: d["x_train"].__setitem__((0, 0, 0, 0), np.nan), "x_train[0, 0, 0, 0] = nan"),
    (lambda d: d.__setitem__("y_test", -d["y_test"] - 1), "labels are class indices"),
    (lambda d: d.__setitem__("y_train", d["y_train"][:, None]), "one integer per sample"),
    (lambda d: d.__setitem__("x_test", d["x_test"][:0]), "x_test is empty"),
    (lambda d: d.__setitem__("x_train", d["x_train"].astype(np.complex64)), "complex64"),
    (lambda d: d.__setitem__("y_train", np.array([object()] * len(d["y_train"]))), "not a readable .npz"),
])
def test_bad_data_arrays_are_refused(change, expected, digits, tmp_path, capsys):
    arrays = {"x_train": digits.x_train.copy(), "y_train": digits.y_train.copy(), "x_test": digits.x_test.copy(),
              "y_test": digits.y_test.copy()}
    change(arrays)
    data = tmp_path / "d.npz"
    np.savez(data, **arrays)
    path = tmp_path / "w.pt"
    torch.save(_mlp().state_dict(), path)
    rc, err = _run(["convert", path, "--arch", _arch(tmp_path), "--data", data, "--out", tmp_path / "g.nir"], capsys)
    assert rc == 2 and expected in err, err
    assert not (tmp_path / "g.nir").exists()


@pytest.mark.parametrize("field, value, expected", [
    ("vth", 10 ** 10, "vth = 10000000000"),
    ("du", -1, "du, dv = (-1, 0)"),
    ("bias_mant", 1 << 20, "bias_mant"),
])
def test_tampered_quantized_files_are_refused(field, value, expected, digits_mlp_net, digits, profile, tmp_path,
                                              capsys):
    q, _ = quantize(digits_mlp_net, profile, digits.x_train[:100])
    pop = q.populations[0]
    pop.neuron = dataclasses.replace(pop.neuron, **{field: np.full_like(pop.neuron.bias_mant, value)
                                                    if field == "bias_mant" else value})
    path = tmp_path / "t.q.nir"
    save_quantized(q, path)
    out = tmp_path / "run.json"
    rc, err = _run(["run", path, "--data", "digits", "--samples", 2, "--steps", 2, "--out", out, "--quiet"], capsys)
    assert rc == 2 and expected in err and "re-run 'neurokit quantize'" in err
    assert not out.exists()


@pytest.mark.parametrize("field, value, expected", [
    ("sign_mode", 7, "sign_mode = 7"),
    ("weight_exp", 100, "weight_exp = 100"),
    ("weight_bits", 99, "weight_bits = 99"),
])
def test_tampered_projections_are_refused(field, value, expected, digits_mlp_net, digits, profile, tmp_path, capsys):
    q, _ = quantize(digits_mlp_net, profile, digits.x_train[:100])
    setattr(q.projections[0], field, value)
    path = tmp_path / "t.q.nir"
    save_quantized(q, path)
    rc, err = _run(["verify", path, "--data", "digits", "--samples", 1, "--steps", 2], capsys)
    assert rc == 2 and expected in err


def test_labels_beyond_the_models_classes_are_refused(digits, tmp_path, capsys):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    arch = tmp_path / "a3.py"
    arch.write_text("from torch import nn\n\ndef build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))\n")
    rc, err = _run(["deploy", path, "--arch", f"{arch}:build", "--data", "digits", "--samples", 5, "--out",
                    tmp_path / "d", "--quiet"], capsys)
    assert rc == 2 and "the model has 3 outputs" in err and not (tmp_path / "d").exists()


def test_steps_below_a_phase_nets_latency_and_unrecordable_verifies_are_refused(digits_mlp, digits, profile,
                                                                                tmp_path, capsys):
    from neurokit.convert import Settings, convert
    from neurokit.io import write_nir
    from neurokit.lower import from_nir
    from neurokit.network import latency

    graph = convert(digits_mlp, digits.x_train[:200], method="phase", settings=Settings(target_steps=16))
    path = tmp_path / "phase.nir"
    write_nir(graph, path)
    need = latency(from_nir(graph))
    rc, err = _run(["run", path, "--backend", "float", "--data", "digits", "--samples", 4, "--steps", need - 1], capsys)
    assert rc == 2 and f"pass --steps {need} or more" in err
    q, _ = quantize(from_nir(graph), profile, digits.x_train[:100])
    qpath = tmp_path / "phase.q.nir"
    save_quantized(q, qpath)
    rc, err = _run(["verify", qpath, "--data", "digits", "--samples", 4, "--steps", 10 ** 9], capsys)
    assert rc == 2 and "GiB" in err and "fewer --samples or --steps" in err
