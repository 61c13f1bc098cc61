"""Trainable clipping layers, TCL (Ho & Chang, "TCL: an ANN-to-SNN Conversion with Trainable Clipping Layers",
DAC 2021, arXiv:2008.04509).

Every hidden ReLU becomes a clipping layer  y = min(ReLU(z), lambda_l)  with one trainable scalar lambda_l per
layer (population: residual and branching graphs too). The network is fine-tuned, weights and lambdas together, on cross-entropy plus an L2 penalty on the
lambdas (`PENALTY` * sum_l lambda_l^2), which pulls each bound down to where clipping starts to cost accuracy.
The trained lambda_l is then the layer's normalization factor: the SNN threshold (one spike per step) stands for
lambda_l, so the SNN saturates exactly where the trained ANN clips and no activation is lost above the threshold
(Rueckauer-style data normalization with the data-based percentile replaced by a learned bound).

Here:
- lambda_l starts at the `Settings.percentile` (99.9) percentile of layer l's positive ReLU activations on the
  calibration data, and is trained as lambda_l = lambda0_l * (1 + LAMBDA_GAIN * w_l) with w_l = 0 at the start, so
  that Adam's step (about lr per step on w_l) is a relative change of the bound whatever its size in ANN units,
  LAMBDA_GAIN times the weights' rate; the penalty is on lambda_l itself, as in the paper.
- The output layer has no ReLU, so no clipping layer (the paper clips after ReLUs only); its scale is the
  percentile of the positive outputs of the trained, clipped network on the calibration data.
- Fine-tuning starts from the given weights (BatchNorm folded) for `Settings.epochs` (default `EPOCHS`) epochs at
  `Settings.lr` (default `LR`) with the shared loop (Adam, cosine schedule, +-2 pixel shifts for images of 16
  pixels a side or more); the paper trains (or fine-tunes) for many epochs with SGD. Dropout and BatchNorm are
  gone after folding, so fine-tuning runs without them.
Reads Settings.percentile, v_init, epochs, lr, seed.
"""
from __future__ import annotations

import torch
from torch import nn

from ..normalize import population_scales
from .base import Converted, Inputs, Settings
from .torchnet import AnnModule, accuracy, clipped_output_scale, shift_for, train

# L2 coefficient on the clipping bounds (Ho & Chang 2021 train the bounds with an L2 penalty
# like the weights); 5e-4 is the usual weight-decay strength of the CIFAR / ImageNet VGG and ResNet training
# they start from.
PENALTY = 5e-4
EPOCHS = 10
LR = 1e-4  # fine-tuning a trained network: larger steps (5e-4, 1e-3) raised the loss first and cost SNN accuracy
# lambda_l = lambda0_l * (1 + LAMBDA_GAIN * w_l), w_l = 0 at the start: Adam moves w_l by about lr per step, so the
# bounds move LAMBDA_GAIN times faster (relative) than the weights and reach the equilibrium of cross-entropy and
# penalty within a short fine-tuning (measured on the MNIST CNN: 10 epochs reach what 30 epochs at gain 1 approach).
LAMBDA_GAIN = 10.0


def convert_tcl(ann, inputs: Inputs, settings: Settings) -> Converted:
    """Any graph: chains, residual and branching models (one clipping bound per hidden population)."""
    x, y = inputs.labelled("tcl")
    epochs = EPOCHS if settings.epochs is None else settings.epochs
    lr = LR if settings.lr is None else settings.lr
    module = AnnModule(ann)
    hidden = len(module.hidden)
    init = population_scales(ann, inputs.calibration, settings.percentile)[:hidden]

    lam0 = torch.tensor(init, dtype=torch.float32)
    w = nn.Parameter(torch.zeros(hidden))

    def lambdas() -> torch.Tensor:  # kept positive: a bound at or below zero would silence the layer
        return lam0 * torch.clamp(1 + LAMBDA_GAIN * w, min=1e-3)

    def clip(i: int, z: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.relu(z), lambdas()[i])

    def loss_fn(xb, yb):
        return nn.functional.cross_entropy(module(xb, clip), yb) + PENALTY * (lambdas() ** 2).sum()

    module.train()
    history = train(list(module.parameters()) + [w], loss_fn, x, y, epochs, lr, seed=settings.seed,
                    shift=shift_for(x))
    trained = [float(v) for v in lambdas().detach()]
    out_scale = clipped_output_scale(module, inputs.calibration, clip, settings.percentile)
    info = {
        "tcl_lambdas_init": [float(v) for v in init],
        "tcl_lambdas_trained": trained,
        "tcl_output_scale": out_scale,
        "tcl_loss_history": [float(v) for v in history],
        "tcl_train_accuracy": accuracy(module, x, y, clip),
        "epochs": epochs,
        "lr": lr,
        "tcl_penalty": PENALTY,
    }
    return Converted(module.to_ann(), scales=trained + [out_scale], v_init=settings.v_init, info=info)
