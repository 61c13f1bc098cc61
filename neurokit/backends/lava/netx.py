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
from ...netx import bias_input_projection
from ...network import windows_of
from ..engine.stream import is_stream, readout_delay
from .network import extra_steps, lava_runtime, padding, read_records
from .proc.process import InputSource, PotentialReader, StateRecorder


def netx_frames(frames: np.ndarray, pad: int) -> np.ndarray:
    """(N, *input_shape) integer frames -> netx's input layout ((W, H, C) or (n,)) with samples last, the
    last one repeated `pad` times."""
    if pad:
        frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
    return np.ascontiguousarray(np.stack([to_lava(f) for f in frames], axis=-1)).astype(np.int32)


def netx_network(path: str, qnet, steps: int):
    """lava-dl's netx.hdf5.Network for the file, with the arguments neurokit's file records (a CUBA network's
    reset_interval = T and the offsets that give neurokit's pipelined windows), and its neuron blocks in
    the order of qnet's populations. The CPU simulation and the chip run this same process graph."""
    import h5py
    import json

    with h5py.File(path, "r") as f:
        info = json.loads(f.attrs["neurokit"]) if "neurokit" in f.attrs else {}
    args = dict(info.get("netx_network_args") or {})
    if not info and not is_stream(qnet) and windows_of(qnet) == "pipelined":
        args["reset_offset"] = 1  # a CUBA file from lava-dl: neurokit's pipelined windows (see export_netx)
    if "reset_offset" in args:
        args["reset_interval"] = steps
    network = hdf5.Network(net_config=str(path), **args)
    bias_input = bias_input_projection(qnet) is not None
    has_input_neuron = len(network.layers) == len(qnet.populations) + 1
    blocks = network.layers[1:] if has_input_neuron else list(network.layers)
    if len(blocks) != len(qnet.populations):
        raise ValueError(f"{path} has {len(blocks)} neuron layers; the network has {len(qnet.populations)} populations")
    # lava-dl's own tests feed the first process inside the first block: through the blocks' hierarchical
    # ports Lava 0.10's compiler fails on netx's Input block. A bias-driven Input block (its LIF neurons are
    # the first population) is fed at its neurons' a_in through the one-to-one projection (run_netx)
    entry = network.in_layer.neuron.a_in if has_input_neuron or bias_input else blocks[0].synapse.s_in
    return network, blocks, entry, args


def run_netx(path: str, qnet, frames: np.ndarray, steps: int, run_cfg, record: bool = True) -> dict:
    """frames: the encoded samples (N, *input_shape). Returns {"records": per population (net.populations
    order) {"s", "u", "v"}: (N, steps, *shape) torch layout, each population's sample windows (pipelined:
    shifted by its depth), "scores": a sigma-delta output's raw act at each read step (N, *shape), else
    None}; records only with record=True."""
    n = len(frames)
    stream = is_stream(qnet)
    extra = extra_steps(qnet)
    pad = padding(qnet, steps)
    network, blocks, entry, _ = netx_network(path, qnet, steps)
    if len(entry.shape) == 1:  # a dense first layer reads the input flattened in torch's order
        frames = np.asarray(frames).reshape(len(frames), -1)
    source = InputSource(netx_frames(frames, pad), hold=steps)
    bias_input = bias_input_projection(qnet)
    if bias_input:
        # netx's bias-driven Input block: the sample reaches its LIF neurons' u through the one-to-one projection
        # neurokit holds (a Lava Conv, one step late like every synapse), as lava-dl's PilotNet SNN notebook
        # (run.ipynb) feeds that layer graded input instead of its bias; v and the spikes are the same
        from .network import _synapse

        proj = next(q for q in qnet.projections if q.name == bias_input)
        syn = _synapse(proj, True, proj.graded_input_bits, input_is_lava_3d=len(proj.in_shape) == 3)
        source.s_out.connect(syn.s_in)
        syn.a_out.connect(entry)
    else:
        source.s_out.connect(entry)
    out = qnet.output_population
    reader = None
    if stream:
        act = _state(blocks[-1].neuron, "act")
        reader = PotentialReader(tuple(act.shape), n, steps, np.int32, offset=readout_delay(qnet))
        reader.v_ref.connect_var(act)
    with tempfile.TemporaryDirectory(prefix="neurokit-netx-") as tmp:
        if record:
            for i, (block, pop) in enumerate(zip(blocks, qnet.populations)):
                recorder = StateRecorder(tuple(block.neuron.s_out.shape), n * steps + extra, f"{tmp}/layer{i}.npz")
                block.neuron.s_out.connect(recorder.s_in)
                u_var, v_var = (_state(block.neuron, name) for name in pop.model.state_vars)
                recorder.u_ref.connect_var(u_var)
                recorder.v_ref.connect_var(v_var)
        with lava_runtime(source, run_cfg):
            source.run(condition=RunSteps(num_steps=n * steps + extra), run_cfg=run_cfg)
            scores = np.stack([from_lava(s, out.shape) for s in reader.scores.get()]) if reader else None
        result = {"scores": scores}
        if record:
            result["records"] = read_records(tmp, qnet, n, steps)
            for block, pop, rec in zip(blocks, qnet.populations, result["records"]):
                if _is_sigma(block.neuron):  # Sigma sends sigma itself; neurokit's UNIT SigmaDelta its change
                    rec["s"] = _sigma_messages(rec["u"], pop.neuron.state_exp)
    return result


def _is_sigma(neuron) -> bool:
    """netx's Sigma output layer (lava.proc.sdn.process.Sigma): sigma, no act."""
    from lava.proc.sdn.process import Sigma

    return isinstance(neuron, Sigma)


def _state(neuron, name: str):
    """A neuron process's Var; netx's Sigma has sigma only, which is also its act (UNIT activation, no bias)."""
    return neuron.sigma if name == "act" and _is_sigma(neuron) else getattr(neuron, name)


def _sigma_messages(sigma: np.ndarray, state_exp: int) -> np.ndarray:
    """What neurokit's UNIT SigmaDelta of delta threshold 0 sends where netx's Sigma sends sigma: the change
    of act (= sigma) since the step before (0 before the first), >> state_exp, in int32 as Lava computes it.
    sigma: (N, T, *shape) records of one stream, in order."""
    flat = sigma.reshape((-1,) + sigma.shape[2:]).astype(np.int32)
    before = np.concatenate([np.zeros_like(flat[:1]), flat[:-1]])
    return ((flat - before) >> state_exp).reshape(sigma.shape)
