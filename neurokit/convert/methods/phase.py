"""Single-spike phase coding with base manipulation (Hwang & Kung 2024, "One-Spike SNN: Single-Spike Phase
Coding with Base Manipulation for ANN-to-SNN Conversion Loss Minimization", IEEE TETC; arXiv 2403.08786).

The code. Every layer sends each activation as at most ONE spike per window of K steps (phases). A spike at
phase k stands for the value b**-(K-1-k) (late spike = large value), so a layer's output takes one of
{0} U {b**-j : j = 0..K-1}. Plain single-spike phase coding keeps only the leading bit of a binary phase
code (b = 2, thresholds at the powers of 2): it truncates, losing up to half of a value. The paper's two
remedies, which this method applies per layer with a grid search on calibration activations:
- threshold shift h: fire value b**-j already when v >= h * b**-j (h < 1 turns truncation into something
  close to rounding);
- base manipulation: a base b < 2 spaces the representable values more densely near 1 (at the price of
  range: the smallest nonzero value is b**-(K-1)).
(b, h) minimize the mean squared coding error (decoded value - activation / lambda)**2 over the layer's
calibration activations, where each layer's activations are computed from the already coded (decoded)
outputs of the layers before it, so the search sees the error it inherits. b is searched in
[1.1, 2.0] (step 0.05, plus 1.02..1.08 for long windows, where the best base approaches 1), h in
[0.5, 1.0] (step 0.05). Scales lambda come from data-based normalization
(`activation_scales` at Settings.percentile), as for the rate method.

The neuron (neurokit.neurons.phase; semantics shared by every backend). A receiver decodes the code with
Horner's rule on a decaying accumulator: u <- u / b_in + input + bias each step of its integration window
(b_in = the sender's base), so after K steps u = sum_k input_k * b_in**-(K-1-k) = W . decoded + G * bias,
G = sum_j b_in**-j. At the window's last step it latches v <- u and clears u; during the next K steps it
fires at phase k iff h b**-j <= v < h b**-(j-1), j = K-1-k (j = 0: v >= h, so values above 1 saturate at 1;
v < h b**-(K-1) never fires: value 0). At most one spike per window by construction.
Timing, with one step of synaptic delay per layer. The input is an analog current held every step, so
layer 0 needs one step to integrate it: it receives it at step 1, latches v at step 1 and fires during
steps 2..K+1, which layer 1 receives (one step later) during 3..K+2; layer l >= 1 integrates during
offset_l .. offset_l + K - 1, offset_1 = 3, offset_(l+1) = offset_l + K + 1. The last layer's latched v is
the network's output (read out as a potential): an inference takes T = (L - 1) * (K + 1) + 2 steps for
L >= 2 layers, and K is the largest window with T <= Settings.target_steps (at least 1).
(Integrating the held input over K steps as well, scaled by 1/K, costs K - 1 steps and, in fixed point,
weight resolution: layer 0's weights shrink by K while its threshold scale is capped by the state width.)
Every layer's bias is added at each step of its integration window, so biases carry 1/G
(G = sum_j b_in**-j over those steps, 1 for layer 0): the latched v equals the ANN pre-activation / lambda.

Differences from the paper. Only its abstract and third-party summaries were available while this was
written, so the details above are this implementation's reading of "single-spike phase coding, threshold
shift, base manipulation", not a transcription; in particular: the (b, h) search criterion here is the
per-layer mean squared coding error with inherited errors, on a fixed grid; layers run one window each
per sample, in a pipeline (consecutive samples do not overlap); the input is a held analog current read
by layer 0 in one step rather than a phase-coded input; the output layer is read as a membrane potential.

Loihi 2. This neuron is not Lava's LIF, and Lava's Loihi2HwCfg path cannot run it as is: on the chip it
needs a custom neuron program (Loihi 2 NeuroCores run user microcode for neuron models) with
- a phase counter (or time-step modulo the window) that switches between integrate, latch and fire,
- the decaying accumulator u <- trunc(u * D / 4096) + (a_in << 6) + bias during the integration window
  (the same 12-bit multiplicative decay Loihi's CUBA neurons apply to v),
- a latch v <- u, u <- 0 at the window's end,
- a two-sided threshold test per phase, lo[k] <= v < hi[k], with K integer thresholds per neuron group
  (a table or a shift-and-compare; with b = 2 the thresholds are shifts of one another).
neurokit's Lava process (neurokit.backends.lava.proc PhaseNeuron) implements exactly this arithmetic for
the CPU simulator (floating_pt and fixed_pt) and neurokit's engine matches it bit for bit; no microcode
for the chip is provided here (lava-loihi is not available to this project). A Loihi 2 alternative that
avoids the two-sided test (a guess, untested): send the decoded value as a graded spike (Loihi 2 supports
graded spikes with integer payloads) at the end of the window, which turns this into a K-step,
one-message-per-neuron scheme whose cost and accuracy differ from the paper's binary single spike.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ...neurons import Phase, PhaseCode
from ..ann import AnnGraph, forward_ops
from ..normalize import population_scales
from ..to_nir import group_ops
from .base import Converted, Inputs, Settings

BASES = np.round(np.concatenate([[1.02, 1.04, 1.06, 1.08], np.arange(1.10, 2.0001, 0.05)]), 2)
SHIFTS = np.round(np.arange(0.50, 1.0001, 0.05), 2)
DEFAULT_TARGET_STEPS = 32  # total steps per inference the windows are sized for, when not given
SEARCH_SAMPLES = 256  # calibration samples the (b, h) search reads
SEARCH_VALUES = 200_000  # positive activations per layer it scores (a random subset beyond that)


def phase_window(target_steps: int, layers: int) -> int:
    """The largest K with latency(K, L) <= target_steps (at least 1 phase)."""
    if layers < 2:
        return 1
    return max(1, (int(target_steps) - 2) // (int(layers) - 1) - 1)


def phase_timing(window: int, layers: int) -> tuple[list[int], list[int]]:
    """(offset, integrate) per layer: layer 0 integrates the held input in one step (step 1); layer l >= 1
    integrates the K phases of layer l - 1, one step after they are sent."""
    offsets, integrate = [1], [1]
    for _ in range(1, layers):
        offsets.append(offsets[-1] + integrate[-1] + 1)
        integrate.append(window)
    return offsets, integrate


def latency_steps(window: int, layers: int) -> int:
    offsets, integrate = phase_timing(window, layers)
    return offsets[-1] + integrate[-1]


def decode(v: np.ndarray, base: float, shift: float, window: int) -> np.ndarray:
    """The value a phase neuron with latched potential v sends: base**-j for the j with
    shift * base**-j <= v < shift * base**-(j-1) (v >= shift: 1), 0 below shift * base**-(window-1)."""
    thr_ascending = (shift * float(base) ** -np.arange(window, dtype=np.float64))[::-1]
    n = np.searchsorted(thr_ascending, v, side="right")  # thresholds <= v
    values = np.concatenate([[0.0], float(base) ** -np.arange(window - 1, -1, -1, dtype=np.float64)])
    return values[n]


def coding_error(v: np.ndarray, base: float, shift: float, window: int, total: int) -> float:
    """Mean squared error of decode(v) against max(v, 0), over `total` activations of which `v` are the
    positive ones (the others decode to 0 exactly)."""
    if total == 0:
        return 0.0
    return float(np.sum((decode(v, base, shift, window) - v) ** 2) / total)


def search(v: np.ndarray, total: int, window: int) -> tuple[float, float, float]:
    """(base, shift, error) minimizing coding_error over the grid."""
    best = (2.0, 1.0, coding_error(v, 2.0, 1.0, window, total))
    for b in BASES:
        for h in SHIFTS:
            e = coding_error(v, float(b), float(h), window, total)
            if e < best[2] - 1e-15:
                best = (float(b), float(h), e)
    return best


def _group_ranges(ops, groups):
    """(first op, synapse op) list indices per group."""
    out = []
    for g in groups:
        s = ops.index(g.synapse)
        out.append((ops.index(g.pre[0]) if g.pre else s, s))
    return out


def _coded_chain(ops, groups, scales, x: np.ndarray, window: int, choose, rng) -> list[dict]:
    """Run the ANN with every hidden layer's output replaced by its phase-coded value. choose(l, v, total)
    picks (base, shift) for layer l from its positive normalized activations v. Returns per layer
    {base, shift, error} plus the last layer's output error."""
    ranges = _group_ranges(ops, groups)
    h = torch.as_tensor(x, dtype=torch.float64)
    out = []
    for l, ((start, syn), lam) in enumerate(zip(ranges, scales)):
        pre = forward_ops(ops[start:syn + 1], h)  # pre-activation in ANN units
        v = (pre / lam).numpy()
        if l == len(groups) - 1:
            out.append({"output_rms": float(np.sqrt(np.mean(v ** 2)))})
            return out
        flat = v.ravel()
        pos = flat[flat > 0]
        if pos.size > SEARCH_VALUES:  # the error is a mean: a random subset estimates it
            total = int(round(flat.size * SEARCH_VALUES / pos.size))
            pos = rng.choice(pos, SEARCH_VALUES, replace=False)
        else:
            total = flat.size
        b, s = choose(l, pos, total)
        out.append({"base": b, "shift": s, "error": coding_error(pos, b, s, window, total),
                    "relu_ms": float(np.sum(pos ** 2) / max(total, 1))})
        h = torch.from_numpy(decode(np.maximum(v, 0.0), b, s, window) * lam)
    return out


def convert_phase(ann, inputs: Inputs, settings: Settings) -> Converted:
    """Reads Settings.percentile, target_steps, seed."""
    ops = ann.chain("conversion method 'phase'")
    groups = group_ops(ops)
    n_layers = len(groups)
    target = settings.target(DEFAULT_TARGET_STEPS)
    window = phase_window(target, n_layers)
    offsets, integrate = phase_timing(window, n_layers)
    scales = population_scales(ann, inputs.calibration, settings.percentile)
    x = np.asarray(inputs.calibration[:SEARCH_SAMPLES], np.float64)

    plain = _coded_chain(ops, groups, scales, x, window, lambda l, v, t: (2.0, 1.0),
                         np.random.default_rng(settings.seed))
    searched = _coded_chain(ops, groups, scales, x, window, lambda l, v, t: search(v, t, window)[:2],
                            np.random.default_rng(settings.seed))

    bases = [p["base"] for p in searched[:-1]] + [2.0]  # the output layer is read as a potential
    shifts = [p["shift"] for p in searched[:-1]] + [1.0]
    in_bases = [1.0] + bases[:-1]
    gains = [float(np.sum(ib ** -np.arange(n, dtype=np.float64))) for ib, n in zip(in_bases, integrate)]

    new_ops = [dataclasses.replace(op, params=dict(op.params)) for op in ops]
    for l, g in enumerate(groups):
        p = new_ops[ops.index(g.synapse)].params
        p["bias"] = np.asarray(p["bias"], np.float64) / gains[l]  # added every step of the window
        if l == 0:
            p["weight"] = np.asarray(p["weight"], np.float64) / gains[0]  # the held input (1 step: gain 1)
    shapes = AnnGraph.from_chain(ops).shapes(tuple(np.shape(inputs.calibration)[1:]))
    neurons = [Phase(bias=np.zeros(shapes[ops[g.activation_op].name]),
                     code=PhaseCode(base=bases[l], shift=shifts[l], window=window, offset=offsets[l],
                                    in_base=in_bases[l], integrate=integrate[l]))
               for l, g in enumerate(groups)]
    layers_info = []
    for l in range(n_layers):
        entry = {"base": bases[l], "shift": shifts[l], "in_base": in_bases[l], "offset": offsets[l],
                 "integrate": integrate[l], "gain": gains[l]}
        if l < n_layers - 1:
            entry.update(error_plain=plain[l]["error"], error=searched[l]["error"],
                         activation_ms=searched[l]["relu_ms"])
        else:
            entry["readout"] = "latched potential"
        layers_info.append(entry)
    info = {
        "coding": "phase",
        "readout": "potential",  # the output layer's latched v, whatever the caller asked for
        "phase": {"window": window, "layers_count": n_layers, "latency_steps": latency_steps(window, n_layers),
                  "target_steps": target, "search_samples": int(len(x)),
                  "bases_searched": [float(BASES[0]), float(BASES[-1])],
                  "shifts_searched": [float(SHIFTS[0]), float(SHIFTS[-1])],
                  "layers": layers_info},
    }
    return Converted(AnnGraph.from_chain(new_ops), scales, 0.0, neurons, info)
