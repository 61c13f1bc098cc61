"""The ANN measured on a device (neurokit.ann_energy): RAPL's counters read from a powercap tree with a wrap,
the reasons given where no meter is readable, the measured baseline in the report, and NVML on a real GPU
(skipped where there is none)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hw_profiles import load_profile
from neurokit import ann_energy, energy
from neurokit.cli import main


def write_domain(root, name, uj, wrap=None):
    d = root / name
    d.mkdir(exist_ok=True)
    (d / "energy_uj").write_text(f"{uj}\n")
    if wrap is not None:
        (d / "max_energy_range_uj").write_text(f"{wrap}\n")


def test_rapl_sums_packages_skips_subdomains_and_unwraps(tmp_path):
    write_domain(tmp_path, "intel-rapl:0", 1_000, wrap=10_000)
    write_domain(tmp_path, "intel-rapl:0:0", 500, wrap=10_000)  # the core subdomain: inside package 0
    write_domain(tmp_path, "intel-rapl:1", 9_000, wrap=10_000)
    assert [p.name for p in ann_energy.rapl_domains(tmp_path)] == ["intel-rapl:0", "intel-rapl:1"]
    read = ann_energy.rapl_meter(tmp_path)
    assert read() == 0
    write_domain(tmp_path, "intel-rapl:0", 4_000)
    write_domain(tmp_path, "intel-rapl:0:0", 9_999)
    write_domain(tmp_path, "intel-rapl:1", 2_000)  # wrapped: 9,000 -> 10,000 -> 2,000
    assert read() == pytest.approx((3_000 + 3_000) * 1e-6)
    write_domain(tmp_path, "intel-rapl:0", 4_500)
    assert read() == pytest.approx((3_000 + 3_000 + 500) * 1e-6)


def test_unreadable_rapl_says_why(tmp_path):
    with pytest.raises(ann_energy.MeterUnavailable, match="no RAPL package domain"):
        ann_energy.rapl_meter(tmp_path)
    write_domain(tmp_path, "intel-rapl:0", 1)  # no max_energy_range_uj
    with pytest.raises(ann_energy.MeterUnavailable, match="not readable"):
        ann_energy.rapl_meter(tmp_path)


def tiny_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4)).eval()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: test_nvml_measures_a_gpu runs instead")
def test_no_gpu_is_a_reason_not_an_error():
    m = ann_energy.measure_or_reason(tiny_model(), np.zeros((4, 1, 4, 4)), "cuda")
    assert m == {"device": "cuda", "measured": False, "reason": "torch sees no CUDA GPU here"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: NVML's energy counter cannot be read")
def test_nvml_measures_a_gpu():
    m = ann_energy.measure_or_reason(tiny_model(), np.random.default_rng(0).random((256, 1, 4, 4)), "cuda",
                                     seconds=0.5, idle_seconds=0.2)
    assert m["measured"], m.get("reason")
    assert m["batch_size"] == 256 and m["inferences"] >= 256 and m["joules_per_inference"] > 0
    assert 0 <= m["dynamic_joules_per_inference"] <= m["joules_per_inference"]


MEASURED = {"measured": True, "device": "cuda", "name": "Some GPU", "meter": "NVML total energy", "batch_size": 256,
            "inferences": 25600, "seconds": 2.0, "joules_per_inference": 2e-6, "idle_watts": 50.0,
            "dynamic_joules_per_inference": 1e-6, "note": "25,600 inferences in batches of 256"}


def test_measured_ann_is_a_baseline_with_its_break_even():
    profile = load_profile("loihi2")
    run = {"layers": [{"name": "a", "neurons": 100, "spikes": 50.0, "synops": 1000.0}], "projections": []}
    counts = energy.counts_of(run, steps=4)
    e = energy.energy_section(profile, counts, 4, macs=10_000, ann_measured=MEASURED)
    assert e["baselines"]["ann_measured"]["joules"] == pytest.approx(2e-6)
    assert "Some GPU" in e["baselines"]["ann_measured"]["title"] and "batch 256" in e["baselines"]["ann_measured"]["title"]
    rows = [b for b in e["break_even"] if b["baseline"] == "ann_measured"]
    assert {b["model"] for b in rows} == {"loihi", "loihi_static"}
    loihi = next(b for b in rows if b["model"] == "loihi")
    assert loihi["ratio"] == pytest.approx(e["models"]["loihi"]["joules"] / 2e-6)
    # not measured: the estimates alone
    e = energy.energy_section(profile, counts, 4, macs=10_000,
                              ann_measured={"device": "cpu", "measured": False, "reason": "x"})
    assert "ann_measured" not in e["baselines"]


def test_deploy_of_a_spiking_graph_refuses_ann_energy(capsys):
    rc = main(["deploy", "examples/snntorch_digits/snn.nir", "--dialect", "snntorch", "--data",
               "examples/snntorch_digits/digits_spikes.npz", "--ann-energy", "cpu"])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--ann-energy" in err
