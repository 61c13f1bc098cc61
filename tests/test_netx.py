"""lava-dl netx HDF5 out and in (neurokit.netx): lava-dl's own loader (netx.hdf5.Network) runs what neurokit
writes, in Lava fixed_pt, equal to the engine on every message, sigma and act at every step; networks built
with lava-dl's slayer blocks and exported by lava-dl read back into neurokit and run equal to netx; bad files
and networks netx cannot express are refused in one line."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from neurokit.backends import get_backend
from neurokit.cli import main
from neurokit.convert import convert
from neurokit.errors import FileFormatError, UnsupportedModelError
from neurokit.lower import from_nir
from neurokit.netx import NetxExportError, export_netx, read_netx
from neurokit.verify import verify_netx
from quantize import quantize, save_quantized


@pytest.fixture(scope="module")
def sdnn_cnn(digits_cnn, digits, profile):
    net = from_nir(convert(digits_cnn, digits.x_train[:300], method="sdnn"))
    return net, quantize(net, profile, digits.x_train[:300], integer_weights=True)


def test_export_runs_in_netx_equal_to_the_engine(sdnn_cnn, digits, tmp_path):
    net, (q, rep) = sdnn_cnn
    path = tmp_path / "cnn.net"
    summary = export_netx(q, path)
    assert summary["populations"] == [p.name for p in q.populations]
    with h5py.File(path) as f:  # netx's layout: input, conv, ..., flatten, dense
        kinds = [f["layer"][k]["type"][0].decode() for k in sorted(f["layer"], key=int)]
    assert kinds[0] == "input" and kinds[-1] == "dense" and "flatten" in kinds
    result = verify_netx(q, str(path), digits.x_test[:3], 3)
    assert result["match"] and result["readout_equal"] and result["first_mismatch"] is None
    assert result["values_compared"] > 10_000
    # read back: the same network, run by the engine
    back = read_netx(path)
    engine = get_backend("engine")
    a, b = engine.run(q, digits.x_test[:100], 2), engine.run(back, digits.x_test[:100], 2)
    np.testing.assert_array_equal(a.output_scores, b.output_scores)
    np.testing.assert_array_equal(a.layer_spikes, b.layer_spikes)
    # integer weights keep most of the accuracy on this small net; the report says what each layer got
    y = digits.y_test[:300]
    assert engine.run(q, digits.x_test[:300], 1).accuracy(y) >= get_backend("float").run(net, digits.x_test[:300], 1).accuracy(y) - 0.05
    assert rep["integer_weights"] and rep["scale_plan"]["input_bits"] > 2


def slayer_sdnn(path, seed: int = 0):
    """A small SDNN built with lava-dl's own blocks and written by lava-dl's export_hdf5."""
    from lava.lib.dl import slayer

    torch.manual_seed(seed)
    params = {"threshold": 0.0, "tau_grad": 0.5, "scale_grad": 1, "requires_grad": False, "shared_param": True,
              "activation": torch.nn.functional.relu}
    hidden = dict(params, threshold=0.05)
    blocks = torch.nn.ModuleList([
        slayer.block.sigma_delta.Input(params),
        slayer.block.sigma_delta.Conv(hidden, 1, 4, 3, padding=1, stride=2, weight_scale=2),
        slayer.block.sigma_delta.Flatten(),
        slayer.block.sigma_delta.Dense(hidden, 4 * 4 * 4, 10, weight_scale=2),
    ])
    x = torch.rand(2, 1, 8, 8, 4)
    with torch.no_grad():
        for b in blocks:
            x = b(x)
    with h5py.File(path, "w") as f:
        layer = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(layer.create_group(f"{i}"))


def test_lava_dl_exported_sdnn_reads_and_runs_like_netx(digits, tmp_path):
    path = tmp_path / "slayer.net"
    slayer_sdnn(path)
    q = read_netx(path)
    assert [p.model.name for p in q.populations] == ["sigma_delta", "sigma_delta"]
    assert q.input_shape == (1, 8, 8) and q.metadata["source_format"] == "netx"
    x = np.random.default_rng(0).random((3, 1, 8, 8))
    result = verify_netx(q, str(path), x, 4)
    assert result["match"], result["first_mismatch"]


def test_export_refuses_what_netx_cannot_express(digits_resnet, digits_mlp_net, digits, profile, tmp_path):
    resnet = quantize(from_nir(convert(digits_resnet, digits.x_train[:100], method="sdnn")), profile,
                      digits.x_train[:100])[0]
    with pytest.raises(NetxExportError, match="skip connection"):  # the stem feeds the block and its skip
        export_netx(resnet, tmp_path / "r.net")
    cuba = quantize(digits_mlp_net, profile, digits.x_train[:100])[0]
    with pytest.raises(NetxExportError):
        export_netx(cuba, tmp_path / "c.net")
    assert not (tmp_path / "r.net").exists() and not (tmp_path / "c.net").exists()


def test_bad_netx_files_are_refused_in_one_line(sdnn_cnn, tmp_path):
    _, (q, _) = sdnn_cnn
    good = tmp_path / "good.net"
    export_netx(q, good)
    truncated = tmp_path / "truncated.net"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(FileFormatError, match="not a readable HDF5 file"):
        read_netx(truncated)
    newer = tmp_path / "newer.net"
    newer.write_bytes(good.read_bytes())
    with h5py.File(newer, "a") as f:
        del f["layer/1/type"]
        f["layer/1"].create_dataset("type", (1,), "S10", [b"attention"])
    with pytest.raises(UnsupportedModelError, match="'attention' \\(a newer lava-dl\\?\\)"):
        read_netx(newer)
    wide = tmp_path / "wide.net"
    wide.write_bytes(good.read_bytes())
    with h5py.File(wide, "a") as f:
        last = str(max(int(k) for k in f["layer"]))
        w = f[f"layer/{last}/weight"][()]
        w[0, 0] = 1000
        del f[f"layer/{last}/weight"]
        f[f"layer/{last}"].create_dataset("weight", data=w)
    with pytest.raises(UnsupportedModelError, match="beyond 8 bits"):
        read_netx(wide)
    # the CLI: one line, exit 2, nothing written
    for bad in (truncated, newer, wide):
        out = tmp_path / f"{bad.stem}.json"
        assert main(["run", str(bad), "--data", "digits", "--samples", "2", "--steps", "2", "--out", str(out),
                     "--quiet"]) == 2
        assert not out.exists()


def test_cli_export_verify_and_run_a_netx_file(sdnn_cnn, tmp_path, capsys):
    _, (q, _) = sdnn_cnn
    qpath, npath = tmp_path / "m.q.nir", tmp_path / "m.net"
    save_quantized(q, qpath)
    assert main(["export", str(qpath), "--format", "netx", "--out", str(npath)]) == 0
    assert npath.exists()
    assert main(["verify", str(npath), "--data", "digits", "--samples", "2", "--steps", "3"]) == 0
    assert "netx.hdf5.Network" in capsys.readouterr().out
    assert main(["run", str(npath), "--data", "digits", "--samples", "20", "--steps", "2", "--json", "--quiet"]) == 0


def test_stock_lif_network_exports_to_netx_cuba_with_pipelined_offsets(digits_cnn, digits, profile, tmp_path):
    """A `lif` conversion (Lava's LIFReset, pipelined windows) quantized --netx: netx's CUBA layers with
    reset_interval = T and reset_offset 1 (layer i restarts at step i + 2) run it equal to the engine."""
    from neurokit.convert import Settings

    net = from_nir(convert(digits_cnn, digits.x_train[:300], method="lif", readout="potential",
                           settings=Settings(target_steps=8)))
    q, rep = quantize(net, profile, digits.x_train[:300], integer_weights=True)
    path = tmp_path / "lif.net"
    summary = export_netx(q, path)
    assert summary["netx_network_args"] == {"reset_offset": 1, "input_message_bits": q.input_bits}
    result = verify_netx(q, str(path), digits.x_test[:3], 8)
    assert result["match"], result["first_mismatch"]
    back = read_netx(path)
    assert back.metadata["windows"] == "pipelined" and back.metadata["input_encoding"] == "current"
    a, b = get_backend("engine").run(q, digits.x_test[:40], 8), get_backend("engine").run(back, digits.x_test[:40], 8)
    np.testing.assert_array_equal(a.output_counts, b.output_counts)
    # without --netx the biases use exponents netx does not have: refused, naming the population and the fix
    q2, _ = quantize(net, profile, digits.x_train[:300])
    try:
        export_netx(q2, tmp_path / "x.net")
    except NetxExportError as e:
        assert "--netx" in str(e)


def test_the_chip_gets_the_parameters_the_cpu_simulation_ran(sdnn_cnn, digits_cnn, digits, profile, tmp_path):
    """The loihi backend hands the chip lava-dl's netx.hdf5.Network built from neurokit's file by the same
    function the CPU check runs (chip_network); every weight, threshold, bias, decay and reset offset in it
    is the integer the engine computed with (and the CPU run of it matched the engine, above)."""
    from neurokit.arithmetic import lava_dense_weights, sigma_delta_param, sign_mode
    from neurokit.backends.lava.backend import chip_network
    from neurokit.convert import Settings
    from neurokit.layout import lava_conv_weight, to_lava
    from neurokit.network import depths

    _, (sdnn, _) = sdnn_cnn
    lif = quantize(from_nir(convert(digits_cnn, digits.x_train[:300], method="lif", readout="potential",
                                    settings=Settings(target_steps=8))), profile, digits.x_train[:300],
                   integer_weights=True)[0]
    for q in (sdnn, lif):
        path = tmp_path / "chip.net"
        export_netx(q, path)
        _, blocks, args = chip_network(str(path), q, 8)
        depth = depths(q)
        for block, pop, proj in zip(blocks, q.populations, [q.incoming(p.name)[0] for p in q.populations]):
            syn, neuron, p = block.synapse, block.neuron, pop.neuron
            if proj.kind == "conv":
                np.testing.assert_array_equal(syn.weight.init, lava_conv_weight(proj.weight))
            else:  # netx re-derives the format; the weights it applies are the engine's
                stored = np.asarray(syn.weights.init)
                held = lava_dense_weights(stored, sign_mode(stored), syn.proc_params["num_weight_bits"])
                e = int(syn.proc_params["weight_exp"])
                held = held << e if e >= 0 else held >> -e
                np.testing.assert_array_equal(held, lava_dense_weights(proj.weight, proj.sign_mode, proj.weight_bits)
                                              << proj.weight_exp)
            if pop.model.name == "sigma_delta":
                assert int(np.asarray(neuron.vth.init).reshape(-1)[0]) == int(sigma_delta_param(p.vth))
                np.testing.assert_array_equal(neuron.bias.init, sigma_delta_param(to_lava(p.bias)))
            else:
                assert int(neuron.vth.init) == p.vth and int(neuron.du.init) == p.du and int(neuron.dv.init) == p.dv
                np.testing.assert_array_equal(np.asarray(neuron.bias_mant.init) << 6,
                                              to_lava(q.arithmetic.bias_raw(p.bias_mant, p.bias_exp).reshape(pop.shape)))
                assert neuron.proc_params["reset_interval"] == 8
                assert neuron.proc_params["reset_offset"] % 8 == (depth[pop.name] + 1) % 8  # pipelined windows
