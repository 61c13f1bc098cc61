"""LaSNN (layer-wise ANN-to-SNN distillation): the distillation lowers the feature loss, the exported graph
runs exactly the student it trained, and it needs labelled data."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurokit.backends.engine import Engine
from neurokit.convert import Settings, convert, read_chain, read_model
from neurokit.convert.methods.base import Inputs
from neurokit.convert.methods.lasnn import convert_lasnn, spiking_forward, student_predictions
from neurokit.convert.methods.torchnet import ChainModule
from neurokit.convert.to_nir import build_graph, spiking_structure
from neurokit.errors import NeurokitError
from neurokit.lower import from_nir

T = 4
N_TRAIN = 400


@pytest.fixture(scope="module")
def distilled(digits, digits_cnn):
    """The digits CNN distilled for 2 epochs at T = 4 on 400 samples, and its graph."""
    inputs = Inputs(digits.x_train[:200], digits.x_train[:N_TRAIN], digits.y_train[:N_TRAIN])
    result = convert_lasnn(read_model(digits_cnn), inputs, Settings(target_steps=T, epochs=2))
    graph = build_graph(result.ann, spiking_structure(result.ann), result.scales, tuple(digits.x_train.shape[1:]), {},
                        result.v_init)
    return result, graph


def test_distillation_lowers_the_feature_loss(distilled):
    info = distilled[0].info
    before, after = info["probe_feature_loss"]  # the same 256 training samples before and after training
    assert after < 0.9 * before
    first, last = info["feature_loss"]  # epoch means
    assert last < first
    assert info["train_steps"] == T and info["epochs"] == 2 and info["train_samples"] == N_TRAIN


def test_float_engine_runs_exactly_the_student(distilled, digits):
    result, graph = distilled
    x = np.concatenate([digits.x_train[:N_TRAIN], digits.x_test[:200]])
    counts = student_predictions(result, x, T)
    trace = Engine("float", device="cpu").run(from_nir(graph), x, T)
    np.testing.assert_array_equal(trace.output_counts, counts.astype(np.int64))  # every output spike count
    np.testing.assert_array_equal(trace.predictions(), counts.argmax(1))
    train_acc = np.mean(trace.predictions()[:N_TRAIN] == digits.y_train[:N_TRAIN])
    assert train_acc == pytest.approx(result.info["student_accuracy_train"])  # what convert reports is what runs


def test_student_forward_has_the_deployed_delay_and_strict_threshold():
    """One linear layer, input 0.6 -> v: step 0 bias only, then + 0.6 a step; spike only when v > 1."""
    from neurokit.convert.ann import Op

    ops = [Op("linear", "fc", 0, {"weight": np.array([[1.0], [0.5]]), "bias": np.array([0.0, 0.0])})]
    module = ChainModule(ops).double()
    counts = spiking_forward(module, [1.0], torch.tensor([[0.6]], dtype=torch.float64), steps=4, v_init=0.5)[0]
    # neuron 0: v = 0.5, 1.1 (spike, 0.1), 0.7, 1.3 (spike) -> 2; neuron 1: 0.5, 0.8, 1.1 (spike), 0.4 -> 1
    assert counts.tolist() == [[2.0, 1.0]]
    counts = spiking_forward(module, [1.0], torch.tensor([[0.5]], dtype=torch.float64), steps=2, v_init=0.5)[0]
    assert counts.tolist() == [[0.0, 0.0]]  # v reaches exactly 1.0: no spike


def test_surrogate_gradient_flows_to_every_layer(digits, digits_mlp):
    ops = read_chain(digits_mlp)
    module = ChainModule(ops)
    counts = spiking_forward(module, [1.0, 1.0], torch.as_tensor(digits.x_train[:32]), steps=T, v_init=0.5)
    counts[-1].sum().backward()
    assert all(m.weight.grad is not None and m.weight.grad.abs().sum() > 0 for m in module.synapses)


def test_needs_labelled_data(digits, digits_mlp):
    with pytest.raises(NeurokitError, match="lasnn"):
        convert(digits_mlp, digits.x_train[:100], method="lasnn", settings=Settings(target_steps=T, epochs=1))


def test_needs_two_steps(digits, digits_mlp):
    with pytest.raises(ValueError, match="target_steps"):
        convert(digits_mlp, digits.x_train[:100], method="lasnn", train=(digits.x_train[:50], digits.y_train[:50]),
                settings=Settings(target_steps=1, epochs=1))


def test_convert_metadata(digits, digits_mlp):
    graph = convert(digits_mlp, digits.x_train[:100], method="lasnn",
                    train=(digits.x_train[:200], digits.y_train[:200]), settings=Settings(target_steps=T, epochs=1))
    meta = json.loads(graph.metadata["neurokit"])
    assert meta["method"] == "lasnn" and meta["train_steps"] == T and meta["epochs"] == 1
    assert len(meta["lambdas"]) == 2 and 0.0 <= meta["student_accuracy_train"] <= 1.0


def test_cli_convert_lasnn(tmp_path, digits_cnn, capsys):
    from neurokit.cli import main

    path = tmp_path / "cnn.pt"
    torch.save(digits_cnn, path)
    out = tmp_path / "g.nir"
    rc = main(["convert", "--target", "sim", "--trust-model", str(path), "--data", "digits", "--method", "lasnn", "--epochs", "1", "--target-steps", "4",
               "--out", str(out), "--json"])
    assert rc == 0 and out.exists()
    assert json.loads(capsys.readouterr().out)["method"] == "lasnn"


def test_potential_readout_student_is_what_the_engine_reads(digits, digits_mlp):
    """Trained for the potential readout, the student's scores (count + v) are the float engine's output_scores."""
    inputs = Inputs(digits.x_train[:100], digits.x_train[:300], digits.y_train[:300])
    result = convert_lasnn(read_model(digits_mlp), inputs, Settings(target_steps=T, epochs=1, readout="potential"))
    assert result.info["trained_readout"] == "potential"
    graph = build_graph(result.ann, spiking_structure(result.ann), result.scales, (1, 8, 8), {"readout": "potential"},
                        result.v_init)
    x = digits.x_test[:100]
    trace = Engine("float", device="cpu").run(from_nir(graph), x, T)
    scores = student_predictions(result, x, T, readout="potential")
    np.testing.assert_allclose(trace.output_scores, scores, rtol=0, atol=1e-9)
    assert not np.array_equal(scores, trace.output_counts)  # v adds to the counts
