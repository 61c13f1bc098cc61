"""NIR import under the `nir` dialect (NIR's ODEs, forward Euler at --dt): every primitive the importer reads,
against an independent float64 simulation of the NIR equations written here; the quantization report's
decay errors; `neurokit import`; bad input (one line naming the node, exit 2, nothing written)."""
from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from neurokit.backends.engine import Engine
from neurokit.dialects import DIALECTS, rules_table
from neurokit.errors import UnsupportedModelError
from neurokit.lower import from_nir, to_nir

DT = 1e-3
N, T = 4, 24


# ---- an independent reading of NIR's equations (framework time: every edge delivers in the same step, a
# recurrent edge the previous step's output, a Delay node d / dt steps later) ---------------------------------

def nir_oracle(graph: nir.NIRGraph, x: np.ndarray, dt: float) -> dict:
    nodes, edges = _flat(graph)
    preds = {k: [a for a, b in edges if b == k] for k in nodes}
    succ = {k: [b for a, b in edges if a == k] for k in nodes}
    order, seen = [], set()

    def visit(k):  # reverse post-order from the input: an edge back to an open node is the recurrent one
        seen.add(k)
        for s in succ[k]:
            if s not in seen:
                visit(s)
        order.append(k)

    visit(next(k for k, v in nodes.items() if isinstance(v, nir.Input)))
    order.reverse()
    pos = {k: i for i, k in enumerate(order)}
    out, prev, state, hist, rec = {}, {}, {}, {}, {}
    for t in range(x.shape[1]):
        for k in order:
            node = nodes[k]
            if isinstance(node, nir.Input):
                out[k] = x[:, t].astype(np.float64)
                continue
            ins = [out[p] if pos[p] < pos[k] else prev.get(p) for p in preds[k]]
            ins = [i for i in ins if i is not None]
            if not ins:
                continue
            i_in = sum(ins)
            st = state.setdefault(k, {})
            if isinstance(node, nir.Affine):
                out[k] = i_in @ np.asarray(node.weight).T + np.asarray(node.bias)
            elif isinstance(node, nir.Linear):
                out[k] = i_in @ np.asarray(node.weight).T
            elif isinstance(node, nir.Conv1d):
                out[k] = torch.nn.functional.conv1d(torch.as_tensor(i_in), torch.as_tensor(np.asarray(node.weight, np.float64)),
                                                    torch.as_tensor(np.asarray(node.bias, np.float64)), stride=int(node.stride),
                                                    padding=int(node.padding)).numpy()
            elif isinstance(node, nir.Flatten):
                out[k] = i_in.reshape(len(i_in), -1)
            elif isinstance(node, nir.Delay):
                steps = int(round(float(np.asarray(node.delay).flat[0]) / dt))
                hist.setdefault(k, []).append(i_in)
                h = hist[k]
                out[k] = h[-1 - steps] if len(h) > steps else np.zeros_like(i_in)
            elif isinstance(node, nir.Output):
                out[k] = i_in
            elif isinstance(node, nir.Threshold):
                out[k] = (i_in > np.asarray(node.threshold)).astype(np.float64)
            else:
                v = st.get("v", np.zeros_like(i_in))
                if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
                    i = st.get("i", np.zeros_like(i_in))
                    i = i + dt / np.asarray(node.tau_syn) * (np.asarray(node.w_in) * i_in - i)
                    st["i"] = i
                    v = v + dt / np.asarray(node.tau_mem) * (np.asarray(node.v_leak) - v + np.asarray(node.r) * i)
                elif isinstance(node, (nir.LIF, nir.LI)):
                    v = v + dt / np.asarray(node.tau) * (np.asarray(node.v_leak) - v + np.asarray(node.r) * i_in)
                elif isinstance(node, (nir.IF, nir.I)):
                    v = v + dt * np.asarray(node.r) * i_in
                if isinstance(node, (nir.LI, nir.CubaLI, nir.I)):
                    out[k] = v
                else:
                    z = v > np.asarray(node.v_threshold)
                    v = np.where(z, 0.0, v)
                    out[k] = z.astype(np.float64)
                st["v"] = v
            rec.setdefault(k, []).append(out[k])
        prev = dict(out)
    return {k: np.stack(v, 1) for k, v in rec.items()}


def _flat(graph, prefix=""):
    nodes, edges, entry, exit_ = {}, [], {}, {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges = _flat(node, f"{prefix}{name}.")
            i = next(k for k, v in node.nodes.items() if isinstance(v, nir.Input))
            o = next(k for k, v in node.nodes.items() if isinstance(v, nir.Output))
            entry[name] = [b for a, b in inner_edges if a == f"{prefix}{name}.{i}"]
            exit_[name] = [a for a, b in inner_edges if b == f"{prefix}{name}.{o}"]
            edges += [(a, b) for a, b in inner_edges if a != f"{prefix}{name}.{i}" and b != f"{prefix}{name}.{o}"]
            nodes.update({k: v for k, v in inner.items() if k not in (f"{prefix}{name}.{i}", f"{prefix}{name}.{o}")})
        else:
            nodes[prefix + name] = node
    for a, b in graph.edges:
        edges += [(p, q) for p in exit_.get(a, [prefix + a]) for q in entry.get(b, [prefix + b])]
    return nodes, edges


def _lif(n, tau=0.01, vth=1.0, leak=0.0):
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, 2.0), v_leak=np.full(n, leak), v_threshold=np.full(n, vth),
                   v_reset=np.zeros(n))


def _graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _x(shape, seed=0, p=0.4):
    return (np.random.default_rng(seed).random((N, T) + tuple(shape)) < p).astype(np.float64)


def _check(graph, x, names, potential=()):
    """The engine's float run equals the oracle: spikes exactly, potentials to float64 rounding."""
    net = from_nir(graph, dialect="nir", dt=DT)
    want = nir_oracle(graph, x, DT)
    recs = {r.name: r for r in Engine("float", device="cpu").record(net, x)}
    for k in names:
        got = recs[k].spikes.reshape(want[k].shape)
        assert want[k].sum() > 0 and np.array_equal(got, want[k] != 0), k
    for k in potential:
        np.testing.assert_allclose(recs[k].v.reshape(want[k].shape), want[k], rtol=1e-9, atol=1e-9)
    return net


def test_lif_cubalif_li_chain_equals_nir_equations():
    rng = np.random.default_rng(1)
    nodes = {"in": nir.Input(input_type=np.array([6])), "a": nir.Affine(weight=rng.normal(0, 4, (8, 6)), bias=rng.normal(0, .5, 8)),
             "lif": _lif(8, leak=0.2), "b": nir.Linear(weight=rng.normal(0, 40, (5, 8))),
             "cuba": nir.CubaLIF(tau_syn=np.full(5, 0.004), tau_mem=np.full(5, 0.008), r=np.full(5, 1.5), v_leak=np.zeros(5),
                                 v_threshold=np.full(5, 0.8), v_reset=np.zeros(5), w_in=np.full(5, 2.0)),
             "c": nir.Linear(weight=rng.normal(0, 2, (3, 5))), "li": nir.LI(tau=np.full(3, 0.02), r=np.ones(3), v_leak=np.zeros(3)),
             "out": nir.Output(output_type=np.array([3]))}
    edges = [("in", "a"), ("a", "lif"), ("lif", "b"), ("b", "cuba"), ("cuba", "c"), ("c", "li"), ("li", "out")]
    net = _check(_graph(nodes, edges), _x((6,)), ["lif", "cuba"], potential=["li"])
    assert net.metadata["readout"] == "potential" and net.metadata["windows"] == "pipelined"
    lif = net.population("lif").neuron
    assert lif.dv == pytest.approx(DT / 0.01) and lif.reset == "zero" and lif.du == 1.0


def test_if_i_threshold_recurrent_nested_graph():
    rng = np.random.default_rng(2)
    inner = _graph({"i": nir.Input(input_type=np.array([6])), "lif": _lif(6), "w_rec": nir.Linear(weight=rng.normal(0, 3, (6, 6))),
                    "o": nir.Output(output_type=np.array([6]))},
                   [("i", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "o")])
    nodes = {"in": nir.Input(input_type=np.array([4])), "a": nir.Linear(weight=rng.normal(0, 30, (6, 4))), "rnn": inner,
             "b": nir.Linear(weight=rng.normal(0, 400, (5, 6))),
             "if": nir.IF(r=np.ones(5), v_threshold=np.ones(5), v_reset=np.zeros(5)),
             "c": nir.Linear(weight=rng.normal(0, 1, (4, 5))), "th": nir.Threshold(threshold=np.full(4, 0.3)),
             "d": nir.Linear(weight=np.ones((2, 4))), "int": nir.I(r=np.full(2, 50.0)),
             "out": nir.Output(output_type=np.array([2]))}
    edges = [("in", "a"), ("a", "rnn"), ("rnn", "b"), ("b", "if"), ("if", "c"), ("c", "th"), ("th", "d"), ("d", "int"),
             ("int", "out")]
    net = _check(_graph(nodes, edges), _x((4,), seed=3), ["rnn.lif", "if", "th"], potential=["int"])
    assert net.back_edges() == {"rnn.w_rec"}


def test_delay_node_and_conv1d():
    rng = np.random.default_rng(4)
    conv = nir.Conv1d(input_shape=10, weight=rng.normal(0, 30, (3, 2, 3)), stride=1, padding=1, dilation=1, groups=1,
                      bias=np.zeros(3))
    nodes = {"in": nir.Input(input_type=np.array([2, 10])), "conv": conv, "lif": _lif((3, 10)),
             "flat": nir.Flatten(input_type={"input": np.array([3, 10])}, start_dim=0, end_dim=-1),
             "a": nir.Linear(weight=rng.normal(0, 20, (4, 30))), "delay": nir.Delay(delay=np.full(4, 3 * DT)),
             "lif2": _lif(4), "out": nir.Output(output_type=np.array([4]))}
    edges = [("in", "conv"), ("conv", "lif"), ("lif", "flat"), ("flat", "a"), ("a", "delay"), ("delay", "lif2"),
             ("lif2", "out")]
    net = _check(_graph(nodes, edges), _x((2, 10), seed=5), ["lif", "lif2"])
    assert net.input_shape == (2, 1, 10) and [q.delay for q in net.projections] == [1, 4]


def test_neurokit_graph_round_trip_keeps_every_rule(tmp_path):
    import interop_nets as nets

    build, kwargs = nets.NETS[("snntorch", "recurrent")]
    graph, x, ref = build()
    net = from_nir(graph, **kwargs)
    nir.write(tmp_path / "g.nir", to_nir(net))
    back = from_nir(nir.read(tmp_path / "g.nir"))
    a, b = (Engine("float", device="cpu").record(n, x) for n in (net, back))
    assert all(np.array_equal(r.spikes, s.spikes) for r, s in zip(a, b))
    assert back.metadata["dialect"]["dialect"] == "snntorch" and back.back_edges() == net.back_edges()


def test_quantization_reports_each_decays_discretization_error(profile):
    from quantize import quantize

    nodes = {"in": nir.Input(input_type=np.array([3])), "a": nir.Linear(weight=np.full((2, 3), 40.0)),
             "cuba": nir.CubaLIF(tau_syn=np.full(2, 0.0123), tau_mem=np.full(2, 0.0377), r=np.ones(2), v_leak=np.zeros(2),
                                 v_threshold=np.ones(2), v_reset=np.zeros(2), w_in=np.ones(2)),
             "out": nir.Output(output_type=np.array([2]))}
    net = from_nir(_graph(nodes, [("in", "a"), ("a", "cuba"), ("cuba", "out")]), dialect="nir", dt=DT)
    x = _x((3,))
    _, report = quantize(net, profile, calibration=x)
    decays = report["layers"][0]["decays"]
    assert decays["u"]["tau_requested_steps"] == pytest.approx(12.3)
    assert decays["v"]["tau_requested_steps"] == pytest.approx(37.7)
    assert decays["u"]["integer"] == round(4096 / 12.3) - 1 and decays["v"]["integer"] == round(4096 / 37.7)
    assert 0 < decays["v"]["relative_error"] < 0.01
    assert 0 <= report["fidelity"]["spike_agreement"] <= 1


def test_every_dialect_reads_the_same_lif_its_own_way():
    node = _lif(1, tau=0.01)
    dv = {}
    for name in DIALECTS:
        net = from_nir(_graph({"in": nir.Input(input_type=np.array([1])), "a": nir.Linear(weight=np.ones((1, 1))),
                               "lif": node, "out": nir.Output(output_type=np.array([1]))},
                              [("in", "a"), ("a", "lif"), ("lif", "out")]), dialect=name, dt=1e-3)
        dv[name] = net.population("lif").neuron.dv
    assert dv["nir"] == pytest.approx(0.1) and dv["sinabs"] == pytest.approx(1 - np.exp(-0.1))
    # Norse writes dt * tau_mem: tau_mem = 0.01 / dt = 10 (s), a decay of dt / tau_mem = 1e-4 per step
    assert dv["norse"] == pytest.approx(1e-4) and dv["snntorch"] == pytest.approx(0.1)
    table = rules_table()
    assert all(f"`{n}`" in table for n in DIALECTS)


# ---- the command ---------------------------------------------------------------------------------------------

def test_import_command_writes_neurokit_graph(tmp_path, capsys):
    import interop_nets as nets
    from neurokit.cli import main

    graph, x, ref = nets.NETS[("snntorch", "recurrent")][0]()
    nir.write(tmp_path / "rnn.nir", graph)
    assert main(["import", str(tmp_path / "rnn.nir"), "--out", str(tmp_path / "nk.nir")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --dialect" in err and not (tmp_path / "nk.nir").exists()
    assert main(["import", str(tmp_path / "rnn.nir"), "--dialect", "snntorch", "--out", str(tmp_path / "nk.nir")]) == 0
    out = capsys.readouterr().out
    assert "read as snnTorch (dialect snntorch" in out and "lif1.lif" in out
    net = from_nir(nir.read(tmp_path / "nk.nir"))
    recs = {r.name: r.spikes for r in Engine("float", device="cpu").record(net, x)}
    assert all(np.array_equal(recs[k] != 0, ref[k] != 0) for k in ref)


# ---- bad input: one line naming the node, exit 2, nothing written -------------------------------------------

def _bad(case: str):
    w = nir.Linear(weight=np.ones((2, 3)))
    lif = _lif(2)
    nodes = {"in": nir.Input(input_type=np.array([3])), "a": w, "lif": lif, "out": nir.Output(output_type=np.array([2]))}
    edges = [("in", "a"), ("a", "lif"), ("lif", "out")]
    if case == "shape":
        nodes["a"] = nir.Linear(weight=np.ones((2, 4)))
    elif case == "missing":
        edges.append(("lif", "ghost"))
    elif case == "tau":
        nodes["lif"] = _lif(2, tau=-0.01)
    elif case == "nan":
        nodes["lif"] = nir.LIF(tau=np.array([0.01, np.nan]), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2),
                               v_reset=np.zeros(2))
    elif case == "dt":
        nodes["lif"] = _lif(2, tau=0.5e-4)  # dt / tau = 20 at dt = 1e-3
    elif case == "no-leak":
        nodes["lif"] = _lif(2, tau=10.0)  # dv = 1e-4: rounds to 0 of 4096
    elif case == "full-decay":
        nodes["lif"] = _lif(2, tau=0.0010001)  # dv = 0.9999: rounds to 4096 of 4096
    return _graph(nodes, edges)


@pytest.mark.parametrize("case, command, fragment", [
    ("shape", "import", "NIR node 'a' expects 4 inputs, gets 3"),
    ("missing", "import", "NIR edge ('lif', 'ghost') names node 'ghost', which is not in the graph"),
    ("tau", "import", "NIR node 'lif' (LIF): tau = -0.01; a time constant must be positive"),
    ("nan", "import", "NIR node 'lif' (LIF): tau holds NaN or Inf"),
    ("dt", "run", "NIR node 'lif' (LIF): dt / tau = 0.001 / 5e-05 = 20 > 1"),
    ("no-leak", "quantize", "population lif: dv = 0.0001 per step (tau = 1e+04 steps) rounds to no leak"),
    ("full-decay", "quantize", "population lif: dv = 0.9999 per step rounds to a full decay"),
    ("unknown", "import", "Izhikevich"),
])
def test_bad_graphs_one_line_exit_2_nothing_written(case, command, fragment, tmp_path, capsys):
    import h5py

    from neurokit.cli import main

    path = tmp_path / "g.nir"
    if case == "unknown":
        nir.write(path, _bad("ok"))
        with h5py.File(path, "r+") as f:  # a primitive this NIR version does not know
            f["node/nodes/lif/type"][()] = b"Izhikevich"
    else:
        nir.write(path, _bad(case))
    np.savez(tmp_path / "d.npz", x_train=_x((3,)), y_train=np.zeros(N, np.int64), x_test=_x((3,)), y_test=np.zeros(N, np.int64))
    out = tmp_path / "out.nir"
    argv = {"import": ["import", str(path), "--out", str(out)],
            "run": ["run", str(path), "--backend", "float", "--out", str(out)],
            "quantize": ["quantize", str(path), "--out", str(out), "--calibration", "4"]}[command]
    if command != "import":
        argv += ["--data", str(tmp_path / "d.npz")]
    rc = main(argv + ["--dialect", "nir", "--dt", str(DT)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("neurokit: error: ") and fragment in err, err
    assert not out.exists()


def test_multi_spike_and_unknown_dialect_are_refused():
    g = _bad("ok")
    with pytest.raises(UnsupportedModelError, match="several spikes per step"):
        from_nir(g, dialect="sinabs", spikes="multi")
    with pytest.raises(UnsupportedModelError, match="--dialect 'brian' is unknown"):
        from_nir(g, dialect="brian")
    with pytest.raises(UnsupportedModelError, match="pass --dt"):
        from_nir(g, dialect="nir")


def test_bundled_snntorch_nets_equal_snntorch_on_the_whole_test_split():
    """examples/snntorch_digits: snnTorch's own output spike counts on all 360 test sequences, recorded when it
    trained them, equal the float engine's, for the feed-forward (stock LIF) and the recurrent (RLeaky) net."""
    from pathlib import Path

    from neurokit.io import read_nir

    here = Path(__file__).resolve().parents[1] / "examples" / "snntorch_digits"
    data, want = np.load(here / "digits_spikes.npz"), np.load(here / "snntorch_counts.npz")
    for name in ("snn", "rsnn"):
        net = from_nir(read_nir(here / f"{name}.nir"), dialect="snntorch", reset="zero")
        trace = Engine("float", device="cpu").run(net, data["x_test"])
        assert np.array_equal(trace.output_counts, want[name]), name
    assert net.population("lif1.lif").neuron.refractory == 1  # RLeaky's zero reset holds v for a step
