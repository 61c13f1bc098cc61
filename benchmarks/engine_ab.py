"""The engine at this revision against an earlier one, on the same machine, interleaved: did a change slow it?

Runs benchmarks/engine_vs_lava.py's engine measurements (batch 1 and batch 1,000, T = 32, the same three
networks, one fresh subprocess each) in a git worktree of --base and in this checkout, alternating
base / here for every measurement, `--repeats` times, and reports the best of each side and the change.

    .venv/bin/python benchmarks/engine_ab.py --base cb68507 [--repeats 2] [--nets mlp,cnn,vgg]

Writes benchmarks/results/engine_ab.json (or --out); --render re-prints its table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "engine_ab.json"
WHAT = {"engine1": "batch 1 steps/s", "engine_batch": "batch 1,000 sample-steps/s"}


def measure(tree: Path, net: str, what: str, steps: int, batch: int) -> float:
    cmd = [sys.executable, "benchmarks/engine_vs_lava.py", "--child", net, what, str(steps), str(batch), "cpu"]
    out = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["sample_steps_per_s"])


def render(r: dict) -> str:
    lines = [f"Engine at {r['head']} against {r['base']} (best of {r['repeats']}, T = {r['steps']}, 2 CPU cores)", "",
             "| network | measure | base | this revision | change |", "|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['net']} | {WHAT[row['what']]} | {row['base']:,.0f} | {row['head']:,.0f} | "
                     f"{100 * (row['head'] / row['base'] - 1):+.1f} % |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="git revision to compare against")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--nets", default="mlp,cnn,vgg")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--out", default=str(RESULTS), help="the results file (default benchmarks/results/engine_ab.json)")
    ap.add_argument("--render", action="store_true")
    a = ap.parse_args()
    if a.render:
        print(render(json.loads(Path(a.out).read_text())))
        return
    if not a.base:
        raise SystemExit("benchmarks/engine_ab.py: error: pass --base REV (or --render)")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="neurokit-ab-") as tmp:
        base_tree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base_tree), a.base], cwd=ROOT, check=True)
        try:
            rows = []
            for net in a.nets.split(","):
                for what in WHAT:
                    best = {"base": 0.0, "head": 0.0}
                    for _ in range(a.repeats):
                        for side, tree in (("base", base_tree), ("head", ROOT)):
                            best[side] = max(best[side], measure(tree, net, what, a.steps, a.batch))
                    rows.append({"net": net, "what": what, **best})
                    print(f"{net} {what}: base {best['base']:,.0f}, here {best['head']:,.0f}", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False)
    result = {"base": a.base, "head": head, "repeats": a.repeats, "steps": a.steps, "batch": a.batch, "rows": rows}
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))


if __name__ == "__main__":
    main()
