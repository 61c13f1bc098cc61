"""lava-dl's netx HDF5 format (lava.lib.dl.netx.hdf5.Network), out and in: the file Intel's toolchain reads
to run a network in Lava or on a Loihi 2 chip.

Layout (what netx's Network reads, lava/lib/dl/netx/hdf5.py): a group `layer` holding groups "0", "1", ...
in order, each with a `type` (input, conv, flatten, dense), a `shape` (torch order: (C, H, W) or (n,)),
and for conv / dense a `weight` (torch layout: (C_out, C_in / groups, kH, kW) or (n_out, n_in) in torch's
flattening order), geometry (stride, padding, dilation as (H, W); groups), a `bias` and a `neuron` group.

What neurokit writes: a sigma-delta network (neurokit.neurons.sigma_delta), exactly as neurokit runs it:
- layer 0 `input` with an SDNN neuron of vThMant 0: netx builds Lava's Delta (vth 0, spike_exp 6,
  state_exp 6), the delta coding of the input neurokit applies;
- per population, its projection (conv, or flatten + dense) and an SDNN neuron (vThMant = the integer
  delta threshold; bias per neuron in Lava's (W, H, C) layout): netx builds Lava's SigmaDelta with
  spike_exp 6, state_exp 6, 16 message bits, as neurokit's quantizer assumes;
- weights as the integers the synapse applies: netx's Dense re-derives sign mode, bits and exponent from
  them (netx.utils.optimize_weight_bits), exact for mixed-sign integers in [-256, 254], excitatory in
  [0, 255] and inhibitory in [-255, 0]; Lava's Conv applies conv weights as given;
- the root attribute `neurokit` (JSON): input scale and bits, the populations' scales and names, the
  profile and arithmetic, so `neurokit run model.net` gives back the same QuantizedNet.

What netx cannot express is refused with one line naming the layer and the field: a graph that is not a
chain (netx has no add / concat: Network._create raises NotImplementedError for them), a population
that is not sigma-delta, a dense weight exponent other than 0 or weights outside those ranges.

Reading (read_netx): the same layer types, with SDNN neurons (CUBA neurons come with the pipelined LIF
target); unknown layer types, damaged files and weights beyond 9 signed bits are refused in one line.
lava-dl's PilotNet files read exactly (tests/test_pilotnet.py, against the ground truth lava-dl ships):
- an Input block of LIF (CUBA / LOIHI) neurons, driven by the sample as their bias (PilotNet SNN): a
  population fed one-to-one by the sample (_bias_input; network metadata INPUT_BIAS_KEY), written back as
  that block;
- netx's Sigma output layer (PilotNet SDNN, `sigma_output`): a SigmaDelta population of UNIT activation,
  bias 0 and delta threshold 0, whose act is Sigma's output.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import FileFormatError, UnsupportedModelError

FORMAT = "neurokit-netx/1"
NETX_BIAS_EXP = 6  # netx builds CUBA layers with bias_exp 6 (hdf5.Network.get_neuron_params)
LAYER_TYPES = ("input", "conv", "flatten", "dense")  # what neurokit writes and reads
NETX_NOT_IMPLEMENTED = ("pool", "convT", "unpool", "average", "concat")  # netx's own NotImplementedError
MIXED_RANGE, EXCITATORY_RANGE, INHIBITORY_RANGE = (-256, 254), (0, 255), (-255, 0)
SDNN_INPUT_BITS = 12  # netx's input Delta holds a_in << (spike_exp + state_exp) = << 12 in a 24-bit state
INPUT_BIAS_KEY = "netx_input_layer"  # network metadata: the population that is netx's bias-driven Input block
BIAS_MANT_BITS = 13  # Lava's LIF bias_mant: 13 signed bits (lava/proc/lif/models.py, ref A.1)


class NetxExportError(UnsupportedModelError):
    """The network holds something netx's format cannot express."""


# ---- out -------------------------------------------------------------------------------------------------

def effective_weights(proj) -> np.ndarray:
    """The integer weights a projection applies (Lava's Dense truncation and a weight exponent >= 0; Conv
    as given), in torch layout."""
    from .arithmetic import lava_dense_weights

    if proj.kind == "conv":
        return np.asarray(proj.weight, np.int64)
    w = lava_dense_weights(proj.weight, proj.sign_mode, proj.weight_bits).reshape(len(proj.weight), -1)
    if proj.weight_exp < 0:
        # integers netx itself scaled up (netx.utils.optimize_weight_bits: a file read by read_netx) divide back
        # exactly; anything else has finer bits than an integer weight holds
        if np.any(w % (1 << -proj.weight_exp)):
            raise NetxExportError(f"projection {proj.name}: weight_exp = {proj.weight_exp}; netx stores integer "
                                  "weights without an exponent, so a negative one cannot be written; quantize with "
                                  "--netx (integer weights)")
        return w >> -proj.weight_exp
    return w << proj.weight_exp


def check_netx_weights(where: str, w: np.ndarray) -> None:
    """Weights netx's Dense applies exactly (neurokit.arithmetic.netx_dense_exact), or one line."""
    from .arithmetic import netx_dense_exact

    if not netx_dense_exact(w):
        raise NetxExportError(f"{where}: weights span [{w.min()}, {w.max()}], which netx's synapse does not hold "
                              f"exactly (mixed sign [{MIXED_RANGE[0]}, {MIXED_RANGE[1]}], excitatory [0, 255], "
                              "inhibitory [-256, -1] with the 8-bit mantissa's truncation); quantize with --netx")


def chain_of(net) -> list:
    """The populations in chain order, or one line saying why the network is not a chain netx can hold."""
    from .network import INPUT

    order, source = [], INPUT
    for _ in net.populations:
        nxt = net.outgoing(source)
        if len(nxt) > 1:
            raise NetxExportError(f"{source} feeds {len(nxt)} projections (a branch or skip connection); netx "
                                  "describes a chain of layers and has no add or concat layer")
        if not nxt:
            break
        (q,) = nxt
        if len(net.incoming(q.target)) != 1:
            raise NetxExportError(f"population {q.target} sums {len(net.incoming(q.target))} projections (a skip "
                                  "connection); netx describes a chain of layers and has no add or concat layer")
        order.append(q)
        source = q.target
    if len(order) != len(net.populations) or source != net.output:
        raise NetxExportError("the network is not a chain from the input to its output (a branch or a population "
                              "off the path); netx describes a chain of layers")
    return order


def export_netx(qnet, path: str | Path) -> dict:
    """Write `qnet` (a quantized chain of sigma-delta, or stock-LIF with pipelined windows, populations) as a
    netx HDF5 file, atomically. Returns a summary, with the arguments netx's Network needs to run it as
    neurokit does (a file cannot hold them: reset_interval is the run's T)."""
    import h5py

    from .encoding import encoding_of
    from .io import atomic_write
    from .layout import to_lava

    chain = chain_of(qnet)
    encoding = encoding_of(qnet)
    bias_input = bias_input_projection(qnet)  # netx's bias-driven Input block: written back as that block
    layers = []
    for q in chain:
        pop = qnet.population(q.target)
        neuron, bias = pop.model.netx_neuron(pop, qnet)  # NetxExportError when netx cannot hold it
        w = effective_weights(q)
        if q.kind == "dense":
            check_netx_weights(f"projection {q.name}", w)
        layers.append((q, pop, w, neuron, bias))
    kinds = {n["type"] for *_, n, _ in layers}
    if len(kinds) > 1:
        raise NetxExportError(f"the network mixes netx neuron types {sorted(kinds)}; neurokit writes one kind per file")
    sdnn = kinds == {"SDNN"}
    if sdnn != (encoding == "delta"):
        raise NetxExportError(f"{encoding}-coded input with {kinds.pop()} neurons: netx's SDNN layers read the delta-"
                              "coded input, its CUBA layers graded or binary input")
    # netx gives layer i reset_offset = reset_offset + 1 + i; neurokit's population at depth d restarts at
    # step d + 1 (1-based) and the first one is at depth 1: reset_offset = 1
    run_args = {} if sdnn else {"reset_offset": 1, "input_message_bits": 0 if encoding == "rate" else qnet.input_bits}
    input_block = None
    if bias_input:  # the Input block sends binary spikes: netx sets the next layer's input bits itself
        run_args = {"reset_offset": 1}
        input_block, layers = layers[0], layers[1:]

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            group = f.create_group("layer")
            first = {"shape": qnet.input_shape}
            if sdnn:  # netx's input Delta (vth 0): the delta coding neurokit applies
                first["neuron"] = {"type": "SDNN", "vThMant": 0}
            if input_block is not None:  # LIF neurons whose bias is the sample; netx's input transform beside them
                first["neuron"] = input_block[3]
                first.update(qnet.metadata[INPUT_BIAS_KEY].get("transform", {}))
            entries = [("input", first)]
            flat = len(qnet.input_shape) != 1
            for q, pop, w, neuron, bias in layers:
                bias = to_lava(np.asarray(bias, np.int64).reshape(pop.shape))
                if q.kind == "conv":
                    entries.append(("conv", {"shape": pop.shape, "weight": w, "stride": q.stride, "padding": q.padding,
                                             "dilation": q.dilation, "groups": q.groups, "bias": bias, "neuron": neuron}))
                    flat = True
                else:
                    if flat:
                        entries.append(("flatten", {"shape": (int(np.prod(q.in_shape)),)}))
                        flat = False
                    entries.append(("dense", {"shape": pop.shape, "weight": w, "bias": bias, "neuron": neuron}))
            for i, (kind, fields) in enumerate(entries):
                layer = group.create_group(str(i))
                _write_type(layer, kind)
                for key, value in fields.items():
                    if key == "neuron":
                        n = layer.create_group("neuron")
                        _write_type(n, value["type"])
                        for k, v in value.items():
                            if k != "type":
                                n.create_dataset(k, data=np.int64(v))
                    else:
                        layer.create_dataset(key, data=np.asarray(value, np.int64))
            f.attrs["neurokit"] = json.dumps({
                "format": FORMAT, "input_scale": qnet.input_scale, "input_bits": qnet.input_bits,
                "input_signed": qnet.input_signed, "profile": qnet.profile, "metadata": _jsonable(qnet.metadata),
                "arithmetic": qnet.arithmetic.to_dict(), "netx_network_args": run_args,
                "populations": [{"name": pop.name, "scale": int(pop.model.integer_scale(pop.neuron)), "projection": q.name}
                                for q, pop, *_ in layers],
                **({"input_population": input_block[1].name} if input_block is not None else {})})

    atomic_write(str(path), write)
    return {"path": str(path), "layers": len(layers) + 1,
            "populations": ([input_block[1].name] if input_block is not None else []) + [pop.name for _, pop, *_ in layers],
            "netx_network_args": run_args}


def _write_type(group, name: str) -> None:
    # lava-dl's own export writes the type as a (1,) array of fixed-width ASCII (slayer/block/base.py)
    group.create_dataset("type", (1,), "S10", [name.encode("ascii")])


def _jsonable(meta: dict) -> dict:
    try:
        json.dumps(meta)
        return meta
    except TypeError:
        return {k: v for k, v in meta.items() if _is_jsonable(v)}


def _is_jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except TypeError:
        return False


# ---- in --------------------------------------------------------------------------------------------------

def is_netx(path: str | Path) -> bool:
    """An HDF5 file with netx's `layer` group (checked by its content, not its name)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "layer" in f
    except OSError:
        return False


def read_netx(path: str | Path, profile: str = "loihi2"):
    """A netx HDF5 file of a sigma-delta chain -> quantize.QuantizedNet, or one line naming the problem."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise FileFormatError(f"{path}: not a readable HDF5 file ({str(e).splitlines()[0]}); export it again with "
                              "lava-dl's export_hdf5 or 'neurokit export'") from None
    try:
        with f:
            return _read(f, str(path), profile)
    except (FileFormatError, UnsupportedModelError):
        raise
    except (KeyError, ValueError, TypeError, IndexError, OSError) as e:
        what = f"missing {e}" if isinstance(e, KeyError) else (str(e).splitlines()[0] or type(e).__name__)
        raise FileFormatError(f"{path}: damaged netx file ({what}); export it again") from None


def _text(ds) -> str:
    v = ds[()]
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0]
    return v.decode("ascii") if isinstance(v, bytes) else str(v)


def _read(f, path: str, profile: str):
    from .arithmetic import LOIHI2, SDN_MESSAGE_BITS, SDN_SPIKE_EXP, SDN_STATE_EXP, Arithmetic
    from .network import INPUT, Population, conv_out_hw
    from .neurons import QSigmaDelta
    from quantize.qnet import QProjection, QuantizedNet

    from .layout import from_lava

    if "layer" not in f:
        raise FileFormatError(f"{path}: no 'layer' group; this is not a netx network file")
    group = f["layer"]
    keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if not keys or any(not k.isdigit() for k in keys):
        raise FileFormatError(f"{path}: netx layers are groups named 0, 1, ...; found {list(group.keys())[:5]}")
    info = json.loads(f.attrs["neurokit"]) if "neurokit" in f.attrs else {}
    named = info.get("populations", [])
    populations, projections = [], []
    input_shape, shape, source, flattened = None, None, INPUT, False
    input_layer = None  # netx's Input block of LIF neurons, driven by the sample as their bias
    kinds = set()
    for i, key in enumerate(keys):
        layer = group[key]
        kind = _text(layer["type"])
        where = f"{path}: layer {key} ({kind})"
        if kind in NETX_NOT_IMPLEMENTED or kind not in LAYER_TYPES:
            raise UnsupportedModelError(f"{where}: neurokit reads netx layers {', '.join(LAYER_TYPES)}; this file has "
                                        f"'{kind}'" + (" (netx itself does not implement it)"
                                                       if kind in NETX_NOT_IMPLEMENTED else " (a newer lava-dl?)"))
        if kind == "input":
            if i != 0:
                raise FileFormatError(f"{where}: an input layer after the first")
            input_shape = shape = tuple(int(s) for s in layer["shape"][()])
            if "neuron" not in layer:
                continue
            ntype = _text(layer["neuron"]["type"])
            if ntype in ("CUBA", "LOIHI"):
                # netx's Input block of LIF neurons (PilotNet SNN): the sample is their bias, lava-dl's own
                # test and benchmark set it (in_layer.neuron.bias_mant = image). neurokit holds it as a
                # population fed through a one-to-one projection (see bias_input)
                name = str(info.get("input_population", f"layer{key}"))
                populations.append(Population(name, shape, _cuba(where, layer["neuron"], np.zeros(shape, np.int32),
                                                                  shape)))
                projections.append(_bias_input(f"{name}_bias", name, shape))
                input_layer = {"population": name, "transform": {k: float(np.asarray(layer[k][()]).reshape(-1)[0])
                                                                 for k in ("weight", "bias") if k in layer}}
                kinds.add("CUBA")
                source = name
                continue
            kinds.add("input " + ntype)
            if ntype != "SDNN" or int(np.asarray(layer["neuron"]["vThMant"][()]).reshape(-1)[0]):
                raise UnsupportedModelError(f"{where}: an input neuron layer other than an SDNN Delta with vThMant "
                                            "0 or LIF (CUBA) neurons; neurokit reads delta-coded (vThMant 0), "
                                            "bias-driven LIF or plain inputs")
            continue
        if input_shape is None:
            raise FileFormatError(f"{where}: the first layer must be 'input' with the input's shape")
        if kind == "flatten":
            flattened = True  # the dense layer after it reads the source flattened (a dense projection does)
            continue
        neuron = layer["neuron"]
        ntype = _text(neuron["type"])
        if ntype not in ("SDNN", "CUBA", "LOIHI"):
            raise UnsupportedModelError(f"{where}: neuron type {ntype}; neurokit reads SDNN (sigma-delta) and CUBA layers")
        kinds.add("SDNN" if ntype == "SDNN" else "CUBA")
        sigma_output = ntype == "SDNN" and "sigma_output" in neuron and bool(np.asarray(neuron["sigma_output"][()]))
        if sigma_output and i != len(keys) - 1:
            raise UnsupportedModelError(f"{where}: a Sigma layer (no activation) before the last; neurokit reads it as "
                                        "the output layer only (netx's PilotNet SDNN)")
        out_shape = tuple(int(s) for s in layer["shape"][()])
        w = np.asarray(layer["weight"][()])
        if not np.all(np.isfinite(w)) or np.any(w != np.round(w)):
            raise FileFormatError(f"{where}: weights must be integers")
        w = w.astype(np.int64)
        k = len(populations) - (input_layer is not None)  # the file's populations after the input layer
        entry = named[k] if len(named) > k else {}
        name = entry.get("name", f"layer{key}")
        pname = entry.get("projection", f"{name}_synapse")
        if kind == "conv":
            w = w.reshape(w.shape[:4])
            if w.min(initial=0) < MIXED_RANGE[0] or w.max(initial=0) > EXCITATORY_RANGE[1]:
                raise UnsupportedModelError(f"{where}: weights span [{w.min()}, {w.max()}], beyond 8 bits and sign "
                                            f"([{MIXED_RANGE[0]}, {EXCITATORY_RANGE[1]}])")
            geometry = {k: _pair(layer[k][()]) for k in ("stride", "padding", "dilation")}
            groups = int(np.asarray(layer["groups"][()]).reshape(-1)[0]) if "groups" in layer else 1
            if len(shape) != 3 or w.shape[1] * groups != shape[0] or len(out_shape) != 3 or w.shape[0] != out_shape[0]:
                raise FileFormatError(f"{where}: weight {w.shape} does not connect {shape} to {out_shape}")
            hw = conv_out_hw(shape[1:], w.shape[2:], geometry["stride"], geometry["padding"], geometry["dilation"])
            if tuple(hw) != tuple(out_shape[1:]):
                raise FileFormatError(f"{where}: a {w.shape[2:]} kernel maps {shape} to {hw}, not {out_shape[1:]}")
            proj = QProjection(name=pname, source=source, target=name, kind="conv", in_shape=shape,
                               out_shape=out_shape, weight=w.astype(np.int32), groups=groups, weight_exp=0,
                               weight_bits=8, sign_mode=1, graded_input_bits=SDN_MESSAGE_BITS, **geometry)
        else:
            out_shape = (int(np.prod(out_shape)),)
            w = w.reshape(out_shape[0], -1)
            if w.shape[1] != int(np.prod(shape)):
                raise FileFormatError(f"{where}: weight {w.shape} does not take the {int(np.prod(shape))} inputs before it")
            if len(shape) == 3 and not flattened:
                raise FileFormatError(f"{where}: a dense layer after a {shape} layer needs a flatten layer between them "
                                      "(netx connects it only then)")
            flattened = False
            proj = _dense_projection(pname, source, name, shape, out_shape, w)
        bias = np.asarray(layer["bias"][()]) if "bias" in layer else np.zeros(1)
        bias = _bias(where, bias, out_shape, from_lava)
        vth = int(np.asarray(neuron["vThMant"][()]).reshape(-1)[0])
        if vth < 0:
            raise FileFormatError(f"{where}: vThMant {vth} < 0")
        if ntype == "SDNN":
            scale = int(entry.get("scale", 1 << (SDN_SPIKE_EXP + SDN_STATE_EXP + 6)))  # netx: w_scale 64, 12-bit messages
            if sigma_output:  # netx's Sigma: act = sigma (bias and threshold unused), sent every step; neurokit
                # holds it as a SigmaDelta of UNIT activation with neither (its act, the readout, is Sigma's output)
                if np.any(bias):
                    raise UnsupportedModelError(f"{where}: a Sigma output layer with a bias; netx's Sigma has none")
                params = QSigmaDelta(scale=scale, bias=bias, vth=0, relu=False)
            else:
                params = QSigmaDelta(scale=scale, bias=bias, vth=vth)
        else:
            params = _cuba(where, neuron, bias, out_shape)
        populations.append(Population(name, out_shape, params))
        projections.append(proj)
        source, shape = name, out_shape
    if not populations:
        raise FileFormatError(f"{path}: no layer with neurons")
    if len(kinds - {"input SDNN"}) > 1 or ("input SDNN" in kinds) != ("SDNN" in kinds):
        raise UnsupportedModelError(f"{path}: layers of kinds {sorted(kinds)}; neurokit reads one kind per network "
                                    "(SDNN with its input Delta, or CUBA)")
    arith = Arithmetic.from_dict(info["arithmetic"], path) if "arithmetic" in info else LOIHI2
    meta = dict(info.get("metadata", {}))
    if "SDNN" in kinds:
        meta.update(input_encoding="delta", readout="potential")
    else:  # CUBA: netx's reset offsets are neurokit's pipelined windows; binary input unless the file says graded
        graded = int((info.get("netx_network_args") or {}).get("input_message_bits", 0)) > 0
        meta.update(windows="pipelined", input_encoding="current" if graded or input_layer else "rate")
        meta.setdefault("readout", "spikes")
    meta["source_format"] = "netx"
    input_bits = int(info.get("input_bits", 8))
    input_signed = bool(info.get("input_signed", False))
    if "SDNN" in kinds and not info:  # a lava-dl file: what netx's input Delta takes, signed (PilotNet SDNN's frames
        # span -64..64), |x| < 2**11 so that x << 12 fits its 24-bit state
        input_bits, input_signed = SDNN_INPUT_BITS, True
    if input_layer:  # a sample is a bias mantissa per input neuron: 13 signed bits, as LIF's bias_mant
        meta[INPUT_BIAS_KEY] = input_layer
        input_bits, input_signed = BIAS_MANT_BITS, True
    if "CUBA" in kinds:  # binary spikes between CUBA layers; graded input only when the file says so
        for q in projections:
            q.graded_input_bits = input_bits if q.source == INPUT and meta["input_encoding"] == "current" else 0
    from quantize.qnet import check_integers

    qnet = QuantizedNet(input_shape=input_shape, populations=populations, projections=projections,
                        output=populations[-1].name, metadata=meta, input_scale=float(info.get("input_scale", 1.0)),
                        input_bits=input_bits, input_signed=input_signed,
                        profile=str(info.get("profile", profile)), arithmetic=arith).validate()
    check_integers(qnet)
    return qnet


def _cuba(where: str, neuron, bias: np.ndarray, shape: tuple):
    """Lava's LIF / LIFReset as netx builds it from a CUBA (or LOIHI) neuron group: du = iDecay - 1,
    dv = vDecay, vth = vThMant, bias_mant = the layer's bias with bias_exp 6, reset to zero."""
    from .neurons import QCuba

    vth = int(np.asarray(neuron["vThMant"][()]).reshape(-1)[0])
    i_decay, v_decay = (int(np.asarray(neuron[k][()]).reshape(-1)[0]) for k in ("iDecay", "vDecay"))
    if not 1 <= i_decay <= 4096 or not 0 <= v_decay <= 4096 or not 0 <= vth < 1 << 17:
        raise UnsupportedModelError(f"{where}: iDecay {i_decay}, vDecay {v_decay}, vThMant {vth}; Loihi's LIF "
                                    "takes iDecay 1..4096, vDecay 0..4096, a 17-bit threshold")
    if np.abs(bias).max(initial=0) > 4095:
        raise UnsupportedModelError(f"{where}: bias beyond LIF's 13-bit mantissa")
    return QCuba(vth=vth, bias_mant=np.asarray(bias, np.int32), bias_exp=NETX_BIAS_EXP, du=i_decay - 1, dv=v_decay,
                 v_init=np.zeros(shape, np.int32), reset="zero")


def _bias_input(name: str, target: str, shape: tuple):
    """The projection that brings a sample to netx's bias-driven Input block: one-to-one (a 1x1 conv, one
    group per channel, weight 1), graded. On the chip the sample is the neurons' bias (bias_mant << 6 added to
    v every step); here it arrives as a_in << 6 in u, which with the block's iDecay 4096 (du 4095: u keeps
    only this step's input) holds exactly that, so v and the spikes are Lava's at every step (u holds the
    sample where Lava's holds 0). It costs nothing on the chip: the energy model counts no messages or
    synaptic operations through it (neurokit.energy.bias_driven)."""
    from quantize.qnet import QProjection

    c = int(shape[0])
    return QProjection(name=name, source="input", target=target, kind="conv", in_shape=tuple(shape),
                       out_shape=tuple(shape), weight=np.ones((c, 1, 1, 1), np.int32), groups=c, stride=(1, 1),
                       padding=(0, 0), dilation=(1, 1), weight_exp=0, weight_bits=8, sign_mode=1,
                       graded_input_bits=BIAS_MANT_BITS)


def bias_input_projection(net) -> str | None:
    """The name of the projection that stands for netx's bias-driven Input block (read_netx), or None."""
    layer = (net.metadata or {}).get(INPUT_BIAS_KEY)
    if not layer:
        return None
    into = [q.name for q in net.incoming(layer["population"]) if q.source == "input"]
    return into[0] if into else None


def _pair(v) -> tuple[int, int]:
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def _bias(where: str, bias: np.ndarray, shape: tuple, from_lava) -> np.ndarray:
    """netx's bias: one per neuron in Lava's (W, H, C) layout, one per channel, or one scalar."""
    if not np.all(np.isfinite(bias)):
        raise FileFormatError(f"{where}: bias holds NaN or Inf")
    b = np.round(bias).astype(np.int64)
    if np.abs(b).max(initial=0) >= 1 << 15:
        raise UnsupportedModelError(f"{where}: bias up to {np.abs(b).max()} beyond SigmaDelta's 16-bit bias")
    if b.size == int(np.prod(shape)) and len(shape) == 3:
        return from_lava(b.reshape(tuple(reversed(shape))), shape).astype(np.int32)
    if b.size == int(np.prod(shape)):
        return b.reshape(shape).astype(np.int32)
    if len(shape) == 3 and b.size == shape[0]:
        return np.broadcast_to(b.reshape(-1, 1, 1), shape).astype(np.int32).copy()
    if b.size == 1:
        return np.full(shape, int(b.reshape(-1)[0]), np.int32)
    raise FileFormatError(f"{where}: bias of {b.size} values for a layer of shape {shape}")


def _dense_projection(name, source, target, in_shape, out_shape, w):
    """A dense projection computing what netx's Dense computes from file weights w (netx_dense_format)."""
    from quantize.qnet import QProjection

    from .arithmetic import SDN_MESSAGE_BITS, netx_dense_format

    fmt = netx_dense_format(w)
    if fmt is None:
        raise UnsupportedModelError(f"projection {name}: weights span [{w.min()}, {w.max()}], beyond 8 bits and sign "
                                    "(netx would clip them to [-256, 254])")
    stored, bits, exp, mode = fmt
    return QProjection(name=name, source=source, target=target, kind="dense", in_shape=tuple(in_shape),
                       out_shape=tuple(out_shape), weight=stored.astype(np.int32), weight_exp=exp, weight_bits=bits,
                       sign_mode=mode, graded_input_bits=SDN_MESSAGE_BITS)
