"""How each SNN framework's NIR export is read: one rule set (a dialect) per exporter.

The same NIR graph means different things to different frameworks: NIR states continuous-time ODEs, and
each framework steps them its own way (the time step dt, forward Euler or not, whether the input current
is scaled by dt / tau, whether the membrane reads this step's synaptic current or the previous one, reset
to zero or by subtraction, > or >= at the threshold). A dialect names those choices for one exporter, and
the importer (neurokit.lower) turns every neuron node into Loihi's CUBA compartment under them:

    u <- u (1 - du) + a_in                 a_in: the synaptic input, times the node's input gain
    v <- v (1 - dv) + u + bias             bias: the leak target's contribution (and the synapses' biases)
    spike if v > threshold (>= where the framework says so), then reset

A framework's layer answers in the same step its input arrives; a Loihi synapse delivers one step later.
So a population at depth d runs the framework's steps 0 .. T - 1 at steps d .. d + T - 1 (pipelined
windows, neurokit.network.windows_of), and the engine reports its spikes on the framework's steps.
"""
from __future__ import annotations

import dataclasses

import nir
import numpy as np

from .errors import UnsupportedModelError

RESETS = ("zero", "subtract", "subtract-delayed")
DIALECT_KEY = "dialect"  # network metadata: the rules a foreign graph was read with


@dataclasses.dataclass(frozen=True)
class Dialect:
    name: str
    framework: str
    checked: str  # the exporter version these rules were checked against
    dt: float | None  # the step the exporter writes its time constants for (None: --dt)
    reset: str  # what a spike does to v: "zero", "subtract", or "subtract-delayed" (snnTorch's default)
    threshold: str  # ">" or ">="
    synaptic_input: str  # CubaLIF: "euler" (i += dt / tau_syn (w_in I - i)) or "direct" (i <- i (1 - dt / tau_syn) + w_in I)
    if_input: str  # IF: "r" (v += r I per step) or "euler" (v += dt r I)
    decay: str = "euler"  # the factor per step: "euler" 1 - dt / tau, or "exp" exp(-dt / tau)
    tau_written: str = "tau"  # what the node's tau holds: "tau", or "dt*tau" (Norse's exporter)
    v_starts: str = "0"  # v at a sample's first step: "0" or "v_leak"
    input_batch: bool = False  # the Input node's shape starts with the sample data's batch of 1 (Norse's exporter)
    zero_reset_holds: bool = False  # a zero reset also drops the next step's input to v (snnTorch's RLeaky, Synaptic)
    sources: tuple = ()  # (rule, where the framework computes it)

    def with_reset(self, reset: str) -> "Dialect":
        if reset not in RESETS:
            raise UnsupportedModelError(f"--reset {reset!r} is unknown; neurokit knows {', '.join(RESETS)}")
        return dataclasses.replace(self, reset=reset)

    def rules(self) -> dict:
        return {"dialect": self.name, "framework": self.framework, "checked_against": self.checked,
                "dt": self.dt, "reset": self.reset, "threshold": self.threshold,
                "synaptic_input": self.synaptic_input, "if_input": self.if_input, "decay": self.decay,
                "tau_written": self.tau_written, "v_starts": self.v_starts, "input_batch": self.input_batch,
                "zero_reset_holds": self.zero_reset_holds}


DIALECTS = {d.name: d for d in [
    Dialect("nir", "NIR specification (forward Euler of its ODEs)", "nir 1.0.8", dt=None, reset="zero",
            threshold=">", synaptic_input="euler", if_input="euler",
            sources=(("ODEs", "nir/ir/neuron.py: tau dv/dt = (v_leak - v) + R I, tau_syn di/dt = -i + w_in I, "
                      "dv/dt = R I (IF); z = H(v - v_threshold), then v = v_reset"),)),
    Dialect("snntorch", "snnTorch", "snntorch 1.0.0", dt=1e-4, reset="subtract-delayed", threshold=">",
            synaptic_input="euler", if_input="r", zero_reset_holds=True,
            sources=(("dt, tau, r, w_in", "snntorch/export_nir.py: dt = 1e-4, tau = dt / (1 - beta), r = tau / dt, "
                      "w_in = tau_syn / dt; the reset mechanism is not written"),
                     ("Leaky", "snntorch/_neurons/leaky.py: mem = beta mem + I - s[t-1] thr (subtract, the default) "
                      "or beta (1 - s[t-1]) mem + I (zero); spike if mem - thr > 0"),
                     ("Synaptic", "snntorch/_neurons/synaptic.py: syn = alpha syn + I; mem = beta mem + syn - s[t-1] thr"),
                     ("RLeaky", "snntorch/_neurons/rleaky.py: adds W_rec s[t-1] + b_rec; exported as LIF + Affine"),
                     ("zero reset", "leaky.py _base_zero: beta (1 - s[t-1]) mem + I keeps the input; rleaky.py and "
                      "synaptic.py: (1 - s[t-1]) (beta mem + I + ...) drops it for a step"))),
    Dialect("norse", "Norse", "norse 1.1.0", dt=1e-3, reset="zero", threshold=">", synaptic_input="direct",
            if_input="euler", tau_written="dt*tau", v_starts="v_leak", input_batch=True,
            sources=(("dt, tau", "norse/torch/utils/export_nir.py to_nir(dt=0.001): tau = dt / tau_inv, i.e. dt times "
                      "the time constant; the step's decay is dt * tau_inv = dt**2 / tau"),
                     ("LIFCell", "norse/torch/functional/lif.py lif_feed_forward_step: i += I; v += dt tau_mem_inv "
                      "(v_leak - v + i); i *= 1 - dt tau_syn_inv; z = H(v - v_th); v = v_reset where z"),
                     ("LIFBoxCell", "norse/torch/functional/lif_box.py: v += dt tau_mem_inv (I + v_leak - v)"),
                     ("start", "norse/torch/functional/lif.py LIFFeedForwardState: v = v_leak, i = 0"),
                     ("heaviside", "norse/torch/functional/threshold.py: torch.gt(x, 0)"))),
    Dialect("lava-dl", "lava-dl (NIR's lava_to_nir.py / nir_to_lava.py convention)", "lava-dl 0.6.0, NIR @7232ada",
            dt=1e-4, reset="zero", threshold=">=", synaptic_input="euler", if_input="r",
            sources=(("export", "lava-dl has no NIR code; NIR's docs/source/examples/lava/lava_to_nir.py writes a netx "
                      "CUBA layer as CubaLIF with dt = 1e-4, tau = dt / decay, r = tau_mem / dt, w_in = tau_syn / dt"),
                     ("CUBA", "lava/lib/dl/slayer/neuron/cuba.py: i = (1 - iDecay/4096) i + x; v = (1 - vDecay/4096) v + i; "
                      "spike if v >= threshold; v = 0"))),
    Dialect("sinabs", "sinabs", "sinabs 3.1.3", dt=1.0, reset="subtract", threshold=">=", synaptic_input="euler",
            if_input="r", decay="exp",
            sources=(("tau", "sinabs/nir.py: LIF tau = tau_mem in steps, r = 1; IAF -> IF(r = 1)"),
                     ("LIF", "sinabs/layers/functional/lif.py: alpha = exp(-1 / tau_mem); v = alpha v + (1 - alpha) I "
                      "(norm_input=True)"),
                     ("spike, reset", "sinabs/activation/spike_generation.py SingleSpike: v >= thr; "
                      "reset_functions.py MembraneSubtract: v -= thr"))),
    Dialect("spikingjelly", "SpikingJelly", "spikingjelly 2.0.0", dt=1e-4, reset="zero", threshold=">=",
            synaptic_input="euler", if_input="euler",
            sources=(("dt, tau, r", "spikingjelly/activation_based/nir_exchange.py: dt = 1e-4; LIF tau = tau dt, "
                      "r = 1 (decay_input) or tau, v_leak = v_reset; IF r = 1 / dt"),
                     ("LIFNode", "spikingjelly/activation_based/neuron.py: H = V + (X - (V - V_reset)) / tau; "
                      "spike if H - V_th >= 0; hard reset to V_reset"))),
]}


def dialect_named(name: str | None) -> Dialect:
    if name not in DIALECTS:
        raise UnsupportedModelError(f"--dialect {name!r} is unknown; neurokit reads {', '.join(DIALECTS)}")
    return DIALECTS[name]


def detect(graph: nir.NIRGraph) -> str | None:
    """The framework a graph's metadata names (None when it names none)."""
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    for key in ("framework", "source", "exporter", "producer", "library"):
        value = str(meta.get(key, "")).lower()
        for name in DIALECTS:
            if name != "nir" and name.replace("-", "") in value.replace("-", ""):
                return name
    return None


@dataclasses.dataclass
class Reading:
    """A neuron node read as Loihi's CUBA compartment, normalized to threshold 1 (neurokit.neurons.Cuba's
    fields), with the gain to fold into every projection into it and what the reading approximates."""

    du: float
    dv: float
    gain: np.ndarray  # per neuron: the node's input gain / threshold
    bias: np.ndarray  # per neuron, thresholds per step (the leak target)
    v_init: np.ndarray  # per neuron, thresholds
    reset: str  # "zero" | "subtract"
    reset_amount: float  # thresholds a subtracting reset removes
    fires: bool
    threshold_ge: bool
    tau: dict
    refractory: int  # steps after a spike in which v stays at 0 (u integrates)  # requested time constants in steps {"u": ..., "v": ...} (None: no leak)
    notes: list


def _param(name, node, field, shape) -> np.ndarray:
    value = np.asarray(getattr(node, field), np.float64)
    shape = tuple(shape)
    if value.size == int(np.prod(shape)) and value.shape != shape:
        value = value.reshape(shape)  # e.g. (C, L) parameters of a (C, 1, L) population behind a Conv1d
    elif len(shape) == 3 and value.size == shape[0] and value.size > 1:
        value = value.reshape(-1, 1, 1)  # one value per channel
    try:
        a = np.broadcast_to(value, shape).copy()
    except ValueError:
        raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}): {field} of shape {np.shape(value)} "
                                    f"does not match the population {tuple(shape)}") from None
    if not np.all(np.isfinite(a)):
        raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}): {field} holds NaN or Inf; every "
                                    "parameter must be a finite number")
    return a


def _uniform(name, node, field, a) -> float:
    if a.size and np.any(a != a.flat[0]):
        raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}): {field} varies across the "
                                    f"population ({a.min():g} .. {a.max():g}); Lava's LIF takes one decay per "
                                    "population: split the layer or use one time constant")
    return float(a.flat[0]) if a.size else 0.0


def _decay(name, node, field, tau, dt, dialect: Dialect) -> float:
    if tau <= 0:
        raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}): {field} = {tau:g}; a time "
                                    "constant must be positive")
    if dialect.tau_written == "dt*tau":
        tau = tau / dt
    d = dt / tau if dialect.decay == "euler" else -np.expm1(-dt / tau)
    if d > 1:
        raise UnsupportedModelError(f"NIR node '{name}' ({type(node).__name__}): dt / {field} = {dt:g} / {tau:g} = "
                                    f"{d:g} > 1, a decay of more than the whole state per step; pass a smaller "
                                    "--dt or check the time constants")
    return d


def read_neuron(d: Dialect, name: str, node, shape: tuple, dt: float | None, recurrent: bool = False) -> Reading:
    """The CUBA reading of one foreign neuron node (LIF, CubaLIF, IF, LI, I, Integrator, Threshold);
    recurrent: the node feeds itself (snnTorch's RLeaky)."""
    kind = type(node).__name__
    needs_dt = isinstance(node, (nir.LIF, nir.CubaLIF, nir.LI, nir.CubaLI, nir.I)) or (isinstance(node, nir.IF) and
                                                                                  d.if_input == "euler")
    if needs_dt and dt is None:
        raise UnsupportedModelError(f"NIR node '{name}' ({kind}) has time constants and dialect {d.name} does not "
                                    "fix the time step: pass --dt (the step the graph was trained with, in the "
                                    "units of its tau)")
    if needs_dt and not (np.isfinite(dt) and dt > 0):
        raise UnsupportedModelError(f"--dt must be a positive number, got {dt}")
    notes = []
    ones = np.ones(shape)
    if isinstance(node, nir.Threshold):
        th = _param(name, node, "threshold", shape)
        if np.any(th <= 0):
            raise UnsupportedModelError(f"NIR node '{name}' (Threshold): threshold must be positive")
        return Reading(1.0, 1.0, 1.0 / th, np.zeros(shape), np.zeros(shape), "zero", 1.0, True,
                       d.threshold == ">=", {"u": None, "v": None}, 0, notes)
    fires = not isinstance(node, (nir.LI, nir.CubaLI, nir.I))
    r = _param(name, node, "r", shape)
    if fires:
        vth = _param(name, node, "v_threshold", shape)
        if np.any(vth <= 0):
            raise UnsupportedModelError(f"NIR node '{name}' ({kind}): v_threshold must be positive, got "
                                        f"{vth.min():g}")
        v_reset = _param(name, node, "v_reset", shape) if getattr(node, "v_reset", None) is not None else 0 * ones
        if np.any(v_reset != 0):
            raise UnsupportedModelError(f"NIR node '{name}' ({kind}): v_reset = {v_reset.flat[0]:g}; Loihi resets "
                                        "to 0 (or by subtraction): shift v_leak and v_threshold by v_reset")
    else:
        vth = ones  # no threshold: v itself is the output (a readout)
    du, dv, gain_u, bias = 1.0, 0.0, np.ones(shape), np.zeros(shape)
    tau = {"u": None, "v": None}
    v_leak = 0 * ones
    steps = (lambda t: t / dt / dt) if d.tau_written == "dt*tau" else (lambda t: t / dt)  # noqa: E731
    if isinstance(node, (nir.LIF, nir.LI)):
        t = _uniform(name, node, "tau", _param(name, node, "tau", shape))
        dv = _decay(name, node, "tau", t, dt, d)
        tau["v"] = steps(t)
        gain_v = dv * r
        v_leak = _param(name, node, "v_leak", shape)
        bias = dv * v_leak
    elif isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        ts = _uniform(name, node, "tau_syn", _param(name, node, "tau_syn", shape))
        tm = _uniform(name, node, "tau_mem", _param(name, node, "tau_mem", shape))
        du, dv = _decay(name, node, "tau_syn", ts, dt, d), _decay(name, node, "tau_mem", tm, dt, d)
        tau = {"u": steps(ts), "v": steps(tm)}
        w_in = _param(name, node, "w_in", shape)
        gain_u = w_in * (du if d.synaptic_input == "euler" else 1.0)
        gain_v = dv * r
        v_leak = _param(name, node, "v_leak", shape)
        bias = dv * v_leak
    elif isinstance(node, nir.IF):
        gain_v = r * (dt if d.if_input == "euler" else 1.0)
    elif isinstance(node, nir.I):
        gain_v = r * dt
    else:
        raise UnsupportedModelError(f"NIR node '{name}' ({kind}) is not a neuron neurokit reads")
    reset, amount = "zero", 1.0
    if fires and d.reset == "subtract":
        reset = "subtract"
    elif fires and d.reset == "subtract-delayed":
        # snnTorch subtracts the threshold one step late, after the decay: mem' = beta (v + thr) + I - thr for a
        # neuron that fired; the same as subtracting thr / beta at once and then decaying
        reset = "subtract"
        amount = 1.0 / (1.0 - dv) if dv < 1 else 1.0
        if dv >= 1:
            notes.append(f"{name}: beta = 0, snnTorch's late subtraction acts on a cleared membrane")
    v_init = v_leak / vth if d.v_starts == "v_leak" else 0 * ones
    refractory = 0
    if fires and reset == "zero" and d.zero_reset_holds and (isinstance(node, nir.CubaLIF) or recurrent):
        refractory = 1  # v stays at 0 for the step after a spike: snnTorch zeroes that step's whole membrane
    return Reading(du, dv, gain_u * gain_v / vth, bias / vth, v_init, reset, amount, fires, d.threshold == ">=",
                   tau, refractory, notes)


def rules_table() -> str:
    """The README's table: one row per rule, one column per dialect."""
    names = list(DIALECTS)
    rows = [("framework", "framework"), ("checked against", "checked"), ("dt (time step)", "dt"),
            ("reset", "reset"), ("spike when v", "threshold"), ("CubaLIF input current", "synaptic_input"),
            ("IF input", "if_input"), ("decay per step", "decay"), ("node's tau holds", "tau_written"),
            ("v starts at", "v_starts"), ("Input shape holds a batch of 1", "input_batch"),
            ("zero reset drops the next step's input (recurrent LIF, CubaLIF)", "zero_reset_holds")]
    out = ["| rule | " + " | ".join(f"`{n}`" for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, field in rows:
        cells = []
        for n in names:
            v = getattr(DIALECTS[n], field)
            cells.append("from --dt" if v is None else f"{v:g}" if isinstance(v, float) else str(v))
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)
