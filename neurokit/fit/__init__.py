"""Does a network fit the chip? Per-layer core placement under a hardware profile's limits.

Separate from quantization and simulation (as sinabs' dynapcnn backend keeps chip constraints,
discretization and core mapping apart): `limits` reads the profile, `encoding` prices synapses in core
memory, `mapping` cuts one layer into cores, `placement` places the whole network and explains failures.
Pure numpy; no Lava.

    from neurokit.fit import fit_network
    result = fit_network(net, load_profile("loihi2"))
    result.fits, result.cores, result.chips, result.to_dict()
"""
from .placement import FitProblem, FitResult, LayerFit, fit_network

__all__ = ["fit_network", "FitResult", "LayerFit", "FitProblem"]
