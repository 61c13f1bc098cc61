"""Neuron models, one plug-in each (neurokit.neurons.base.NeuronModel): how a population of that model is
read from and written to NIR, quantized, stepped by the engine (float and fixed point), built as a Lava
process, read out, and how close it comes to the chip's state limits. No stage tests a model by hand.

    cuba   Loihi's CUBA compartment (u with decay, v with decay, bias, threshold): integrate-and-fire
           (du = 1, dv = 0) with reset by subtraction or to zero, and leaky variants
    phase  single-spike phase coding (neurokit/convert/methods/phase.py): a neuron program of its own
    sigma_delta  Lava's SigmaDelta (netx SDNN): ReLU with graded delta spikes, stock on Loihi 2

A population's parameters are a dataclass whose class attribute `model` names its model here.
"""
from __future__ import annotations

from .base import NeuronModel, QuantizedNeuron, model_for_nir, model_named, model_of, register
from .cuba import CUBA, Cuba, QCuba
from .phase import PHASE, Phase, PhaseCode, QPhase, QPhaseNeuron
from .sigma_delta import SIGMA_DELTA, QSigmaDelta, SigmaDelta

__all__ = ["NeuronModel", "QuantizedNeuron", "model_for_nir", "model_named", "model_of", "register",
           "CUBA", "Cuba", "QCuba", "PHASE", "Phase", "PhaseCode", "QPhase", "QPhaseNeuron",
           "SIGMA_DELTA", "SigmaDelta", "QSigmaDelta"]
