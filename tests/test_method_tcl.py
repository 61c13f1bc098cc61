"""TCL (trainable clipping layers, Ho & Chang 2020): the clipping bound lambda is learned, the L2 penalty pulls it
down, and the trained lambda is what the SNN uses as its threshold (weights W * lambda_{l-1} / lambda_l)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurokit.convert import Settings, convert, read_chain, read_model
from neurokit.convert.methods import Inputs, method_function, tcl
from neurokit.errors import NeurokitError
from neurokit.lower import from_nir


def _meta(graph) -> dict:
    return json.loads(graph.metadata["neurokit"])


def _tcl(model, digits, **settings):
    return convert(model, digits.x_train[:300], method="tcl", train=(digits.x_train, digits.y_train),
                   settings=Settings(**settings))


def test_lambdas_are_learned_and_become_the_thresholds(digits_mlp, digits):
    settings = dict(epochs=2, lr=5e-3)
    graph = _tcl(digits_mlp, digits, **settings)
    meta = _meta(graph)
    init, trained = np.array(meta["tcl_lambdas_init"]), np.array(meta["tcl_lambdas_trained"])
    assert init.shape == trained.shape == (1,)
    assert np.all(np.abs(trained / init - 1) > 0.01), (init, trained)  # moved from the 99.9th-percentile init
    assert meta["lambdas"][:-1] == pytest.approx(list(trained))  # the trained bound is the layer's scale
    assert meta["lambdas"][-1] == pytest.approx(meta["tcl_output_scale"])
    assert len(meta["tcl_loss_history"]) == 2 and meta["epochs"] == 2 and meta["tcl_penalty"] == tcl.PENALTY

    # The same (seeded) training outside convert gives the trained weights; the SNN layers carry them scaled by
    # lambda_{l-1} / lambda_l.
    result = method_function("tcl")(read_model(digits_mlp), Inputs(digits.x_train[:300], digits.x_train,
                                                                    digits.y_train), Settings(**settings))
    assert result.scales == pytest.approx(meta["lambdas"])
    w = [op.params for op in result.ops if op.kind == "linear"]
    original = [op.params["weight"] for op in read_chain(digits_mlp) if op.kind == "linear"]
    assert not np.allclose(w[0]["weight"], original[0])  # the weights were fine-tuned too
    lam = [1.0] + list(result.scales)
    net = from_nir(graph)
    for i, (q, p) in enumerate(zip(net.projections, net.populations)):
        np.testing.assert_allclose(q.weight, w[i]["weight"] * lam[i] / lam[i + 1], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(p.neuron.bias, w[i]["bias"] / lam[i + 1], rtol=1e-6, atol=1e-9)


def test_penalty_pulls_lambdas_down(digits_cnn, digits, monkeypatch):
    trained = {}
    for penalty in (0.0, 0.5):
        monkeypatch.setattr(tcl, "PENALTY", penalty)
        trained[penalty] = np.array(_meta(_tcl(digits_cnn, digits, epochs=1, lr=5e-3))["tcl_lambdas_trained"])
    assert trained[0.0].shape == (2,)
    assert np.all(trained[0.5] < trained[0.0]), trained


def test_clipped_ann_still_classifies(digits_cnn, digits):
    meta = _meta(_tcl(digits_cnn, digits, epochs=2))
    assert meta["tcl_train_accuracy"] > 0.85


def test_needs_labelled_data(digits_mlp, digits):
    with pytest.raises(NeurokitError, match="'tcl' trains on labelled data"):
        convert(digits_mlp, digits.x_train[:100], method="tcl")


def test_cli_convert_tcl(digits_mlp, tmp_path):
    from neurokit.cli import main

    model_path = tmp_path / "mlp.pt"
    torch.save(digits_mlp, model_path)
    out = tmp_path / "g.nir"
    rc = main(["convert", "--target", "sim", "--trust-model", str(model_path), "--data", "digits", "--method", "tcl", "--epochs", "1",
               "--out", str(out), "--json"])
    assert rc == 0 and out.exists()


def test_deploy_reports_the_fine_tuned_anns_own_accuracy(digits_mlp, tmp_path, capsys):
    """TCL retrains the ANN: the report puts that ANN's test accuracy beside the original's, so the SNN is
    compared like for like."""
    import json

    from neurokit.cli import main

    model_path = tmp_path / "mlp.pt"
    torch.save(digits_mlp, model_path)
    rc = main(["deploy", "--target", "sim", "--trust-model", str(model_path), "--data", "digits", "--method", "tcl",
               "--epochs", "1", "--samples", "60", "--steps", "8", "--verify-samples", "0", "--no-conversion-error",
               "--json", "--quiet"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and r["ann_fine_tuned_by"] == "tcl"
    assert 0.0 < r["ann_accuracy_fine_tuned"] <= 1.0 and r["conversion_error"] is None
    # the same deploy again: the trained conversion comes from the cache, with the same results
    again = ["deploy", "--target", "sim", "--trust-model", str(model_path), "--data", "digits", "--method", "tcl",
             "--epochs", "1", "--samples", "60", "--steps", "8", "--verify-samples", "0", "--no-conversion-error",
             "--json", "--quiet"]
    assert main(again) == 0
    r2 = json.loads(capsys.readouterr().out)
    assert not r["conversion_cache"]["hit"] and r2["conversion_cache"]["hit"]
    assert r2["conversion_cache"]["key"] == r["conversion_cache"]["key"]
    assert (r2["fixed_accuracy"], r2["ann_accuracy_fine_tuned"]) == (r["fixed_accuracy"], r["ann_accuracy_fine_tuned"])
