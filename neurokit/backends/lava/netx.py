"""Run a netx HDF5 file the way lava-dl runs it: lava.lib.dl.netx.hdf5.Network(net_config=path), fed
by neurokit's input source, in Lava's CPU simulation (fixed_pt) or on Loihi 2 (Loihi2HwCfg), recording
what neurokit's engine records for the same network (neurokit.netx): every layer's messages, sigma and
act at every step, and the output's act at each sample's read step.
"""
from __future__ import annotations

import tempfile

import numpy as np
from lava.lib.dl.netx import hdf5
from lava.magma.core.run_conditions import RunSteps

from ...layout import from_lava, to_lava
from ..engine.stream import readout_delay, run_extra_steps
from .proc.process import InputSource, PotentialReader, StateRecorder


def netx_frames(frames: np.ndarray, pad: int) -> np.ndarray:
    """(N, *input_shape) integer frames -> netx's input layout ((W, H, C) or (n,)) with samples last, the
    last one repeated `pad` times."""
    if pad:
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
    return np.ascontiguousarray(np.stack([to_lava(f) for f in frames], axis=-1)).astype(np.int32)


def run_netx(path: str, qnet, frames: np.ndarray, steps: int, run_cfg, record: bool = True) -> dict:
    """frames: the encoded samples (N, *input_shape). Returns {"records": per population (net.populations
    order) {"s", "u", "v"}: (N, steps, *shape) torch layout, "scores": the output's raw act at each read
    step (N, *shape)}; records only with record=True."""
    n = len(frames)
    pad = -(-run_extra_steps(qnet) // steps)
    network = hdf5.Network(net_config=str(path))
    blocks = network.layers[1:]  # layer 0: netx's input block (the Delta encoder)
    if len(blocks) != len(qnet.populations):
        raise ValueError(f"{path} has {len(blocks)} neuron layers; the network has {len(qnet.populations)} populations")
    source = InputSource(netx_frames(frames, pad), hold=steps)
    source.s_out.connect(network.in_layer.neuron.a_in)  # lava-dl connects here (its hdf5 tests); through network.inp the compiler fails on the Input block
    out = qnet.output_population
    reader = PotentialReader(tuple(blocks[-1].neuron.act.shape), n, steps, np.int32, offset=readout_delay(qnet))
    reader.v_ref.connect_var(blocks[-1].neuron.act)
    with tempfile.TemporaryDirectory(prefix="neurokit-netx-") as tmp:
        if record:
            for i, block in enumerate(blocks):
                recorder = StateRecorder(tuple(block.neuron.s_out.shape), n * steps, f"{tmp}/layer{i}.npz")
                block.neuron.s_out.connect(recorder.s_in)
                recorder.u_ref.connect_var(block.neuron.sigma)
                recorder.v_ref.connect_var(block.neuron.act)
        try:
            source.run(condition=RunSteps(num_steps=n * steps + run_extra_steps(qnet)), run_cfg=run_cfg)
            scores = np.stack([from_lava(s, out.shape) for s in reader.scores.get()])
        finally:
            source.stop()
        result = {"scores": scores}
        if record:
            records = []
            for i, pop in enumerate(qnet.populations):
                with np.load(f"{tmp}/layer{i}.npz") as f:
                    records.append({k: _torch_layout(f[k], pop.shape, n, steps) for k in ("s", "u", "v")})
            result["records"] = records
    return result


def _torch_layout(a: np.ndarray, shape: tuple, n: int, steps: int) -> np.ndarray:
    if len(shape) == 3:
        a = a.transpose(0, 3, 2, 1)
    return np.ascontiguousarray(a.reshape((n, steps) + tuple(shape)))
