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


def _gts() -> Path | None:
    spec = importlib.util.find_spec("lava")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]).parent / "tests/lava/lib/dl/netx/gts"
    return folder if (folder / "pilotnet_lif/network.net").exists() else None


GTS = _gts()
needs_gts = pytest.mark.skipif(GTS is None, reason="lava-dl 0.6's installed tests package (PilotNet ground truth) "
                                                   "is not here")
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
