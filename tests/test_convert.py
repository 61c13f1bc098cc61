"""Stage 1: torch ANN -> normalized spiking NIR graph (BN folding, chain reading, normalization, NIR output)."""
from __future__ import annotations

import dataclasses
import json

import nir
import numpy as np
import pytest
import torch
from torch import nn

from neurokit.convert import SUPPORTED, convert, forward_ops, read_chain
from neurokit.errors import InputShapeError, UnsupportedModelError

from neurokit.convert.to_nir import group_ops


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics and affine parameters for every BatchNorm."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 2.0 + 0.2)
                m.weight.copy_(torch.randn(n, generator=g) * 0.5 + 1.0)
                m.bias.copy_(torch.randn(n, generator=g) * 0.3)
    return model.eval()


def _bn_cnn() -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(16, 5),
    )
    return randomize_batchnorm(model, seed=3)


def _calibration(n=40, shape=(1, 8, 8), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((n,) + shape).astype(np.float32)


def _graph_meta(graph) -> dict:
    return json.loads(graph.metadata["neurokit"])


def _chain_nodes(graph) -> list[str]:
    order = ["input"]
    succ = dict(graph.edges)
    while order[-1] in succ:
        order.append(succ[order[-1]])
    return order


# ---------------------------------------------------------------------------------------------------------
# reading the model and folding BatchNorm


def test_batchnorm_folding_keeps_the_ann_outputs():
    model = _bn_cnn()
    x = torch.from_numpy(_calibration(16)).double()
    ops = read_chain(model)
    assert [op.kind for op in ops] == ["conv", "relu", "avgpool", "flatten", "linear", "relu", "linear"]
    assert ops[0].params["folded"] == ["1"] and ops[4].params["folded"] == ["6"]
    with torch.no_grad():
        expect = model.double()(x)
        got = forward_ops(ops, x)
    # BN's statistics are non-trivial: folding changes the weights, not the function
    assert not np.allclose(ops[0].params["weight"], model[0].weight.detach().numpy())
    np.testing.assert_allclose(got.numpy(), expect.numpy(), rtol=1e-10, atol=1e-12)


def test_batchnorm_folding_formula():
    model = _bn_cnn().double()
    ops = read_chain(model)
    for conv_i, bn_i, op in ((0, 1, ops[0]), (5, 6, ops[4])):
        lin, bn = model[conv_i], model[bn_i]
        scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
        w = lin.weight.detach().numpy() * scale.reshape((-1,) + (1,) * (lin.weight.dim() - 1))
        b = (lin.bias.detach().numpy() - bn.running_mean.numpy()) * scale + bn.bias.detach().numpy()
        np.testing.assert_allclose(op.params["weight"], w, rtol=1e-12)
        np.testing.assert_allclose(op.params["bias"], b, rtol=1e-12, atol=1e-14)


def test_batchnorm_not_after_a_synapse_is_rejected():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.BatchNorm1d(4), nn.Linear(4, 2)).eval()
    with pytest.raises(UnsupportedModelError, match=r"layer 2 '2' \(BatchNorm\) must directly follow a Linear or Conv2d"):
        read_chain(model)


@pytest.mark.parametrize("bad, name, n_flat", [(nn.Sigmoid(), "Sigmoid", 128), (nn.Tanh(), "Tanh", 128)])
def test_unsupported_layer_names_layer_index_and_supported_set(bad, name, n_flat):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), bad, nn.Flatten(), nn.Linear(n_flat, 3)).eval()
    with pytest.raises(UnsupportedModelError) as exc:
        convert(model, _calibration(4))
    msg = str(exc.value)
    assert f"layer 2 '2' ({name}) is not supported" in msg
    assert msg.endswith(f"supported layers: {SUPPORTED}")
    for layer in ("Linear", "Conv2d", "BatchNorm1d/2d", "ReLU", "AvgPool2d", "Flatten"):
        assert layer in msg


def test_unsupported_layer_in_nested_sequential_is_named_by_path():
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), nn.Sequential(nn.Linear(4, 2), nn.Sigmoid()))
    with pytest.raises(UnsupportedModelError, match=r"layer 3 '1\.1' \(Sigmoid\) is not supported"):
        read_chain(model)


@pytest.mark.parametrize("model, fragment", [
    (nn.Sequential(nn.AvgPool2d(2, stride=1), nn.Flatten(), nn.Linear(49, 2)), "only stride == kernel_size"),
    (nn.Sequential(nn.Conv2d(1, 1, 3, padding="same"), nn.ReLU()), "padding='same'"),
    (nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)), "without a ReLU between them"),
    (nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=1), nn.Linear(4, 2)), "only supported as the last layer"),
    (nn.Sequential(nn.ReLU(), nn.Flatten()), "no Linear or Conv2d layer"),
])
def test_unsupported_structures(model, fragment):
    with pytest.raises(UnsupportedModelError) as exc:
        group_ops(read_chain(model.eval()))
    assert fragment in str(exc.value)


def test_trailing_softmax_is_dropped():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Softmax(dim=1)).eval()
    assert [op.kind for op in read_chain(model)] == ["linear", "relu", "linear"]


class ChainNet(nn.Module):
    """Not an nn.Sequential: a forward written as a chain, with functional relu and torch.flatten."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.pool = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(48, 8)
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x):
        x = self.pool(torch.nn.functional.relu(self.bn(self.conv(x))))
        x = torch.flatten(x, 1)
        x = self.fc1(x).relu()
        return self.fc2(x)


class SkipNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x):
        return self.b(torch.relu(self.a(x))) + x


def test_non_sequential_chain_converts_through_fx():
    torch.manual_seed(0)
    model = randomize_batchnorm(ChainNet())
    ops = read_chain(model)
    assert [op.kind for op in ops] == ["conv", "relu", "avgpool", "flatten", "linear", "relu", "linear"]
    assert ops[0].params["folded"] == ["bn"]
    x = torch.from_numpy(_calibration(8)).double()
    with torch.no_grad():
        np.testing.assert_allclose(forward_ops(ops, x).numpy(), model.double()(x).numpy(), rtol=1e-10, atol=1e-12)
    graph = convert(model.float(), _calibration(20))
    kinds = [type(graph.nodes[n]).__name__ for n in _chain_nodes(graph)]
    assert kinds == ["Input", "Conv2d", "IF", "SumPool2d", "Flatten", "Affine", "IF", "Affine", "IF", "Output"]
    assert _graph_meta(graph)["bn_folded"] == ["bn"]


def test_a_skip_connection_is_a_graph_the_chain_view_refuses():
    with pytest.raises(UnsupportedModelError, match="read_chain takes chain models; this one branches at op 'add'"):
        read_chain(SkipNet())


# ---------------------------------------------------------------------------------------------------------
# normalization


def _relu_activations(model: nn.Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The activations each spiking layer stands for, read from the torch model itself (eval, float64):
    after each ReLU, and the last layer's output."""
    model = model.double().eval()
    h = torch.from_numpy(x).double()
    outs = []
    with torch.no_grad():
        for mod in model:
            h = mod(h)
            if isinstance(mod, nn.ReLU):
                outs.append(h.numpy().copy())
    outs.append(h.numpy().copy())
    return outs


@pytest.mark.parametrize("percentile", [99.0, 99.9, 100.0])
def test_lambdas_are_percentiles_of_positive_activations(percentile):
    model = _bn_cnn()
    cal = _calibration(60)
    graph = convert(model, cal, percentile=percentile)
    meta = _graph_meta(graph)
    acts = _relu_activations(_bn_cnn(), cal)
    expect = [float(np.percentile(a[a > 0], percentile)) for a in acts]
    assert len(meta["lambdas"]) == 3
    # the normalization's forward runs in float32 (neurokit.convert.normalize): percentiles to its precision
    np.testing.assert_allclose(meta["lambdas"], expect, rtol=1e-6)
    if percentile == 100.0:
        np.testing.assert_allclose(meta["lambdas"], [a.max() for a in acts], rtol=1e-6)
        assert meta["normalization"] == "max"
    else:
        assert meta["normalization"] == f"percentile {percentile}"
    assert meta["percentile"] == percentile and meta["calibration_samples"] == 60
    # the lambdas are also on each synapse node
    synapses = [graph.nodes[n] for n in _chain_nodes(graph) if isinstance(graph.nodes[n], (nir.Affine, nir.Conv2d))]
    assert [s.metadata["lambda"] for s in synapses] == meta["lambdas"]


def test_lower_percentile_gives_smaller_lambdas():
    model, cal = _bn_cnn(), _calibration(60)
    lam99 = _graph_meta(convert(model, cal, percentile=99.0))["lambdas"]
    lam100 = _graph_meta(convert(model, cal, percentile=100.0))["lambdas"]
    assert all(a < b for a, b in zip(lam99, lam100))


def test_bad_percentile_and_v_init():
    model, cal = _bn_cnn(), _calibration(4)
    for p in (0, -1, 100.5):
        with pytest.raises(ValueError, match="percentile"):
            convert(model, cal, percentile=p)
    for v in (-0.1, 1.0):
        with pytest.raises(ValueError, match="v_init"):
            convert(model, cal, v_init=v)


def test_weights_and_biases_are_scaled_by_lambdas():
    model = _bn_cnn()
    cal = _calibration(50)
    graph = convert(model, cal, percentile=99.5)
    lam = _graph_meta(graph)["lambdas"]
    m = _bn_cnn().double()
    # folded torch parameters, computed here independently of neurokit
    def fold(lin, bn):
        if bn is None:
            return lin.weight.detach().numpy(), lin.bias.detach().numpy()
        s = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
        w = lin.weight.detach().numpy() * s.reshape((-1,) + (1,) * (lin.weight.dim() - 1))
        return w, (lin.bias.detach().numpy() - bn.running_mean.numpy()) * s + bn.bias.detach().numpy()

    folded = [fold(m[0], m[1]), fold(m[5], m[6]), fold(m[9], None)]
    pool_factor = [1.0, 1 / 4, 1.0]  # the AvgPool2d(2) before layer 1 becomes SumPool2d + 1/4 in the weights
    nodes = [graph.nodes[n] for n in ("conv0", "affine1", "affine2")]
    lam_prev = [1.0] + lam[:-1]  # inputs enter as constant current: lambda(0) = 1
    for node, (w, b), lp, l, pf in zip(nodes, folded, lam_prev, lam, pool_factor):
        np.testing.assert_allclose(node.weight, w * lp / l * pf, rtol=1e-12)
        np.testing.assert_allclose(node.bias, b / l, rtol=1e-12, atol=1e-15)


def test_normalized_graph_as_an_ann_gives_activations_over_lambda():
    """Running the NIR graph's ops as an ANN (ReLU at each IF but the last) reproduces a(l) / lambda(l)."""
    F = torch.nn.functional
    model, cal = _bn_cnn(), _calibration(30)
    graph = convert(model, cal, percentile=99.0)
    lam = _graph_meta(graph)["lambdas"]
    acts = _relu_activations(_bn_cnn(), cal)
    h = torch.from_numpy(cal).double()
    got = []
    for name in _chain_nodes(graph)[1:-1]:
        node = graph.nodes[name]
        if isinstance(node, nir.Conv2d):
            h = F.conv2d(h, torch.from_numpy(node.weight), torch.from_numpy(node.bias), tuple(node.stride),
                         tuple(node.padding), tuple(node.dilation), int(node.groups))
        elif isinstance(node, nir.SumPool2d):
            h = F.avg_pool2d(h, tuple(node.kernel_size)) * float(np.prod(node.kernel_size))
        elif isinstance(node, nir.Flatten):
            h = h.flatten(1)
        elif isinstance(node, nir.Affine):
            h = h @ torch.from_numpy(node.weight).T + torch.from_numpy(node.bias)
        elif isinstance(node, nir.IF):
            got.append(h.numpy().copy())
            h = torch.relu(h)
    got[:-1] = [np.maximum(g, 0) for g in got[:-1]]
    for g, a, l in zip(got, acts, lam):
        np.testing.assert_allclose(g, a / l, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# the NIR graph


def test_graph_structure_if_nodes_and_sumpool():
    model = _bn_cnn()
    graph = convert(model, _calibration(20), v_init=0.25)
    order = _chain_nodes(graph)
    assert len(order) == len(graph.nodes) and len(graph.edges) == len(graph.nodes) - 1
    kinds = [type(graph.nodes[n]).__name__ for n in order]
    assert kinds == ["Input", "Conv2d", "IF", "SumPool2d", "Flatten", "Affine", "IF", "Affine", "IF", "Output"]
    assert not any(isinstance(n, (nir.AvgPool2d, nir.LIF)) for n in graph.nodes.values())
    pool = graph.nodes["pool1"]
    assert tuple(pool.kernel_size) == (2, 2) and tuple(pool.stride) == (2, 2) and tuple(pool.padding) == (0, 0)
    shapes = {"if0": (4, 8, 8), "if1": (16,), "if2": (5,)}
    for name, shape in shapes.items():
        node = graph.nodes[name]
        assert node.metadata == {"reset_mode": "subtract", "v_init": 0.25}
        assert node.r.shape == shape and np.all(node.r == 1)
        assert np.all(node.v_threshold == 1) and np.all(node.v_reset == 0)
    assert tuple(graph.nodes["input"].input_type["input"]) == (1, 8, 8)
    meta = _graph_meta(graph)
    assert meta["reset"] == "subtract" and meta["v_init"] == 0.25 and meta["bn_folded"] == ["1", "6"]


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (np.ndarray, list, tuple)) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype.kind == b.dtype.kind and np.array_equal(a, b)
    return a == b


def test_nir_write_read_round_trip(tmp_path):
    graph = convert(_bn_cnn(), _calibration(20))
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    back = nir.read(path)
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(map(tuple, back.edges)) == sorted(map(tuple, graph.edges))
    assert json.loads(back.metadata["neurokit"]) == _graph_meta(graph)
    for name, node in graph.nodes.items():
        other = back.nodes[name]
        assert type(other) is type(node), name
        for f in dataclasses.fields(node):
            assert _same(getattr(node, f.name), getattr(other, f.name)), f"{name}.{f.name}"


def test_wrong_calibration_shape():
    with pytest.raises(InputShapeError, match=r"input of shape \(1, 5, 5\) does not fit the model"):
        convert(_bn_cnn(), np.zeros((4, 1, 5, 5), np.float32))
    with pytest.raises(InputShapeError):
        convert(_bn_cnn(), np.zeros((4, 64), np.float32))


def test_convert_leaves_the_model_unchanged():
    model = _bn_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    convert(model, _calibration(10))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
