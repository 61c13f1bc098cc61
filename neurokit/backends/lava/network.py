"""Build a neurokit network as Lava processes: InputSource -> (Dense|Conv -> ConversionLIF|PhaseNeuron)*,
with a SpikeCounter on every neuron layer (and a PotentialReader on a phase-coded output layer), and
evaluate a batch of samples in one run.

Samples run back to back in windows of `steps` steps: the source holds each sample for one window and
the neurons restart from zero state at each window start (ConversionLIF.reset_interval), so every
window is exactly a fresh network's run. Per-sample Var.set/get round trips cost ~1 s each on this
machine; this protocol costs none.

Layouts. neurokit keeps torch's (C, H, W); Lava's Conv uses (X, Y, C) = (W, H, C) and flips the kernel
(lava/proc/conv/utils.py conv()), so conv weights are transposed and flipped here, and Dense weights
after a conv layer get their columns permuted to Lava's flattening order.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.run_conditions import RunSteps
from lava.proc.conv.process import Conv
from lava.proc.dense.process import Dense
from lava.proc.lif.process import LIFReset
from lava.utils.weightutils import SignMode

from ...encoding import encoding_of
from ...network import readout_of
from .proc.process import ConversionLIF, InputSource, PhaseNeuron, PotentialReader, SpikeCounter, StateRecorder


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(reversed(shape)) if len(shape) == 3 else tuple(shape)


def to_lava(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(2, 1, 0)) if a.ndim == 3 else a


def from_lava(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(2, 1, 0)) if len(shape) == 3 else a.reshape(shape)


def lava_conv_weight(w: np.ndarray) -> np.ndarray:
    """torch (C_out, C_in, kH, kW) -> Lava (C_out, kW, kH, C_in), flipped to undo Lava's flip."""
    return np.ascontiguousarray(w.transpose(0, 3, 2, 1)[:, ::-1, ::-1])


def lava_dense_weight(w: np.ndarray, in_shape: tuple[int, ...]) -> np.ndarray:
    """Columns reordered from torch's (C, H, W) flattening to Lava's (W, H, C) flattening."""
    if len(in_shape) != 3:
        return w
    c, h, wd = in_shape
    return np.ascontiguousarray(w.reshape(-1, c, h, wd).transpose(0, 3, 2, 1).reshape(w.shape[0], -1))


def _xy(pair) -> tuple[int, int]:
    return (int(pair[1]), int(pair[0]))  # torch (H, W) -> Lava (X, Y)


def build(net, fixed: bool, frames: np.ndarray, steps: int, stock_lif: bool = False, hold: int | None = None,
          record_dir: str | None = None, readers: list | None = None):
    """Processes for `net`; frames is the source data (input shape in Lava layout + (frames,)), each frame
    sent for `hold` steps (default `steps`: one frame per sample, as current coding needs).

    fixed=True: `net` is a quantize.QuantizedNet with integer parameters (fixed_pt).
    fixed=False: `net` is a neurokit.network.SpikingNet in floating point (floating_pt).
    stock_lif=True: Lava's LIFReset (reset to zero, has a Loihi 2 model) instead of ConversionLIF.
    record_dir: also record every layer's spikes, u and v at every step into record_dir/layer{i}.npz.
    readers: a list that receives the output layer's PotentialReader (its v at each window's end) when the
        net is read out by potential (neurokit.network.readout_of).
    Returns (source, counters).
    """
    hold = steps if hold is None else hold
    windows = frames.shape[-1] * hold // steps
    source = InputSource(frames, hold=hold)
    counters = []
    port = source.s_out
    for i, layer in enumerate(net.layers):
        if i > 0:
            graded = 0
        elif fixed:
            graded = layer.graded_input_bits
        else:
            graded = 24 if encoding_of(net) == "current" else 0
        syn = _synapse(layer, fixed, graded, input_is_lava_3d=i > 0)
        if layer.kind == "dense" and i > 0 and len(layer.in_shape) == 3:
            port = port.flatten()
        port.connect(syn.s_in)
        if layer.phase is not None:
            neuron = _phase_neuron(layer, fixed, steps)
        else:
            neuron = _neuron(layer, fixed, steps, stock_lif)
        syn.a_out.connect(neuron.a_in)
        last = i == len(net.layers) - 1
        counter = SpikeCounter(lava_shape(layer.out_shape), windows=windows, interval=steps, per_neuron_windows=last)
        neuron.s_out.connect(counter.a_in)
        counters.append(counter)
        if last and readout_of(net) == "potential":
            reader = PotentialReader(lava_shape(layer.out_shape), windows, steps, np.int32 if fixed else np.float64)
            reader.v_ref.connect_var(neuron.v)
            if readers is not None:
                readers.append(reader)
        if record_dir is not None:
            recorder = StateRecorder(lava_shape(layer.out_shape), windows * steps, f"{record_dir}/layer{i}.npz")
            neuron.s_out.connect(recorder.s_in)
            recorder.u_ref.connect_var(neuron.u)
            recorder.v_ref.connect_var(neuron.v)
        port = neuron.s_out
    return source, counters


def _synapse(layer, fixed: bool, graded_bits: int, input_is_lava_3d: bool):
    if layer.kind == "conv":
        kwargs = dict(input_shape=lava_shape(layer.in_shape), padding=_xy(layer.padding), stride=_xy(layer.stride),
                      dilation=_xy(layer.dilation), groups=layer.groups, num_message_bits=graded_bits)
        if fixed:
            return Conv(weight=lava_conv_weight(layer.weight).astype(np.int32), weight_exp=layer.weight_exp,
                        num_weight_bits=layer.weight_bits, **kwargs)
        return Conv(weight=lava_conv_weight(layer.weight), **kwargs)
    w = lava_dense_weight(layer.weight, layer.in_shape) if input_is_lava_3d else layer.weight
    if fixed:
        return Dense(weights=w.astype(np.int32), weight_exp=layer.weight_exp, num_weight_bits=layer.weight_bits,
                     sign_mode=SignMode(layer.sign_mode), num_message_bits=graded_bits)
    return Dense(weights=w, num_message_bits=graded_bits)


def _neuron(layer, fixed: bool, steps: int, stock_lif: bool):
    shape = lava_shape(layer.out_shape)
    if fixed:
        params = dict(shape=shape, du=layer.du, dv=layer.dv, vth=layer.vth, v=to_lava(layer.v_init).astype(np.int32),
                      bias_mant=to_lava(layer.bias_mant).astype(np.int32), bias_exp=layer.bias_exp)
    else:
        v0 = np.zeros(layer.out_shape) if layer.v_init is None else layer.v_init
        params = dict(shape=shape, du=1.0, dv=0.0, vth=1.0, v=to_lava(np.asarray(v0, np.float64)),
                      bias_mant=to_lava(layer.bias), bias_exp=0)
    if stock_lif:
        # netx's choice for hardware: periodic reset; in-flight input at window starts is not dropped.
        return LIFReset(reset_interval=steps, reset_offset=1 % steps, **params)
    return ConversionLIF(reset_mode=layer.reset, reset_interval=steps, **params)


def _phase_neuron(layer, fixed: bool, steps: int):
    code = layer.phase
    shape = lava_shape(layer.out_shape)
    lo, hi = code.bounds()
    if fixed:
        return PhaseNeuron(shape=shape, bias_mant=to_lava(layer.bias_mant).astype(np.int32), bias_exp=layer.bias_exp,
                           decay=int(code.decay), lo=np.array(lo, np.int32), hi=np.array(hi, np.int32),
                           window=code.window, offset=code.offset, integrate=code.integrate, reset_interval=steps)
    return PhaseNeuron(shape=shape, bias_mant=to_lava(np.asarray(layer.bias, np.float64)), bias_exp=0,
                       decay=code.decay_factor, lo=np.array(lo, np.float64), hi=np.array(hi, np.float64),
                       window=code.window, offset=code.offset, integrate=code.integrate, reset_interval=steps)


def input_frames(net, inputs: np.ndarray) -> np.ndarray:
    """(N, *input_shape) -> source data in Lava layout with samples last."""
    if net.layers[0].kind == "conv":
        return np.ascontiguousarray(np.moveaxis(inputs.transpose(0, 3, 2, 1), 0, -1))
    return np.ascontiguousarray(inputs.reshape(len(inputs), -1).T)


def run_batch(net, inputs: np.ndarray, steps: int, fixed: bool, run_cfg, stock_lif: bool = False,
              progress=None, chunk: int = 25, hold: int | None = None):
    """Simulate N samples of `steps` steps each in one compiled network. inputs: (frames, *input_shape),
    each frame held for `hold` steps (default: one frame of `steps` steps per sample).

    Returns (output counts (N, *out_shape) of the last layer, spikes per layer per sample (N, L),
    spikes per neuron summed over samples for each layer (out_shape, torch layout), and for a net read out
    by potential the output layer's raw v at each window's end (N, *out_shape), else None).
    """
    readers = []
    source, counters = build(net, fixed, input_frames(net, inputs), steps, stock_lif, hold, readers=readers)
    n = len(inputs) * (steps if hold is None else hold) // steps
    try:
        done = 0
        while done < n:
            k = min(chunk, n - done)
            source.run(condition=RunSteps(num_steps=k * steps), run_cfg=run_cfg)
            done += k
            if progress:
                progress(k)
        last = net.layers[-1]
        output = np.stack([from_lava(c, last.out_shape) for c in counters[-1].count.get()])
        per_layer = np.stack([c.per_window.get() for c in counters], axis=1)
        per_neuron = [from_lava(c.per_neuron.get(), l.out_shape) for c, l in zip(counters, net.layers)]
        scores = None
        if readers:
            scores = np.stack([from_lava(s, last.out_shape) for s in readers[0].scores.get()])
    finally:
        source.stop()
    return output, per_layer, per_neuron, scores


def record_states(net, inputs: np.ndarray, steps: int, fixed: bool, run_cfg, hold: int | None = None):
    """Every layer's spikes, u and v after every step: per layer a dict of arrays (N, steps, *out_shape)
    in torch layout. inputs and hold as in run_batch."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="neurokit-record-") as tmp:
        source, _ = build(net, fixed, input_frames(net, inputs), steps, hold=hold, record_dir=tmp)
        n = len(inputs) * (steps if hold is None else hold) // steps
        try:
            source.run(condition=RunSteps(num_steps=n * steps), run_cfg=run_cfg)
        finally:
            source.stop()
        out = []
        for i, layer in enumerate(net.layers):
            with np.load(f"{tmp}/layer{i}.npz") as f:
                out.append({k: _to_torch_layout(f[k], layer.out_shape, n, steps) for k in ("s", "u", "v")})
    return out


def _to_torch_layout(a: np.ndarray, shape: tuple[int, ...], n: int, steps: int) -> np.ndarray:
    """(n * steps, *lava shape) -> (n, steps, *torch shape)."""
    if len(shape) == 3:
        a = a.transpose(0, 3, 2, 1)
    return np.ascontiguousarray(a.reshape((n, steps) + tuple(shape)))
