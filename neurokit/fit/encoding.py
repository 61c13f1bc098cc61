"""What synapses cost in a core's memory, per encoding.

The layout is Loihi 1's, which nengo-loihi's open compiler documents (block.py, SynapseConfig.bits_per_axon);
Loihi 2's is unpublished and the Loihi 2 profiles take Loihi 1's as their stand-in. Each input axon of a
core points at a synapse list; a list holds at most `synapse_list_max` synapses per entry, each entry costs
a header plus (weight bits + per-synapse overhead) per synapse, rounded up to whole memory words.

Encodings (per-synapse overhead from the profile):
- dense:      one axon per presynaptic neuron; its list covers every neuron of the core, zeros included,
              so no target index is stored (overhead 0 on Loihi).
- sparse:     one axon per presynaptic neuron; its list holds only its nonzero synapses, each with a
              target index.
- conv:       shared convolution weights behind population axons: one axon per input pixel carries all
              its channels (atoms). Pixels with the same set of valid kernel taps share one weight set, a
              list of channels x taps x the core's output channels (interior pixels share one; borders and
              stride phases need their own), as nengo-loihi's conv2d_loihi_weights builds them. All kernel
              taps are stored, zeros included.
- population: a dense layer reading a (C, H, W) map through population axons: one axon per pixel and one
              weight set per pixel of C x the core's neurons synapses, zeros included, nothing shared.
"""
from __future__ import annotations

import numpy as np

from .limits import CoreLimits

ENCODINGS = ("dense", "sparse", "conv", "population")
POPULATION_ENCODINGS = ("conv", "population")  # one axon per pixel, channels as atoms


def list_bits(n_synapses, bits_per_synapse: int, lim: CoreLimits) -> np.ndarray:
    """Memory of synapse lists holding n synapses each (vectorized over n; an empty list costs nothing)."""
    n = np.asarray(n_synapses, np.int64)

    def entry(k):
        return -(-(k * bits_per_synapse + lim.list_header_bits) // lim.word_bits) * lim.word_bits

    full, rest = np.divmod(n, lim.list_max)
    return full * entry(lim.list_max) + np.where(rest > 0, entry(rest), 0)


def synapse_bits(weight_bits: int, encoding: str, lim: CoreLimits) -> int:
    return weight_bits + lim.overhead_bits[encoding]
