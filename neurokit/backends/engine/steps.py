"""Step by step: networks whose populations feed themselves or an earlier population (recurrent layers).

A cycle forbids running one population over all its steps before the next, so here every population
advances one step at a time. The rules are the pipelined windows' (neurokit.network.windows_of): the
population at depth d (its longest path from the input, in synaptic delays) runs a sample's steps
0 .. T - 1 at global steps d .. d + T - 1, starting from its initial state; a projection of delay D
delivers what its source sent at global step g - D, and nothing from outside the source's window. A
recurrent projection (one closing a cycle) thus brings a population's own spikes of step t - 1 at step
t, as a framework's recurrent layer does. Synapses and neurons are the engine's (fixed point: Lava's
arithmetic, the InPort's int32 sum).
"""
from __future__ import annotations

from ...arithmetic import wrap32
from ...errors import UnsupportedModelError
from ...network import INPUT, check_pipelined


def needs_steps(net) -> bool:
    """Whether the layer-at-a-time engine cannot run `net`: it has a cycle."""
    return bool(net.back_edges())


def check_steppable(net, backend: str) -> dict:
    """Depth per population; every population must be a CUBA one (the model with a one-step update)."""
    other = sorted({p.model.name for p in net.populations if p.model.name != "cuba"})
    if other:
        raise UnsupportedModelError(f"backend {backend}: a recurrent network runs CUBA (LIF) populations only; this "
                                    f"one has {', '.join(other)}")
    return check_pipelined(net)


def run_steps(prepared, source, constant: bool, n: int, steps: int, fixed: bool, record: bool) -> dict:
    """{population: (spikes, u, v)}, each (T, n, neurons) on the population's own window steps (u, v None
    without record). source: the input, (T, n, *shape) per step or (n, *shape) held (constant)."""
    net, xp = prepared.net, prepared.xp
    depth = prepared.depth
    order = net.order("the engine", cycles=True)
    total = steps + max(depth[p.name] for p in order)
    dtype = xp.int64 if fixed else xp.float64
    spikes = {p.name: xp.zeros((steps, n, p.n_neurons), xp.bool_) for p in order}
    rec = {p.name: (xp.zeros((steps, n, p.n_neurons), dtype), xp.zeros((steps, n, p.n_neurons), dtype))
           for p in order} if record else {}
    states = {}
    held = {}
    incoming = {p.name: net.incoming(p.name) for p in order}  # looked up once, not at every step
    for g in range(total):
        for pop in order:
            t = g - depth[pop.name]
            if t < 0 or t >= steps:
                continue
            neurons = prepared.neurons[pop.name]
            if t == 0:
                states[pop.name] = neurons.start(n)
            drive = xp.zeros((n, pop.n_neurons), dtype)
            for q in incoming[pop.name]:
                s = g - q.delay - depth.get(q.source, 0)  # the source's window step that arrives now
                if not 0 <= s < steps:
                    continue
                syn = prepared.synapses[q.name]
                if q.source == INPUT:
                    if constant:
                        if q.name not in held:
                            held[q.name] = syn(source)
                        out = held[q.name]
                    else:
                        out = syn(source[s])
                else:
                    x = spikes[q.source][s]
                    if not bool(x.any()):
                        continue
                    out = syn(x.reshape((n,) + tuple(q.in_shape)))
                drive = drive + xp.astype(out, dtype)
            if fixed:
                drive = wrap32(drive)
            neurons.step(states[pop.name], drive, spikes[pop.name][t])
            if record:
                rec[pop.name][0][t] = states[pop.name]["u"]
                rec[pop.name][1][t] = states[pop.name]["v"]
            if t == steps - 1:
                neurons.last_v = states[pop.name]["v"]
    return {p.name: (spikes[p.name],) + (rec[p.name] if record else (None, None)) for p in order}
