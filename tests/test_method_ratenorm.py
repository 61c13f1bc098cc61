"""Rate-norm layers + the optimal fit curve's threshold shift (Ding et al. 2021): the RNL network is fine-tuned
(its loss falls), its bound p_l * sigma(s) is the SNN's threshold, and the shared scale sigma(s) minimizes
(1 - cos) + (1 - v_init) k / T for the target T, so fewer steps give lower thresholds."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurokit.convert import Settings, convert, read_model
from neurokit.convert.methods import Inputs, method_function
from neurokit.errors import NeurokitError
from neurokit.lower import from_nir


def _meta(graph) -> dict:
    return json.loads(graph.metadata["neurokit"])


def _ratenorm(model, digits, **settings):
    return convert(model, digits.x_train[:300], method="ratenorm", train=(digits.x_train, digits.y_train),
                   settings=Settings(**settings))


def test_trained_bound_is_the_threshold(digits_mlp, digits):
    settings = dict(epochs=2, target_steps=16)
    graph = _ratenorm(digits_mlp, digits, **settings)
    meta = _meta(graph)
    p, p0 = np.array(meta["rn_running_max"]), np.array(meta["rn_running_max_init"])
    assert np.all(np.abs(p / p0 - 1) > 1e-3)  # the running max followed the fine-tuned layer
    thresholds = p * meta["rn_scale"]
    assert meta["rn_thresholds"] == pytest.approx(list(thresholds))
    assert meta["lambdas"] == pytest.approx(list(thresholds) + [meta["rn_output_scale"]])
    assert meta["rn_loss_history"][-1] < meta["rn_loss_history"][0]  # fine-tuning ran and learned

    # SNN weights: the RNL weights act on rates a_l = min(ReLU(z_l), theta_l) / theta_l, so in the SNN layer l+1
    # carries W_rnl / theta_{l+1} and bias b / theta_{l+1}; in ANN units (result.ops) W_ann = W_rnl / theta_l.
    result = method_function("ratenorm")(read_model(digits_mlp), Inputs(digits.x_train[:300], digits.x_train,
                                                                         digits.y_train), Settings(**settings))
    assert result.scales == pytest.approx(meta["lambdas"])
    w = [op.params for op in result.ops if op.kind == "linear"]
    lam = [1.0] + list(result.scales)
    net = from_nir(graph)
    for i, (q, p) in enumerate(zip(net.projections, net.populations)):
        np.testing.assert_allclose(q.weight, w[i]["weight"] * lam[i] / lam[i + 1], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(p.neuron.bias, w[i]["bias"] / lam[i + 1], rtol=1e-6, atol=1e-9)
    assert result.v_init == 0.5 and meta["v_init"] == 0.5


def test_shift_follows_the_fit_curve_objective(digits_cnn, digits):
    metas = {T: _meta(_ratenorm(digits_cnn, digits, epochs=1, target_steps=T)) for T in (2, 1000)}
    for T, meta in metas.items():
        assert meta["rn_target_steps"] == T
        grid = meta["rn_grid"]
        # the chosen scale minimizes (1 - cos) + (1 - v_init) k / T over the grid
        best = min(grid, key=lambda g: g["cos_distance"] + (1 - 0.5) * g["k"] / T)
        assert meta["rn_scale"] == best["scale"]
        assert meta["rn_fit_bound"] == pytest.approx(1 - 0.5 * meta["rn_k"] / T)
        ks = [g["k"] for g in grid]
        assert ks[0] > ks[-1]  # lower thresholds, higher rates, smaller k
    # same training, so the same grid; only T differs
    assert [g["k"] for g in metas[2]["rn_grid"]] == pytest.approx([g["k"] for g in metas[1000]["rn_grid"]])
    assert metas[2]["rn_scale"] < metas[1000]["rn_scale"]
    assert metas[2]["rn_fit_bound"] > 1 - 0.5 * metas[1000]["rn_k"] / 2  # the shift bought a better fit at T=2


def test_v_init_enters_the_bound(digits_mlp, digits):
    meta = _meta(_ratenorm(digits_mlp, digits, epochs=1, target_steps=8, v_init=0.0))
    assert meta["rn_fit_bound"] == pytest.approx(1 - meta["rn_k"] / 8)  # the paper's 1 - k / T


def test_needs_labelled_data(digits_mlp, digits):
    with pytest.raises(NeurokitError, match="'ratenorm' trains on labelled data"):
        convert(digits_mlp, digits.x_train[:100], method="ratenorm")


def test_bad_target_steps(digits_mlp, digits):
    with pytest.raises(ValueError, match="target_steps"):
        _ratenorm(digits_mlp, digits, epochs=1, target_steps=0)


def test_cli_convert_ratenorm(digits_cnn, tmp_path):
    from neurokit.cli import main

    model_path = tmp_path / "cnn.pt"
    torch.save(digits_cnn, model_path)
    out = tmp_path / "g.nir"
    rc = main(["convert", "--target", "sim", "--trust-model", str(model_path), "--data", "digits", "--method", "ratenorm", "--epochs", "1",
               "--target-steps", "16", "--out", str(out), "--json"])
    assert rc == 0 and out.exists()
