"""Spiking networks trained directly in snnTorch (no ANN) and exported with snnTorch's own NIR exporter:
what `neurokit deploy NET.nir --dialect snntorch --reset zero` takes to Loihi 2.

Data: sklearn's 8x8 digits (offline), each image as T = 16 steps of Bernoulli spikes (P = pixel / 16);
digits_spikes.npz holds x_train, x_test as (N, T, 64) sequences. Two networks, both reset to zero
(reset_mechanism="zero"; snnTorch's NIR export does not record the reset, hence `--reset zero`), the class
being the output neuron that spikes most:

    snn.nir   Linear(64, 64) -> Leaky (beta 0.9) -> Linear(64, 10) -> Leaky (beta 0.8): Loihi 2's stock LIF
    rsnn.nir  the same with RLeaky (all-to-all recurrence) as the hidden layer. snnTorch's RLeaky zeroes its
              whole membrane, input included, in the step after a spike: a refractory step, which Lava's
              LIFRefractory computes (floating point only in Lava 0.10), so it runs in simulation only

Trained with BPTT (snnTorch's ATan surrogate), Adam, 15 epochs each: about 40 s on 2 CPU cores. Also writes
snntorch_counts.npz: snnTorch's own output spike counts on the test split, per network.

    .venv/bin/python examples/snntorch_digits/train.py
    .venv/bin/neurokit deploy examples/snntorch_digits/snn.nir --dialect snntorch --reset zero \
        --data examples/snntorch_digits/digits_spikes.npz --out runs/snn
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
T = 16
HIDDEN = 64


def spike_data(seed: int = 0) -> dict:
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(d.target))
    x, y = d.data[order] / 16.0, d.target[order].astype(np.int64)
    spikes = (rng.random((len(x), T, 64)) < x[:, None, :]).astype(np.float32)
    n_test = 360
    return {"x_train": spikes[n_test:], "y_train": y[n_test:], "x_test": spikes[:n_test], "y_test": y[:n_test]}


class Net(torch.nn.Module):
    """One step per call (snnTorch's init_hidden: the neurons keep their state), as snnTorch's exporter traces it."""

    def __init__(self, recurrent: bool):
        import snntorch as snn

        super().__init__()
        self.fc1 = torch.nn.Linear(64, HIDDEN)
        hidden = dict(beta=torch.full((HIDDEN,), 0.9), threshold=torch.ones(HIDDEN), init_hidden=True,
                      reset_mechanism="zero")
        self.lif1 = (snn.RLeaky(linear_features=HIDDEN, all_to_all=True, **hidden) if recurrent else
                     snn.Leaky(**hidden))
        self.fc2 = torch.nn.Linear(HIDDEN, 10)
        self.lif2 = snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.ones(10), init_hidden=True,
                              reset_mechanism="zero")

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


def run(net, x):
    """Output spikes (B, T, 10) of sequences x (B, T, 64), from fresh state."""
    import snntorch.utils

    snntorch.utils.reset(net)
    return torch.stack([net(x[:, t]) for t in range(x.shape[1])], 1)


def train(data: dict, recurrent: bool) -> tuple[Net, np.ndarray]:
    torch.manual_seed(0)
    net = Net(recurrent)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x, y = torch.as_tensor(data["x_train"]), torch.as_tensor(data["y_train"])
    for _ in range(15):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            b = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(run(net, x[b]).sum(1), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        counts = run(net, torch.as_tensor(data["x_test"])).sum(1).numpy()
    return net, counts


def main() -> None:
    import nir
    import snntorch.utils
    from snntorch.export_nir import export_to_nir

    torch.set_num_threads(2)
    data = spike_data()
    np.savez_compressed(HERE / "digits_spikes.npz", **data)
    counts = {}
    for name, recurrent in (("snn", False), ("rsnn", True)):
        net, counts[name] = train(data, recurrent)
        accuracy = float(np.mean(counts[name].argmax(1) == data["y_test"]))
        print(f"{name}: snnTorch's own test accuracy (output spike counts, argmax): {100 * accuracy:.1f} %")
        snntorch.utils.reset(net)
        nir.write(HERE / f"{name}.nir", export_to_nir(net, torch.zeros(1, 64), ignore_dims=[0]))
    np.savez_compressed(HERE / "snntorch_counts.npz", **{k: v.astype(np.int16) for k, v in counts.items()})
    print(f"wrote snn.nir, rsnn.nir, digits_spikes.npz, snntorch_counts.npz in {HERE}")


if __name__ == "__main__":
    main()
