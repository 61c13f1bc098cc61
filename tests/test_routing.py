"""Mesh traffic (neurokit.fit.routing): messages, tile hops and chip crossings on a placement small enough to
follow by hand, and the energy terms that price them."""
from __future__ import annotations

import types

import numpy as np
import pytest

from hw_profiles import load_profile
from neurokit import energy
from neurokit.fit import fit_network
from neurokit.fit.routing import core_positions, mesh_traffic
from netgen import chain, float_layer


def small_chip(tmp_path, cores_per_chip: int):
    """4 neurons per core, one core per tile, tiles in rows of 2: core k sits at (k % 2, k // 2)."""
    lines = ['extends = "loihi2"', 'name = "mesh"', 'description = "hand-computed mesh"', "", "[core]",
             'neurons_per_core = { value = 4, source = "test", verified = true }', "", "[chip]",
             f'cores_per_chip = {{ value = {cores_per_chip}, source = "test", verified = true }}',
             'cores_per_tile = { value = 1, source = "test", verified = true }',
             'mesh_columns = { value = 2, source = "test", verified = true }']
    path = tmp_path / f"mesh_{cores_per_chip}.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_profile(path)


def two_layers():
    """6 inputs -> 10 neurons (3 cores of 4, 4, 2) -> 8 neurons (2 cores of 4); every weight non-zero."""
    return chain((6,), [float_layer("fc0", "dense", (6,), (10,), np.ones((10, 6)), np.zeros(10)),
                        float_layer("fc1", "dense", (10,), (8,), np.ones((8, 10)), np.zeros(8))])


def run_of(net):
    spikes = [np.arange(1, 11, dtype=np.float64), np.zeros(8)]  # neuron i of fc0 spiked i + 1 times
    return types.SimpleNamespace(samples=1, neuron_spikes=spikes, input_events=np.full(6, 2.0))


def test_core_positions_fill_tiles_in_rows():
    pos = core_positions(2, 5, cores_per_chip=4, cores_per_tile=1, columns=2)
    assert pos.tolist() == [[0, 0, 1], [0, 1, 1], [1, 0, 0], [1, 1, 0], [1, 0, 1]]


def test_messages_and_hops_by_hand(tmp_path):
    net = two_layers()
    fit = fit_network(net, small_chip(tmp_path, cores_per_chip=64))
    assert [l.cores for l in fit.layers] == [3, 2]
    m = mesh_traffic(net, fit, run_of(net), small_chip(tmp_path, 64))
    first, second = (m["projections"][q.name] for q in net.projections)
    # the input reaches all 3 cores of fc0: 6 inputs x 2 events x 3 cores; its place on the mesh is unknown
    assert first["messages"] == 36 and first["hops_ew"] is None and first["payload_bits"] == 8
    # fc0's cores send 10, 26, 19 spikes, each to both cores of fc1: 20, 52, 38 messages.
    # fc0 on cores 0, 1, 2 = (0,0), (1,0), (0,1); fc1 on cores 3, 4 = (1,1), (0,2):
    # mean |dx| 0.5, 0.5, 0.5 and mean |dy| 1.5, 1.5, 0.5
    assert second["messages"] == 110 and second["payload_bits"] == 1
    assert second["hops_ew"] == pytest.approx(20 * 0.5 + 52 * 0.5 + 38 * 0.5)
    assert second["hops_ns"] == pytest.approx(20 * 1.5 + 52 * 1.5 + 38 * 0.5)
    assert second["chip_crossings"] == 0
    assert m["total"]["messages"] == 146 and m["total"]["bits_moved"] == 36 * 8 + 110


def test_messages_to_another_chip_are_counted_not_routed(tmp_path):
    net = two_layers()
    profile = small_chip(tmp_path, cores_per_chip=4)  # fc1's second core (core 4) is on chip 1
    fit = fit_network(net, profile)
    second = mesh_traffic(net, fit, run_of(net), profile)["projections"][net.projections[1].name]
    # half of each source core's messages stay on chip 0, to core 3 = (1,1)
    assert second["chip_crossings"] == pytest.approx(110 / 2)
    assert second["hops_ew"] == pytest.approx(20 / 2 * 1 + 52 / 2 * 0 + 38 / 2 * 1)
    assert second["hops_ns"] == pytest.approx(20 / 2 * 1 + 52 / 2 * 1 + 38 / 2 * 0)


def test_placed_runs_price_messages_and_hops(tmp_path):
    """With mesh counts the per-op model charges messages, east-west and north-south hops at their own
    constants; without, one within-tile route per spike."""
    profile = load_profile("loihi2")
    proj = {"name": "p", "source": "input", "target": "a", "kind": "dense", "synops": 100.0, "messages": 5.0,
            "effective_ops": 50.0, "op_kind": "AC", "dense_ops": 200.0}
    mesh = {"mesh_messages": 30.0, "mesh_hops_ew": 7.0, "mesh_hops_ns": 4.0, "mesh_chip_crossings": 0.0,
            "mesh_bits_moved": 30.0, "mesh_payload_bits": 1}
    layer = {"name": "a", "neurons": 10, "spikes": 12.0, "synops": 100.0}
    for placed in (False, True):
        run = {"layers": [layer], "projections": [dict(proj, **(mesh if placed else {}))]}
        counts = energy.counts_of(run, steps=4)
        terms = {t.constant: t for t in energy.model_terms(profile, counts, steps=4)["loihi"]}
        if placed:
            assert "energy.spike_route_pj" not in terms
            assert (terms["energy.message_pj"].count, terms["energy.hop_ew_pj"].count,
                    terms["energy.hop_ns_pj"].count) == (30, 7, 4)
            route = 30 * 1.7 + 7 * 3.0 + 4 * 4.0
        else:
            assert terms["energy.spike_route_pj"].count == 12 and "energy.message_pj" not in terms
            route = 12 * 1.7
        section = energy.energy_section(profile, counts, 4, macs=1000)
        assert section["layers"][0]["loihi_route_j"] == pytest.approx(route * 1e-12)


def test_a_profile_without_the_mesh_fields_loads_and_prices_one_route_per_spike(tmp_path):
    """Profiles written before the mesh fields existed keep loading; their reports price routing as before."""
    import re
    from pathlib import Path

    import hw_profiles

    text = (Path(hw_profiles.__file__).parent / "loihi2.toml").read_text()
    old = re.sub(r"(?m)^(cores_per_tile|mesh_columns|message_pj|hop_ew_pj|hop_ns_pj) = .*\n", "", text)
    assert old.count("\n") == text.count("\n") - 5
    path = tmp_path / "older.toml"
    path.write_text(old)
    profile = load_profile(path)
    assert not profile.has_mesh and load_profile("loihi2").has_mesh
    run = {"layers": [{"name": "a", "neurons": 10, "spikes": 12.0, "synops": 100.0}],
           "projections": [{"name": "p", "source": "input", "target": "a", "kind": "dense", "synops": 100.0,
                            "messages": 5.0, "effective_ops": 50.0, "op_kind": "AC", "dense_ops": 200.0,
                            "mesh_messages": 30.0, "mesh_hops_ew": 7.0, "mesh_hops_ns": 4.0,
                            "mesh_chip_crossings": 0.0, "mesh_bits_moved": 30.0, "mesh_payload_bits": 1}]}
    counts = energy.counts_of(run, steps=4)
    terms = {t.constant: t for t in energy.model_terms(profile, counts, steps=4)["loihi"]}
    assert terms["energy.spike_route_pj"].count == 12 and "energy.message_pj" not in terms
    net = two_layers()
    fit = fit_network(net, profile)
    from neurokit.pipeline import placed_traffic

    assert fit.fits and placed_traffic(net, fit, run_of(net), profile) is None
