"""Shared fixtures for the stage tests: small models built in code with fixed seeds, the offline datasets,
the bundled Loihi 2 profile. Everything expensive is session-scoped so every test file reuses it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

# Two cores shared with Lava's runtime processes: torch's second intra-op thread only spins against them
# (small training runs measured 3-30x slower with 2 threads than with 1 on a loaded machine).
torch.set_num_threads(1)


def _train(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int, lr: float = 1e-2, batch: int = 512) -> nn.Module:
    """A few large-batch Adam steps: enough for a model that clearly learned digits, in about a second."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (batch,), generator=g)
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
        opt.step()
    return model.eval()


@pytest.fixture(autouse=True, scope="session")
def private_conversion_cache(tmp_path_factory):
    """Trained conversions are cached (neurokit.pipeline.cache_folder): the tests use a folder of their own."""
    import os

    os.environ["NEUROKIT_CACHE"] = str(tmp_path_factory.mktemp("conversion-cache"))


@pytest.fixture(scope="session")
def profile():
    from hw_profiles import load_profile

    return load_profile("loihi2")


@pytest.fixture(scope="session")
def digits():
    from neurokit.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def digits_mlp(digits) -> nn.Module:
    """Flatten -> Linear(64, 32) -> BN -> ReLU -> Linear(32, 10), trained briefly on digits (96% on its test split)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    return _train(model, digits.x_train, digits.y_train, steps=80)


@pytest.fixture(scope="session")
def digits_cnn(digits) -> nn.Module:
    """conv-BN-ReLU-avgpool, conv-ReLU-avgpool, dense on 8x8 digits, trained briefly (90% on its test split)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 12, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(48, 10),
    )
    return _train(model, digits.x_train, digits.y_train, steps=60, batch=256)


@pytest.fixture(scope="session")
def digits_mlp_net(digits_mlp, digits):
    """The MLP converted (percentile 99.9, v_init 0.5) and lowered to a Network."""
    from neurokit.convert import convert
    from neurokit.lower import from_nir

    return from_nir(convert(digits_mlp, digits.x_train[:300]))


@pytest.fixture(scope="session")
def digits_cnn_net(digits_cnn, digits):
    from neurokit.convert import convert
    from neurokit.lower import from_nir

    return from_nir(convert(digits_cnn, digits.x_train[:300]))


class DigitsResNet(nn.Module):
    """conv-BN-ReLU stem, one residual block (conv-BN-ReLU-conv-BN + x, ReLU), a second block with a 1 x 1
    projection shortcut after pooling, a shared ReLU module used three times, and a linear read-out."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.bn0 = nn.BatchNorm2d(4)
        self.c1, self.b1 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.c2, self.b2 = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)
        self.pool = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(4, 8, 3, padding=1)
        self.short = nn.Conv2d(4, 8, 1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.relu(self.bn0(self.stem(x)))
        x = self.relu(self.b2(self.c2(self.relu(self.b1(self.c1(x))))) + x)
        x = self.pool(x)
        x = torch.relu(self.c3(x) + self.short(x))
        return self.fc(x.view(x.size(0), -1))


@pytest.fixture(scope="session")
def digits_resnet(digits) -> nn.Module:
    torch.manual_seed(0)
    return _train(DigitsResNet(), digits.x_train, digits.y_train, steps=120, batch=256)


@pytest.fixture(scope="session")
def digits_resnet_net(digits_resnet, digits):
    from neurokit.convert import convert
    from neurokit.lower import from_nir

    return from_nir(convert(digits_resnet, digits.x_train[:300]))
