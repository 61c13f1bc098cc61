"""Stage 4: run a network. Every backend has run(net, x, steps, progress) -> Trace.

- "engine": neurokit's engine on the quantized network: Lava's fixed_pt arithmetic, bit for bit, fast
  (numpy on CPU, torch on a GPU). The default for accuracy evaluation.
- "float": the engine's float mode on the float spiking network, as Lava's floating_pt computes it.
- "lava-float": Lava's floating_pt simulation of the float network.
- "lava-fixed": Lava's bit-accurate fixed_pt simulation of the quantized network (the reference).
- "loihi": the quantized network on Loihi 2 through Lava's Loihi2HwCfg (needs lava-loihi and hardware).
Lava is imported only when a Lava backend is asked for; the engine needs numpy and torch only.
"""
from __future__ import annotations

from .base import Backend, check_inputs, check_network

BACKENDS = ("engine", "float", "lava-fixed", "lava-float", "loihi")


def get_backend(name: str, **options) -> Backend:
    if name in ("engine", "float"):
        from .engine import Engine

        return Engine(mode="fixed" if name == "engine" else "float", **options)
    if name in ("lava-float", "lava-fixed"):
        from .lava.backend import LavaBackend

        return LavaBackend(mode=name.split("-")[1], **options)
    if name == "loihi":
        from .lava.backend import LoihiBackend

        return LoihiBackend(**options)
    raise ValueError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")


__all__ = ["Backend", "BACKENDS", "get_backend", "check_inputs", "check_network"]
