"""Stage 4: run a network. Every backend has run(net, x, steps, progress) -> Trace.

- "float": float64 reference of the spiking network (no Lava needed).
- "lava-float": Lava's floating_pt simulation of the same network.
- "lava-fixed": Lava's bit-accurate fixed_pt simulation of the quantized network.
- "loihi": the quantized network on Loihi 2 through Lava's Loihi2HwCfg (needs lava-loihi and hardware).
Lava is imported only when a Lava backend is asked for.
"""
from __future__ import annotations

from .base import Backend, check_inputs, check_network

BACKENDS = ("float", "lava-float", "lava-fixed", "loihi")


def get_backend(name: str, **options) -> Backend:
    if name == "float":
        from .float_ref import FloatReference

        return FloatReference(**options)
    if name in ("lava-float", "lava-fixed"):
        from .lava.backend import LavaBackend

        return LavaBackend(mode=name.split("-")[1], **options)
    if name == "loihi":
        from .lava.backend import LoihiBackend

        return LoihiBackend(**options)
    raise ValueError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")


__all__ = ["Backend", "BACKENDS", "get_backend", "check_inputs", "check_network"]
