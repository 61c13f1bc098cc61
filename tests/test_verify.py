"""neurokit.verify.first_mismatch: the earliest disagreement (sample, then step, then layer, then variable)."""
from __future__ import annotations

import numpy as np
import pytest

from neurokit.backends.base import LayerRecord
from neurokit.verify import first_mismatch


def _records(n=2, steps=5):
    rng = np.random.default_rng(0)
    out = []
    for name, shape in (("a", (3,)), ("b", (2, 2, 2))):
        u = rng.integers(-100, 100, (n, steps) + shape)
        v = rng.integers(-100, 100, (n, steps) + shape)
        out.append(LayerRecord(name, u, v, v > 50))
    return out


def _copy(records):
    return [LayerRecord(r.name, r.u.copy(), r.v.copy(), r.spikes.copy()) for r in records]


def test_identical_records_match():
    a = _records()
    assert first_mismatch(a, _copy(a)) is None


def test_reports_the_earliest_difference_with_both_values():
    a = _records()
    b = _copy(a)
    b[1].v[1, 0, 1, 0, 1] += 7  # sample 1, step 1, layer b
    b[1].u[0, 3, 0, 1, 1] -= 1  # sample 0, step 4: earlier (sample first)
    b[0].spikes[0, 3, 2] = ~b[0].spikes[0, 3, 2]  # sample 0, step 4, layer a: earlier layer
    m = first_mismatch(a, b)
    assert m == {"layer": "a", "layer_index": 0, "variable": "spikes", "sample": 0, "step": 4, "neuron": [2],
                 "lava": bool(a[0].spikes[0, 3, 2]), "engine": bool(b[0].spikes[0, 3, 2])}
    b[0].spikes[0, 3, 2] = a[0].spikes[0, 3, 2]
    m = first_mismatch(a, b)
    assert (m["layer"], m["variable"], m["sample"], m["step"], m["neuron"]) == ("b", "u", 0, 4, [0, 1, 1])
    assert m["engine"] == m["lava"] - 1


def test_shape_disagreement_is_an_error():
    a = _records()
    b = _copy(a)
    b[0] = LayerRecord("a", b[0].u[:, :3], b[0].v, b[0].spikes)
    with pytest.raises(ValueError, match="shapes"):
        first_mismatch(a, b)


def test_verify_exits_1_on_a_mismatch(tmp_path, capsys):
    """Graded conv sums beyond 2**24: Lava's float32 Conv rounds them, the engine sums exactly (and warns), so
    the two differ; verify says MISMATCH and exits 1."""
    import warnings

    from neurokit.cli import main
    from netgen import chain, q_layer
    from quantize import save_quantized

    net = chain((1, 3, 3), [q_layer("c", "conv", (1, 3, 3), (1, 1, 1), np.full((1, 1, 3, 3), 255), 0, 8, 2, 1000,
                                    0, 0, 4095, 0, "subtract", graded_input_bits=24)],
                {"input_encoding": "current"},
                quantized=dict(input_scale=1.0, input_bits=22, input_signed=False, profile="test"))
    path = tmp_path / "q.nir"
    save_quantized(net, path)
    x = np.full((1, 1, 3, 3), (1 << 21) - 1, np.float32)  # an odd sum of 9 x 255 x (2**21 - 1) > 2**24
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x, y_train=np.zeros(1, np.int64), x_test=x, y_test=np.zeros(1, np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the engine's warning that Lava rounds there
        rc = main(["verify", str(path), "--data", str(data), "--samples", "1", "--steps", "3"])
    out = capsys.readouterr().out
    assert rc == 1 and "MISMATCH" in out and "first mismatch: layer c" in out
