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
    e = r["energy"]
    used = {c for m in list(e["models"].values()) + list(e["baselines"].values()) for t in m["terms"]
            for c in t["constants"]}
    assert {t["constant"] for t in r["energy_terms"]} <= used
    cited = {c["key"] for c in r["constants"]}
    assert used == cited  # every model's every constant, and nothing else
    assert all(c["source"] for c in r["constants"])
    text = render_text(r)
    for key in cited:
        assert key in text
    assert r["ann_macs"] == 640 and r["synops_per_ann_mac"] == pytest.approx(50 / 640)


# ---- NeuroBench op counts ------------------------------------------------------------------------------------

def _nets_for_counting(seed: int = 0):
    """A conv (graded input) -> dense (spikes) pair as neurokit projections and as torch layers, with zeroed
    weights, and per-step inputs: graded frames with zero pixels, then binary spikes."""
    import numpy as np
    import torch
    from types import SimpleNamespace

    from neurokit.network import Projection

    rng = np.random.default_rng(seed)
    w1 = rng.integers(-3, 4, size=(4, 1, 3, 3)).astype(np.float64)  # about 1/7 zeros
    w1[0, 0, 1, :] = 0
    conv = Projection("c1", "input", "p1", "conv", (1, 6, 6), (4, 3, 3), w1, stride=(2, 2), padding=(1, 1))
    w2 = rng.integers(-2, 3, size=(5, 36)).astype(np.float64)
    w2[:, :7] = 0
    dense = Projection("d2", "p1", "p2", "dense", (4, 3, 3), (5,), w2)
    tconv = torch.nn.Conv2d(1, 4, 3, stride=2, padding=1, bias=True)  # the bias is not an op: NeuroBench agrees
    tconv.weight.data = torch.as_tensor(w1, dtype=torch.float32)
    tdense = torch.nn.Linear(36, 5)
    tdense.weight.data = torch.as_tensor(w2, dtype=torch.float32)
    N, T = 3, 5
    frames = rng.random((N, T, 1, 6, 6)) * (rng.random((N, T, 1, 6, 6)) > 0.4)  # graded, with zeros
    spikes = (rng.random((N, T, 4, 3, 3)) > 0.7).astype(np.float64)
    pops = [SimpleNamespace(name="p1", model=SimpleNamespace(graded_output_bits=0)),
            SimpleNamespace(name="p2", model=SimpleNamespace(graded_output_bits=0))]
    net = SimpleNamespace(projections=[conv, dense], populations=pops, metadata={"input_encoding": "current"},
                          population=lambda name: next(p for p in pops if p.name == name))
    trace = SimpleNamespace(samples=N, steps=T, input_events=(frames != 0).sum((0, 1)),
                            neuron_spikes=[spikes.sum((0, 1)), np.zeros(5)])
    return net, trace, (tconv, frames), (tdense, spikes)


def test_effective_ops_equal_neurobench_counters():
    """neurokit's effective ACs / MACs per projection equal neurobench's own single_layer_MACs, summed over
    samples and steps, on the same layers (zero weights, zero inputs, a bias)."""
    single_layer_MACs = pytest.importorskip("neurobench.metrics.utils.layers").single_layer_MACs
    import torch

    net, trace, (tconv, frames), (tdense, spikes) = _nets_for_counting()
    ours = energy.op_counts(net, trace)
    for name, layer, x, flat in (("c1", tconv, frames, False), ("d2", tdense, spikes, True)):
        ops, kinds = 0.0, set()
        for n in range(x.shape[0]):
            for t in range(x.shape[1]):
                inp = torch.as_tensor(x[n, t][None], dtype=torch.float32)
                o, spiking = single_layer_MACs(inp.reshape(1, -1) if flat else inp, layer)
                ops += float(o)
                kinds.add("AC" if spiking else "MAC")
        assert len(kinds) == 1
        assert ours[name]["op_kind"] == kinds.pop()
        assert ours[name]["effective_ops"] == pytest.approx(ops / x.shape[0])
        dense_ops, _ = single_layer_MACs(torch.ones((1,) + tuple(x.shape[2:])).reshape((1, -1) if flat else
                                                                                     (1,) + tuple(x.shape[2:])),
                                         layer, total=True)
        assert ours[name]["dense_ops"] == pytest.approx(float(dense_ops) * x.shape[1])
    assert ours["c1"]["op_kind"] == "MAC" and ours["d2"]["op_kind"] == "AC"


def test_effective_ops_by_hand_without_neurobench():
    """The published definition on a dense layer, by hand: nonzero inputs x nonzero weights, bias excluded."""
    import numpy as np

    net, trace, _, (_, spikes) = _nets_for_counting()
    w2 = net.projections[1].weight
    by_hand = sum(float(s.reshape(-1) @ (w2 != 0).sum(0)) for s in spikes.reshape(-1, 4, 3, 3))
    assert energy.op_counts(net, trace)["d2"]["effective_ops"] == pytest.approx(by_hand / spikes.shape[0])


# ---- energy models, ranges, break-even --------------------------------------------------------------------------

def _report(steps=8, spikes=3.0, synops=50.0, macs=640, neurons=10):
    p = load_profile("loihi2")
    run = {"backend": "engine", "samples": 4, "steps": steps, "accuracy": 0.75,
           "layers": [{"name": "if0", "kind": "dense", "neurons": neurons, "spikes": spikes, "synops": synops,
                       "spikes_per_neuron_step": spikes / (neurons * steps)}],
           "projections": [{"name": "fc", "source": "input", "target": "if0", "kind": "dense", "synops": synops,
                            "messages": 5.0, "effective_ops": 40.0, "op_kind": "MAC", "dense_ops": 640.0 * steps}]}
    return build_report(model="m", dataset="d", profile=p, steps=steps, fixed_run=run,
                        conversion={"ann_macs": {"fc": macs}})


def test_every_model_has_a_range_and_the_paper_convention():
    e = _report()["energy"]
    assert set(e["models"]) == {"loihi", "loihi_static", "paper_45nm"}
    for m in list(e["models"].values()) + list(e["baselines"].values()):
        assert m["joules_low"] <= m["joules"] <= m["joules_high"]
        assert m["joules"] == pytest.approx(sum(t["joules"] for t in m["terms"]))
    assert e["models"]["paper_45nm"]["joules"] == pytest.approx(40 * 4.6e-12)  # effective MACs x 4.6 pJ
    assert e["baselines"]["ann_fp32"]["joules"] == pytest.approx(640 * 4.6e-12)
    lo = (50 * 23.6 + 3 * 72.8 + 77 * 51.2 + 3 * 1.7) * 1e-12
    hi = (50 * 35.5 + 3 * 81 + 77 * 52 + 3 * 5.7) * 1e-12
    assert (e["models"]["loihi"]["joules_low"], e["models"]["loihi"]["joules_high"]) == (pytest.approx(lo), pytest.approx(hi))
    static = e["models"]["loihi_static"]["terms"][-1]
    assert static["constants"] == ["energy.static_power_w", "energy.step_time_us"]
    assert static["joules"] == pytest.approx(8 * 0.232078 * 152.9e-6)


def test_break_even_by_hand():
    r = _report()
    b = {(x["model"], x["baseline"]): x for x in r["energy"]["break_even"]}
    paper = b["paper_45nm", "ann_fp32"]  # 40 MACs x 4.6 pJ against 640 MACs x 4.6 pJ: 16x cheaper at T = 8
    assert paper["snn_cheaper"] and paper["ratio"] == pytest.approx(40 / 640)
    assert paper["max_steps"] == 128  # per step 5 MACs: 640 / 5
    assert paper["neuron_update_share"] == 0
    loihi = b["loihi", "ann_fp32"]
    e_snn = (50 * 23.6 + 3 * 81 + 77 * 52 + 3 * 1.7) * 1e-12
    assert loihi["ratio"] == pytest.approx(e_snn / (640 * 4.6e-12)) and not loihi["snn_cheaper"]
    assert loihi["max_steps"] == int(640 * 4.6e-12 // (e_snn / 8))
    assert loihi["neuron_update_share"] == pytest.approx((3 * 81 + 77 * 52) * 1e-12 / e_snn)
    assert loihi["floor_max_steps"] == int(640 * 4.6 // (10 * 52))  # 10 idle neurons a step: the floor
    assert loihi["synops_per_mac"] == pytest.approx(50 / 640)
    assert loihi["breakeven_synops_per_mac"] == 0  # updates alone exceed the ANN at T = 8
    assert any("no synops count breaks even" in c for c in loihi["changes"])
    assert "ANN is cheaper" in loihi["verdict"]
    text = render_text(r)
    assert "Break-even" in text and "papers' 45 nm" in text and "effective MACs" in text


def test_break_even_of_a_cheap_snn_says_how_far_sparsity_may_rise():
    r = _report(steps=1, spikes=0.0, synops=10.0, macs=100000, neurons=10)
    loihi = next(x for x in r["energy"]["break_even"] if x["model"] == "loihi" and x["baseline"] == "ann_fp32")
    assert loihi["snn_cheaper"] and loihi["max_steps"] >= 1
    assert loihi["breakeven_synops_per_mac"] > loihi["synops_per_mac"]


# ---- profiles without energy constants, bad ranges ---------------------------------------------------------------

def _profile_text(drop_energy: bool = False, energy_override: str = "") -> str:
    import re

    text = (load_profile("loihi2").path).read_text()
    if drop_energy:
        return text[:text.index("[energy]")]
    return text + energy_override if not energy_override else re.sub(r"(?m)^synop_pj = .*$", energy_override, text)


def test_profile_without_energy_quantizes_but_reports_nothing(tmp_path):
    from hw_profiles import ProfileError

    path = tmp_path / "noenergy.toml"
    path.write_text(_profile_text(drop_energy=True))
    p = load_profile(path)  # fit and quantize need no energy
    assert p.energy is None and not any(k.startswith("energy.") for k, _ in p.constants())
    with pytest.raises(ProfileError, match=r"no \[energy\] section"):
        load_profile(path, energy=True)
    with pytest.raises(ProfileError, match=r"no \[energy\] section"):
        build_report(model="m", dataset="d", profile=p, steps=8,
                     fixed_run={"backend": "engine", "samples": 1, "steps": 8, "accuracy": 1.0,
                                "layers": [{"name": "a", "neurons": 1, "spikes": 0.0, "synops": 0.0}]})


@pytest.mark.parametrize("line, expect", [
    ('synop_pj = { value = 23.6, low = 30.0, high = 35.5, verified = false, source = "x" }', "low <= value <= high"),
    ('synop_pj = { value = 23.6, low = "a", verified = false, source = "x" }', "low = 'a' must be a number"),
])
def test_energy_range_is_checked(tmp_path, line, expect):
    from hw_profiles import ProfileError

    path = tmp_path / "bad.toml"
    path.write_text(_profile_text(energy_override=line))
    with pytest.raises(ProfileError, match=expect):
        load_profile(path)


def test_only_energy_constants_take_a_range(tmp_path):
    from hw_profiles import ProfileError

    text = _profile_text().replace('weight_bits = { value = 8,', 'weight_bits = { value = 8, low = 7,', 1)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match="takes no low/high range"):
        load_profile(path)


# ---- the command: bad input, HTML --------------------------------------------------------------------------------

def _record(**change) -> dict:
    rec = {"record_version": 2, "network": "n.nir", "dataset": "d", "backend": "engine", "samples": 2, "steps": 10,
           "accuracy": 0.5, "wall_s": 1.0, "ann_macs_per_layer": {"if0": 1000, "if1": 200},
           "layers": [{"name": "if0", "kind": "dense", "neurons": 20, "spikes": 20.0, "synops": 100.0},
                      {"name": "if1", "kind": "dense", "neurons": 10, "spikes": 5.0, "synops": 200.0}],
           "projections": [{"name": "fc0", "source": "input", "target": "if0", "kind": "dense", "synops": 100.0,
                            "messages": 50.0, "effective_ops": 80.0, "op_kind": "MAC", "dense_ops": 10000.0},
                           {"name": "fc1", "source": "if0", "target": "if1", "kind": "dense", "synops": 200.0,
                            "messages": 20.0, "effective_ops": 150.0, "op_kind": "AC", "dense_ops": 2000.0}],
           "fit": {"fits": True, "cores": 3, "chips": 1, "cores_available": 120, "chips_available": 1,
                   "cores_per_chip": 120, "problem": None,
                   "layers": [{"name": "if0", "cores": 2, "split": "10 neurons per core"},
                              {"name": "if1", "cores": 1, "split": "10 neurons per core"}]}}
    rec.update(change)
    return rec


def _cli(argv, capsys):
    from neurokit.cli import main

    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("change, expect", [
    ({"record_version": None}, "from another neurokit version (an older neurokit"),
    ({"record_version": 1}, "from another neurokit version (record version 1"),
    ({"record_version": 3}, "record version 3; this one reads version 2"),
    ({"layers": []}, "no per-layer counts"),
    ({"layers": [{"name": "if0", "kind": "dense", "neurons": 20}]}, "no per-layer counts: layer if0: spikes = None"),
    ({"projections": None}, "no per-projection counts"),
    ({"projections": [{"name": "fc0", "synops": 1.0, "messages": 1.0, "dense_ops": 1.0}]},
     "projection fc0: effective_ops = None"),
])
def test_report_refuses_bad_records_in_one_line(tmp_path, capsys, change, expect):
    rec = _record(**change)
    if change.get("record_version", 2) is None:
        del rec["record_version"]
    path = tmp_path / "run.json"
    path.write_text(__import__("json").dumps(rec))
    html = tmp_path / "r.html"
    rc, out, err = _cli(["report", path, "--html", html], capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and out == "" and len(lines) == 1 and lines[0].startswith("neurokit: error: ")
    assert expect in lines[0], lines[0]
    assert not html.exists()


def test_report_with_a_profile_without_energy_is_one_line(tmp_path, capsys):
    path, prof = tmp_path / "run.json", tmp_path / "noenergy.toml"
    path.write_text(__import__("json").dumps(_record()))
    prof.write_text(_profile_text(drop_energy=True))
    rc, out, err = _cli(["report", path, "--profile", prof], capsys)
    lines = err.strip().splitlines()
    assert rc == 2 and out == "" and len(lines) == 1 and "no [energy] section" in lines[0]


def _html_report(tmp_path, capsys):
    import json

    path, html = tmp_path / "run.json", tmp_path / "report.html"
    path.write_text(json.dumps(_record()))
    rc, out, err = _cli(["report", path, "--json", "--html", html], capsys)
    assert rc == 0, err
    return json.loads(out), html


def test_html_report_is_self_contained_and_shows_what_the_json_carries(tmp_path, capsys):
    import re

    r, html = _html_report(tmp_path, capsys)
    text = html.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert r["files"]["html"] == str(html)
    # no network: no external resource of any kind, no script
    assert not re.search(r"(src|href)\s*=\s*['\"](?!data:)", text) and "<script" not in text.lower()
    assert "http://" not in text and "https://" not in text
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(images) == 5  # per-layer energy, per-layer spikes, energy per model, energy against T, core map
    assert "alt='core_map'" in text and all(l["name"] in text for l in r["fit"]["layers"])
    import base64

    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    for c in r["constants"]:  # every constant with its source
        assert c["key"] in text and __import__("html").escape(c["source"]) in text
    for m in r["energy"]["models"].values():
        assert m["title"] in text.replace("&#x27;", "'")
    for b in r["energy"]["break_even"]:  # every comparison in the table, the fp32 ones with verdict and reasons
        assert f"{b['ratio']:.3g} ({b['ratio_low']:.3g} – {b['ratio_high']:.3g})" in text
        if b["baseline"] == "ann_fp32":
            assert __import__("html").escape(b["verdict"]) in text
            assert all(__import__("html").escape(c) in text for c in b["changes"])
    for l in r["layers"]:
        assert f"<td>{l['name']}</td>" in text


def test_html_report_renders_in_headless_chromium(tmp_path, capsys):
    """Debian's chromium opens the page with no console errors, and a screenshot is kept under tests/artifacts."""
    import shutil
    import subprocess
    from pathlib import Path

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium here (apt-get install chromium); the structural test above still runs")
    _, html = _html_report(tmp_path, capsys)
    bad = tmp_path / "bad.html"  # the check itself: a page with a console error is caught
    bad.write_text("<!DOCTYPE html><html><body><img src='data:image/png;base64,AAAA'>"
                   "<script>console.error('deliberate')</script></body></html>")
    artifacts = Path(__file__).parent / "artifacts"
    artifacts.mkdir(exist_ok=True)

    def open_(page: Path, shot: Path):
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1200,2400",
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", f"--screenshot={shot}",
               page.as_uri()]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
        return p.returncode, console

    rc, console = open_(bad, tmp_path / "bad.png")
    assert any("deliberate" in l for l in console)  # console messages do reach the log
    shot = artifacts / "report.png"
    rc, console = open_(html, shot)
    assert rc == 0 and console == []
    assert shot.exists() and shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_break_even_of_a_stream_counts_messages_once_per_sample():
    """A sigma-delta stream sends each sample's messages once: only neuron updates (and static power) grow with T."""
    p = load_profile("loihi2")
    run = {"backend": "engine", "samples": 4, "steps": 4, "accuracy": 0.9, "events_scale_with_steps": False,
           "layers": [{"name": "if0", "kind": "dense", "neurons": 10, "spikes": 3.0, "synops": 50.0}],
           "projections": [{"name": "fc", "source": "input", "target": "if0", "kind": "dense", "synops": 50.0,
                            "messages": 5.0, "effective_ops": 40.0, "op_kind": "MAC", "dense_ops": 2560.0}]}
    r = build_report(model="m", dataset="d", profile=p, steps=4, fixed_run=run, conversion={"ann_macs": {"fc": 640}})
    b = {(x["model"], x["baseline"]): x for x in r["energy"]["break_even"]}
    assert b["paper_45nm", "ann_fp32"]["max_steps"] is None  # 40 MACs whatever T: cheaper at any T
    assert "any T" in b["paper_45nm", "ann_fp32"]["changes"][0]
    loihi = b["loihi", "ann_fp32"]
    events = (50 * 23.6 + 3 * 1.7) * 1e-12
    per_step = (3 * 81 + 37 * 52) * 1e-12 / 4
    assert loihi["max_steps"] == int((640 * 4.6e-12 - events) // per_step)
    assert any("sends each sample's messages once" in c for c in loihi["changes"])


def _sweep_results(tmp_path):
    """A results.json written by the sweep's own writer (neurokit.sweep.write_results) for four trials."""
    from neurokit.sweep import SCHEMA, mark_pareto, verdict, write_results

    def row(trial, method, steps, acc, uj):
        return {"trial": trial, "label": f"{method} T={steps}", "status": "ok", "cached": False, "method": method,
                "steps": steps, "ann_accuracy": 0.97, "ann_accuracy_fine_tuned": None, "float_accuracy": acc,
                "fixed_accuracy": acc, "spikes": 1e3, "synops": 1e5, "energy_j": uj * 1e-6, "energy_ann_j": 1.33e-6,
                "fits": True, "cores": 3, "chips": 1, "latency_steps": steps + 3, "lava_match": None,
                "samples": 100, "pareto": False, "seconds": 1.0, "host": "h", "error": None, "key": str(trial),
                "options": {}, "stage_seconds": {}}

    rows = [row(0, "sdnn", 4, 0.97, 9.7), row(1, "sdnn", 8, 0.975, 11.7), row(2, "rate", 16, 0.77, 37.0),
            row(3, "rate", 48, 0.962, 116.0)]
    mark_pareto(rows)
    summary = {"schema": SCHEMA, "config": "c.toml", "model": "m.pt", "arch": None, "data": "mnist", "varied": [],
               "cache": "", "ray": None, "trials": 4, "computed": 4, "cached": 0, "failed": 0, "wall_s": 1.0,
               "rows": rows, "verdict": verdict(rows)}
    return write_results(tmp_path / "sweep", summary)["json"]


def test_report_shows_a_sweeps_configurations(tmp_path, capsys):
    import json
    import re

    results = _sweep_results(tmp_path)
    path, html = tmp_path / "run.json", tmp_path / "report.html"
    path.write_text(json.dumps(_record()))
    rc, out, err = _cli(["report", path, "--json", "--html", html, "--sweep", results], capsys)
    assert rc == 0, err
    r = json.loads(out)
    assert [t["label"] for t in r["sweep"]["rows"]] == ["sdnn T=4", "sdnn T=8", "rate T=16", "rate T=48"]
    assert r["sweep"]["verdict"]["best"]["label"] == "sdnn T=4"  # the cheapest within a point of the ANN
    assert r["sweep"]["verdict"]["beats_ann"] == []
    text = html.read_text()
    assert "alt='against_steps'" in text and "alt='pareto'" in text
    assert len(re.findall(r"src='data:image/png;base64,", text)) == 7  # the run's 5 and the sweep's 2
    rc, out, err = _cli(["report", path, "--sweep", results], capsys)
    assert "lowest Loihi energy within 1 point of the ANN: sdnn T=4" in out
    assert "no configuration costs less than the ANN (fp32); the closest is sdnn T=4 at 7.3 x" in out


@pytest.mark.parametrize("content, expect", [
    ("not json", "not JSON, so not a sweep's results"),
    ('{"rows": []}', "not the results of this neurokit's sweep"),
    ('{"schema": "neurokit-sweep-1", "rows": [{"trial": 0}]}', "a trial row has no 'label'"),
])
def test_report_refuses_a_bad_sweep_file_in_one_line(tmp_path, capsys, content, expect):
    import json

    path, bad = tmp_path / "run.json", tmp_path / "results.json"
    path.write_text(json.dumps(_record()))
    bad.write_text(content)
    rc, out, err = _cli(["report", path, "--sweep", bad, "--html", tmp_path / "r.html"], capsys)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and expect in err
    assert not (tmp_path / "r.html").exists()
