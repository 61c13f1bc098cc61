"""Lava against the engine on the same inputs: every layer's spikes, u and v at every step.

The engine (neurokit.backends.engine) claims Lava's fixed_pt arithmetic bit for bit; this is how a user
checks that claim on their own network and data ('neurokit verify').
"""
from __future__ import annotations

import time

import numpy as np

VARIABLES = ("spikes", "u", "v")  # compared in this order within a step


def first_mismatch(reference: list, candidate: list) -> dict | None:
    """The earliest disagreement between two lists of LayerRecord (same network, same inputs), ordered by
    sample, then step, then layer, then variable; None when every value agrees."""
    best, best_key = None, None
    for li, (ref, cand) in enumerate(zip(reference, candidate)):
        for vi, var in enumerate(VARIABLES):
            a, b = getattr(ref, var), getattr(cand, var)
            if a.shape != b.shape:
                raise ValueError(f"layer {ref.name} {var}: shapes {a.shape} and {b.shape} differ")
            diff = a != b
            if not diff.any():
                continue
            n_steps = diff.reshape(diff.shape[0], diff.shape[1], -1).any(2)  # (N, T)
            sample, step = np.argwhere(n_steps)[0]
            key = (int(sample), int(step), li, vi)
            if best_key is None or key < best_key:
                flat = int(np.argmax(diff[sample, step].reshape(-1)))
                neuron = tuple(int(i) for i in np.unravel_index(flat, a.shape[2:]))
                best_key = key
                best = {"layer": ref.name, "layer_index": li, "variable": var, "sample": int(sample),
                        "step": int(step) + 1, "neuron": list(neuron),
                        "lava": _value(a[sample, step].reshape(-1)[flat]),
                        "engine": _value(b[sample, step].reshape(-1)[flat])}
    return best


def _value(x):
    return x.item() if isinstance(x, np.generic) else x  # a plain bool, int or float for JSON


def verify(qnet, x: np.ndarray, steps: int) -> dict:
    """Run Lava fixed_pt and the engine on x; report agreement and the first mismatch (steps count from 1)."""
    from .backends import get_backend

    t0 = time.perf_counter()
    lava = get_backend("lava-fixed").record(qnet, x, steps)
    t1 = time.perf_counter()
    engine = get_backend("engine", device="cpu").record(qnet, x, steps)
    t2 = time.perf_counter()
    mismatch = first_mismatch(lava, engine)
    values = sum(getattr(r, var).size for r in lava for var in VARIABLES)
    return {
        "runner": "Lava fixed_pt", "match": mismatch is None, "samples": int(len(x)), "steps": int(steps),
        "layers": _layers(lava, engine),
        "values_compared": int(values), "first_mismatch": mismatch,
        "lava_s": t1 - t0, "engine_s": t2 - t1,
    }


def verify_netx(qnet, path: str, x: np.ndarray, steps: int) -> dict:
    """Run the netx file at `path` through lava-dl's netx.hdf5.Network in Lava fixed_pt and the engine on
    `qnet` (what neurokit deployed); report agreement on every message, sigma and act at every step, and on
    the output read for each sample."""
    from lava.magma.core.run_configs import Loihi2SimCfg

    from .backends import get_backend
    from .backends.base import LayerRecord
    from .backends.lava.netx import run_netx

    t0 = time.perf_counter()
    run = run_netx(path, qnet, qnet.encode_input(x), steps, Loihi2SimCfg(select_tag="fixed_pt"))
    netx = [LayerRecord(p.name, r["u"], r["v"], r["s"] if p.model.graded_output_bits else r["s"] != 0)
            for p, r in zip(qnet.populations, run["records"])]
    t1 = time.perf_counter()
    engine_backend = get_backend("engine", device="cpu")
    engine = engine_backend.record(qnet, x, steps)
    scores = engine_backend.run(qnet, x, steps).output_scores
    t2 = time.perf_counter()
    mismatch = first_mismatch(netx, engine)
    out_scale = qnet.output_population.model.output_scale(qnet.output_population.neuron, qnet.arithmetic)
    # a sigma-delta output's act at each read step; a spiking output's readout follows from its records
    readout_equal = (run["scores"] is None or
                     bool(np.array_equal(run["scores"].reshape(len(x), -1) / out_scale, scores)))
    return {
        "runner": "lava-dl netx.hdf5.Network in Lava fixed_pt", "match": mismatch is None and readout_equal,
        "samples": int(len(x)), "steps": int(steps), "file": str(path), "readout_equal": readout_equal,
        "layers": _layers(netx, engine), "first_mismatch": mismatch,
        "values_compared": int(sum(getattr(r, v).size for r in netx for v in VARIABLES)),
        "lava_s": t1 - t0, "engine_s": t2 - t1,
    }


def _layers(reference: list, candidate: list) -> list[dict]:
    return [{"name": r.name, "neurons": int(np.prod(r.u.shape[2:])), "spikes": int(np.count_nonzero(r.spikes)),
             "equal": bool(all(np.array_equal(getattr(r, v), getattr(e, v)) for v in VARIABLES))}
            for r, e in zip(reference, candidate)]
