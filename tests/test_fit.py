"""neurokit fit: synapse memory by hand, core counts by hand, one failing net per limit with its message,
the bundled CNN and a VGG-style CIFAR CNN on the bundled profiles, and the command line."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hw_profiles import load_profile
from neurokit.fit import fit_network
from neurokit.fit.encoding import list_bits
from neurokit.fit.limits import CoreLimits
from neurokit.fit.mapping import tap_patterns
from netgen import chain, float_layer

# A small chip whose numbers are easy to follow by hand. It extends the bundled Loihi 2 profile and
# overrides only the limits placement reads.
TINY = {
    "neurons_per_core": 4, "synaptic_memory_bits": 10_000, "neuron_memory_bits": 0, "axons_in": 100,
    "axons_out": 100, "memory_word_bits": 64, "synapse_list_max": 64, "synapse_list_header_bits": 10,
    "dense_synapse_overhead_bits": 0, "sparse_synapse_overhead_bits": 4, "conv_synapse_overhead_bits": 4,
    "population_axons": True, "population_axon_slots": 2,
}


def chip(tmp_path, cores_per_chip: int = 8, chips: int = 1, **core):
    values = {**TINY, **core}
    lines = ['extends = "loihi2"', 'name = "tiny"', 'description = "a small chip for hand-computed tests"', "",
             "[core]"]
    for k, v in values.items():
        lit = ("true" if v else "false") if isinstance(v, bool) else str(v)
        lines.append(f'{k} = {{ value = {lit}, source = "test", verified = true }}')
    lines += ["", "[chip]", f'cores_per_chip = {{ value = {cores_per_chip}, source = "test", verified = true }}',
              "", "[board]", f'chips_per_board = {{ value = {chips}, source = "test", verified = false }}']
    path = tmp_path / f"tiny_{len(list(tmp_path.iterdir()))}.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_profile(path)


def dense(name, n_in, n_out, in_shape=None, weight=None):
    w = np.ones((n_out, n_in)) if weight is None else weight
    return float_layer(name, "dense", in_shape or (n_in,), (n_out,), w, np.zeros(n_out))


def conv(name, c_in, c_out, hw, k=3, padding=1, stride=1):
    out = (hw + 2 * padding - k) // stride + 1
    return float_layer(name, "conv", (c_in, hw, hw), (c_out, out, out), np.ones((c_out, c_in, k, k)),
                       np.zeros((c_out, out, out)), stride=(stride, stride), padding=(padding, padding))


def net(*layers):
    return chain(layers[0][0].in_shape, list(layers))


# ---------------------------------------------------------------------------------------------------------
# synapse memory


def nengo_loihi_bits_per_axon(n_weights: int, bits_per_weight: int) -> int:
    """nengo-loihi's SynapseConfig.bits_per_axon (block.py), written out independently."""
    bits = 0
    for i in range(0, n_weights, 64):
        n = min(n_weights - i, 64)
        bits += -64 * (-(n * bits_per_weight + 4 + 6) // 64)
    return bits


@pytest.mark.parametrize("bits", [1, 4, 8, 21])
def test_list_bits_matches_nengo_loihi(tmp_path, bits):
    lim = CoreLimits.from_profile(load_profile("loihi1"))
    n = np.arange(0, 300)
    np.testing.assert_array_equal(list_bits(n, bits, lim), [nengo_loihi_bits_per_axon(int(k), bits) for k in n])
    # by hand: one 8-bit synapse = one word; 64 fill 522 bits = 9 words; the 65th opens a new entry
    assert list_bits(1, 8, lim) == 64 and list_bits(64, 8, lim) == 576 and list_bits(65, 8, lim) == 640


def test_tap_patterns_by_hand():
    # 3x3 kernel, padding 1, 4 positions, all 4 outputs: the borders see 2 taps, the inside 3
    assert tap_patterns(4, 3, 1, 1, 1, 0, 4) == {(0, 1): 1, (0, 1, 2): 2, (1, 2): 1}
    # one output row (1): each of inputs 0, 1, 2 reaches it through one tap
    assert tap_patterns(4, 3, 1, 1, 1, 1, 2) == {(0,): 1, (1,): 1, (2,): 1}
    # stride 2, kernel 2: even inputs use tap 0, odd tap 1
    assert tap_patterns(4, 2, 2, 0, 1, 0, 2) == {(0,): 2, (1,): 2}


# ---------------------------------------------------------------------------------------------------------
# core counts by hand


def test_dense_layer_split_by_neurons(tmp_path):
    p = chip(tmp_path)
    r = fit_network(net(dense("fc", 6, 10)), p)
    assert r.fits and r.cores == 3 and r.chips == 1  # 10 neurons, 4 per core: 4 + 4 + 2
    f = r.to_dict()["layers"][0]
    assert f["cores"] == 3 and f["neurons_per_core"] == 4 and f["per_core"]["neurons"] == [4, 4, 2]
    # each core: 6 axons x one list of 4 eight-bit weights (32 + 10 header bits -> one 64-bit word)
    assert f["encoding"] == "dense" and f["per_core"]["memory_bits"] == [384, 384, 384]
    assert f["synapses"] == 60 and f["synapses_per_core"] == 24 and f["memory_bits"] == 1152
    assert f["axons_in_per_core"] == 6 and f["axons_out_per_core"] == 0  # the host reads the last layer
    assert f["limited_by"] == "neurons"


def test_output_axons_count_destination_cores(tmp_path):
    p = chip(tmp_path)
    r = fit_network(net(dense("a", 6, 8), dense("b", 8, 10)), p)
    a, b = r.to_dict()["layers"]
    assert (a["cores"], b["cores"]) == (2, 3) and r.cores == 5
    # every neuron of a reaches all 3 cores of b: 4 neurons x 3 = 12 entries per core of a
    assert a["per_core"]["axons_out"] == [12, 12]
    assert b["axons_in_per_core"] == 8


def test_sparse_weights_choose_the_sparse_encoding(tmp_path):
    p = chip(tmp_path, neurons_per_core=64)
    w = np.zeros((64, 50))
    w[:, 0] = 1.0  # every neuron listens to input 0 only
    r = fit_network(net(dense("fc", 50, 64, weight=w)), p)
    f = r.to_dict()["layers"][0]
    # dense: 1 axon with a list of 64 weights = 576 bits; sparse: 64 x (8 + 4) + 10 -> 832 bits
    assert f["encoding"] == "dense" and f["memory_bits_per_core"] == 576 and f["axons_in_per_core"] == 1
    w[:, 1:] = np.eye(64)[:, :49]  # add a diagonal: 49 more inputs, one synapse each
    f = fit_network(net(dense("fc", 50, 64, weight=w)), p).to_dict()["layers"][0]
    # dense: 50 axons x 576 = 28,800 > 10,000; sparse: 832 + 49 lists of one 12-bit synapse (64 each) = 3,968
    assert f["encoding"] == "sparse" and f["memory_bits_per_core"] == 832 + 49 * 64 and f["cores"] == 1


def test_conv_layer_by_hand(tmp_path):
    p = chip(tmp_path)
    r = fit_network(net(conv("c", 1, 2, 4)), p)
    f = r.to_dict()["layers"][0]
    # 2 channels x 4 x 4 = 32 neurons, 4 per core = one channel x one row of 4: 8 cores
    assert f["cores"] == 8 and f["split"] == "1 channel x 1 row of 4 per core" and f["encoding"] == "conv"
    # an inner row band: 3 input rows (one tap each) x 3 column patterns (2, 3, 2 taps) = 9 shared weight
    # sets of 2 or 3 twelve-bit synapses, one 64-bit word each; 12 input pixels
    assert f["memory_bits_per_core"] == 9 * 64 and f["synapses_per_core"] == 3 * (2 + 3 + 2)
    assert f["axons_in_per_core"] == 12
    # the top band sees only input rows 0 and 1
    assert f["per_core"]["memory_bits"][0] == 6 * 64 and f["per_core"]["axons_in"][0] == 8


def test_bundled_cnn_on_loihi1_core_counts_by_hand(mnist_cnn_net):
    r = fit_network(mnist_cnn_net, load_profile("loihi1"))
    layers = {l["name"]: l for l in r.to_dict()["layers"]}
    # 1,024 compartments per core; conv cores hold whole rows of 28 (if0) and 14 (if1)
    # if0: 8 x 28 rows of 28 = 224 rows, 36 rows per core -> 7 cores; if1: 3,136 neurons -> 4 cores; if2: 1
    assert [layers[n]["cores"] for n in ("if0", "if1", "if2")] == [7, 4, 1]
    assert r.fits and r.cores == 12 and r.chips == 1


def test_bundled_cnn_fits_loihi2_in_three_cores(mnist_cnn_net):
    r = fit_network(mnist_cnn_net, load_profile("loihi2"))
    d = r.to_dict()
    assert d["fits"] and d["cores"] == 3 and d["chips"] == 1 and d["cores_available"] == 120
    if2 = d["layers"][2]
    # the dense layer reads 16 x 14 x 14 = 3,136 neurons (the pooling is folded in): 3,136 axons, each a list
    # of 10 eight-bit weights (90 bits -> 2 words), plus 10 neurons x 64 bits of state
    assert if2["axons_in_per_core"] == 3136 and if2["memory_bits_per_core"] == 3136 * 128 + 10 * 64


# ---------------------------------------------------------------------------------------------------------
# one failing net per limit


def only_problem(r):
    assert not r.fits and len(r.problems) == 1
    p = r.problems[0]
    assert "\n" not in p.one_line() and p.suggestions
    return p


def test_too_many_neurons_in_one_output_row(tmp_path):
    p = chip(tmp_path)
    prob = only_problem(fit_network(net(conv("wide", 1, 1, 8)), p))
    assert (prob.layer, prob.limit, prob.needed, prob.allowed) == ("wide", "neurons", 8, 4)
    assert prob.message == ("layer wide does not fit: one core needs 8 neurons even at 1 channel x 1 row of 8 per "
                            "core; the limit is 4 neurons per core (core.neurons_per_core), exceeded by 4 (2x)")


def test_synaptic_memory_and_the_weight_bits_that_would_fit(tmp_path):
    p = chip(tmp_path, synaptic_memory_bits=200)
    # a dense layer reading a 16-channel pixel: population encoding, one list of 16 synapses per pixel,
    # 16 x (8 + 4) + 10 = 202 bits -> 256 > 200; at 7 bits 186 -> 192 fits
    r = fit_network(net(dense("fc", 16, 1, in_shape=(16, 1, 1))), p)
    prob = only_problem(r)
    assert (prob.limit, prob.needed, prob.allowed, prob.exceeded_by) == ("memory", 256, 200, 56)
    assert "layer fc does not fit: one core needs 256 bits of synaptic memory even at 1 neuron per core " \
           "(population encoding, 8-bit weights); the limit is 200 synaptic memory per core " \
           "(core.synaptic_memory_bits), exceeded by 56" in prob.message
    assert any("7-bit weights fit" in s and "--weight-bits fc=7" in s for s in prob.suggestions)
    assert fit_network(net(dense("fc", 16, 1, in_shape=(16, 1, 1))), p, weight_bits=7).fits


def test_too_many_input_axons(tmp_path):
    p = chip(tmp_path)
    prob = only_problem(fit_network(net(dense("fc", 200, 2)), p))
    assert (prob.layer, prob.limit, prob.needed, prob.allowed) == ("fc", "axons_in", 200, 100)
    assert prob.message.startswith("layer fc does not fit: one core must listen to 200 input axons even at 1 neuron "
                                   "per core (dense encoding); the limit is 100 input axons per core (fan-in) "
                                   "(core.axons_in), exceeded by 100")
    assert any("fewer inputs into fc" in s for s in prob.suggestions)
    # zero weights need no axon: with half the inputs silent it fits
    w = np.ones((2, 200))
    w[:, ::2] = 0
    assert fit_network(net(dense("fc", 200, 2, weight=w)), p).fits


def test_too_many_output_axons(tmp_path):
    p = chip(tmp_path, neurons_per_core=1, axons_out=10, cores_per_chip=64)
    # b needs 16 cores (one neuron each), all listening to both neurons of a: 16 entries per core of a
    prob = only_problem(fit_network(net(dense("a", 1, 2), dense("b", 2, 16)), p))
    assert (prob.layer, prob.limit, prob.needed, prob.allowed) == ("a", "axons_out", 16, 10)
    assert prob.message.startswith("layer a does not fit: one core must send 16 output axons into layer b even at "
                                   "1 neuron per core; the limit is 10 output axons per core (fan-out) "
                                   "(core.axons_out), exceeded by 6")
    assert any("b takes 16 cores" in s for s in prob.suggestions)


def test_too_many_cores_for_the_board(tmp_path):
    p = chip(tmp_path, cores_per_chip=8, chips=2)
    r = fit_network(net(dense("fc", 4, 100)), p)  # 25 cores of 4 neurons on a 2 x 8-core board
    prob = only_problem(r)
    assert (r.cores, r.chips) == (25, 4)
    assert (prob.layer, prob.limit, prob.needed, prob.allowed) == (None, "chips", 4, 2)
    assert prob.message == ("the network needs 25 cores on 4 chips; tiny has 2 chips x 8 cores "
                            "(board.chips_per_board [UNVERIFIED], chip.cores_per_chip), exceeded by 9 cores; the "
                            "largest layer is fc (25 cores, 4 neurons per core, limited by neurons per core)")
    assert prob.suggestions[0].startswith("a bigger board (at least 4 chips")


def test_weight_bits_of_a_quantized_net_are_its_own(digits_cnn_net, digits, profile):
    from quantize import quantize

    q, _ = quantize(digits_cnn_net, profile, digits.x_train[:50], weight_bits={"if2": 3})
    assert [l["weight_bits"] for l in fit_network(q, profile).to_dict()["layers"]] == [8, 8, 3]
    assert [l["weight_bits"] for l in fit_network(digits_cnn_net, profile, {"if1": 5}).to_dict()["layers"]] == [8, 5, 8]
    with pytest.raises(ValueError, match="quantized and its weight bits are fixed"):
        fit_network(q, profile, 4)
    with pytest.raises(ValueError, match="weight bits name layer 'nope'"):
        fit_network(digits_cnn_net, profile, {"nope": 4})
    with pytest.raises(ValueError, match="weight bits must be in 1..8"):
        fit_network(digits_cnn_net, profile, 9)


def test_fewer_weight_bits_never_cost_more_memory(digits_cnn_net, profile):
    mem = [fit_network(digits_cnn_net, profile, b).to_dict()["layers"] for b in (8, 4, 1)]
    for a, b in zip(mem, mem[1:]):
        assert all(x["memory_bits"] >= y["memory_bits"] for x, y in zip(a, b))


# ---------------------------------------------------------------------------------------------------------
# the two example networks


@pytest.fixture(scope="module")
def mnist_cnn_net():
    from neurokit.convert import convert
    from neurokit.data import load_dataset
    from neurokit.io import load_torch_model
    from neurokit.lower import from_nir

    model = load_torch_model("examples/mnist_cnn/mnist_cnn.pt", "examples/mnist_cnn/train.py:make_model")
    return from_nir(convert(model, load_dataset("mnist").x_train[:64]))


@pytest.fixture(scope="module")
def vgg_net():
    import importlib.util

    from neurokit.convert import convert
    from neurokit.lower import from_nir

    spec = importlib.util.spec_from_file_location("vgg_cifar", "examples/vgg_cifar/model.py")
    vgg = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vgg)
    return from_nir(convert(vgg.make_model(), vgg.random_cifar(16)["x_train"]))


def test_vgg_cifar_on_loihi2_fails_on_fan_out_and_says_why(vgg_net):
    r = fit_network(vgg_net, load_profile("loihi2"))
    prob = only_problem(r)
    # if4's 256 channels at 8 bits need a core each (its kernel copies fill the memory), so every neuron of
    # if3 must reach 256 cores: 16 pixels x 256 cores x 2 slots = 8,192 output-axon entries per core
    assert (prob.layer, prob.limit, prob.needed, prob.allowed) == ("if3", "axons_out", 8192, 4096)
    assert "core.axons_out [UNVERIFIED]" in prob.message
    assert any("fewer weight bits in if4" in s for s in prob.suggestions)
    layers = {l["name"]: l for l in r.to_dict()["layers"]}
    assert layers["if4"]["cores"] == 256 and layers["if4"]["limited_by"] == "memory"


def test_vgg_cifar_at_six_bits_needs_five_chips_and_fits_kapoho_point(vgg_net):
    one_chip = fit_network(vgg_net, load_profile("loihi2"), weight_bits=6)
    prob = only_problem(one_chip)
    assert prob.limit == "chips" and one_chip.chips == 5
    r = fit_network(vgg_net, load_profile("kapoho_point"), weight_bits=6)
    assert r.fits and r.chips == 5 and r.cores == one_chip.cores
    for l in r.to_dict()["layers"]:
        assert l["neurons_per_core"] <= 8192 and l["memory_bits_per_core"] <= 1048576
        assert l["axons_in_per_core"] <= 4096 and l["axons_out_per_core"] <= 4096


# ---------------------------------------------------------------------------------------------------------
# the command line


def _run(argv, capsys):
    from neurokit.cli import main

    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_fit_table_on_the_bundled_cnn(capsys):
    rc, out, err = _run(["fit", "examples/mnist_cnn/mnist_cnn.pt", "--arch", "examples/mnist_cnn/train.py:make_model", "--calibration", 32], capsys)
    assert rc == 0 and err == ""
    assert "fits on loihi2 (3 of 120 cores, 1 of 1 chip)" in out
    for header in ("neurons/core", "synapses/core", "memory bits/core (used / limit)", "axons in", "axons out"):
        assert header in out
    assert "409,920 / 1,048,576" in out and "core.axons_in = 4096  [UNVERIFIED]" in out


def test_cli_fit_json_of_a_quantized_file(tmp_path, digits_cnn_net, digits, profile, capsys):
    from quantize import quantize, save_quantized

    q, _ = quantize(digits_cnn_net, profile, digits.x_train[:50], weight_bits=4)
    path = tmp_path / "q.nir"
    save_quantized(q, path)
    rc, out, _ = _run(["fit", path, "--json", "--profile", "loihi1"], capsys)
    r = json.loads(out)
    assert rc == 0 and r["fits"] is True and r["profile"] == "loihi1"
    assert {"fits", "cores", "chips", "layers"} <= set(r)
    for l in r["layers"]:
        assert {"name", "cores", "neurons", "synapses", "memory_bits"} <= set(l) and l["weight_bits"] == 4


def test_cli_fit_that_does_not_fit_exits_1_with_one_line(tmp_path, capsys):
    from neurokit.io import write_nir

    graph = _graph_of(net(dense("fc", 200, 2)))
    path = tmp_path / "wide.nir"
    write_nir(graph, path)
    p = chip(tmp_path)
    rc, out, err = _run(["fit", path, "--profile", p.path, "--json"], capsys)
    assert rc == 1 and json.loads(out)["fits"] is False
    assert err.count("\n") == 1 and err.startswith("neurokit: error: layer fc does not fit: one core must listen "
                                                   "to 200 input axons")
    assert "try: fewer inputs into fc" in err
    rc, out, err = _run(["fit", path, "--profile", p.path], capsys)
    assert rc == 1 and "does NOT fit on tiny" in out and "Problems" in out


def _graph_of(spiking_net):
    """A float NIR graph for a chain Network of dense layers (Affine -> IF)."""
    import nir

    nodes, edges, prev = {"input": nir.Input(input_type=np.array(spiking_net.input_shape))}, [], "input"
    for p in spiking_net.populations:
        (q,) = spiking_net.incoming(p.name)
        nodes[f"{p.name}_syn"] = nir.Affine(weight=q.weight, bias=p.neuron.bias)
        nodes[p.name] = nir.IF(r=np.ones(p.shape), v_threshold=np.ones(p.shape), v_reset=np.zeros(p.shape))
        edges += [(prev, f"{p.name}_syn"), (f"{p.name}_syn", p.name)]
        prev = p.name
    nodes["output"] = nir.Output(output_type=np.array(spiking_net.output_population.shape))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges)


@pytest.mark.parametrize("argv, expect", [
    (["fit", "examples/mnist_cnn/mnist_cnn.pt", "--arch", "examples/mnist_cnn/train.py:make_model", "--profile", "loihi9"], "unknown hardware profile 'loihi9'"),
    (["fit", "nowhere.nir"], "nowhere.nir: file not found"),
    (["fit", "examples/mnist_cnn/mnist_cnn.pt", "--arch", "examples/mnist_cnn/train.py:make_model", "--data", "digits"], "does not fit the model"),
    (["fit", "examples/mnist_cnn/mnist_cnn.pt", "--arch", "examples/mnist_cnn/train.py:make_model", "--weight-bits", "if9=3"], "weight bits name layer 'if9'"),
])
def test_cli_fit_bad_input_exits_2(argv, expect, capsys):
    rc, out, err = _run(argv, capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1 and err.startswith("neurokit: error:") and expect in err


def test_cli_weight_bits_syntax():
    from neurokit.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["fit", "m.nir", "--weight-bits", "4"]).weight_bits == 4
    assert parse(["fit", "m.nir", "--weight-bits", "if0=6, if2=4"]).weight_bits == {"if0": 6, "if2": 4}
    with pytest.raises(SystemExit):
        parse(["fit", "m.nir", "--weight-bits", "if0:6"])
