"""lava-dl's PilotNet networks, read from the files lava-dl 0.6 ships with their ground truth (its installed
`tests` package: tests/lava/lib/dl/netx/gts/pilotnet_lif and pilotnet_sdnn), run by neurokit's engine and
compared with that ground truth value for value.

PilotNet SNN (pilotnet_lif/network.net): netx's Input block is a layer of LIF neurons whose bias is the
image (lava-dl's test and benchmark set in_layer.neuron.bias_mant = image); then 5 conv and 4 dense LIF
layers. The files hold every layer's spikes, u and v for 24 steps of one image (image.npy, Lava layout
(W, H, C)). Every layer restarts every 17 steps, layer i (0 = the Input block) at steps i + 1, i + 18
(1-based): what netx.hdf5.Network(reset_interval=17) does (reset_offset 0), and what neurokit's pipelined
windows of T = 17 do, the population at depth d (the Input block at depth 1) running sample k's window
step t at the files' index (d - 1) + 17 k + t. Lava 0.10's own fixed_pt run of the file with those
arguments gives the same values (benchmarks/pilotnet_energy.py --lava records it).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from neurokit.backends import get_backend
from neurokit.netx import INPUT_BIAS_KEY, bias_input_projection, read_netx
from neurokit.network import depths


def _gts() -> Path:
    """lava-dl 0.6's installed tests package holds PilotNet with its ground truth. The test environment has
    lava-dl (make setup): missing files fail the tests, they do not skip them."""
    spec = importlib.util.find_spec("lava")
    assert spec is not None and spec.submodule_search_locations, "Lava is not installed: run make setup"
    return Path(list(spec.submodule_search_locations)[0]).parent / "tests/lava/lib/dl/netx/gts"


GTS = _gts()


def needs_gts(test):
    """The test, failing in one line when lava-dl's PilotNet files are not where lava-dl 0.6 installs them."""
    import functools

    @functools.wraps(test)
    def checked(*args, **kwargs):
        assert (GTS / "pilotnet_lif/network.net").exists(), f"{GTS}: lava-dl 0.6's PilotNet ground truth is missing"
        return test(*args, **kwargs)

    return checked
# the files' names for the populations, in network order (the Input block, conv 0..4, dense 0..3)
LIF_NAMES = ["input"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(4)]
WINDOW = 17  # the ground truth's reset interval (see the module docstring)


def lif_image() -> np.ndarray:
    """The ground truth's image as one neurokit sample: (1, C, H, W), bias mantissas of the Input block."""
    return np.load(GTS / "pilotnet_lif/image.npy").transpose(2, 1, 0)[None].astype(np.float32)


def lava_layout(a: np.ndarray) -> np.ndarray:
    return a.transpose(2, 1, 0) if a.ndim == 3 else a


@needs_gts
def test_pilotnet_snn_reads_with_its_bias_driven_input_layer():
    q = read_netx(GTS / "pilotnet_lif/network.net")
    assert [p.shape for p in q.populations] == [(3, 66, 200), (24, 32, 99), (36, 15, 49), (48, 7, 24), (64, 4, 22),
                                                (64, 2, 20), (100,), (50,), (10,), (1,)]
    first = q.populations[0]
    assert q.metadata[INPUT_BIAS_KEY]["population"] == first.name
    assert q.metadata[INPUT_BIAS_KEY]["transform"] == {"weight": 40.0, "bias": 36.0}  # lava-dl's pixel transform
    assert (first.neuron.vth, first.neuron.du, first.neuron.dv, first.neuron.bias_exp) == (25, 4095, 1024, 6)
    assert not np.any(first.neuron.bias_mant)  # netx gives the Input block no bias: the sample is its bias
    assert bias_input_projection(q) == q.incoming(first.name)[0].name
    assert (q.input_bits, q.input_signed, q.input_scale) == (13, True, 1.0)  # LIF's 13-bit bias mantissa
    assert q.metadata["windows"] == "pipelined" and q.metadata["input_encoding"] == "current"
    assert [depths(q)[p.name] for p in q.populations] == list(range(1, 11))
    # the dense layers: netx re-derives the weight format (bits, exponent) from the integers
    assert [(p.weight_bits, p.weight_exp) for p in q.projections[6:]] == [(3, -5), (4, -4), (5, -3), (6, -2)]


@needs_gts
def test_engine_reproduces_lava_dl_pilotnet_snn_ground_truth():
    """Every spike of every layer (the Input block's too) and every u and v of conv 0 .. fc 2 at every step
    the files hold from each layer's first window on: two windows of the image (T = 17), 24 steps. Before
    its first window a layer at depth d > 1 ran d - 1 steps on its bias alone from the run's start: not a
    window, so not compared. The files store v = 128 for a neuron in the step it spiked; Lava's LIF (and
    the engine) hold 0 there, its reset value (Lava 0.10's fixed_pt run of the file gives 0 as well)."""
    q = read_netx(GTS / "pilotnet_lif/network.net")
    x = lif_image()
    records = get_backend("engine", device="cpu").record(q, np.concatenate([x, x]), WINDOW)
    d = depths(q)
    compared = 0
    for name, rec, pop in zip(LIF_NAMES, records, q.populations):
        if name == "fc-3":
            continue  # its files come from another run: test_the_output_layer_files_come_from_another_run
        gs = np.load(GTS / f"pilotnet_lif/{'input' if name == 'input' else name}.npy")
        gu, gv = ((np.load(GTS / f"pilotnet_lif/{name}-{k}.npy") for k in "uv") if name != "input" else (None, None))
        first = d[pop.name] - 1
        for g in range(first, gs.shape[-1]):
            k, t = divmod(g - first, WINDOW)
            spikes = lava_layout(rec.spikes[k, t])
            np.testing.assert_array_equal(spikes, gs[..., g] != 0, err_msg=f"{name} spikes, index {g}")
            compared += spikes.size
            if gu is None:
                continue
            np.testing.assert_array_equal(lava_layout(rec.u[k, t]), gu[..., g], err_msg=f"{name} u, index {g}")
            v, fired = lava_layout(rec.v[k, t]), gs[..., g]
            np.testing.assert_array_equal(v[~fired], gv[..., g][~fired], err_msg=f"{name} v, index {g}")
            assert np.all(v[fired] == 0) and np.all(gv[..., g][fired] == 128)
            compared += 2 * v.size
    assert compared > 8_900_000  # values compared


@needs_gts
def test_the_output_layer_files_come_from_another_run():
    """fc-3's files (25 steps) do not follow from fc-2's recorded spikes: in Lava's Dense a spike reaches the
    next layer's u one step later, u[t] = 64 W . s[t - 1] (iDecay 4096 keeps nothing of u), which is what
    the engine computes; the files' u[11] is 64 x the weights of fc-2's spikes at indices 6 and 7 together,
    and u[8] is 0 though fc-2 spiked at index 7. Lava 0.10's fixed_pt run of the file (reset interval 16
    or 17) does not give them either, so they are not compared."""
    from neurokit.arithmetic import lava_dense_weights

    q = read_netx(GTS / "pilotnet_lif/network.net")
    proj = q.projections[-1]
    w = (lava_dense_weights(proj.weight, proj.sign_mode, proj.weight_bits).reshape(-1) >> -proj.weight_exp)
    s = np.load(GTS / "pilotnet_lif/fc-2.npy")
    u = np.load(GTS / "pilotnet_lif/fc-3-u.npy").reshape(-1)
    assert np.nonzero(s[:, 6])[0].tolist() == [0, 1, 2] and np.nonzero(s[:, 7])[0].tolist() == [5]
    assert u[7] == 64 * w @ s[:, 6] and u[8] == 0 != 64 * w @ s[:, 7]
    assert u[11] == 64 * w @ (s[:, 6] | s[:, 7]) != 64 * w @ s[:, 10]
    # the engine's fc-3 follows fc-2 one step later, as Lava's Dense does (its window starts one step after
    # fc-2's: window step t of both)
    rec = get_backend("engine", device="cpu").record(q, lif_image(), WINDOW)
    fc2, fc3 = rec[-2].spikes[0].reshape(WINDOW, -1), rec[-1].u[0].reshape(WINDOW, -1)
    np.testing.assert_array_equal(fc3[:, 0], 64 * (fc2.astype(np.int64) @ w))


@needs_gts
def test_pilotnet_snn_energy_counts_no_messages_for_the_bias_input():
    """On the chip the image is the Input block's bias: no messages, no synaptic operations; the Input block's
    spikes into conv 0 are counted like any layer's."""
    from neurokit.energy import op_counts
    from neurokit.trace import synops_per_projection

    q = read_netx(GTS / "pilotnet_lif/network.net")
    trace = get_backend("engine", device="cpu").run(q, lif_image(), 16)
    synops, ops = synops_per_projection(q, trace), op_counts(q, trace)
    bias = bias_input_projection(q)
    assert synops[bias] == 0 and ops[bias]["messages"] == 0 and ops[bias]["effective_ops"] == 0
    conv0 = q.projections[1]
    assert ops[conv0.name]["messages"] == trace.layer_spikes[0, 0] > 0 and synops[conv0.name] > 0


def lif_file(path, seed: int = 0) -> None:
    """A small network in PilotNet SNN's layout, as lava-dl's export writes it: a LOIHI Input block
    (vThMant 25, iDecay 4096, vDecay 1024, the pixel transform beside it), a conv, a flatten and a dense
    LOIHI layer with integer weights and biases."""
    import h5py

    rng = np.random.default_rng(seed)

    def group(parent, key, kind, **fields):
        g = parent.create_group(key)
        g.create_dataset("type", (1,), "S10", [kind.encode()])
        for k, v in fields.items():
            g.create_dataset(k, data=v)
        return g

    def neuron(g):
        n = g.create_group("neuron")
        n.create_dataset("type", data=np.bytes_("LOIHI"))
        for k, v in dict(iDecay=4096, vDecay=1024, vThMant=25, refDelay=1, wgtExp=0).items():
            n.create_dataset(k, data=v)

    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        neuron(group(layer, "0", "input", shape=np.array([2, 6, 8]), weight=40.0, bias=36.0))
        neuron(group(layer, "1", "conv", shape=np.array([4, 2, 3]),
                     weight=rng.integers(-20, 21, (4, 2, 3, 3)).astype(np.float32),
                     bias=rng.integers(-10, 30, 4).astype(np.float32), stride=np.array([2, 2]),
                     padding=np.array([0, 0]), dilation=np.array([1, 1]), groups=1))
        group(layer, "2", "flatten", shape=np.array([24, 1, 1]))
        neuron(group(layer, "3", "dense", shape=np.array([5, 1, 1]),
                     weight=rng.integers(-24, 25, (5, 24)).astype(np.float32),
                     bias=rng.integers(-4, 12, 5).astype(np.float32)))


def test_lava_dl_runs_a_bias_driven_input_file_equal_to_the_engine(tmp_path):
    """lava-dl's netx.hdf5.Network in Lava fixed_pt runs a file of PilotNet SNN's layout (its Input block fed
    the sample on u through the one-to-one projection, as lava-dl's PilotNet notebook feeds it graded input),
    equal to the engine on every spike, u and v of every layer; neurokit writes the file back in the same
    layout and reads back the same network."""
    import h5py

    from neurokit.netx import export_netx
    from neurokit.verify import verify_netx

    path = tmp_path / "lif.net"
    lif_file(path)
    q = read_netx(path)
    assert [p.shape for p in q.populations] == [(2, 6, 8), (4, 2, 3), (5,)]
    x = np.random.default_rng(1).integers(-4, 77, (3, 2, 6, 8)).astype(np.float32)  # bias mantissas
    result = verify_netx(q, str(path), x, 8)
    assert result["match"], result["first_mismatch"]
    assert all(layer["spikes"] > 0 for layer in result["layers"])
    out = tmp_path / "back.net"
    summary = export_netx(q, out)
    assert summary["netx_network_args"] == {"reset_offset": 1} and summary["layers"] == 3
    with h5py.File(out) as f:
        first = f["layer/0"]
        assert first["type"][0] == b"input" and first["neuron/type"][0] == b"CUBA" and int(first["weight"][()]) == 40
    back = read_netx(out)
    assert [p.name for p in back.populations] == [p.name for p in q.populations]
    assert verify_netx(back, str(out), x[:1], 8)["match"]
    engine = get_backend("engine", device="cpu")
    np.testing.assert_array_equal(engine.run(q, x, 8).layer_spikes, engine.run(back, x, 8).layer_spikes)


@needs_gts
def test_lava_dl_runs_pilotnet_snn_equal_to_the_engine():
    """The whole PilotNet SNN file in lava-dl's netx.hdf5.Network (Lava 0.10 fixed_pt, reset_interval = T =
    16, neurokit's pipelined offsets) against the engine: every spike, u and v of every layer, on the ground
    truth's image and on an all-zero input (what lava-dl's benchmark notebook ran: benchmarks/pilotnet_energy.py)."""
    from neurokit.verify import verify_netx

    q = read_netx(GTS / "pilotnet_lif/network.net")
    x = lif_image()
    result = verify_netx(q, str(GTS / "pilotnet_lif/network.net"), np.concatenate([x, 0 * x]), 16)
    assert result["match"], result["first_mismatch"]
    assert result["values_compared"] > 15_000_000 and result["layers"][1]["spikes"] > 0


# ---- PilotNet SDNN ----------------------------------------------------------------------------------------

def sdnn_frame(name: str = "input.npy") -> np.ndarray:
    """The SDNN ground truth's frame (Lava layout (W, H, C, 1)) as one neurokit sample (1, C, H, W)."""
    return np.load(GTS / f"pilotnet_sdnn/{name}")[..., 0].transpose(2, 1, 0)[None].astype(np.float32)


@needs_gts
def test_pilotnet_sdnn_reads_with_its_sigma_output():
    q = read_netx(GTS / "pilotnet_sdnn/network.net")
    assert [p.shape for p in q.populations] == [(24, 16, 49), (36, 7, 24), (64, 4, 22), (64, 2, 20), (100,), (50,),
                                                (10,), (1,)]
    assert [p.neuron.relu for p in q.populations] == [True] * 7 + [False]  # netx's Sigma: act = sigma
    assert [p.neuron.vth for p in q.populations] == [13, 0, 0, 0, 23, 1, 6, 0]
    assert (q.input_bits, q.input_signed) == (12, True)  # the frames span -52..64
    assert q.metadata["input_encoding"] == "delta"


@needs_gts
def test_read_pilotnet_networks_keep_their_neurons_in_neurokits_files(tmp_path):
    """The quantized-network file (NIR) keeps the Sigma output's UNIT activation and the bias-driven Input
    block: the same runs after saving and loading."""
    from quantize import load_quantized, save_quantized

    engine = get_backend("engine", device="cpu")
    for name, x in (("pilotnet_sdnn", sdnn_frame()), ("pilotnet_lif", lif_image())):
        q = read_netx(GTS / f"{name}/network.net")
        save_quantized(q, tmp_path / f"{name}.q.nir")
        back = load_quantized(tmp_path / f"{name}.q.nir")
        assert back.metadata.get(INPUT_BIAS_KEY) == q.metadata.get(INPUT_BIAS_KEY)
        assert [getattr(p.neuron, "relu", None) for p in back.populations] == \
               [getattr(p.neuron, "relu", None) for p in q.populations]
        a, b = engine.run(q, x, 12), engine.run(back, x, 12)
        np.testing.assert_array_equal(a.layer_spikes, b.layer_spikes)
        if a.output_scores is not None:
            np.testing.assert_array_equal(a.output_scores, b.output_scores)


@needs_gts
def test_engine_reproduces_lava_dl_pilotnet_sdnn_ground_truth():
    """lava-dl's test_pilotnet_sdnn: its frame held 9 steps, the output Sigma's value at every step
    (output.npy); and its Loihi test's sigma of conv 1 and 2 at 20 steps (sigma1.npy, sigma2.npy, driven by
    act0.npy: the input Delta's messages, the frame << 6 at the first step, which is what the engine sends)."""
    q = read_netx(GTS / "pilotnet_sdnn/network.net")
    x = sdnn_frame()
    act0 = np.load(GTS / "pilotnet_sdnn/act0.npy")
    assert np.array_equal(act0[..., 0], np.load(GTS / "pilotnet_sdnn/input.npy")[..., 0] << 6) and not act0[..., 1:].any()
    records = get_backend("engine", device="cpu").record(q, x, 20)
    gt = np.load(GTS / "pilotnet_sdnn/output.npy").reshape(-1)
    np.testing.assert_array_equal(records[-1].v[0, :len(gt)].reshape(-1), gt)
    for i, name in ((0, "sigma1.npy"), (1, "sigma2.npy")):
        g = np.load(GTS / f"pilotnet_sdnn/{name}")
        np.testing.assert_array_equal(records[i].u[0].transpose(0, 3, 2, 1), np.moveaxis(g, -1, 0), err_msg=name)


@needs_gts
def test_engine_reproduces_lava_dl_square_pilotnet_sdnn_ground_truth():
    """lava-dl's test_pilotnet_sdnn_square: the 33 x 33 crop of the frame through square_network.net, the
    sigma of its four conv layers at 20 steps (sigma1..4_square.npy)."""
    q = read_netx(GTS / "pilotnet_sdnn/square_network.net")
    x = np.load(GTS / "pilotnet_sdnn/input.npy")[:33, :33, :, 0].transpose(2, 1, 0)[None].astype(np.float32)
    records = get_backend("engine", device="cpu").record(q, x, 20)
    for i in range(4):
        g = np.load(GTS / f"pilotnet_sdnn/sigma{i + 1}_square.npy")
        np.testing.assert_array_equal(records[i].u[0].transpose(0, 3, 2, 1), np.moveaxis(g, -1, 0),
                                      err_msg=f"sigma{i + 1}_square")


@needs_gts
def test_lava_dl_runs_pilotnet_sdnn_equal_to_the_engine():
    """The PilotNet SDNN file in netx.hdf5.Network (Lava 0.10 fixed_pt) against the engine on two frames of one
    stream: every message, sigma and act, and the output read for each frame (netx's Sigma output sends
    sigma; neurokit's UNIT SigmaDelta its change, which the comparison derives from Lava's sigma)."""
    from neurokit.verify import verify_netx

    q = read_netx(GTS / "pilotnet_sdnn/network.net")
    x = sdnn_frame()
    result = verify_netx(q, str(GTS / "pilotnet_sdnn/network.net"), np.concatenate([x, np.roll(x, 3, axis=3)]), 10)
    assert result["match"] and result["readout_equal"], result["first_mismatch"]
