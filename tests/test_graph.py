"""The network as a graph: residual and branching torch models convert (skip connections, torch.cat,
modules used twice), every stage runs them, the quantized file stores the graph explicitly (cycles too),
old files still load, and malformed graphs get one line and exit 2 with nothing written."""
from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch
from torch import nn

from neurokit.backends import get_backend
from neurokit.convert import Settings, convert, read_model
from neurokit.convert.to_nir import spiking_structure
from neurokit.errors import UnsupportedModelError
from neurokit.lower import from_nir
from neurokit.network import INPUT, GraphError, Population, Projection, project
from neurokit.neurons import Cuba
from quantize import load_quantized, quantize, save_quantized


def _ann_values(model, x):
    ann = read_model(model, tuple(x.shape[1:]))
    with torch.no_grad():
        _, values = ann.forward(torch.as_tensor(x, dtype=torch.float64), record=True)
    return ann, values


def _check_normalization(model, x_cal, x):
    """Each population's rate model, fed the ANN's own normalized activations, gives the ANN's activation
    over its lambda: the converted weights, biases and skip scales compute the ANN exactly."""
    graph = convert(model, x_cal)
    net = from_nir(graph)
    ann, values = _ann_values(model, x)
    structure = spiking_structure(ann, tuple(x.shape[1:]))
    lambdas = json.loads(graph.metadata["neurokit"])["lambdas"]
    by_pop = {f"if{k}": (spec.op, lam) for k, (spec, lam) in enumerate(zip(structure, lambdas))}
    normalized = {INPUT: torch.as_tensor(x, dtype=torch.float64)}
    for pop in net.populations:
        op, lam = by_pop[pop.name]
        normalized[pop.name] = values[op] / lam
    for pop in net.populations:
        drive = sum(project(q, normalized[q.source]) for q in net.incoming(pop.name))
        drive = drive + torch.as_tensor(pop.neuron.bias)
        op, lam = by_pop[pop.name]
        expect = values[op] / lam
        got = torch.relu(drive) if structure[int(pop.name[2:])].has_relu else drive
        np.testing.assert_allclose(got.numpy(), expect.numpy(), rtol=1e-9, atol=1e-9, err_msg=pop.name)
    return net


# ---------------------------------------------------------------------------------------------------------
# residual and branching models


def test_residual_net_converts_to_a_graph(digits_resnet, digits):
    net = _check_normalization(digits_resnet, digits.x_train[:200], digits.x_test[:20])
    edges = [(q.source, q.target) for q in net.projections]
    assert edges == [(INPUT, "if0"), ("if0", "if1"), ("if1", "if2"), ("if0", "if2"), ("if2", "if3"), ("if2", "if3"),
                     ("if3", "if4")]
    skip = net.incoming("if2")[1]
    assert skip.kind == "conv" and skip.groups == 4 and skip.weight.shape == (4, 1, 1, 1)  # depthwise identity
    assert not net.is_chain() and net.metadata["structure"] == "graph"
    assert net.metadata["population_macs"]["if3"] == net.metadata["ann_macs"]["c3"] + net.metadata["ann_macs"]["short"]


def test_residual_float_snn_approaches_the_ann(digits_resnet, digits_resnet_net, digits):
    x, y = digits.x_test[:200], digits.y_test[:200]
    with torch.no_grad():
        ann = float(np.mean(digits_resnet(torch.from_numpy(x)).argmax(1).numpy() == y))
    assert ann > 0.9
    acc = get_backend("float").run(digits_resnet_net, x, 64).accuracy(y)
    assert acc >= ann - 0.02


class CatNet(nn.Module):
    """Two branches concatenated on channels, a conv reading the concatenation, a concatenation that is
    itself a population (relu(cat)), global average pooling, and a linear used twice."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(1, 3, 1)
        self.c = nn.Conv2d(5, 4, 3, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(9, 9)
        self.out = nn.Linear(9, 3)

    def forward(self, x):
        a, b = torch.relu(self.a(x)), torch.relu(self.b(x))
        c = torch.relu(self.c(torch.cat([a, b], 1)))
        both = torch.relu(torch.cat([c, a, b], dim=1))
        h = torch.flatten(self.gap(both), 1)
        return self.out(torch.relu(self.fc(torch.relu(self.fc(h)))))


def test_cat_shared_modules_and_global_pooling_compute_the_ann():
    torch.manual_seed(0)
    model = CatNet().eval()
    x = np.random.default_rng(0).random((40, 1, 6, 6)).astype(np.float32)
    net = _check_normalization(model, x, x[:10])
    assert [len(net.incoming(p.name)) for p in net.populations] == [1, 1, 2, 3, 1, 1, 1]
    assert net.incoming("if3")[1].weight.shape == (9, 2, 1, 1)  # a branch placed at its channels of the cat


def test_view_that_is_not_a_flatten_is_caught():
    class Folded(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 2, 3, padding=1), nn.Linear(16, 3)

        def forward(self, x):
            x = torch.relu(self.conv(x))
            return self.fc(x.view(x.size(0), 2, -1)).sum(1)  # a view that keeps the channels

    with pytest.raises(UnsupportedModelError):
        convert(Folded().eval(), np.random.default_rng(0).random((4, 1, 4, 4)).astype(np.float32))


def test_maxpool_is_refused_with_the_avg_replacement_offered(tmp_path):
    from neurokit.pipeline import replaced_ann_accuracy

    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3)).eval()
    x = np.random.default_rng(0).random((16, 1, 8, 8)).astype(np.float32)
    with pytest.raises(UnsupportedModelError) as exc:
        convert(model, x)
    assert str(exc.value).startswith("layer 2 '2' (MaxPool2d): max pooling has no spiking equivalent on Loihi; "
                                     "pass --replace-maxpool avg")
    graph = convert(model, x, replace_maxpool="avg")
    assert json.loads(graph.metadata["neurokit"])["maxpool_replaced"] == "avg"
    y = np.zeros(len(x), np.int64)
    assert 0.0 <= replaced_ann_accuracy(model, x, y, "avg") <= 1.0
    assert replaced_ann_accuracy(model, x, y, None) is None


def test_training_methods_on_graphs(digits_resnet, digits):
    """tcl and lasnn train residual graphs; ratenorm and phase take chains and say so in one line."""
    from neurokit.convert.methods.lasnn import student_predictions
    from neurokit.convert.methods import Inputs, method_function

    inputs = Inputs(digits.x_train[:100], digits.x_train[:200], digits.y_train[:200])
    tcl = from_nir(convert(digits_resnet, digits.x_train[:100], method="tcl", train=(digits.x_train[:200],
                   digits.y_train[:200]), settings=Settings(epochs=1)))
    assert tcl.metadata["method"] == "tcl" and len(tcl.metadata["tcl_lambdas_trained"]) == 4
    result = method_function("lasnn")(read_model(digits_resnet, (1, 8, 8)), inputs, Settings(target_steps=4, epochs=1))
    graph = convert(digits_resnet, digits.x_train[:100], method="lasnn", train=(digits.x_train[:200],
                    digits.y_train[:200]), settings=Settings(target_steps=4, epochs=1))
    x = digits.x_test[:50]
    counts = get_backend("float", device="cpu").run(from_nir(graph), x, 4).output_counts
    np.testing.assert_array_equal(counts, student_predictions(result, x, 4))  # the student is what runs
    for method in ("ratenorm", "phase"):
        with pytest.raises(UnsupportedModelError, match=f"conversion method '{method}' takes chain models; this one "
                                                        "branches at op"):
            convert(digits_resnet, digits.x_train[:100], method=method, train=(digits.x_train[:200],
                    digits.y_train[:200]), settings=Settings(epochs=1))


# ---------------------------------------------------------------------------------------------------------
# every stage runs graphs


@pytest.fixture(scope="module")
def resnet_q(digits_resnet_net, digits, profile):
    return quantize(digits_resnet_net, profile, digits.x_train[:200])


def test_quantize_shares_one_scale_per_population(resnet_q):
    q, rep = resnet_q
    by_name = {l["name"]: l for l in rep["layers"]}
    assert [p["source"] for p in by_name["if2"]["projections"]] == ["if1", "if0"]
    assert "weights" not in by_name["if2"] and by_name["if1"]["weights"] == by_name["if1"]["projections"][0]["weights"]
    assert [p.neuron.vth for p in q.populations] == [by_name[p.name]["vth"] for p in q.populations]
    # every projection into a population is quantized to that population's vth: dequantized weights are close
    for proj in q.projections:
        vth = q.population(proj.target).neuron.vth
        w = proj.dequantized(q.input_scale, vth)
        assert w.shape == proj.weight.shape


def test_projections_into_one_population_take_their_own_weight_bits(digits_resnet_net, digits, profile):
    from neurokit.arithmetic import mantissa_shift

    q, rep = quantize(digits_resnet_net, profile, digits.x_train[:100], weight_bits={"skip2_1": 2})
    conv, skip = q.incoming("if2")
    assert (skip.name, skip.weight_bits, conv.weight_bits) == ("skip2_1", 2, 8)
    assert np.all(skip.weight % (1 << mantissa_shift(skip.sign_mode, 2)) == 0)  # on the 2-bit grid
    [entry] = [l for l in rep["layers"] if l["name"] == "if2"]
    assert [p["weight_bits"] for p in entry["projections"]] == [8, 2]


def test_residual_net_engine_equals_lava_bit_for_bit(resnet_q, digits):
    from neurokit.verify import verify

    q, _ = resnet_q
    r = verify(q, digits.x_test[:3], 12)
    assert r["match"], r["first_mismatch"]
    assert [l["name"] for l in r["layers"]] == [p.name for p in q.populations] and all(l["spikes"] > 0 for l in r["layers"])
    lava = get_backend("lava-fixed").run(q, digits.x_test[:3], 12)
    engine = get_backend("engine", device="cpu").run(q, digits.x_test[:3], 12)
    np.testing.assert_array_equal(lava.layer_spikes, engine.layer_spikes)
    np.testing.assert_array_equal(lava.output_counts, engine.output_counts)


def test_fit_and_synops_count_every_projection(resnet_q, digits_resnet_net, profile, digits):
    from neurokit.fit import fit_network
    from neurokit.pipeline import summarize_run

    q, _ = resnet_q
    fit = fit_network(q, profile).to_dict()
    assert fit["fits"] and [l["name"] for l in fit["layers"]] == [p.name for p in q.populations]
    single = {l["name"]: l for l in fit_network(from_nir(convert(*_only_skip(), np.zeros((4, 2, 3, 3)))), profile)
              .to_dict()["layers"]}
    # the 3 x 3 conv's inputs as one axon per neuron (2 channels x 9 pixels), the skip's as one population axon
    # per pixel (9): a population's input axons are the sum over the projections into it
    assert single["if1"]["encoding"] == "dense+conv" and single["if1"]["axons_in_per_core"] == 2 * 9 + 9
    trace = get_backend("engine", device="cpu").run(q, digits.x_test[:10], 10)
    run = summarize_run(q, trace, digits.y_test)
    by = {p["name"]: p["synops"] for p in run["projections"]}
    for layer in run["layers"]:
        assert layer["synops"] == pytest.approx(sum(by[p.name] for p in q.incoming(layer["name"])))
    assert run["layers"][2]["kind"] == "conv+conv" and run["layers"][2]["inputs"] == ["if1", "if0"]


def _only_skip():
    """input -> if0 (1x1 conv) -> if1 = relu(conv(if0) + if0): one population with two projections."""
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            h = torch.relu(self.a(x))
            return torch.relu(self.b(h) + h)

    torch.manual_seed(0)
    return (Skip().eval(),)


# ---------------------------------------------------------------------------------------------------------
# the quantized file: explicit graph, cycles, old files


def _recurrent_qnet(resnet_q):
    """The quantized ResNet with a projection from if3 back to if2 (a cycle)."""
    from quantize.qnet import QProjection

    q, _ = resnet_q
    src, dst = q.population("if3"), q.population("if2")
    back = QProjection(name="back", source="if3", target="if2", kind="conv", in_shape=src.shape, out_shape=dst.shape,
                       weight=np.ones((dst.shape[0], src.shape[0], 1, 1), np.int32), stride=(1, 1), weight_exp=0,
                       weight_bits=8, sign_mode=2)
    return type(q)(q.input_shape, q.populations, q.projections + [back], q.output, q.metadata, input_scale=q.input_scale,
                   input_bits=q.input_bits, input_signed=q.input_signed, profile=q.profile, arithmetic=q.arithmetic)


def test_file_stores_the_graph_and_holds_cycles(resnet_q, tmp_path, digits):
    q, _ = resnet_q
    path = tmp_path / "q.nir"
    save_quantized(q, path)
    back = load_quantized(path)
    assert [(p.name, p.source, p.target) for p in back.projections] == [(p.name, p.source, p.target) for p in q.projections]
    # the header, not node names or edge order, says what is what: shuffle the edges and it still reads
    g = nir.read(path, type_check=False)
    g.edges.reverse()
    nir.write(tmp_path / "shuffled.nir", g)
    again = load_quantized(tmp_path / "shuffled.nir")
    assert [p.name for p in again.projections] == [p.name for p in q.projections]
    rec = _recurrent_qnet(resnet_q)
    assert rec.cycle() == ["if2", "if3", "if2"]
    save_quantized(rec, tmp_path / "rec.nir")
    loaded = load_quantized(tmp_path / "rec.nir")
    assert loaded.cycle() == ["if2", "if3", "if2"] and loaded.projections[-1].source == "if3"
    for backend in ("engine", "lava-fixed"):
        with pytest.raises(UnsupportedModelError, match=r"the network is recurrent \(cycle if2 -> if3 -> if2\); the "
                                                        f"{backend} backend runs recurrent graphs with pipelined windows only"):
            get_backend(backend).run(loaded, digits.x_test[:2], 4)


def test_neurokit_01_files_still_load_and_run_the_same(digits):
    """tests/data/digits_mlp_v1.q.nir was written by neurokit 0.1 (format neurokit-quantized/1); the engine of
    that version counted tests/data/digits_mlp_v1_counts.npy on the first 20 digits test images at T = 16."""
    from pathlib import Path

    data = Path(__file__).parent / "data"
    q = load_quantized(data / "digits_mlp_v1.q.nir")
    assert [p.name for p in q.populations] == ["if0", "if1"] and q.is_chain()
    counts = get_backend("engine", device="cpu").run(q, digits.x_test[:20], 16).output_counts
    np.testing.assert_array_equal(counts, np.load(data / "digits_mlp_v1_counts.npy"))


# ---------------------------------------------------------------------------------------------------------
# arithmetic no backend implements is refused


@pytest.mark.parametrize("field, value, supported", [("threshold_shift", 4, 6), ("activation_shift", 4, 6),
                                                     ("state_bits", 32, 24), ("decay_bits", 16, 12)])
def test_profile_asking_for_other_arithmetic_is_refused(tmp_path, field, value, supported):
    from hw_profiles import ProfileError, load_profile

    path = tmp_path / "odd.toml"
    path.write_text(f'extends = "loihi2"\nname = "odd"\ndescription = "d"\n\n[neuron]\n'
                    f'{field} = {{ value = {value}, source = "test", verified = false }}\n')
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert f"neuron.{field} = {value} asks for arithmetic no neurokit backend implements" in str(exc.value)
    assert f"set it to {supported}" in str(exc.value) and "\n" not in str(exc.value)


def test_file_recording_other_arithmetic_is_refused(resnet_q, tmp_path, capsys):
    from neurokit.cli import main
    from quantize.qnet import to_nir

    g = to_nir(resnet_q[0])
    header = json.loads(g.metadata["neurokit_quantized"])
    header["arithmetic"]["threshold_shift"] = 4
    g.metadata["neurokit_quantized"] = json.dumps(header)
    nir.write(tmp_path / "odd.q.nir", g)
    assert main(["run", str(tmp_path / "odd.q.nir"), "--data", "digits", "--samples", "2", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neuron.threshold_shift = 4 asks for arithmetic no neurokit backend" in err


# ---------------------------------------------------------------------------------------------------------
# malformed graphs: one line, exit 2, nothing written


def _if(shape):
    return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape),
                  metadata={"reset_mode": "subtract"})


def _affine(n_out, n_in):
    return nir.Affine(weight=np.ones((n_out, n_in)) * 0.1, bias=np.zeros(n_out))


def _graph(case: str) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type=np.array((1, 8, 8))),
             "flat": nir.Flatten(input_type={"input": np.array((1, 8, 8))}, start_dim=0, end_dim=-1),
             "a": _affine(8, 64), "n0": _if((8,)), "b": _affine(10, 8), "n1": _if((10,)),
             "output": nir.Output(output_type=np.array((10,)))}
    edges = [("input", "flat"), ("flat", "a"), ("a", "n0"), ("n0", "b"), ("b", "n1"), ("n1", "output")]
    if case == "cycle":
        nodes["back"] = _affine(8, 10)
        edges += [("n1", "back"), ("back", "n0")]
    elif case == "shape":
        nodes["b"] = _affine(10, 9)
    elif case == "no_input":
        nodes["lonely"] = _if((3,))
    g = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    if case == "missing":
        g.edges.append(("n0", "ghost"))
    return g


@pytest.mark.parametrize("case, fragment", [
    ("cycle", "the network is recurrent (cycle n0 -> n1 -> n0); the float backend runs recurrent graphs with "
              "pipelined windows only"),
    ("shape", "NIR node 'b' expects 9 inputs, gets 8"),
    ("no_input", "NIR neuron 'lonely' has no input (no edge into it); connect it or remove it"),
    ("missing", "NIR edge ('n0', 'ghost') names node 'ghost', which is not in the graph"),
])
@pytest.mark.parametrize("command", ["quantize", "fit", "run"])
def test_malformed_graphs_one_line_exit_2_nothing_written(case, fragment, command, tmp_path, capsys):
    from neurokit.cli import main

    path = tmp_path / "g.nir"
    nir.write(path, _graph(case))
    out = tmp_path / "out.q.nir"
    argv = {"quantize": ["quantize", str(path), "--data", "digits", "--out", str(out)],
            "fit": ["fit", str(path)],
            "run": ["run", str(path), "--data", "digits", "--backend", "float", "--samples", "2", "--steps", "4",
                    "--out", str(out)]}[command]
    rc = main(argv)
    err = capsys.readouterr().err
    if case == "cycle" and command == "fit":  # fit maps recurrent graphs (a projection back is one more synapse)
        assert rc == 0
        return
    assert rc == 2 and err.count("\n") == 1 and err.startswith("neurokit: error: ") and fragment in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["g.nir"]


def test_hand_built_network_validation():
    p = Population("p", (2,), Cuba(bias=np.zeros(2), v_init=np.zeros(2)))
    good = Projection("w", INPUT, "p", "dense", (3,), (2,), np.ones((2, 3)))
    from neurokit.network import Network

    Network((3,), [p], [good], "p").validate()
    with pytest.raises(GraphError, match="projection 'w' expects a \\(4,\\) input but its source 'input' is \\(3,\\)"):
        Network((3,), [p], [Projection("w", INPUT, "p", "dense", (4,), (2,), np.ones((2, 4)))], "p").validate()
    with pytest.raises(GraphError, match="population 'p' has no input"):
        Network((3,), [p], [], "p").validate()
    with pytest.raises(GraphError, match="names target 'q', which is not a population"):
        Network((3,), [p], [good, Projection("x", "p", "q", "dense", (2,), (2,), np.ones((2, 2)))], "p").validate()
    with pytest.raises(GraphError, match="delay of 0 steps"):
        Network((3,), [p], [Projection("w", INPUT, "p", "dense", (3,), (2,), np.ones((2, 3)), delay=0)], "p").validate()


def test_deploy_with_maxpool_replaced_reports_both_ann_accuracies(tmp_path, capsys):
    from neurokit.cli import main

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 10)).eval()
    path = tmp_path / "maxpool.pt"
    torch.save(model, path)
    base = ["deploy", "--target", "sim", "--trust-model", str(path), "--data", "digits", "--samples", "20", "--steps", "8", "--verify-samples", "0",
            "--quiet"]
    assert main(base) == 2
    assert "pass --replace-maxpool avg" in capsys.readouterr().err
    assert main(base + ["--replace-maxpool", "avg", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert 0 <= r["ann_accuracy_maxpool_replaced"] <= 1 and r["conversion"]["maxpool_replaced"] == "avg"
    from neurokit.report import render_text

    assert "ANN, MaxPool2d read as AvgPool2d (float64)" in render_text(r)


def test_report_gives_each_projection_its_synops_and_energy(digits_resnet_net, resnet_q, profile, digits):
    from neurokit.pipeline import summarize_run
    from neurokit.report import build_report, render_text

    q, rep = resnet_q
    trace = get_backend("engine", device="cpu").run(q, digits.x_test[:10], 8)
    r = build_report(model="m", dataset="digits", profile=profile, steps=8, quantization=rep,
                     fixed_run=summarize_run(q, trace, digits.y_test), conversion=digits_resnet_net.metadata)
    assert [p["name"] for p in r["projections"]] == [p.name for p in q.projections]
    for p in r["projections"]:
        assert p["energy_j"] == pytest.approx(p["synops"] * profile.energy.synop_pj * 1e-12)
    text = render_text(r)
    assert "Per projection, per inference" in text and "skip2_1" in text and "if2 <- if0" in text
