"""Deployment targets: which neuron models a network may use.

    loihi2  only neurons Loihi 2 runs without custom microcode: Lava's CUBA LIF / LIFReset (reset to zero)
            and SigmaDelta (netx SDNN). What neurokit simulates is then what the chip runs.
    sim     every neuron neurokit simulates, also ConversionLIF (reset by subtraction) and the phase neuron,
            which have no Loihi 2 microcode: reports say "simulation only".

Each neuron model says whether a population's parameters are stock on Loihi 2 (NeuronModel.stock_loihi2).
"""
from __future__ import annotations

from .errors import UnsupportedModelError

TARGETS = {
    "loihi2": "stock Loihi 2 neurons only (Lava LIF / LIFReset with reset to zero, SigmaDelta): what a chip runs",
    "sim": "any neuron neurokit simulates, ConversionLIF and the phase neuron included (simulation only)",
}
DEFAULT_TARGET = "loihi2"
DEFAULT_METHOD = {"loihi2": "sdnn", "sim": "rate"}
STOCK_METHODS = ("sdnn", "lif", "lasnn")  # methods that make neurons Loihi 2 runs stock (lasnn: with Settings.stock)
SIM_ONLY = "simulation only: no Loihi 2 microcode"


def check_target_name(target: str) -> str:
    if target not in TARGETS:
        raise UnsupportedModelError(f"unknown target '{target}'; choose one of {', '.join(TARGETS)}")
    return target


def method_for(target: str, method: str | None) -> str:
    """The conversion method to use: the target's default, or the caller's when the target can run it."""
    check_target_name(target)
    if method is None:
        return DEFAULT_METHOD[target]
    if target == "loihi2" and method not in STOCK_METHODS:
        raise UnsupportedModelError(f"method '{method}' makes neurons Loihi 2 has no microcode for (ConversionLIF "
                                    f"resets by subtraction; the phase neuron is a custom program); use --method "
                                    f"{' or '.join(STOCK_METHODS)} for the chip, or --target sim to simulate it")
    return method


def non_stock(net) -> list[tuple[str, str]]:
    """(population, why) for every population Loihi 2 cannot run with stock neurons."""
    from .network import windows_of

    out = []
    synchronous = windows_of(net) == "synchronous"
    for p in net.populations:
        why = p.model.stock_loihi2(p.neuron)
        if why is None and synchronous and not p.model.stream:
            why = ("synchronous windows restart every layer at once and drop what is in flight (ConversionLIF); "
                   "Loihi 2's LIFReset runs pipelined windows")
        if why is not None:
            out.append((p.name, why))
    return out


def check_target(net, target: str) -> None:
    """One line naming the first population the target cannot run, and the fix."""
    check_target_name(target)
    if target == "loihi2":
        bad = non_stock(net)
        if bad:
            name, why = bad[0]
            raise UnsupportedModelError(f"population {name}: {why}; target loihi2 runs stock neurons only (use "
                                        "--target sim to simulate it anyway)")


def label(net) -> str:
    """What a report says about where the network can run."""
    bad = non_stock(net)
    if bad:
        return f"{SIM_ONLY} ({bad[0][1]})"
    if net.back_edges():
        # LIFReset integrates what arrives at a window's first step: the previous sample's last recurrent spikes
        return ("Loihi 2 stock neurons; on the chip, samples back to back carry a recurrent layer's last spikes into "
                "the next sample's first step (the engine and neurokit's Lava graph drop them)")
    return "Loihi 2 stock neurons"


def timing(net, steps: int) -> dict:
    """Steps from a sample's first input step to its answer (latency) and between samples (throughput): a
    sigma-delta stream answers T + (its output's shortest path) steps after a sample starts, pipelined windows
    T + depth, synchronous windows T; all take one sample every T steps."""
    from .backends.engine.stream import is_stream, readout_delay
    from .network import depths, windows_of

    if is_stream(net):
        extra = readout_delay(net)
    elif windows_of(net) == "pipelined":
        extra = max(depths(net).values())
    else:
        extra = 0
    return {"latency_steps": steps + extra, "steps_per_sample": steps}
