"""Layer-wise ANN-to-SNN distillation (LaSNN; Hong, Shen, Qi & Wang 2023, arXiv 2304.09101).

The ANN stays frozen as the teacher; a spiking student with the same graph learns from it with backprop
through time (BPTT) over `Settings.target_steps` steps, so that it is accurate at few time steps. The loss
is cross-entropy on the student's output plus an attention-transfer feature loss at every hidden layer:

    L = CE(lambda_L * n_L / T, y) + beta/2 * sum_l mean_(b,j) ( Q_S^l / |Q_S^l|_2 - Q_T^l / |Q_T^l|_2 )^2_(b,j)

with n_l the spike counts of layer l over the T steps, and Q the attention map of a feature map F (B, C, H, W):
Q = mean_c F_c^2 flattened to (B, H*W) (Zagoruyko & Komodakis 2017, attention transfer with p = 2, the
"attention scheme" LaSNN bridges the ANN-SNN gap with); for a dense hidden layer Q = F^2 per neuron.
The output layer's logits for CE are its spike counts as rates in the teacher's units, lambda_L n_L / T,
so CE trains the spike-count argmax that is deployed.
The teacher's F is its ReLU output, the student's is its firing rate n_l / T times lambda_l (what one
threshold stands for; the attention normalization makes that factor irrelevant to the loss, it is kept so
both maps are in the same units). beta = 1000 as in attention transfer.

What differs from the paper. LaSNN distils an ANN into a (smaller) SNN of LIF neurons "by distilling the
knowledge other than converting the parameters of ANN" (its abstract): the student does not inherit weights.
Here the student has the teacher's graph (chains, residual and branching nets: each population sums its
projections, a skip connection is one of them) and starts from the teacher's weights under data-based
normalization (Rueckauer et al. 2017: lambda_l = the `Settings.percentile` of layer l's activations), so at
epoch 0 it is the rate-converted network and distillation fine-tunes it for T steps. Its neurons are
integrate-and-fire, i.e. LIF without leak (Loihi 2's LIF with dv = 0, du = 1), because the exported network
runs on neurokit's IF pipeline; with reset by subtraction, threshold 1 in units of lambda, v starting at
`Settings.v_init`. The paper's full text was not available while this was written: the loss above is its
abstract's "attention scheme" + layer-wise distillation, made concrete as attention transfer; logit KD (soft
targets) is not added.

The student's forward is exactly what the float engine and Lava floating_pt run (neurokit.network):
population l receives, through each projection from a source s, W lambda_s s(t-1) (the input as a current
W x from step 1 on; nothing at step 0: one step of synaptic delay), summed; v += input / lambda_l +
b_l / lambda_l; spike s = (v > 1), strictly; v -= s. Pooling and flatten act on spikes. Prediction = argmax of the output spike
counts (ties to the lowest index). The Heaviside's gradient is a triangle surrogate,
ds/dv = max(0, 1 - |v - 1|); the reset term is detached from the graph (Zenke & Vogels 2021).
The trained weights are returned in ANN units with scales = lambda, so build_graph writes exactly the
student's W_l lambda_(l-1) / lambda_l and b_l / lambda_l: the float engine's spikes are the student's.

Cross-entropy acts on what the deployed net reads (Settings.readout): the output spike counts, or with the
potential readout count + v, the output layer's integrated input.
With Settings.stock (set for --target loihi2) the student is Loihi 2's stock LIF instead: reset to zero, v
from 0, pipelined windows (each layer hears its sources' spikes of the same window step), and the exported
network carries those neurons: the trained methods' remedy for reset to zero.
Reads Settings.target_steps (the BPTT window T, default 8: the method's point is few steps; T = 32 works but
is slow: 11 min on the bundled MNIST CNN on one core, against 1 min at T = 8), epochs (default 8), lr (default
2e-3), percentile, v_init, readout, seed. The student is tuned for its T: run it at
that T. Shorter runs fail (with L layers the first input that depends on x reaches the output layer at step
L, so at T = 4 an L = 3 network decides on one step, and a student trained for more steps never learned to).
Longer runs mostly hold in float, but nothing bounds what the layers do after step T: on MNIST a student
trained at T = 4 and run for 12 steps drove its output layer's per-step input down to -19 thresholds, which
wraps Loihi's 24-bit u under quantize's default headroom of 8 thresholds (fixed point 20 % at T = 8;
headroom 16 fixes it).

Defaults were chosen on the bundled MNIST CNN distilled on 3,000 of its training images and validated on
the other 1,000 (float engine, T = 8): lr 1e-3 / 2e-3 and 8 / 12 epochs were within noise at T = 8
(96.7 / 96.8 %, 95.5 %), 2e-3 better at T = 12-32; random shifts of 1-2 pixels did not help; beta = 0
(CE only) scored the same at T = 8 but worse at T = 16-32 (94.3 / 92.8 % against 96.4 / 95.9 %).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ...neurons import Cuba
from ..ann import INPUT_OP
from ..normalize import population_scales
from ..to_nir import spiking_structure
from .base import Converted, Inputs, Settings
from .torchnet import AnnModule, train

DEFAULT_EPOCHS = 8
DEFAULT_TARGET_STEPS = 8  # the BPTT window when --target-steps is not given: the method's point is few steps
DEFAULT_LR = 2e-3
BETA = 1000.0  # attention-transfer weight (Zagoruyko & Komodakis 2017)
BATCH = 64
SHIFT = 0  # training-time random shifts of image batches, in pixels (torchnet.train's augmentation)


class _Spike(torch.autograd.Function):
    """Heaviside (x > 0, strictly: spike when v > threshold) with a triangle surrogate gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.clamp(1.0 - x.abs(), min=0.0)


def spiking_forward(module: AnnModule, lambdas: list[float], x: torch.Tensor, steps: int,
                    v_init: float, with_potential: bool = False, stock: bool = False):
    """Spike counts of every population over `steps` steps, (B, *shape) each, with the deployed dynamics
    (see the module docstring), populations in order; differentiable through the surrogate.
    with_potential=True also returns the output population's v after the last step: (counts, v).
    stock=True: Loihi 2's stock LIFReset with pipelined windows: every layer hears its sources' spikes of the
    same window step (no step lost to the delays, neurokit.network.windows_of) and resets to zero."""
    counts = []
    dtype = module.synapses[0].weight.dtype
    x = x.to(dtype)
    b = x.shape[0]
    index = {spec.op: k for k, spec in enumerate(module.structure)}
    trains = {}  # population op -> its spikes (T, B, ...)
    v = None
    for k, (spec, lam) in enumerate(zip(module.structure, lambdas)):
        rest = None
        for term in spec.terms:
            heard = steps if stock else steps - 1
            if term.source == INPUT_OP:  # the input current, the same every step it is heard
                r = module.term_input(term, x)
                r = r.unsqueeze(0).expand((heard,) + tuple(r.shape))
            else:
                src = trains[term.source]
                flat = src[:heard].reshape((heard * b,) + src.shape[2:])
                r = module.term_input(term, flat * lambdas[index[term.source]])
                r = r.reshape((heard, b) + r.shape[1:])
            rest = r if rest is None else rest + r
        rest = rest / lam
        shape = rest.shape[1:]
        bias = module.population_bias(k) / lam
        v = torch.full(shape, float(v_init), dtype=dtype)
        spikes = []
        for t in range(steps):
            if stock:
                v = v + rest[t] + bias
            else:
                v = v + bias if t == 0 else v + rest[t - 1] + bias
            s = _Spike.apply(v - 1.0)
            v = v * (1.0 - s.detach()) if stock else v - s.detach()  # reset to zero / by subtraction
            spikes.append(s)
        trains[spec.op] = torch.stack(spikes)
        counts.append(trains[spec.op].sum(0))
    return (counts, v) if with_potential else counts


def output_scores(module: AnnModule, lambdas: list[float], x: torch.Tensor, steps: int, v_init: float,
                  readout: str, stock: bool = False):
    """(counts of every layer, the output the deployed net reads: (B, classes)): spike counts, or with the
    potential readout count + v in thresholds (neurokit.network.readout_of); the potential's gradient
    needs no surrogate."""
    counts, v = spiking_forward(module, lambdas, x, steps, v_init, with_potential=True, stock=stock)
    out = counts[-1] + v if readout == "potential" else counts[-1]
    return counts, out.flatten(1)


def _attention(f: torch.Tensor) -> torch.Tensor:
    """Attention map (Zagoruyko & Komodakis 2017, p = 2): channel mean of F^2, L2-normalized per sample."""
    q = f.pow(2).mean(1) if f.dim() == 4 else f.pow(2)
    return nn.functional.normalize(q.flatten(1), dim=1)


def feature_loss(student_maps: list[torch.Tensor], teacher_maps: list[torch.Tensor]) -> torch.Tensor:
    """beta/2 * sum over hidden layers of the mean squared difference of the normalized attention maps."""
    total = torch.zeros(())
    for s, t in zip(student_maps, teacher_maps):
        total = total + (_attention(s) - _attention(t)).pow(2).mean()
    return BETA / 2 * total


def student_predictions(converted: Converted, x: np.ndarray, steps: int, readout: str = "spikes",
                        batch: int = 500, stock: bool = False) -> np.ndarray:
    """Output scores (N, classes) of the student that `converted` holds, run in float64 with the deployed
    dynamics (spike counts, or count + v with the potential readout): argmax(1) of them is what the exported
    SNN predicts."""
    module = AnnModule(converted.ann, tuple(np.shape(x)[1:])).double()
    with torch.no_grad():
        return np.concatenate([
            output_scores(module, converted.scales, torch.as_tensor(x[i:i + batch]), steps, converted.v_init,
                          readout, stock)[1].numpy() for i in range(0, len(x), batch)])


def convert_lasnn(ann, inputs: Inputs, settings: Settings) -> Converted:
    """Any graph: chains, residual and branching models."""
    x, y = inputs.labelled("lasnn")
    steps = settings.target(DEFAULT_TARGET_STEPS)
    if steps < 2:
        raise ValueError(f"lasnn needs target_steps >= 2 (one step is the synaptic delay), got {steps}")
    epochs = DEFAULT_EPOCHS if settings.epochs is None else int(settings.epochs)
    lr = DEFAULT_LR if settings.lr is None else float(settings.lr)
    stock = bool(settings.stock)
    v_init = 0.0 if stock else float(settings.v_init)  # LIFReset restarts v at 0
    lambdas = population_scales(ann, inputs.calibration, settings.percentile)
    input_shape = tuple(np.shape(x)[1:])
    teacher = AnnModule(ann, input_shape).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = AnnModule(ann, input_shape)
    last = len(lambdas) - 1

    def losses(xb, yb):
        with torch.no_grad():
            _, t_maps = teacher(xb, record=True)
        counts, out = output_scores(student, lambdas, xb, steps, v_init, settings.readout, stock)
        s_maps = [c / steps * lam for c, lam in zip(counts[:last], lambdas[:last])]
        logits = out / steps * lambdas[-1]
        return feature_loss(s_maps, t_maps), nn.functional.cross_entropy(logits, yb)

    # Feature loss before / after on one fixed batch of training samples.
    probe = torch.as_tensor(x[:256], dtype=torch.float32), torch.as_tensor(y[:256], dtype=torch.int64)

    def probe_losses():
        with torch.no_grad():
            f, c = losses(*probe)
        return float(f), float(c)

    before = probe_losses()
    record: list[tuple[float, float]] = []

    def loss_fn(xb, yb):
        f, c = losses(xb, yb)
        record.append((float(f), float(c)))
        return f + c

    history = train(student.parameters(), loss_fn, x, y, epochs, lr, batch=BATCH, seed=settings.seed,
                    shift=SHIFT)
    after = probe_losses()
    per_epoch = -(-len(x) // BATCH)
    epoch_means = [np.mean(record[e * per_epoch:(e + 1) * per_epoch], axis=0) for e in range(epochs)]
    result = Converted(student.to_ann(), [float(l) for l in lambdas], v_init)
    acc = float(np.mean(student_predictions(result, x, steps, settings.readout, stock=stock).argmax(1) == np.asarray(y)))
    result.info = {
        "student_accuracy_train": acc,
        "feature_loss": [float(epoch_means[0][0]), float(epoch_means[-1][0])] if epochs else [],
        "ce_loss": [float(epoch_means[0][1]), float(epoch_means[-1][1])] if epochs else [],
        "probe_feature_loss": [before[0], after[0]],  # the same 256 training samples before / after
        "probe_ce_loss": [before[1], after[1]],
        "loss": [float(h) for h in history],
        "train_steps": steps,
        "trained_readout": settings.readout,
        "epochs": epochs,
        "lr": lr,
        "beta": BETA,
        "surrogate": "triangle max(0, 1 - |v - 1|)",
        "neuron": ("Loihi 2 stock LIF (LIFReset: reset to zero, v from 0), pipelined windows" if stock else
                   "IF (LIF without leak), reset by subtraction"),
        "train_samples": int(len(x)),
    }
    if stock:
        input_shape = tuple(np.shape(x)[1:])
        shapes = result.ann.shapes(input_shape)
        result.neurons = [Cuba(bias=np.zeros(shapes[s.op]), v_init=np.zeros(shapes[s.op]), reset="zero")
                          for s in spiking_structure(result.ann, input_shape)]
        result.info.update(reset="zero", windows="pipelined", v_init=0.0)
    return result
