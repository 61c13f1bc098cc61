"""The weight-bit search: with a scripted evaluate (exact expectations), and on the bundled MNIST CNN with
the engine backend (200 test images, T = 32)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from quantize.search import search_weight_bits


def scripted(needs: dict, base: float = 0.9, penalty: float = 0.1):
    """An accuracy that drops by `penalty` for each layer below the width it needs."""
    calls = []

    def evaluate(qnet) -> float:
        bits = {p.name: qnet.incoming(p.name)[0].weight_bits for p in qnet.populations}
        calls.append(bits)
        return base - penalty * sum(bits[n] < b for n, b in needs.items())

    return evaluate, calls


def test_finds_the_fewest_bits_each_layer_needs(digits_cnn_net, digits, profile):
    needs = {"if0": 5, "if1": 3, "if2": 1}
    evaluate, calls = scripted(needs)
    r = search_weight_bits(digits_cnn_net, profile, digits.x_train[:50], evaluate, max_drop=0.01)
    assert r.bits == needs and r.accuracy == r.reference == 0.9 and r.reference_bits == 8
    assert [q.weight_bits for q in r.qnet.projections] == [5, 3, 1]
    assert [l["weight_bits"] for l in r.report["layers"]] == [5, 3, 1]
    # largest layers first; binary search: about log2(8) trials per layer, never a configuration twice
    assert r.trials[0].bits == {"if0": 8, "if1": 8, "if2": 8}
    first = next(n for n, b in r.trials[1].bits.items() if b != 8)
    weights = {q.target: q.weight.size for q in digits_cnn_net.projections}
    assert first == max(weights, key=weights.get)
    assert len(calls) == len(r.trials) <= 1 + 3 * 3
    assert len({tuple(sorted(t.bits.items())) for t in r.trials}) == len(r.trials)


def test_the_budget_lets_layers_share_a_loss(digits_cnn_net, digits, profile):
    evaluate, _ = scripted({"if0": 5, "if1": 3, "if2": 4}, penalty=0.01)
    r = search_weight_bits(digits_cnn_net, profile, digits.x_train[:50], evaluate, max_drop=0.015)
    # one layer may go below what it needs (one penalty of 0.01 fits the 0.015 budget), not two
    below = sum(r.bits[n] < b for n, b in {"if0": 5, "if1": 3, "if2": 4}.items())
    assert below == 1 and r.accuracy == pytest.approx(0.89) and r.accuracy >= r.reference - 0.015


def test_only_measured_configurations_are_accepted(digits_cnn_net, digits, profile):
    rng = np.random.default_rng(0)
    noise = {}

    def noisy(qnet) -> float:  # not monotone in the bits at all
        key = tuple(q.weight_bits for q in qnet.projections)
        return noise.setdefault(key, float(rng.uniform(0.80, 0.90)))

    r = search_weight_bits(digits_cnn_net, profile, digits.x_train[:50], noisy, max_drop=0.02)
    final = next(t for t in r.trials if t.bits == r.bits)
    assert final.accuracy == r.accuracy >= r.reference - 0.02


def test_bad_arguments(digits_cnn_net, digits, profile):
    cal = digits.x_train[:20]
    with pytest.raises(ValueError, match="drop between 0 and 1"):
        search_weight_bits(digits_cnn_net, profile, cal, lambda q: 0.9, max_drop=-0.1)
    with pytest.raises(ValueError, match=r"must lie in 1\.\.8"):
        search_weight_bits(digits_cnn_net, profile, cal, lambda q: 0.9, max_drop=0.01, min_bits=5, max_bits=4)
    with pytest.raises(ValueError, match=r"accuracy in \[0, 1\], got 90"):
        search_weight_bits(digits_cnn_net, profile, cal, lambda q: 90.0, max_drop=0.01)


@pytest.fixture(scope="module")
def mnist_cnn_net():
    from neurokit.convert import convert
    from neurokit.data import load_dataset
    from neurokit.io import load_torch_model
    from neurokit.lower import from_nir

    return from_nir(convert(load_torch_model("examples/mnist_cnn/mnist_cnn.pt", "examples/mnist_cnn/train.py:make_model"), load_dataset("mnist").x_train[:500]))


def test_bundled_cnn_with_the_engine(mnist_cnn_net, profile):
    from neurokit.backends import get_backend
    from neurokit.data import load_dataset

    data = load_dataset("mnist")
    x, y = data.x_test[:200], data.y_test[:200]
    engine = get_backend("engine")
    r = search_weight_bits(mnist_cnn_net, profile, data.x_train[:500], lambda q: engine.run(q, x, 32).accuracy(y),
                           max_drop=0.005)
    assert r.reference > 0.9 and r.accuracy >= r.reference - 0.005
    assert sum(r.bits.values()) < 3 * 8  # at least one layer gives up bits
    # the quantized net it returns is the one measured
    assert engine.run(r.qnet, x, 32).accuracy(y) == r.accuracy
    print(f"\nbit search on the bundled CNN (200 images, T = 32): {r.bits}, "
          f"{100 * r.accuracy:.1f} % against {100 * r.reference:.1f} % at 8 bits, {len(r.trials)} trials")


def test_cli_quantize_search_bits(digits_cnn, tmp_path, capsys):
    import torch

    from neurokit.cli import main

    model, nir_path, out = tmp_path / "m.pt", tmp_path / "m.nir", tmp_path / "m.q.nir"
    torch.save(digits_cnn, model)
    assert main(["convert", "--target", "sim", "--trust-model", str(model), "--data", "digits", "--out", str(nir_path), "--calibration", "100"]) == 0
    capsys.readouterr()
    rc = main(["quantize", str(nir_path), "--data", "digits", "--out", str(out), "--calibration", "100",
               "--search-bits", "--budget", "1", "--eval-samples", "100", "--steps", "24", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert rc == 0 and out.exists()
    s = r["bit_search"]
    assert set(s["bits"]) == {"if0", "if1", "if2"} and s["accuracy"] >= s["reference"] - 0.01 - 1e-9
    assert [l["weight_bits"] for l in r["layers"]] == [s["bits"][n] for n in ("if0", "if1", "if2")]
    a = r["accuracy"]
    assert a["samples"] == 100 and a["steps"] == 24 and a["fixed"] == s["accuracy"]
    assert a["change"] == pytest.approx(a["fixed"] - a["float"])
    rc = main(["quantize", str(nir_path), "--data", "digits", "--out", str(out), "--search-bits", "--eval-samples", "0"])
    assert rc == 2 and "--search-bits needs test samples" in capsys.readouterr().err
