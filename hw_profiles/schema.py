"""What a hardware profile must contain: each field's type and allowed range.

One table, so the loader, the error messages and the docs agree.
"""

# section -> field -> (python type, min, max, meaning)
SCHEMA: dict[str, dict[str, tuple[type, float, float, str]]] = {
    "synapse": {
        "weight_bits": (int, 1, 8, "weight mantissa bits (sign included for mixed-sign layers)"),
        "weight_scale_bits": (int, 8, 8, "weights are given on this MSB-aligned scale ([-256, 255])"),
        "weight_exp_min": (int, -16, 0, "smallest shared weight exponent"),
        "weight_exp_max": (int, 0, 16, "largest shared weight exponent"),
        "conv_applies_weight_exp": (bool, 0, 1, "whether Conv synapses apply weight_exp"),
        "graded_message_bits_max": (int, 1, 32, "largest graded-spike payload"),
    },
    "neuron": {
        "state_bits": (int, 8, 32, "width of current u and voltage v (u wraps, v saturates)"),
        "threshold_bits": (int, 1, 24, "unsigned threshold mantissa bits"),
        "threshold_shift": (int, 0, 16, "threshold is compared as vth << shift"),
        "activation_shift": (int, 0, 16, "synaptic input enters u as a_in << shift"),
        "decay_bits": (int, 1, 16, "du and dv width; decay = (2**bits - d) / 2**bits"),
        "bias_mant_bits": (int, 2, 24, "signed bias mantissa bits"),
        "bias_exp_min": (int, -16, 16, "smallest bias exponent"),
        "bias_exp_max": (int, -16, 16, "largest bias exponent"),
        "reset_by_subtraction": (bool, 0, 1, "whether the chip's stock neuron resets by subtraction"),
        "max_spikes_per_step": (int, 1, 1 << 16, "spikes a neuron can emit in one time step"),
        "refractory_delay_min": (int, 1, 1 << 16, "shortest refractory delay in steps, the spike step "
                                                  "included (1: a neuron may spike in consecutive steps)"),
        "refractory_delay_max": (int, 1, 1 << 16, "longest refractory delay in steps"),
    },
    "core": {
        "neurons_per_core": (int, 1, 1 << 20, "neurons (compartments) per core"),
        "synaptic_memory_bits": (int, 1, 1 << 30, "synaptic memory per core"),
        "neuron_memory_bits": (int, 0, 1 << 15, "per-neuron state charged to the same memory (0: separate memory)"),
        "axons_in": (int, 1, 1 << 24, "input axons per core (fan-in: distinct sources a core listens to)"),
        "axons_out": (int, 1, 1 << 24, "output axon entries per core (fan-out: one per source and destination core)"),
        "memory_word_bits": (int, 1, 1024, "synaptic memory word; each synapse list is rounded up to whole words"),
        "synapse_list_max": (int, 1, 1 << 16, "synapses one list entry can hold; longer lists are split"),
        "synapse_list_header_bits": (int, 0, 1024, "header bits of each synapse list entry (format, count)"),
        "dense_synapse_overhead_bits": (int, 0, 64, "bits beyond the weight per synapse, dense encoding"),
        "sparse_synapse_overhead_bits": (int, 0, 64, "bits beyond the weight per synapse, sparse encoding (target index)"),
        "conv_synapse_overhead_bits": (int, 0, 64, "bits beyond the weight per synapse, shared-convolution encoding"),
        "population_axons": (bool, 0, 1, "whether one axon can carry a whole pixel's channels (population axons)"),
        "population_axon_slots": (int, 1, 16, "output axon entries one population axon occupies"),
    },
    "chip": {
        "cores_per_chip": (int, 1, 4096, "neurocores per chip"),
        "cores_per_tile": (int, 1, 4096, "cores sharing one router tile of the mesh (the traffic estimate)"),
        "mesh_columns": (int, 1, 4096, "tiles per mesh row (the traffic estimate's tile coordinates)"),
    },
    "board": {
        "chips_per_board": (int, 1, 1 << 16, "chips on the board this profile describes"),
    },
    "energy": {
        # Loihi per-op (event) model: Davies et al. 2018, Table 2 (Loihi 1), used as a proxy for Loihi 2
        "synop_pj": (float, 0, 1e6, "energy per synaptic operation (one spike into one synapse)"),
        "neuron_update_active_pj": (float, 0, 1e6, "energy per neuron update in a step where it spikes"),
        "neuron_update_inactive_pj": (float, 0, 1e6, "energy per neuron update in a step where it does not"),
        "spike_route_pj": (float, 0, 1e6, "energy to route one output spike when the placement is unknown "
                                          "(within a tile, up to one tile hop)"),
        "message_pj": (float, 0, 1e6, "energy of one core-to-core message within a tile (placement known)"),
        "hop_ew_pj": (float, 0, 1e6, "energy of one east-west tile hop of a message"),
        "hop_ns_pj": (float, 0, 1e6, "energy of one north-south tile hop of a message"),
        # static power x latency: what the board draws while a sample's T steps run
        "static_power_w": (float, 0, 1e4, "static (leakage and idle) power of the chip or board, watts"),
        "step_time_us": (float, 0, 1e9, "wall time of one algorithmic time step, microseconds"),
        # ANN baselines (45 nm, Horowitz 2014)
        "ann_mac_fp32_pj": (float, 0, 1e6, "energy per fp32 multiply-accumulate (ANN baseline)"),
        "ann_mac_int8_pj": (float, 0, 1e6, "energy per int8 multiply-accumulate (ANN baseline)"),
        # the conversion papers' convention (45 nm): an SNN's effective ACs and MACs against the ANN's MACs
        "paper_ac_pj": (float, 0, 1e6, "energy per accumulate (AC), the papers' 45 nm convention"),
        "paper_mac_pj": (float, 0, 1e6, "energy per multiply-accumulate (MAC), the papers' 45 nm convention"),
    },
}

# sections a profile may leave out: without [energy] a profile quantizes and fits, but reports no energy
OPTIONAL_SECTIONS = ("energy",)
# fields a profile may leave out (profiles written before they existed keep loading): without the mesh's
# layout and the message and hop energies, a report prices one within-tile route per spike (spike_route_pj)
OPTIONAL_FIELDS = ("chip.cores_per_tile", "chip.mesh_columns", "energy.message_pj", "energy.hop_ew_pj",
                   "energy.hop_ns_pj")
MESH_FIELDS = OPTIONAL_FIELDS
# sections whose fields may carry a low/high range around their value (the report shows every figure with it)
RANGED_SECTIONS = ("energy",)
