"""Build a neurokit network as Lava processes: an InputSource, one Dense or Conv process per projection,
one neuron process per population (its neuron model's: ConversionLIF, Lava's LIFReset, PhaseNeuron), with
a SpikeCounter on every population (and a PotentialReader on the output population when the net is read
out by potential), and evaluate a batch of samples in one run. Several projections into one population
connect to its one input port, which adds them up, as on the chip.

Samples run back to back in windows of `steps` steps: the source holds each sample for one window (or
sends a sequence's frames, one per step) and the neurons restart from their initial state at each window
start (ConversionLIF.reset_interval), so every window is exactly a fresh network's run. Per-sample
Var.set/get round trips cost ~1 s each on this machine; this protocol costs none.

Pipelined windows (imported graphs, the lif method): the population at depth d restarts at global step
kT + d (Lava time step kT + d + 1: reset_offset (d + 1) % T), one step after its sources, so what arrives
then is this sample's first message and is integrated. It runs on Lava's LIFReset where that computes it
exactly, else on ConversionLIF with the offset (reset by subtraction, v_init, u_init, a recurrent
projection). A projection closing a cycle (Network.back_edges) enters ConversionLIF's a_rec port, which
drops what arrives at a window start (the previous window's last spikes): the engine's rules
(neurokit.backends.engine.steps).

Layouts. neurokit keeps torch's (C, H, W); Lava's Conv uses (X, Y, C) = (W, H, C) and flips the kernel
(lava/proc/conv/utils.py conv()), so conv weights are transposed and flipped here, and Dense weights
reading a (C, H, W) population get their columns permuted to Lava's flattening order.
"""
from __future__ import annotations

import contextlib

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.utils.weightutils import SignMode

from ...arithmetic import SDN_SPIKE_EXP, SDN_STATE_EXP
from ...encoding import encoding_of
from ...errors import UnsupportedModelError
from ...interrupts import shielded_children
from ...layout import from_lava, lava_conv_weight, lava_dense_weight, lava_shape
from ...network import INPUT, check_pipelined, depths, readout_of, windows_of
from ..engine.stream import is_stream, readout_delay, run_extra_steps
from .proc.process import InputSource, PotentialReader, SpikeCounter, StateRecorder


def _xy(pair) -> tuple[int, int]:
    return (int(pair[1]), int(pair[0]))  # torch (H, W) -> Lava (X, Y)


def build(net, fixed: bool, frames: np.ndarray, steps: int, stock_lif: bool = False, hold: int | None = None,
          record_dir: str | None = None, readers: list | None = None):
    """Processes for `net`; frames is the source data (input shape in Lava layout + (frames,)), each frame
    sent for `hold` steps (default `steps`: one frame per sample, as current coding needs).

    fixed=True: `net` is a quantize.QuantizedNet with integer parameters (fixed_pt).
    fixed=False: `net` is a float neurokit.network.Network (floating_pt).
    stock_lif=True: Lava's LIFReset (reset to zero, has a Loihi 2 model) instead of ConversionLIF.
    record_dir: also record every population's spikes, u and v at every step into record_dir/layer{i}.npz
        (i: the population's index in net.populations).
    readers: a list that receives the output population's PotentialReader (its v at each window's end) when
        the net is read out by potential (neurokit.network.readout_of).
    Returns (source, counters), counters in net.populations order.
    """
    hold = steps if hold is None else hold
    stream = is_stream(net)
    pipelined = not stream and windows_of(net) == "pipelined"
    depth = (check_pipelined(net) if pipelined else depths(net)) if stream or pipelined else {}
    windows = (frames.shape[-1] - padding(net, hold)) * hold // steps
    source = InputSource(frames, hold=hold)
    back = net.back_edges()
    fed_back = {q.target for q in net.projections if q.name in back}
    neurons = {p.name: _neuron(p, fixed, steps, stock_lif, (depth[p.name] + 1) % steps if pipelined else None,
                               p.name in fed_back)
               for p in net.populations}
    ports = {INPUT: (source.s_out, input_is_3d(net))}
    if encoding_of(net) == "delta":  # netx's input layer: a Delta process with vth 0 sends each change
        from lava.proc.sdn.process import Delta

        exps = dict(spike_exp=SDN_SPIKE_EXP, state_exp=SDN_STATE_EXP) if fixed else {}
        encoder = Delta(shape=tuple(frames.shape[:-1]), vth=0, **exps)
        source.s_out.connect(encoder.a_in)
        ports[INPUT] = (encoder.s_out, input_is_3d(net))
    ports.update({p.name: (neurons[p.name].s_out, len(p.shape) == 3) for p in net.populations})
    for q in net.projections:  # in the network's order: the order the input port adds them in
        if fixed:
            graded = q.graded_input_bits
        elif q.source == INPUT:
            graded = 24 if encoding_of(net) in ("current", "delta") else 0
        else:
            graded = 24 if net.population(q.source).model.graded_output_bits else 0
        port, lava_3d = ports[q.source]
        syn = _synapse(q, fixed, graded, input_is_lava_3d=lava_3d)
        if q.kind == "dense" and lava_3d:
            port = port.flatten()
        port.connect(syn.s_in)
        # a projection closing a cycle enters ConversionLIF's a_rec, which drops it at each window start
        syn.a_out.connect(neurons[q.target].a_rec if q.name in back else neurons[q.target].a_in)
    counters = []
    for i, pop in enumerate(net.populations):
        neuron = neurons[pop.name]
        last = pop.name == net.output
        offset = depth.get(pop.name, 0)  # a stream's or pipelined population's windows start `depth` steps late
        counter = SpikeCounter(lava_shape(pop.shape), windows=windows, interval=steps, per_neuron_windows=last,
                               offset=offset)
        neuron.s_out.connect(counter.a_in)
        counters.append(counter)
        u_var, v_var = (getattr(neuron, name) for name in pop.model.state_vars)
        if last and readout_of(net) == "potential":
            # a stream's output is read at step kT + T - 1 + depth (pipelined readout)
            reader = PotentialReader(lava_shape(pop.shape), windows, steps, np.int32 if fixed else np.float64,
                                     offset=readout_delay(net) if stream else offset)
            reader.v_ref.connect_var(v_var)
            if readers is not None:
                readers.append(reader)
        if record_dir is not None:
            recorder = StateRecorder(lava_shape(pop.shape), windows * steps + extra_steps(net),
                                     f"{record_dir}/layer{i}.npz")
            neuron.s_out.connect(recorder.s_in)
            recorder.u_ref.connect_var(u_var)
            recorder.v_ref.connect_var(v_var)
    return source, counters


def _neuron(pop, fixed: bool, steps: int, stock_lif: bool, offset: int | None, recurrent: bool):
    """The population's Lava process. Pipelined windows (offset: the Lava time step, modulo T, of its window
    starts: the population at depth d restarts at global step kT + d, Lava step kT + d + 1): a CUBA population
    runs Lava's LIFReset where that is exact, else ConversionLIF with the offset (neurokit.neurons.cuba
    CubaModel.lava); other models take the stock path, as before."""
    if offset is not None and pop.model.name == "cuba":
        return pop.model.lava(pop, fixed, steps, stock_lif, offset=offset, recurrent=recurrent)
    if recurrent:  # the backends refuse this before building (LavaBackend._frames)
        raise UnsupportedModelError(f"population {pop.name}: a recurrent projection into a {pop.model.name} "
                                    "population; Lava runs recurrent CUBA populations with pipelined windows only")
    return pop.model.lava(pop, fixed, steps, stock_lif or offset is not None, offset=offset)


def input_is_3d(net) -> bool:
    """The source sends (C, H, W) frames in Lava's (W, H, C) layout when a convolution reads the input;
    otherwise flat frames in torch's order (dense projections then need no column permutation)."""
    return len(net.input_shape) == 3 and any(q.kind == "conv" for q in net.outgoing(INPUT))


def _synapse(proj, fixed: bool, graded_bits: int, input_is_lava_3d: bool):
    if proj.kind == "conv":
        kwargs = dict(input_shape=lava_shape(proj.in_shape), padding=_xy(proj.padding), stride=_xy(proj.stride),
                      dilation=_xy(proj.dilation), groups=proj.groups, num_message_bits=graded_bits)
        if fixed:
            return Conv(weight=lava_conv_weight(proj.weight).astype(np.int32), weight_exp=proj.weight_exp,
                        num_weight_bits=proj.weight_bits, **kwargs)
        return Conv(weight=lava_conv_weight(proj.weight), **kwargs)
    w = np.asarray(proj.weight).reshape(len(proj.weight), -1)
    w = lava_dense_weight(w, proj.in_shape) if input_is_lava_3d else w
    if fixed:
        return Dense(weights=w.astype(np.int32), weight_exp=proj.weight_exp, num_weight_bits=proj.weight_bits,
                     sign_mode=SignMode(proj.sign_mode), num_message_bits=graded_bits)
    return Dense(weights=w, num_message_bits=graded_bits)


def extra_steps(net) -> int:
    """Steps a run lasts beyond its samples' windows: the deepest population's depth for a stream (pipelined
    readout) or pipelined windows (its last window), else 0."""
    if is_stream(net):
        return run_extra_steps(net)
    if windows_of(net) == "pipelined":
        return max(depths(net).values())
    return 0


def padding(net, hold: int) -> int:
    """Frames the source holds after the last sample (the last one again) while the deepest layer finishes."""
    return -(-extra_steps(net) // hold)


def input_frames(net, inputs: np.ndarray, pad: int = 0) -> np.ndarray:
    """(N, *input_shape) -> source data in Lava layout with samples last, the last frame repeated `pad` times."""
    if pad:
        inputs = np.concatenate([inputs, np.repeat(inputs[-1:], pad, axis=0)])
    if input_is_3d(net):
        return np.ascontiguousarray(np.moveaxis(inputs.transpose(0, 3, 2, 1), 0, -1))
    return np.ascontiguousarray(inputs.reshape(len(inputs), -1).T)


def run_batch(net, inputs: np.ndarray, steps: int, fixed: bool, run_cfg, stock_lif: bool = False,
              progress=None, chunk: int = 25, hold: int | None = None):
    """Simulate N samples of `steps` steps each in one compiled network. inputs: (frames, *input_shape),
    each frame held for `hold` steps (default: one frame of `steps` steps per sample).

    Returns (output counts (N, *shape) of the output population, spikes per population per sample (N, P),
    spikes per neuron summed over samples for each population (its shape, torch layout), and for a net read
    out by potential the output population's raw v at each window's end (N, *shape), else None).
    """
    readers = []
    frames = input_frames(net, inputs, padding(net, steps if hold is None else hold))
    source, counters = build(net, fixed, frames, steps, stock_lif, hold, readers=readers)
    n = len(inputs) * (steps if hold is None else hold) // steps
    with lava_runtime(source, run_cfg):
        return _run_chunks(net, source, counters, readers, n, steps, run_cfg, progress, chunk)


@contextlib.contextmanager
def lava_runtime(source, run_cfg):
    """Lava's runtime for the network `source` belongs to, started with its processes shielded from SIGINT
    and SIGTERM (neurokit.interrupts), and stopped on the way out, whatever happened."""
    with shielded_children() as started:
        try:
            source.create_runtime(run_cfg=run_cfg)  # Lava's processes start here, ignoring SIGINT / SIGTERM
            started()
            yield
        finally:
            source.stop()


def record_shifts(net) -> dict:
    """Steps by which each population's windows start late in a recorded run: its depth under pipelined
    windows; none for synchronous windows or a stream (recorded on the stream's own timeline)."""
    return depths(net) if not is_stream(net) and windows_of(net) == "pipelined" else {}


def _run_chunks(net, source, counters, readers, n: int, steps: int, run_cfg, progress, chunk: int):
    """Run n windows in chunks (progress after each), then read the counters and readers back."""
    done = 0
    while done < n:
        k = min(chunk, n - done)
        extra = extra_steps(net) if done + k == n else 0
        source.run(condition=RunSteps(num_steps=k * steps + extra), run_cfg=run_cfg)
        done += k
        if progress:
            progress(k)
    pops = net.populations
    out = [p.name for p in pops].index(net.output)
    shape = pops[out].shape
    output = np.stack([from_lava(c, shape) for c in counters[out].count.get()])
    per_layer = np.stack([c.per_window.get() for c in counters], axis=1)
    per_neuron = [from_lava(c.per_neuron.get(), p.shape) for c, p in zip(counters, pops)]
    scores = None
    if readers:
        scores = np.stack([from_lava(s, shape) for s in readers[0].scores.get()])
    return output, per_layer, per_neuron, scores


def record_states(net, inputs: np.ndarray, steps: int, fixed: bool, run_cfg, hold: int | None = None):
    """Every population's spikes, u and v after every step: per population (net.populations order) a dict
    of arrays (N, steps, *shape) in torch layout. inputs and hold as in run_batch."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="neurokit-record-") as tmp:
        frames = input_frames(net, inputs, padding(net, steps if hold is None else hold))
        source, _ = build(net, fixed, frames, steps, hold=hold, record_dir=tmp)
        n = len(inputs) * (steps if hold is None else hold) // steps
        with lava_runtime(source, run_cfg):
            source.run(condition=RunSteps(num_steps=n * steps + extra_steps(net)), run_cfg=run_cfg)
        return read_records(tmp, net, n, steps)


def read_records(folder: str, net, n: int, steps: int) -> list[dict]:
    """The StateRecorder files folder/layer{i}.npz of net.populations as {"s", "u", "v"}: (n, steps, *shape)
    each in torch layout, each population's sample windows (pipelined: from its depth on; a stream: as
    recorded)."""
    shift = record_shifts(net)
    out = []
    for i, pop in enumerate(net.populations):
        d = shift.get(pop.name, 0)
        with np.load(f"{folder}/layer{i}.npz") as f:
            out.append({k: _to_torch_layout(f[k][d:d + n * steps], pop.shape, n, steps) for k in ("s", "u", "v")})
    return out


def _to_torch_layout(a: np.ndarray, shape: tuple[int, ...], n: int, steps: int) -> np.ndarray:
    """(n * steps, *lava shape) -> (n, steps, *torch shape)."""
    if len(shape) == 3:
        a = a.transpose(0, 3, 2, 1)
    return np.ascontiguousarray(a.reshape((n, steps) + tuple(shape)))
