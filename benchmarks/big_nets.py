"""Big nets on the CPU: a VGG-16-shaped and a ResNet-18-shaped CIFAR-10 net through convert, lower, quantize
and fit, with the wall time of each stage (the issue's bar: under 60 s each on 2 cores).

    .venv/bin/python benchmarks/big_nets.py [--nets vgg16,resnet18] [--methods sdnn,rate] [--calibration 500]

The weights are random (untrained; BatchNorm statistics drawn so that folding them is not the identity) and
the data are random CIFAR-shaped images (neurokit.data.random_images): these stages depend on the shapes and
the weights, not on what a net has learned. Each net goes through what `neurokit deploy` runs before its
simulations, with deploy's defaults: 500 calibration samples, percentile 99.9, the loihi2 profile;
`sdnn` is --target loihi2's default method, `rate` --target sim's. Prints a table and writes
benchmarks/results/big_nets.json (and .md).

    VGG-16 (CIFAR):  13 conv 3x3 (64, 64, P, 128, 128, P, 256 x 3, P, 512 x 3, P, 512 x 3, P) + 512-512-10,
                     average pooling (Loihi has no max pooling), BN after every conv: 15.3 M weights
    ResNet-18 (CIFAR): 3x3 stem of 64, 4 stages x 2 basic blocks (64, 128, 256, 512; stride 2 and a 1x1
                     projection from the second stage), global average pooling, linear read-out: 11.2 M weights
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
LIMIT_S = 60.0  # the bar for convert + quantize + fit of each net

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402


def _randomize_bn(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def vgg16(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layers, c_in = [], 3
    for c in (64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512, "P"):
        if c == "P":
            layers.append(nn.AvgPool2d(2))
        else:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
    layers += [nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)]
    return _randomize_bn(nn.Sequential(*layers))


def resnet18(seed: int = 0) -> nn.Module:
    """examples/resnet_cifar's BasicBlock, in ResNet-18's stages; traced by torch.fx like that example."""
    spec = importlib.util.spec_from_file_location("resnet_cifar_model", ROOT / "examples" / "resnet_cifar" / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    torch.manual_seed(seed)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
            blocks, c_in = [], 64
            for c, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                blocks += [mod.BasicBlock(c_in, c, stride), mod.BasicBlock(c, c, 1)]
                c_in = c
            self.blocks = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))

    return torch.fx.symbolic_trace(_randomize_bn(ResNet18()))


NETS = {"vgg16": ("VGG-16 (CIFAR)", vgg16), "resnet18": ("ResNet-18 (CIFAR)", resnet18)}


def run(net_name: str, method: str, calibration: int) -> dict:
    from hw_profiles import load_profile

    from neurokit.data import random_images
    from neurokit.lower import from_nir
    from neurokit.pipeline import StageClock, conversion_settings, convert_model, fit_summary, quantize_network
    from neurokit.targets import check_target

    clock = StageClock()
    title, build = NETS[net_name]
    with clock("build"):
        model = build()
        calib = random_images(calibration, (3, 32, 32))["x_train"]
        profile = load_profile("loihi2")
    target = "loihi2" if method in ("sdnn", "lif", "lasnn") else "sim"
    with clock("convert"):
        settings = conversion_settings(99.9, 0.5, None, None, None, 0.0, target)
        graph = convert_model(model, calib, method=method, settings=settings)
    with clock("lower"):
        net = from_nir(graph)
        check_target(net, target)
    with clock("quantize"):
        qnet, _ = quantize_network(net, profile, calib)
    with clock("fit"):
        fit = fit_summary(qnet, profile)
    s = clock.seconds
    total = s["convert"] + s["lower"] + s["quantize"] + s["fit"]
    return {"net": net_name, "title": title, "method": method, "target": target, "calibration": calibration,
            "weights": int(sum(p.numel() for p in model.parameters())),
            "ann_macs": int(sum(net.metadata["ann_macs"].values())), "populations": len(net.populations),
            "neurons": int(sum(p.n_neurons for p in net.populations)),
            "fits": fit["fits"], "cores": fit["cores"], "chips": fit["chips"], "problem": fit["problem"],
            "seconds": {k: round(v, 3) for k, v in s.items()}, "total_s": round(total, 3),
            "under_limit": total < LIMIT_S}


def render(record: dict) -> str:
    head = ("| net | method | weights | ANN MACs | neurons | convert s | lower s | quantize s | fit s | total s | "
            "fits (cores, chips) |")
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in record["runs"]:
        s = r["seconds"]
        fits = f"yes ({r['cores']}, {r['chips']})" if r["fits"] else f"no ({r['cores']} cores, {r['chips']} chips)"
        lines.append(f"| {r['title']} | {r['method']} | {r['weights'] / 1e6:.1f} M | {r['ann_macs'] / 1e6:.0f} M | "
                     f"{r['neurons']:,} | {s['convert']:.1f} | {s['lower']:.2f} | {s['quantize']:.1f} | "
                     f"{s['fit']:.1f} | **{r['total_s']:.1f}** | {fits} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", default="vgg16,resnet18")
    ap.add_argument("--methods", default="sdnn,rate")
    ap.add_argument("--calibration", type=int, default=500, help="calibration samples (deploy's default: 500)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    a = ap.parse_args()
    runs = []
    for net in a.nets.split(","):
        for method in a.methods.split(","):
            r = run(net, method, a.calibration)
            runs.append(r)
            print(f"{r['title']:18s} {method:5s} " + "  ".join(f"{k} {v:.2f} s" for k, v in r["seconds"].items())
                  + f"  | convert+lower+quantize+fit {r['total_s']:.1f} s"
                  + ("" if r["under_limit"] else f"  OVER {LIMIT_S:.0f} s"), flush=True)
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    record = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
                         f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}",
              "load_average_after": load, "limit_s": LIMIT_S, "runs": runs}
    print(render(record))
    if not a.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "big_nets.json").write_text(json.dumps(record, indent=2) + "\n")
        (RESULTS / "big_nets.md").write_text(render(record) + "\n")


if __name__ == "__main__":
    main()
