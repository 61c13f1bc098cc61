"""Reading and writing the kit's files, with one-line errors for missing or corrupt ones."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nir

from .errors import FileFormatError


def read_nir(path: str | Path) -> nir.NIRGraph:
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: file not found")
    try:
        # NIR's type check reads a grouped Conv2d's input channels from its weight (C_in / groups): lowering
        # checks every shape itself (neurokit.lower), with messages that name the node
        return nir.read(path, type_check=False)
    except OSError:
        raise FileFormatError(f"{path}: not a NIR file (not readable as HDF5); pass a file written by nir.write") from None
    except Exception as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise FileFormatError(f"{path}: malformed NIR graph ({first}); re-export it with nir.write") from None


def atomic_write(path: str | Path, write) -> None:
    """Write through a temporary file in the same folder, so a failure leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise



def write_nir(graph: nir.NIRGraph, path: str | Path) -> None:
    atomic_write(path, lambda p: nir.write(p, graph))


def load_torch_model(path: str | Path):
    """A whole pickled torch model (torch.save(model, path))."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise FileFormatError(f"{path}: not a readable torch checkpoint ({type(e).__name__}); "
                              "save the model with torch.save(model, path)") from None
    if isinstance(obj, dict):
        raise FileFormatError(f"{path}: holds a state_dict, not a model; save the whole model with torch.save(model, path)")
    if not isinstance(obj, torch.nn.Module):
        raise FileFormatError(f"{path}: holds a {type(obj).__name__}, not a torch.nn.Module")
    return obj.eval()
