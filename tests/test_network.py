"""Stage 3: NIR -> the network graph a chip runs (pool/flatten folded into projections), and the float
reference backend."""
from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from neurokit.backends import get_backend
from neurokit.convert import convert
from neurokit.errors import InputShapeError, UnsupportedModelError
from neurokit.io import load_torch_model
from neurokit.lower import SUPPORTED_NODES, from_nir

MNIST_CNN = Path(__file__).resolve().parents[1] / "examples" / "mnist_cnn" / "mnist_cnn.pt"

F = torch.nn.functional


def _if(shape, reset="subtract", v_init=0.0, vth=1.0, r=1.0):
    return nir.IF(r=np.full(shape, r), v_threshold=np.full(shape, vth), v_reset=np.zeros(shape),
                  metadata={"reset_mode": reset, "v_init": v_init})


def _conv(w, b=None, stride=1, padding=0, dilation=1, groups=1, input_shape=None):
    w = np.asarray(w, np.float64)
    return nir.Conv2d(input_shape=input_shape, weight=w, stride=np.array((stride, stride)),
                      padding=np.array((padding, padding)), dilation=np.array((dilation, dilation)), groups=groups,
                      bias=np.zeros(w.shape[0]) if b is None else np.asarray(b, np.float64))


def _chain_graph(input_shape, named_nodes, output_shape=None, type_check=True) -> nir.NIRGraph:
    nodes = {"in": nir.Input(input_type=np.array(input_shape))}
    nodes.update(named_nodes)
    names = list(nodes)
    last = [n for n in named_nodes.values() if isinstance(n, nir.IF)]
    out_shape = output_shape if output_shape is not None else (last[-1].r.shape if last else input_shape)
    nodes["out"] = nir.Output(output_type=np.array(out_shape))
    names.append("out")
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names[:-1], names[1:])), type_check=type_check)


def _sumpool(k):
    return nir.SumPool2d(kernel_size=np.array((k, k)), stride=np.array((k, k)), padding=np.array((0, 0)))


def _avgpool(k):
    return nir.AvgPool2d(kernel_size=np.array((k, k)), stride=np.array((k, k)), padding=np.array((0, 0)))


def _flatten(shape):
    return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)


# ---------------------------------------------------------------------------------------------------------
# lowering: the folded synapses compute what the NIR ops compute


def _apply_nir_op(node, x: torch.Tensor) -> torch.Tensor:
    """One NIR op on a batch, straight from its definition (no bias: that is compared separately)."""
    if isinstance(node, nir.SumPool2d):
        k = tuple(int(v) for v in node.kernel_size)
        ones = torch.ones((x.shape[1], 1) + k, dtype=x.dtype)
        return F.conv2d(x, ones, None, k, 0, 1, x.shape[1])  # a box sum per channel
    if isinstance(node, nir.AvgPool2d):
        return F.avg_pool2d(x, tuple(int(v) for v in node.kernel_size))
    if isinstance(node, nir.Flatten):
        return x.flatten(1)
    if isinstance(node, nir.Conv2d):
        return F.conv2d(x, torch.from_numpy(node.weight), None, tuple(int(v) for v in node.stride),
                        tuple(int(v) for v in node.padding), tuple(int(v) for v in node.dilation), int(node.groups))
    if isinstance(node, (nir.Affine, nir.Linear)):
        return F.linear(x, torch.from_numpy(node.weight))
    raise AssertionError(type(node))


def _apply_projection(proj, x: torch.Tensor) -> torch.Tensor:
    w = torch.from_numpy(proj.weight)
    if proj.kind == "conv":
        return F.conv2d(x, w, None, proj.stride, proj.padding, proj.dilation, proj.groups)
    return F.linear(x.flatten(1), w)


def _check_lowering(graph: nir.NIRGraph, expect_folded: list[tuple[str, ...]], seed=0):
    net = from_nir(graph)
    rng = np.random.default_rng(seed)
    assert net.is_chain()
    assert [q.folded for q in net.projections] == expect_folded
    for q, pop in zip(net.projections, net.populations):
        x = torch.from_numpy(rng.standard_normal((3,) + q.in_shape))
        ref = x
        for name in q.folded:
            ref = _apply_nir_op(graph.nodes[name], ref)
        got = _apply_projection(q, x)
        assert tuple(got.shape[1:]) == q.out_shape == pop.shape == tuple(ref.shape[1:])
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)
        syn = graph.nodes[q.folded[-1]]
        bias = getattr(syn, "bias", np.zeros(syn.weight.shape[0]))
        np.testing.assert_allclose(pop.neuron.bias, np.broadcast_to(
            bias.reshape((-1,) + (1,) * (len(q.out_shape) - 1)), q.out_shape))
    return net


def test_lowering_conv_pool_conv_pool_flatten_affine():
    rng = np.random.default_rng(1)
    nodes = {
        "c0": _conv(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), padding=1), "n0": _if((3, 9, 9)),
        "p1": _sumpool(3),  # 9x9 -> 3x3
        "c1": _conv(rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(4), padding=1), "n1": _if((4, 4, 4)),
        "p2": _avgpool(2),  # 4x4 -> 2x2
        "c2": _conv(rng.standard_normal((6, 2, 2, 2)), rng.standard_normal(6), padding=2, dilation=2, groups=2),
        "n2": _if((6, 4, 4)),
        "p3": _sumpool(2), "f3": _flatten((6, 2, 2)),
        "a3": nir.Affine(weight=rng.standard_normal((5, 24)), bias=rng.standard_normal(5)), "n3": _if((5,)),
    }
    net = _check_lowering(_chain_graph((2, 9, 9), nodes),
                          [("c0",), ("p1", "c1"), ("p2", "c2"), ("p3", "f3", "a3")])
    assert [q.kind for q in net.projections] == ["conv", "conv", "conv", "dense"]
    assert net.projections[1].stride == (3, 3) and net.projections[1].padding == (3, 3)
    assert net.projections[2].groups == 2 and net.projections[2].in_shape == (4, 4, 4)
    assert net.input_shape == (2, 9, 9)


def test_lowering_pooling_first_strided_conv_and_ragged_maps():
    rng = np.random.default_rng(2)
    nodes = {
        "p0": _sumpool(2),  # pooling the input itself: 7x7 -> 3x3, the last row/column dropped
        "c0": _conv(rng.standard_normal((2, 1, 2, 2)), stride=2), "n0": _if((2, 1, 1)),
    }
    _check_lowering(_chain_graph((1, 7, 7), nodes), [("p0", "c0")])
    nodes = {
        "c0": _conv(rng.standard_normal((2, 1, 3, 3)), stride=2, padding=1), "n0": _if((2, 5, 5)),
        "p1": _avgpool(2), "f1": _flatten((2, 2, 2)),  # 5x5 -> 2x2, ragged
        "a1": nir.Affine(weight=rng.standard_normal((3, 8)), bias=np.zeros(3)), "n1": _if((3,)),
        "f2": _flatten((3,)), "l2": nir.Linear(weight=rng.standard_normal((2, 3))), "n2": _if((2,)),
    }
    net = _check_lowering(_chain_graph((1, 9, 9), nodes), [("c0",), ("p1", "f1", "a1"), ("f2", "l2")])
    assert np.all(net.populations[2].neuron.bias == 0)  # nir.Linear has no bias


def test_neuron_gain_folds_into_weights_bias_and_v_init():
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    base = from_nir(_chain_graph((4,), {"a": nir.Affine(weight=w, bias=b), "n": _if((3,), v_init=0.5)}))
    scaled = from_nir(_chain_graph((4,), {"a": nir.Affine(weight=w, bias=b),
                                          "n": _if((3,), v_init=0.5, vth=4.0, r=2.0)}))
    np.testing.assert_allclose(scaled.projections[0].weight, base.projections[0].weight / 2)
    np.testing.assert_allclose(scaled.populations[0].neuron.bias, base.populations[0].neuron.bias / 2)
    np.testing.assert_allclose(scaled.populations[0].neuron.v_init, np.full(3, 0.5 / 4.0))
    np.testing.assert_allclose(base.populations[0].neuron.v_init, np.full(3, 0.5))


def test_missing_reset_metadata_means_nir_reset_to_zero():
    node = nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    net = from_nir(_chain_graph((2,), {"a": nir.Affine(weight=np.eye(2), bias=np.zeros(2)), "n": node}))
    assert net.populations[0].neuron.reset == "zero" and np.all(net.populations[0].neuron.v_init == 0)


# ---------------------------------------------------------------------------------------------------------
# what cannot be lowered


def _affine(n_out, n_in):
    return nir.Affine(weight=np.ones((n_out, n_in)), bias=np.zeros(n_out))


def test_foreign_lif_node_asks_for_a_dialect():
    lif = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2), v_reset=np.zeros(2))
    graph = _chain_graph((2,), {"a": _affine(2, 2), "lif": lif})
    with pytest.raises(UnsupportedModelError) as exc:
        from_nir(graph)
    assert str(exc.value).startswith("NIR node 'lif' (LIF): the graph does not say which framework wrote it") and \
        "pass --dialect (nir, snntorch, norse" in str(exc.value)
    assert "LIF" in SUPPORTED_NODES


def test_two_synapses_into_one_neuron_are_two_projections_summed():
    nodes = {"in": nir.Input(input_type=np.array((2,))), "a": _affine(2, 2), "b": nir.Affine(
        weight=2 * np.eye(2), bias=np.array([0.5, 0.0])), "n": _if((2,)), "out": nir.Output(output_type=np.array((2,)))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("in", "a"), ("in", "b"), ("a", "n"), ("b", "n"), ("n", "out")])
    net = from_nir(graph)
    assert [(q.name, q.source, q.target) for q in net.projections] == [("a", "input", "n"), ("b", "input", "n")]
    np.testing.assert_allclose(net.populations[0].neuron.bias, [0.5, 0.0])  # the biases add up
    assert not net.is_chain()


def test_neuron_to_neuron_edge_is_an_identity_projection():
    nodes = {"in": nir.Input(input_type=np.array((1, 4, 4))), "c": _conv(np.ones((2, 1, 1, 1))), "n0": _if((2, 4, 4)),
             "p": _avgpool(2), "n1": _if((2, 2, 2)), "out": nir.Output(output_type=np.array((2, 2, 2)))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("in", "c"), ("c", "n0"), ("n0", "p"), ("p", "n1"), ("n1", "out")])
    net = from_nir(graph)
    skip = net.incoming("n1")[0]
    assert (skip.name, skip.kind, skip.groups, skip.stride) == ("n0_to_n1", "conv", 2, (2, 2))
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 2, 4, 4)))
    np.testing.assert_allclose(_apply_projection(skip, x).numpy(), F.avg_pool2d(x, 2).numpy(), rtol=1e-12)


@pytest.mark.parametrize("nodes, fragment", [
    ({"a": _affine(2, 2), "b": _affine(2, 2), "n": _if((2,))}, "NIR node 'b' follows synapse 'a' without a neuron"),
    ({"a": _affine(2, 2)}, "Output must follow exactly one neuron node"),
    ({"a": _affine(2, 2), "n": nir.IF(r=np.ones(2), v_threshold=np.ones(2), v_reset=np.ones(2))},
     "non-zero v_reset"),
    ({"a": _affine(2, 2), "n": nir.IF(r=np.ones(2), v_threshold=np.zeros(2), v_reset=np.zeros(2))},
     "v_threshold must be positive"),
    ({"a": _affine(2, 2), "n": _if((2,), reset="soft")}, "metadata reset_mode='soft'"),
    ({"a": _affine(3, 2), "n": _if((2,))}, r"NIR neuron 'n': r of shape \(2,\) does not match its input \(3,\)"),
    ({"a": _affine(2, 3), "n": _if((2,))}, "expects 3 inputs, gets 2"),
])
def test_layer_errors(nodes, fragment):
    with pytest.raises(UnsupportedModelError, match=fragment):
        from_nir(_chain_graph((2,), nodes, output_shape=(2,), type_check=False))


def test_pool_and_flatten_errors():
    w = np.ones((1, 1, 1, 1))
    bad_pool = nir.SumPool2d(kernel_size=np.array((2, 2)), stride=np.array((1, 1)), padding=np.array((0, 0)))
    with pytest.raises(UnsupportedModelError, match="NIR node 'p': pooling needs stride == kernel_size"):
        from_nir(_chain_graph((1, 4, 4), {"p": bad_pool, "c": _conv(w), "n": _if((1, 3, 3))}, type_check=False))
    with pytest.raises(UnsupportedModelError, match=r"NIR node 'f' \(Flatten\) before Conv2d 'c'"):
        from_nir(_chain_graph((1, 4, 4), {"f": _flatten((1, 4, 4)), "c": _conv(w), "n": _if((1, 4, 4))}, type_check=False))
    with pytest.raises(UnsupportedModelError, match="insert a Flatten"):
        from_nir(_chain_graph((1, 2, 2), {"a": _affine(2, 4), "n": _if((2,))}, type_check=False))
    with pytest.raises(UnsupportedModelError, match="sits between synapse 'c' and its neuron"):
        from_nir(_chain_graph((1, 4, 4), {"c": _conv(w), "p": _sumpool(2), "n": _if((1, 2, 2))}, type_check=False))
    nonuniform = nir.IF(r=np.ones((2, 2, 2)), v_threshold=np.stack([np.ones((2, 2)), np.eye(2) + 1]),
                        v_reset=np.zeros((2, 2, 2)))
    with pytest.raises(UnsupportedModelError, match="uniform within each channel"):
        from_nir(_chain_graph((1, 2, 2), {"c": _conv(np.ones((2, 1, 1, 1))), "n": nonuniform}, type_check=False))


# ---------------------------------------------------------------------------------------------------------
# float reference backend: exact semantics on hand-computed cases


def _one_layer(reset="subtract", v_init=0.0, vth=1.0):
    w = np.array([[0.5, 0.5], [0.25, 0.0], [1.0, 1.0]]) * vth
    b = np.array([0.0, 0.125, -0.25]) * vth
    return from_nir(_chain_graph((2,), {"a": nir.Affine(weight=w, bias=b),
                                        "n": _if((3,), reset=reset, v_init=v_init * vth, vth=vth)}))


X_HAND = np.array([[1.0, 0.5]])  # per step (from step 2 on): drives 0.75, 0.25 + 0.125 = 0.375, 1.5 - 0.25 = 1.25


@pytest.mark.parametrize("reset, v_init, expect", [
    # Step 1 receives nothing (one step of synaptic delay): v = v_init + bias. From step 2 on, v += W x + b.
    # subtract, v0 = 0, 8 steps:
    #   n0: 0, .75, 1.5*, 1.25*, 1.0 (no: strict >), 1.75*, 1.5*, 1.25*           -> 5 spikes
    #   n1: .125, .5, .875, 1.25*, .625, 1.0 (no), 1.375*, .75                     -> 2
    #   n2: -.25, 1.0 (no), 2.25*, 2.5*, 2.75*, 3.0*, 3.25*, 3.5* (one spike/step) -> 6
    ("subtract", 0.0, [5, 2, 6]),
    # zero reset: n0: 0, .75, 1.5*, .75, 1.5*, .75, 1.5*, .75 -> 3; n1: .125, .5, .875, 1.25*, .375, .75, 1.125*, .375
    #   -> 2; n2: -.25, 1.0, 2.25*, 1.25*, 1.25*, 1.25*, 1.25*, 1.25* -> 6
    ("zero", 0.0, [3, 2, 6]),
    # subtract, v0 = .5: n0: .5, 1.25*, 1.0, 1.75*, 1.5*, 1.25*, 1.0, 1.75* -> 5
    #   n1: .625, 1.0, 1.375*, .75, 1.125*, .5, .875, 1.25* -> 3; n2: .25, 1.5*, 1.75*, ..., 3.0* -> 7
    ("subtract", 0.5, [5, 3, 7]),
])
def test_float_reference_hand_computed_one_layer(reset, v_init, expect):
    net = _one_layer(reset, v_init)
    trace = get_backend("float").run(net, X_HAND, steps=8)
    assert trace.output_counts.tolist() == [expect]
    assert trace.layer_spikes.tolist() == [[sum(expect)]]
    np.testing.assert_array_equal(trace.neuron_spikes[0], expect)
    # the same network written with threshold 4 (weights, bias, v_init scaled alike) is the same network
    trace4 = get_backend("float").run(_one_layer(reset, v_init, vth=4.0), X_HAND, steps=8)
    assert trace4.output_counts.tolist() == [expect]


def test_float_reference_two_layers_one_step_delay_each():
    # layer 1: drive .75 -> spikes at steps 3, 4, 6, 7, 8 (see n0 above)
    # layer 2 receives 1.5 * s1(t-1): arrivals at steps 4, 5, 7, 8; bias -.25 every step:
    #   v2: -.25, -.5, -.75, .5, 1.75* -> .75, .5, 1.75* -> .75, 2.0* -> 1.0   => spikes at 5, 7, 8
    nodes = {"a1": nir.Affine(weight=np.array([[0.75]]), bias=np.zeros(1)), "n1": _if((1,)),
             "a2": nir.Affine(weight=np.array([[1.5]]), bias=np.array([-0.25])), "n2": _if((1,))}
    net = from_nir(_chain_graph((1,), nodes))
    ref = get_backend("float")
    got = {steps: ref.run(net, np.ones((1, 1)), steps).layer_spikes[0].tolist() for steps in (4, 5, 8)}
    assert got == {4: [2, 0], 5: [2, 1], 8: [5, 3]}
    trace = ref.run(net, np.ones((1, 1)), 8)
    assert trace.output_counts.tolist() == [[3]] and trace.input_events.tolist() == [8.0]


def test_float_reference_batches_are_independent_samples():
    net = _one_layer()
    x = np.array([[1.0, 0.5], [0.0, 0.0], [1.0, 0.5], [2.0, 0.0]])
    together = get_backend("float", batch_size=3).run(net, x, 8)
    alone = np.concatenate([get_backend("float").run(net, x[i:i + 1], 8).output_counts for i in range(len(x))])
    np.testing.assert_array_equal(together.output_counts, alone)
    assert together.output_counts[0].tolist() == [5, 2, 6] == together.output_counts[2].tolist()
    assert together.input_events.tolist() == [24.0, 16.0]  # nonzero values x steps
    np.testing.assert_array_equal(together.neuron_spikes[0], alone.sum(0))


def test_float_reference_rejects_wrong_input_shape():
    with pytest.raises(InputShapeError, match=r"inputs of shape \(3,\) do not match the network input \(2,\)"):
        get_backend("float").run(_one_layer(), np.ones((1, 3)), 4)


# ---------------------------------------------------------------------------------------------------------
# float reference backend: converted models approach the ANN


def _ann_predictions(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).argmax(1).numpy()


def test_converted_digits_cnn_approaches_the_ann(digits_cnn, digits_cnn_net, digits):
    x, y = digits.x_test[:100], digits.y_test[:100]
    ann = _ann_predictions(digits_cnn, x)
    ann_acc = float(np.mean(ann == y))
    assert ann_acc > 0.85  # the fixture learned something
    ref = get_backend("float")
    agree = {}
    for steps in (8, 64):
        trace = ref.run(digits_cnn_net, x, steps)
        agree[steps] = float(np.mean(trace.predictions() == ann))
    acc64 = trace.accuracy(y)
    assert abs(acc64 - ann_acc) <= 0.03
    assert agree[64] >= 0.95
    assert agree[64] > agree[8]  # more time steps, closer to the ANN


def test_bundled_mnist_cnn_float_snn_matches_ann():
    from neurokit.data import load_dataset

    model = load_torch_model(MNIST_CNN, "examples/mnist_cnn/train.py:make_model")
    d = load_dataset("mnist")
    net = from_nir(convert(model, d.x_train[:200]))
    assert [q.kind for q in net.projections] == ["conv", "conv", "dense"]
    assert net.projections[1].folded[0].startswith("pool") and net.projections[2].folded[0].startswith("pool")
    x, y = d.x_test[:100], d.y_test[:100]
    ann = _ann_predictions(model, x)
    trace = get_backend("float").run(net, x, 64)
    ann_acc = float(np.mean(ann == y))
    assert ann_acc >= 0.9
    assert abs(trace.accuracy(y) - ann_acc) <= 0.03
    assert float(np.mean(trace.predictions() == ann)) >= 0.92
    assert trace.layer_spikes.shape == (100, 3) and np.all(trace.layer_spikes > 0)
