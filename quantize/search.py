"""The fewest weight bits per layer within an accuracy budget.

    result = search_weight_bits(net, profile, calibration, evaluate, max_drop=0.005)
    result.bits          # {population: bits}
    result.qnet          # quantized at those bits

`evaluate(qnet) -> accuracy` is any callable (a backend run on held-out samples, usually), so the search
depends on no simulator. The reference is the accuracy with every layer at the profile's widest weights;
a configuration is kept only if it was measured within `max_drop` of it.

Greedy, largest layers first (most weights, so most memory saved): each layer gets a binary search over
its width with the others at their current widths. Binary search assumes accuracy does not rise as bits
drop; on a few hundred samples it can, by a sample or two, which only makes the search stop early, never
accept an unmeasured configuration.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np


@dataclasses.dataclass
class Trial:
    bits: dict
    accuracy: float


@dataclasses.dataclass
class BitSearchResult:
    bits: dict  # layer -> weight bits
    accuracy: float
    reference: float  # accuracy with every layer at reference_bits
    reference_bits: int
    max_drop: float
    trials: list
    weights: dict  # layer -> weight count
    qnet: object = dataclasses.field(repr=False, default=None)
    report: dict = dataclasses.field(repr=False, default=None)

    def to_dict(self) -> dict:
        return {"bits": dict(self.bits), "accuracy": self.accuracy, "reference": self.reference,
                "reference_bits": self.reference_bits, "max_drop": self.max_drop, "weights": dict(self.weights),
                "trials": [{"bits": dict(t.bits), "accuracy": t.accuracy} for t in self.trials]}


def search_weight_bits(net, profile, calibration: np.ndarray, evaluate: Callable[[object], float], max_drop: float,
                       min_bits: int = 1, max_bits: int | None = None, **quantize_options) -> BitSearchResult:
    """Fewest weight bits per layer with evaluate(qnet) >= reference - max_drop (accuracies as fractions).

    quantize_options go to quantize.quantize (input_bits, headroom).
    """
    from . import quantize

    widest = profile.synapse.weight_bits
    max_bits = widest if max_bits is None else max_bits
    if not 1 <= min_bits <= max_bits <= widest:
        raise ValueError(f"weight-bit search range must lie in 1..{widest} for profile {profile.name}, "
                         f"got {min_bits}..{max_bits}")
    if not 0 <= max_drop <= 1:
        raise ValueError(f"the accuracy budget is a drop between 0 and 1 (a fraction), got {max_drop}")
    measured: dict[tuple, float] = {}
    trials: list[Trial] = []

    def measure(bits: dict) -> float:
        key = tuple(sorted(bits.items()))
        if key not in measured:
            qnet, _ = quantize(net, profile, calibration, weight_bits=dict(bits), **quantize_options)
            acc = float(evaluate(qnet))
            if not 0.0 <= acc <= 1.0:
                raise ValueError(f"evaluate() must return an accuracy in [0, 1], got {acc}")
            measured[key] = acc
            trials.append(Trial(dict(bits), acc))
        return measured[key]

    bits = {p.name: max_bits for p in net.populations}  # every projection into a population at one width
    reference = measure(bits)
    target = reference - max_drop - 1e-12  # tolerance for float accuracies equal to the target
    weights = {p.name: int(sum(np.asarray(q.weight).size for q in net.incoming(p.name))) for p in net.populations}
    for name in sorted(weights, key=weights.get, reverse=True):
        lo, hi = min_bits, bits[name]  # bits[name] is a measured, accepted width
        while lo < hi:
            mid = (lo + hi) // 2
            if measure({**bits, name: mid}) >= target:
                hi = mid
            else:
                lo = mid + 1
        bits[name] = hi
    qnet, report = quantize(net, profile, calibration, weight_bits=dict(bits), **quantize_options)
    return BitSearchResult(bits=bits, accuracy=measure(bits), reference=reference, reference_bits=max_bits,
                           max_drop=max_drop, trials=trials, weights=weights, qnet=qnet, report=report)
