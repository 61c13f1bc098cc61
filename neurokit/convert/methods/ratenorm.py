"""Rate norm layers and the optimal fit curve (Ding, Yu, Tian & Huang, "Optimal ANN-SNN Conversion for Fast and
Accurate Inference in Deep Spiking Neural Networks", IJCAI 2021, arXiv:2105.11654; reference code
github.com/DingJianhao/OptSNNConvertion-RNL-RIL, modules.SpikingNorm and fast_train.py).

1. Rate norm layer (RNL). Each hidden ReLU becomes
       a_l = clamp(ReLU(z_l) / theta_l, 0, 1),   theta_l = p_l * sigma(s)
   where p_l is a running max of the layer's batch maxima (momentum 0.1, updated while training, as SpikingNorm's
   running_max) and sigma(s) a trainable scale in (0, 1], shared by all layers (their runs use --sharescale).
   The output a_l is already a firing rate in [0, 1], so the next layer's weights act on rates, and theta_l is the
   threshold of layer l in units of z_l. The network is fine-tuned with cross-entropy (weights only, s fixed,
   as para_train.py) starting from the given weights: layer l+1's weights are first multiplied by theta_l so the
   RNL network computes exactly what the ReLU network did (p_l starts at the max of layer l's activations on the
   calibration data, sigma(s) at 1).
2. Optimal fit curve. With rates r_T(a) of an IF neuron over T steps, the optimal linear fit of r_T against a is
   rho(T) = <r_T, a> / <a, a>, and since r_T >= a - 1/T for IF neurons starting at v = 0 it is bounded by
       rho(T) >= 1 - k / T,   k = ||a||_1 / ||a||_2^2   (per layer, averaged over layers; the code's `layerwise_k`)
   so a small k lets the SNN reach a good fit in few steps (the paper's upper bound of the fit curve's gap; the
   equation is written here from the code's k and the derivation above, not copied from the paper's text). Our neurons start at v_init thresholds, which gives
   r_T >= a - (1 - v_init) / T and the bound  rho(T) >= 1 - (1 - v_init) k / T  (v_init = 0 is the paper's case).
   Lowering the shared scale sigma(s) (the threshold shift) raises the rates, so k falls, at the price of more
   clipping. The paper trains s on  L = (1 - cos(f_ann, f)) + lambda_RIL * k  with a hand-set lambda_RIL and keeps
   the lowest-k checkpoint within an accuracy tolerance. Here lambda_RIL = (1 - v_init) / T with
   T = Settings.target_steps, so the objective is the sum of the two misfits at the target T:
       L(c) = (1 - cos(f_1, f_c)) + (1 - v_init) * k(c) / T,   c = sigma(s)
   (f_c: the RNL network's logits with scale c, f_1 the fine-tuned network's at c = 1; both on the calibration
   data). Fewer target steps give a lower c, i.e. lower thresholds theta_l = p_l * c.
The SNN then uses theta_l as layer l's scale (threshold); the output layer (no RNL in the paper either) gets the
`Settings.percentile` percentile of its positive outputs on the calibration data.

Differs from the paper: the shared scale is chosen by minimizing L(c) over a fixed grid (`SCALE_GRID`) instead of
SGD on s (one scalar; the grid is deterministic and cheap), lambda_RIL comes from the bound rather than being
hand-set, the cosine target is the fine-tuned network rather than the same network under another dropout mask,
fine-tuning is a few epochs of Adam (cosine schedule, +-2 pixel shifts on images of 16 pixels a side or more)
instead of SGD for hundreds, and the readout is the output layer's spike count (their simulation sums the last
layer's analog output, which has no neuron).
Reads Settings.percentile (output scale only), v_init, target_steps, epochs, lr, seed.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..ann import AnnGraph
from ..normalize import population_scales
from ..to_nir import group_ops
from .base import Converted, Inputs, Settings
from .torchnet import ChainModule, accuracy, clipped_output_scale, shift_for, train

EPOCHS = 10
DEFAULT_TARGET_STEPS = 32  # the T the threshold shift is tuned for, when not given
LR = 1e-4  # fine-tuning a trained network (as tcl.LR)
MOMENTUM = 0.1  # running-max momentum, SpikingNorm's default
SCALE_GRID = tuple(float(c) for c in np.geomspace(1.0, 0.2, 25))  # candidate shared scales sigma(s)
K_EPS = 1e-5  # as layerwise_k


def layerwise_k(a: torch.Tensor) -> float:
    """k = ||a||_1 / ||a||_2^2 of rates a in [0, 1] (Ding et al.'s fit-curve constant)."""
    return float(a.sum() / (a.pow(2).sum() + K_EPS))


def fit_bound(k: float, steps: int, v_init: float) -> float:
    """Lower bound of the optimal fit rho(T) of IF rates to RNL activations: 1 - (1 - v_init) k / T."""
    return 1.0 - (1.0 - v_init) * k / steps


def shift_objective(dist: float, k: float, steps: int, v_init: float) -> float:
    """L(c) = (1 - cos) + (1 - v_init) k / T: ANN misfit from clipping plus the fit-curve bound's gap at T."""
    return dist + (1.0 - v_init) * k / steps


def convert_ratenorm(ann, inputs: Inputs, settings: Settings) -> Converted:
    ops = ann.chain("conversion method 'ratenorm'")
    x, y = inputs.labelled("ratenorm")
    epochs = EPOCHS if settings.epochs is None else settings.epochs
    lr = LR if settings.lr is None else settings.lr
    steps = settings.target(DEFAULT_TARGET_STEPS)
    if steps < 1:
        raise ValueError(f"target_steps must be at least 1, got {steps}")
    calib = inputs.calibration
    groups = group_ops(ops)
    hidden = len(groups) - 1
    module = ChainModule(ops)
    p = torch.tensor(population_scales(ann, calib, 100.0)[:hidden], dtype=torch.float32)
    p_init = [float(v) for v in p]
    scale = [1.0]  # sigma(s); fixed during fine-tuning

    # Weights of layer l+1 act on rates a_l = ReLU(z_l) / theta_l: fold theta_l in so nothing changes at the start.
    with torch.no_grad():
        for i in range(hidden):
            module.synapses[i + 1].weight.mul_(float(p[i]))

    def rnl(i: int, z: torch.Tensor) -> torch.Tensor:
        r = torch.relu(z)
        if module.training:
            p[i] = (1 - MOMENTUM) * p[i] + MOMENTUM * r.detach().max()
        return torch.clamp(r / (float(p[i]) * scale[0]), 0.0, 1.0)

    def loss_fn(xb, yb):
        # theta_l moves with the running max; the previous step's theta is what this step's weights saw
        return nn.functional.cross_entropy(module(xb, rnl), yb)

    module.train()
    history = train(module.parameters(), loss_fn, x, y, epochs, lr, seed=settings.seed, shift=shift_for(x))
    module.eval()  # p is frozen from here on
    train_acc = accuracy(module, x, y, rnl)

    # Threshold shift: evaluate L(c) on the calibration data for every candidate shared scale.
    xc = torch.as_tensor(calib, dtype=torch.float32)
    grid = []
    with torch.no_grad():
        scale[0] = 1.0
        ref = module(xc, rnl)
        for c in SCALE_GRID:
            scale[0] = c
            ks = []
            for i in range(0, len(xc), 100):
                out, acts = module(xc[i:i + 100], rnl, record=True)
                last = torch.relu(out) / out.max().clamp(min=K_EPS)
                ks.append(np.mean([layerwise_k(a) for a in acts] + [layerwise_k(last)]))
            k = float(np.mean(ks))
            dist = float(1.0 - nn.functional.cosine_similarity(ref, module(xc, rnl), dim=1).mean())
            grid.append({"scale": c, "cos_distance": dist, "k": k,
                         "objective": shift_objective(dist, k, steps, settings.v_init)})
    best = min(grid, key=lambda g: g["objective"])
    scale[0] = best["scale"]
    thresholds = [float(v) * best["scale"] for v in p]

    # Back to ANN units: a'_l = theta_l * a_l = min(ReLU(z_l), theta_l), so layer l+1's weights divide by theta_l.
    with torch.no_grad():
        for i in range(hidden):
            module.synapses[i + 1].weight.div_(thresholds[i])
    thresholds_t = torch.tensor(thresholds)

    def clip(i: int, z: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.relu(z), thresholds_t[i])

    out_scale = clipped_output_scale(module, calib, clip, settings.percentile)
    info = {
        "rn_running_max_init": p_init,
        "rn_running_max": [float(v) for v in p],
        "rn_scale": best["scale"],
        "rn_thresholds": thresholds,
        "rn_output_scale": out_scale,
        "rn_target_steps": steps,
        "rn_k": best["k"],
        "rn_fit_bound": fit_bound(best["k"], steps, settings.v_init),
        "rn_cos_distance": best["cos_distance"],
        "rn_grid": grid,
        "rn_loss_history": [float(v) for v in history],
        "rn_train_accuracy": train_acc,
        "epochs": epochs,
        "lr": lr,
    }
    return Converted(AnnGraph.from_chain(module.to_ops()), scales=thresholds + [out_scale], v_init=settings.v_init, info=info)
