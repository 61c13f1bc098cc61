"""The numbers from a hardware profile that placement needs, each traceable to its profile key."""
from __future__ import annotations

import dataclasses

# limit name -> the profile key that sets it (for messages and the constants table)
PROFILE_KEYS = {
    "neurons": "core.neurons_per_core",
    "memory": "core.synaptic_memory_bits",
    "axons_in": "core.axons_in",
    "axons_out": "core.axons_out",
    "cores": "chip.cores_per_chip",
    "chips": "board.chips_per_board",
}
LIMIT_WORDS = {
    "neurons": "neurons per core",
    "memory": "synaptic memory per core",
    "axons_in": "input axons per core (fan-in)",
    "axons_out": "output axons per core (fan-out)",
    "cores": "cores per chip",
    "chips": "chips per board",
}
# every profile constant the cost model reads, for the report's constants table
USED_KEYS = (
    "core.neurons_per_core", "core.synaptic_memory_bits", "core.neuron_memory_bits", "core.axons_in",
    "core.axons_out", "core.memory_word_bits", "core.synapse_list_max", "core.synapse_list_header_bits",
    "core.dense_synapse_overhead_bits", "core.sparse_synapse_overhead_bits", "core.conv_synapse_overhead_bits",
    "core.population_axons", "core.population_axon_slots", "chip.cores_per_chip", "board.chips_per_board",
    "synapse.weight_bits",
)


@dataclasses.dataclass(frozen=True)
class CoreLimits:
    neurons: int
    memory_bits: int
    neuron_memory_bits: int  # per neuron, charged to the same memory as the synapses
    axons_in: int
    axons_out: int
    word_bits: int
    list_max: int
    list_header_bits: int
    overhead_bits: dict  # encoding -> bits per synapse beyond the weight
    population_axons: bool
    population_axon_slots: int
    cores_per_chip: int
    chips_per_board: int

    @classmethod
    def from_profile(cls, profile) -> "CoreLimits":
        c = profile.core
        return cls(
            neurons=c.neurons_per_core, memory_bits=c.synaptic_memory_bits, neuron_memory_bits=c.neuron_memory_bits,
            axons_in=c.axons_in, axons_out=c.axons_out, word_bits=c.memory_word_bits, list_max=c.synapse_list_max,
            list_header_bits=c.synapse_list_header_bits,
            overhead_bits={"dense": c.dense_synapse_overhead_bits, "sparse": c.sparse_synapse_overhead_bits,
                           "conv": c.conv_synapse_overhead_bits, "population": c.conv_synapse_overhead_bits},
            population_axons=c.population_axons, population_axon_slots=c.population_axon_slots,
            cores_per_chip=profile.chip.cores_per_chip, chips_per_board=profile.board.chips_per_board,
        )

    def limit(self, name: str) -> int:
        return {"neurons": self.neurons, "memory": self.memory_bits, "axons_in": self.axons_in,
                "axons_out": self.axons_out, "cores": self.cores_per_chip,
                "chips": self.chips_per_board}[name]


def cite(profile, limit: str) -> str:
    """'core.axons_in [UNVERIFIED]': the profile key behind a limit, flagged when no primary source confirmed it."""
    key = PROFILE_KEYS[limit]
    section, field = key.split(".")
    flag = "" if getattr(profile, section).cited(field).verified else " [UNVERIFIED]"
    return f"{key}{flag}"
