"""Run INSIDE a framework's own venv (scripts/setup-interop.sh), not neurokit's:

    .venv-sinabs/bin/python tests/interop_export.py sinabs OUTDIR
    .venv-spikingjelly/bin/python tests/interop_export.py spikingjelly OUTDIR

Builds small networks with the framework (fixed seeds), exports each with the framework's own NIR exporter to
OUTDIR/<net>.nir and saves OUTDIR/<net>.npz with
    x                 float32 (N, T, *input_shape)
    s:<NIR node>      the framework's own output per spiking layer (N, T, *layer_shape); spike COUNTS for
                      sinabs MultiSpike layers (may exceed 1)
    from_nir_kwargs   JSON of extra from_nir keywords (beside dialect=<framework>), when needed
A net the exporter cannot express gets OUTDIR/<net>.unsupported with the exporter's error line instead.
Imports nothing from neurokit. tests/test_interop.py (TestPeerFrameworks, `pytest -m interop`) reads these.

sinabs 3.1.3 (sinabs/nir.py to_nir(module, sample_data, model_name="model") -> nirtorch.extract_nir_graph(...,
ignore_dims=[0])), what it writes:
  IAF / IAFSqueeze -> nir.IF(r = 1, v_threshold)                  (spike_fn, reset_fn, min_v_mem NOT written)
  LIF / LIFSqueeze -> nir.LIF(tau = tau_mem (in STEPS, dt = 1), r = 1, v_leak = 0, v_threshold)
                      tau_syn, norm_input, spike_fn, reset_fn, min_v_mem NOT written
  ExpLeak -> nir.LI;  Linear -> Affine;  Conv2d -> Conv2d;  SumPool2d -> SumPool2d;  Flatten -> Flatten
  LIFRecurrent / IAFRecurrent: raise NotImplementedError (exact type test): no recurrent export.
sinabs stepping (sinabs/layers/functional/lif.py lif_forward_single), per step:
  i_syn = alpha_syn*(i_syn + I) if tau_syn else I           alpha = exp(-1/tau)  (NOT 1 - 1/tau)
  v     = alpha_mem*v + ((1 - alpha_mem)*i_syn if norm_input (LIF default True; IAF False) else i_syn)
  spikes = spike_fn(v):  MultiSpike (default): (v > 0) * trunc(v / thr)  -> a COUNT per step
                         SingleSpike: (v - thr >= 0)   (>=, not >)
  v     = reset_fn:      MembraneSubtract (default): v - spikes*thr;  MembraneReset: v*(spikes == 0) + 0
  v     = max(v, min_v_mem) if min_v_mem is not None
  Recurrent layers add rec_connect(spikes of step t-1) to the input of step t.
"""
from __future__ import annotations

import sys
import traceback
from pathlib import Path

import json

import numpy as np

N, T = 8, 20


def bernoulli(shape, p, seed):
    rng = np.random.default_rng(seed)
    return (rng.random((N, T) + tuple(shape)) < p).astype(np.float32)


def graded(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.random((N, T) + tuple(shape)).astype(np.float32)


def scale(layer, gain, shift=0.0):
    import torch

    with torch.no_grad():
        layer.weight.mul_(gain)
        if layer.bias is not None:
            layer.bias.add_(shift)


def save(out: Path, name: str, graph, x, layer_spikes: dict, **kwargs):
    import nir

    nir.write(str(out / f"{name}.nir"), graph)
    arrays = {"x": x, **{f"s:{k}": np.asarray(v, np.float32) for k, v in layer_spikes.items()}}
    if kwargs:
        arrays["from_nir_kwargs"] = np.array(json.dumps(kwargs))
    np.savez(out / f"{name}.npz", **arrays)
    rates = {k: float((np.asarray(v) > 0).mean()) for k, v in layer_spikes.items()}
    print(f"{name}: nodes " + ", ".join(f"{k}:{type(n).__name__}" for k, n in graph.nodes.items())
          + " | spike rates " + ", ".join(f"{k} {r:.1%}" for k, r in rates.items()))


def unsupported(out: Path, name: str, err: BaseException):
    (out / f"{name}.nir").unlink(missing_ok=True)
    line = f"{type(err).__name__}: {err}".splitlines()[0]
    (out / f"{name}.unsupported").write_text(line + "\n")
    print(f"{name}: UNSUPPORTED by the exporter: {line}")


# ---- sinabs -------------------------------------------------------------------------------------------------

def sinabs_nets(out: Path):
    import torch
    import sinabs
    import sinabs.layers as sl
    from sinabs.activation import MultiSpike, SingleSpike

    def run_seq(net, x, layers: dict):
        """Squeeze layers take (N*T, ...); record each spiking layer's output via hooks."""
        rec = {}
        hooks = [m.register_forward_hook(lambda mod, i, o, k=k: rec.__setitem__(k, o.detach().clone()))
                 for k, m in layers.items()]
        for m in net.modules():
            if hasattr(m, "reset_states"):
                m.reset_states()
        with torch.no_grad():
            net(torch.from_numpy(x.reshape((N * T,) + x.shape[2:])))
        for h in hooks:
            h.remove()
        return {k: v.reshape((N, T) + tuple(v.shape[1:])).numpy() for k, v in rec.items()}

    def export(net, in_shape):
        for m in net.modules():
            if hasattr(m, "reset_states"):
                m.reset_states()
        # sample of ONE sample (batch 1) of T steps, flattened (T, ...) as Squeeze layers expect
        g = sinabs.to_nir(net, torch.zeros((T,) + tuple(in_shape)))
        for m in net.modules():  # export left (1, ...) states; the run re-creates them at batch N
            if hasattr(m, "reset_states"):
                m.reset_states()
        return g

    for neuron in ("iaf", "lif"):
        for spk_name, spk in (("single", SingleSpike), ("multi", MultiSpike)):
            torch.manual_seed(21)
            if neuron == "iaf":
                mk = lambda n: sl.IAFSqueeze(num_timesteps=T, spike_fn=spk)
            else:
                # per-neuron threshold too: a scalar one beside a vector tau fails nir.LIF's same-shape assert
                mk = lambda n: sl.LIFSqueeze(tau_mem=torch.full((n,), 8.0), spike_threshold=torch.ones(n),
                                             num_timesteps=T, spike_fn=spk)
            net = torch.nn.Sequential(torch.nn.Linear(20, 32), mk(32), torch.nn.Linear(32, 10), mk(10))
            g_in, g_hid = (1.0, 4.0) if neuron == "iaf" else (12.0, 40.0)
            scale(net[0], g_in, -0.05)
            scale(net[2], g_hid, -0.05)
            x = bernoulli((20,), 0.3, seed=31)
            name = f"mlp_{neuron}_{spk_name}"
            try:
                g = export(net, (20,))
            except Exception as e:  # noqa: BLE001
                unsupported(out, name, e)
                continue
            ref = run_seq(net, x, {"1": net[1], "3": net[3]})
            save(out, name, g, x, ref, spikes=spk_name)

    torch.manual_seed(22)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), sl.IAFSqueeze(num_timesteps=T, spike_fn=SingleSpike),
                              torch.nn.Flatten(), torch.nn.Linear(144, 10),
                              sl.IAFSqueeze(num_timesteps=T, spike_fn=SingleSpike))
    scale(net[0], 1.5, -0.05)
    scale(net[3], 3.0, -0.05)
    x = graded((1, 8, 8), seed=32)
    try:
        g = export(net, (1, 8, 8))
        # REPAIR: sinabs writes Conv2d(input_shape=None), which nir 1.0.4's nir.write cannot serialize
        # ("TypeError: One of data, shape or dtype must be specified"); set it to the conv's input (H, W)
        # and Flatten(input_type=None) likewise: set it to the conv's output
        g.nodes["0"].input_shape = (8, 8)
        g.nodes["2"].input_type = {"input": np.array([4, 6, 6])}
        save(out, "conv_iaf", g, x, run_seq(net, x, {"1": net[1], "4": net[4]}), spikes="single")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        unsupported(out, "conv_iaf", e)

    torch.manual_seed(23)
    try:
        rec = torch.nn.Linear(32, 32, bias=False)
        net = torch.nn.Sequential(torch.nn.Linear(20, 32), sl.LIFRecurrent(tau_mem=8.0, rec_connect=rec,
                                                                          spike_fn=SingleSpike),
                                  torch.nn.Linear(32, 10), sl.LIF(tau_mem=8.0, spike_fn=SingleSpike))
        g = sinabs.to_nir(net, torch.zeros(1, T, 20))
        x = bernoulli((20,), 0.3, seed=33)
        with torch.no_grad():
            spikes = {}
            h1 = net[1].register_forward_hook(lambda m, i, o: spikes.__setitem__("1", o.numpy()))
            h3 = net[3].register_forward_hook(lambda m, i, o: spikes.__setitem__("3", o.numpy()))
            net(torch.from_numpy(x))
            h1.remove(), h3.remove()
        save(out, "recurrent_lif", g, x, spikes, spikes="single")
    except Exception as e:  # noqa: BLE001
        unsupported(out, "recurrent_lif", e)


# ---- SpikingJelly --------------------------------------------------------------------------------------------

def spikingjelly_nets(out: Path):
    import torch
    from spikingjelly.activation_based import functional, layer, neuron

    try:
        from spikingjelly.activation_based.nir_exchange import export_to_nir
    except ImportError as e:
        for name in ("mlp_lif", "mlp_if", "conv_lif", "recurrent_lif"):
            unsupported(out, name, e)
        return

    def run(net, x, layers):
        rec = {k: [] for k in layers}
        hooks = [m.register_forward_hook(lambda mod, i, o, k=k: rec[k].append(o.detach().clone()))
                 for k, m in layers.items()]
        functional.reset_net(net)
        with torch.no_grad():
            for t in range(T):
                net(torch.from_numpy(x[:, t]))
        for h in hooks:
            h.remove()
        functional.reset_net(net)
        return {k: torch.stack(v, 1).numpy() for k, v in rec.items()}

    def export(net, in_shape):
        functional.reset_net(net)
        g = export_to_nir(net, torch.zeros((1,) + tuple(in_shape)))
        functional.reset_net(net)
        return g

    for kind in ("lif", "if"):
        torch.manual_seed(41)
        mk = (lambda: neuron.LIFNode(tau=4.0)) if kind == "lif" else (lambda: neuron.IFNode())
        net = torch.nn.Sequential(layer.Linear(20, 32), mk(), layer.Linear(32, 10), mk())
        g_in, g_hid = (10.0, 16.0) if kind == "lif" else (1.0, 4.0)
        scale(net[0], g_in, -0.05)
        scale(net[2], g_hid, -0.05)
        x = bernoulli((20,), 0.3, seed=42)
        name = f"mlp_{kind}"
        try:
            g = export(net, (20,))
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            unsupported(out, name, e)
            continue
        save(out, name, g, x, run(net, x, {"_1": net[1], "_3": net[3]}))  # torch.fx node names

    torch.manual_seed(43)
    net = torch.nn.Sequential(layer.Conv2d(1, 4, 3), neuron.LIFNode(tau=4.0), layer.Flatten(),
                              layer.Linear(144, 10), neuron.LIFNode(tau=4.0))
    scale(net[0], 15.0, 0.0)
    scale(net[3], 30.0, 0.0)
    x = graded((1, 8, 8), seed=44)
    try:
        g = export(net, (1, 8, 8))
        save(out, "conv_lif", g, x, run(net, x, {"_1": net[1], "_4": net[4]}))
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        unsupported(out, "conv_lif", e)

    torch.manual_seed(45)
    try:
        net = torch.nn.Sequential(layer.Linear(20, 32),
                                  layer.ElementWiseRecurrentContainer(neuron.LIFNode(tau=4.0), element_wise_function=torch.add),
                                  layer.Linear(32, 10), neuron.LIFNode(tau=4.0))
        g = export(net, (20,))
        x = bernoulli((20,), 0.3, seed=46)
        save(out, "recurrent_lif", g, x, run(net, x, {"_1": net[1], "_3": net[3]}))
    except Exception as e:  # noqa: BLE001
        unsupported(out, "recurrent_lif", e)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("sinabs", "spikingjelly"):
        print(__doc__.split("\n\n")[0] + "\nusage: interop_export.py sinabs|spikingjelly OUTDIR", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    {"sinabs": sinabs_nets, "spikingjelly": spikingjelly_nets}[argv[1]](out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
