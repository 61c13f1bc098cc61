"""Input coding, one definition for every backend so all of them see the same input.

- "current": the sample is a constant current into the first layer, sent every step as graded messages.
- "delta": the sample's change since the previous sample, sent once as graded messages (x_t - x_(t-1))
  << spike_exp, as netx's input Delta layer sends it: a sigma-delta network's input (neurokit.neurons.sigma_delta).
- "rate": Bernoulli spikes, P(spike in a step) = the input value, which must lie in [0, 1]. The spike train
  of sample i depends only on (seed, i), so any backend, batch size or subset sees identical spikes.
The choice is made at conversion and travels in the network's metadata ("input_encoding").
"""
from __future__ import annotations

import numpy as np

from .errors import InputShapeError

ENCODINGS = ("current", "rate", "delta")
RATE_SEED = 0


def encoding_of(net) -> str:
    enc = net.metadata.get("input_encoding", "current")
    if enc not in ENCODINGS:
        raise InputShapeError(f"the network's input_encoding is {enc!r}; neurokit knows {', '.join(ENCODINGS)}")
    return enc


def check_encoding(encoding: str, x: np.ndarray) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(f"input coding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if encoding == "rate" and x.size and (float(np.min(x)) < 0 or float(np.max(x)) > 1):
        raise InputShapeError(f"rate coding needs inputs in [0, 1] (spike probabilities); this data spans "
                              f"[{float(np.min(x)):.3g}, {float(np.max(x)):.3g}]: rescale it or use --input-coding current")


def rate_spikes(x: np.ndarray, steps: int, first_index: int = 0, seed: int = RATE_SEED) -> np.ndarray:
    """(N, *shape) values in [0, 1] -> (N, steps, *shape) uint8 spikes; sample k uses the stream (seed, first_index + k)."""
    x = np.asarray(x, np.float64)
    out = np.empty((len(x), steps) + x.shape[1:], np.uint8)
    for k in range(len(x)):
        rng = np.random.default_rng([seed, first_index + k])
        out[k] = rng.random((steps,) + x.shape[1:]) < x[k]
    return out


def delta_events(frames: np.ndarray) -> np.ndarray:
    """Input messages per input element that delta coding sends for samples (N, *shape) run in sequence:
    one wherever a sample differs from the one before (the first from zero)."""
    frames = np.asarray(frames)
    if not len(frames):
        return np.zeros(frames.shape[1:])
    previous = np.concatenate([np.zeros_like(frames[:1]), frames[:-1]])
    return (frames != previous).sum(0).astype(np.float64)
