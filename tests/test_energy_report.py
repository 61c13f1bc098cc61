"""Energy terms, ANN MAC counts and the report's citations, checked against hand-computed values."""
from __future__ import annotations

import pytest
from torch import nn

from hw_profiles import load_profile
from neurokit import energy
from neurokit.convert import read_model
from neurokit.report import build_report, render_text


def test_ann_macs_counts_conv_and_linear_by_hand():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Conv2d(4, 6, 3, stride=2, groups=2), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 1 * 1, 5))
    macs = dict(energy.ann_macs(read_model(model.eval()), (1, 6, 6)))
    # conv1: 4x6x6 outputs x (1x3x3); conv2 on 4x3x3: 6x1x1 outputs x (2x3x3); linear 6x5. BN and pooling are free.
    assert macs == {"0": 4 * 36 * 9, "4": 6 * 18, "7": 30}


def test_snn_energy_terms_use_profile_constants():
    p = load_profile("loihi2")
    terms = energy.snn_energy(p, layer_neurons=[100, 10], layer_spikes=[40.0, 5.0], layer_synops=[1000.0, 400.0], steps=8)
    by = {t.constant: t for t in terms}
    assert by["energy.synop_pj"].count == 1400
    assert by["energy.neuron_update_active_pj"].count == 45
    assert by["energy.neuron_update_inactive_pj"].count == 110 * 8 - 45
    assert by["energy.spike_route_pj"].count == 45
    assert energy.total(terms) == pytest.approx((1400 * 23.6 + 45 * 81 + 835 * 52 + 45 * 1.7) * 1e-12)
    for t in terms:
        assert t.pj_each == p.energy.cited(t.constant.split(".")[1]).value
        assert t.source and "[UNVERIFIED]" in t.source  # Loihi 1 figures used as a proxy: flagged


def test_report_cites_every_constant_it_uses():
    p = load_profile("loihi2")
    run = {"backend": "lava-fixed", "samples": 4, "steps": 8, "accuracy": 0.75, "wall_s": 1.0,
           "layers": [{"name": "if0", "kind": "dense", "neurons": 10, "spikes": 3.0, "synops": 50.0,
                       "spikes_per_neuron_step": 3 / 80}]}
    r = build_report(model="m", dataset="d", profile=p, steps=8, fixed_run=run, conversion={"ann_macs": {"fc": 640}})
    used = {t["constant"] for t in r["energy_terms"]}
    cited = {c["key"] for c in r["constants"]}
    assert used == cited
    assert all(c["source"] for c in r["constants"])
    text = render_text(r)
    for key in cited:
        assert key in text
    assert r["ann_macs"] == 640 and r["synops_per_ann_mac"] == pytest.approx(50 / 640)
