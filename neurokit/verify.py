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
        "match": mismatch is None, "samples": int(len(x)), "steps": int(steps),
        "layers": [{"name": r.name, "neurons": int(np.prod(r.u.shape[2:])),
                    "spikes": int(r.spikes.sum()), "equal": bool(all(np.array_equal(getattr(r, v), getattr(e, v))
                                                                   for v in VARIABLES))}
                   for r, e in zip(lava, engine)],
        "values_compared": int(values), "first_mismatch": mismatch,
        "lava_s": t1 - t0, "engine_s": t2 - t1,
    }
