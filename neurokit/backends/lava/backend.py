"""Lava backends: CPU simulation (floating_pt, bit-accurate fixed_pt) and Loihi 2 hardware."""
from __future__ import annotations

import time

import numpy as np

from ...encoding import check_encoding, delta_events, encoding_of, rate_spikes
from ...errors import BackendUnavailableError, UnsupportedModelError
from ...trace import Trace
from ..base import (LayerRecord, Progress, check_input_coding, check_inputs, check_network, input_steps,
                    is_sequence, output_scale, output_scores, sequence_steps, warn_latency)

LAVA_LOIHI_MISSING = (
    "Loihi 2 hardware needs lava-loihi (Intel's Lava extension for Loihi, distributed to INRC members) and a "
    "Loihi 2 system; lava-loihi is not installed here. Simulate bit-accurately instead with --backend lava-fixed"
)


class LavaBackend:
    """Lava's CPU simulator. mode 'fixed' runs a QuantizedNet bit-accurately; 'float' runs a SpikingNet."""

    def __init__(self, mode: str = "fixed", stock_lif: bool = False):
        if mode not in ("fixed", "float"):
            raise ValueError(f"mode must be 'fixed' or 'float', got {mode!r}")
        self.mode, self.stock_lif = mode, stock_lif
        self.name = f"lava-{mode}"

    def run_config(self):
        from lava.magma.core.run_configs import Loihi2SimCfg

        return Loihi2SimCfg(select_tag="fixed_pt" if self.mode == "fixed" else "floating_pt")

    def run(self, net, x: np.ndarray, steps: int | None, progress: Progress | None = None) -> Trace:
        """x: (N, *input) held for `steps` steps, or sequences (N, T, *input), one frame per step (steps: default
        T; beyond T the input is zero), as the engine runs them."""
        steps = _steps(net, x, steps)
        frames, hold, events = self._frames(net, x, steps)
        from .network import run_batch  # imports Lava (seconds): only once the inputs are known to be right

        n = len(x)
        t0 = time.perf_counter()
        output, per_layer, per_neuron, scores = run_batch(net, frames, steps, self.mode == "fixed",
                                                          self.run_config(), self.stock_lif, progress, hold=hold)
        readout = output_scale(net)
        return Trace(
            backend=self.name, steps=steps, output_counts=output.reshape(n, -1).astype(np.int64),
            layer_spikes=per_layer.astype(np.int64), neuron_spikes=[c.astype(np.float64) for c in per_neuron],
            input_events=events, wall_s=time.perf_counter() - t0,
            output_scores=None if scores is None else output_scores(net, output.reshape(n, -1), scores.reshape(n, -1),
                                                                    readout),
        )

    def record(self, net, x: np.ndarray, steps: int | None) -> list[LayerRecord]:
        """Every population's u, v (after reset) and spikes at every step, (N, steps, *shape) each; with
        pipelined windows on each population's own window steps (as the engine records them)."""
        steps = _steps(net, x, steps)
        frames, hold, _ = self._frames(net, x, steps)
        from .network import record_states

        states = record_states(net, frames, steps, self.mode == "fixed", self.run_config(), hold=hold)
        # graded spikes (sigma-delta messages) keep their values; binary spikes are booleans
        return [LayerRecord(p.name, r["u"], r["v"], r["s"] if p.model.graded_output_bits else r["s"] != 0)
                for p, r in zip(net.populations, states)]

    def _frames(self, net, x, steps):
        """Source frames, hold and the input events per input element: one frame per sample held `steps`
        steps; or one frame per step under rate coding, or for sequences (N, T, *input): frame t of a
        sample at its step t, zeros after the sequence's end (as the engine feeds them)."""
        fixed = self.mode == "fixed"
        check_network(net, self.name, quantized=fixed)
        net.validate()
        check_graph(net, self.name)
        check_input_coding(net, encoding_of(net) == "rate")
        warn_latency(net, steps)
        x = check_inputs(net, x)
        if is_sequence(net, x):
            from ..engine.stream import is_stream

            if encoding_of(net) in ("rate", "delta") or is_stream(net):
                raise UnsupportedModelError(f"the {self.name} backend feeds sequences (N, T, ...) one frame per step "
                                            f"to current-coded networks; this one reads {encoding_of(net)}-coded "
                                            "input: pass one input per sample (N, ...)")
            seq = sequence_steps(x, steps)
            frames = net.encode_input(seq) if fixed else seq
            frames, hold = frames.reshape((len(x) * steps,) + tuple(net.input_shape)), 1
            events = (frames != 0).sum(0).astype(np.float64)
        elif encoding_of(net) == "rate":
            check_encoding("rate", x)
            spikes = rate_spikes(x, steps)  # (N, T, *shape): one frame per step
            frames, hold = spikes.reshape((len(x) * steps,) + x.shape[1:]), 1
            events = spikes.sum((0, 1)).astype(np.float64)
        else:
            frames, hold = net.encode_input(x) if fixed else x, steps
            if encoding_of(net) == "delta":  # each sample's change from the one before
                events = delta_events(frames)
            else:
                events = (frames != 0).sum(0) * float(input_steps(net, steps))
        return frames.astype(np.int32 if fixed else np.float64), hold, events


def _steps(net, x, steps: int | None) -> int:
    """`steps`, or a sequence's length."""
    if steps is not None:
        return int(steps)
    from ..engine import run_steps_for

    return run_steps_for(net, check_inputs(net, x), None)


def check_graph(net, backend: str) -> None:
    """What neurokit's Lava graph runs: projections of one step's delay (Lava's Dense and Conv deliver after
    exactly one), and a cycle only with pipelined windows through CUBA populations (the engine's rules,
    neurokit.backends.engine.steps); otherwise an UnsupportedModelError naming the projection or the cycle."""
    from ...network import check_pipelined, windows_of
    from ..engine.stream import is_stream

    for q in net.projections:
        if q.delay != 1:
            raise UnsupportedModelError(f"projection {q.name} ({q.source} -> {q.target}) delays by {q.delay} steps; "
                                        f"Lava's Dense and Conv deliver after exactly 1, so the {backend} backend "
                                        "cannot run it: use the engine backend (engine, or float for the float net)")
    cyclic = bool(net.back_edges())
    if cyclic:
        if is_stream(net) or windows_of(net) != "pipelined":
            raise UnsupportedModelError(f"the network is recurrent (cycle {' -> '.join(net.cycle() or [])}); the "
                                        f"{backend} backend runs recurrent graphs with pipelined windows only "
                                        "(network metadata windows='pipelined', as imported graphs have)")
        other = sorted({p.model.name for p in net.populations if p.model.name != "cuba"})
        if other:
            raise UnsupportedModelError(f"the {backend} backend runs recurrent networks of CUBA (LIF) populations "
                                        f"only; this one has {', '.join(other)}: use the engine backend")
        check_pipelined(net)
    net.order(f"the {backend} backend", cycles=cyclic)


def lava_loihi_installed() -> bool:
    from lava.utils import loihi

    return loihi.is_installed()


class LoihiBackend(LavaBackend):
    """Loihi 2 through Lava's Loihi2HwCfg, the way lava-dl's tutorials run a chip: the network is written as
    a netx file (neurokit.netx) and lava-dl's netx.hdf5.Network builds it (chip_network). The CPU check
    (neurokit.verify.verify_netx, `deploy`'s netx check) runs that same file through that same function in
    Lava fixed_pt: only the run configuration differs. A network netx cannot express (weight exponents, a
    branch) runs as neurokit's Lava process graph (Lava's stock Dense, Conv, LIFReset, SigmaDelta; the
    graph `lava-fixed` runs on the CPU)."""

    def __init__(self):
        if not lava_loihi_installed():
            raise BackendUnavailableError(LAVA_LOIHI_MISSING)
        super().__init__(mode="fixed", stock_lif=True)
        self.name = "loihi"

    def run_config(self):
        from lava.magma.core.run_configs import Loihi2HwCfg

        return Loihi2HwCfg(select_tag="fixed_pt")

    def run(self, net, x: np.ndarray, steps: int, progress: Progress | None = None) -> Trace:
        import tempfile

        from ...netx import NetxExportError, export_netx
        from .netx import run_netx

        check_network(net, self.name, quantized=True)
        x = check_inputs(net, x)
        if encoding_of(net) == "rate":
            raise UnsupportedModelError("the loihi backend feeds netx's network held (or delta-coded) frames; this "
                                        "network reads rate-coded spikes: convert with --input-coding current")
        t0 = time.perf_counter()
        frames = net.encode_input(x)
        with tempfile.TemporaryDirectory(prefix="neurokit-loihi-") as tmp:
            try:
                export_netx(net, f"{tmp}/model.net")
            except NetxExportError:
                return super().run(net, x, steps, progress)  # neurokit's graph of Lava's stock processes
            result = run_netx(f"{tmp}/model.net", net, frames, steps, self.run_config())
        if progress:
            progress(len(x))
        return trace_of_records(net, result, frames, steps, self.name, time.perf_counter() - t0)


def trace_of_records(net, result: dict, frames: np.ndarray, steps: int, backend: str, wall_s: float) -> Trace:
    """A Trace from run_netx's per-window records (and a sigma-delta output's read act) of encoded frames."""
    n = len(frames)
    records = result["records"]
    counts = [np.count_nonzero(r["s"].reshape(n, steps, -1), axis=1) for r in records]  # (N, neurons)
    out_index = [p.name for p in net.populations].index(net.output)
    scale = output_scale(net)
    scores = None
    if result["scores"] is not None:
        scores = result["scores"].reshape(n, -1) / scale
    elif scale is not None:
        last_v = records[out_index]["v"][:, -1].reshape(n, -1)
        scores = output_scores(net, counts[out_index], last_v, scale)
    if encoding_of(net) == "delta":
        events = delta_events(frames)
    else:
        events = (frames != 0).sum(0) * float(input_steps(net, steps))
    return Trace(backend=backend, steps=steps, output_counts=counts[out_index].astype(np.int64),
                 layer_spikes=np.stack([c.sum(1) for c in counts], axis=1).astype(np.int64),
                 neuron_spikes=[c.sum(0).reshape(p.shape).astype(np.float64) for c, p in zip(counts, net.populations)],
                 input_events=events, wall_s=wall_s,
                 output_scores=scores)


def chip_network(path: str, qnet, steps: int):
    """The process graph the loihi backend hands to the chip for a netx file: lava-dl's netx.hdf5.Network
    with neurokit's arguments (neurokit.backends.lava.netx.netx_network), and its neuron blocks."""
    from .netx import netx_network

    network, blocks, entry, args = netx_network(path, qnet, steps)
    return network, blocks, args
