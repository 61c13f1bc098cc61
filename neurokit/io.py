"""Reading and writing the kit's files, with one-line errors for missing or corrupt ones."""
from __future__ import annotations

import contextlib
import os
import shutil
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
        unknown = _unknown_node_type(path)
        if unknown:
            raise FileFormatError(f"{path}: {unknown}") from None
        raise FileFormatError(f"{path}: malformed NIR graph ({_what_failed(e)}); re-export it with nir.write") from None


def _nir_types() -> tuple[str, str]:
    """The node types the installed NIR reads, and its version."""
    from importlib.metadata import version

    known = getattr(nir.ir, "__all_ir", None) or sorted(c.__name__ for c in nir.NIRNode.__subclasses__())
    return tuple(known), version("nir")


def _unknown_node_type(path: Path) -> str | None:
    """The first node of the file (nested graphs too) whose type NIR does not define, as a sentence; None if
    every type is known (or the file cannot be walked). nir.read only asserts on one."""
    import h5py

    known, nir_version = _nir_types()

    def walk(group, where: str) -> str | None:
        t = group.get("type")
        name = t[()].decode() if t is not None and isinstance(t[()], bytes) else None
        if name not in known:
            what = f"NIR node '{where}'" if where else "the file's top node"
            kind = f"has type '{name}'" if name else "has no type"
            return (f"{what} {kind}, which NIR {nir_version} does not define (a newer NIR's or another tool's node); "
                    f"NIR reads {', '.join(known)}: export the graph with those")
        nodes = group.get("nodes")
        if isinstance(nodes, h5py.Group):
            for key in nodes:
                if isinstance(nodes[key], h5py.Group):
                    found = walk(nodes[key], f"{where}.{key}" if where else key)
                    if found:
                        return found
        return None

    try:
        with h5py.File(path, "r") as f:
            return walk(f["node"], "") if isinstance(f.get("node"), h5py.Group) else None
    except Exception:
        return None


def _what_failed(e: Exception) -> str:
    """An exception as a few words: its first line, or for a bare assertion the library line that made it."""
    if str(e).strip():
        return str(e).strip().splitlines()[0]
    import traceback

    frames = traceback.extract_tb(e.__traceback__)
    if not frames:
        return type(e).__name__
    last = frames[-1]
    where = "/".join(Path(last.filename).parts[-3:])
    return f"{type(e).__name__} at {where}:{last.lineno}" + (f": {last.line}" if last.line else "")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write) -> None:
    """Write through a temporary file in the same folder, flushed to disk before it takes the name, so a
    failure or a crash leaves no partial file; the file gets the user's umask (mkstemp would give 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def staged_folder(out: str | Path):
    """Yields a temporary folder beside `out` to write a whole run into; at the end it takes `out`'s place in
    one rename (a previous run's folder is swapped out and removed), so `out` never mixes two runs or holds
    half of one. On an error or an interrupt the temporary folder is removed and `out` is left as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, old / "run")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def run_lock(out: str | Path):
    """One run at a time per output folder: a lock file beside `out` holding the owner's pid. A lock whose
    process is gone (a killed run) is taken over; a live one is one line naming it."""
    from .errors import NeurokitError

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _alive(pid):
                raise NeurokitError(f"another neurokit run (pid {pid}) is writing {out} ({lock}); wait for it, or "
                                    "pass another --out") from None
            lock.unlink(missing_ok=True)  # its owner is gone
    else:
        raise NeurokitError(f"could not take the lock {lock}; remove it if no neurokit run is writing {out}")
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def check_writable(out: str | Path, folder: bool = False) -> None:
    """Before any work: `out` can be written (a file, or with folder=True a folder): not a folder where a file
    is expected (or the reverse), and its nearest existing ancestor a writable folder. One line if not."""
    out = Path(out)
    if out.exists() and out.is_dir() != folder:
        raise FileFormatError(f"--out {out} is {'a file' if folder else 'a folder'}; pass "
                              f"{'a folder' if folder else 'a file name'}")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise FileFormatError(f"--out {out}: {parent} is a file, so nothing can be written under it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FileFormatError(f"--out {out}: {parent} is not writable")


def check_not_an_input(out: str | Path, *inputs) -> None:
    """An output path that is one of the run's inputs would destroy it: one line, before anything runs."""
    from .errors import NeurokitError

    target = Path(out).resolve()
    for given in inputs:
        if given is None:
            continue
        p = Path(str(given))
        if p.exists() and (p.resolve() == target or target in p.resolve().parents):
            raise NeurokitError(f"--out {out} is (or holds) the input {given}; writing there would destroy it: pass "
                                "another --out")



def write_nir(graph: nir.NIRGraph, path: str | Path) -> None:
    atomic_write(path, lambda p: nir.write(p, graph))


TRUST_HINT = ("a pickled model is code: loading it runs whatever it holds. Save model.state_dict() and pass the "
              "architecture with --arch FILE.py:callable (or module:callable), or, for a file you trust, --trust-model")


PT2_FINDING = ("torch.export.load (torch 2.3) unpickles a program's weights and constants with torch.load's "
               "default weights_only=False (torch/_export/serde/serialize.py, deserialize_torch_artifact: "
               "artifact = torch.load(buffer)), so loading a .pt2 runs whatever the file holds")


def load_torch_model(path: str | Path, arch: str | None = None, trust: bool = False):
    """A torch model from a checkpoint, without running code from the file unless asked to.

    A state_dict (torch.save(model.state_dict(), path)) is read with torch.load(weights_only=True), which
    unpickles tensors and plain containers only, into the model that `arch` builds ("file.py:callable" or
    "package.module:callable": code the caller names). A whole pickled model (torch.save(model, path)) is
    code; it is loaded only with trust=True (--trust-model), else refused in one line. A torch.export
    program (.pt2) gives its weights only, read the same way, into the model `arch` builds: neurokit never
    calls torch.export.load (PT2_FINDING)."""
    import pickle

    import torch

    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: file not found")
    if path.is_dir():
        raise FileFormatError(f"{path}: a folder, not a torch checkpoint")
    if is_exported_program(path):
        return _exported_weights_into(path, arch)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as e:
        if "weights_only" not in str(e) and "Weights only load failed" not in str(e):
            raise FileFormatError(f"{path}: not a readable torch checkpoint ({type(e).__name__}); save it with "
                                  "torch.save(model.state_dict(), path)") from None
        if not trust:
            raise _refusal(path, e) from None
        obj = _load_trusted(path)
    except Exception as e:
        raise FileFormatError(f"{path}: not a readable torch checkpoint ({type(e).__name__}); save it with "
                              "torch.save(model.state_dict(), path)") from None
    if isinstance(obj, torch.nn.Module):
        return obj.eval()
    if isinstance(obj, dict):
        state = obj.get("state_dict", obj) if isinstance(obj.get("state_dict"), dict) else obj
        if not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise _not_a_state_dict(path, state)
        if arch is None:
            raise FileFormatError(f"{path}: holds weights only (a state_dict); pass the architecture that builds the "
                                  "model with --arch FILE.py:callable or --arch module:callable")
        return _into_architecture(path, state, arch)
    raise FileFormatError(f"{path}: holds a {type(obj).__name__}, not a model or a state_dict")


def is_exported_program(path: Path) -> bool:
    """A torch.export.save file (.pt2): a zip holding serialized_exported_program.json (torch.save's own zip
    files hold archive/data.pkl instead)."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return path.suffix == ".pt2"
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("serialized_exported_program.json") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return path.suffix == ".pt2"


def _exported_weights_into(path: Path, arch: str | None):
    """The weights of a torch.export program, loaded into the model `arch` builds; the program itself (its
    graph of aten operators and its pickled constants) is not read. Why: PT2_FINDING."""
    import io
    import pickle
    import zipfile

    import torch

    if arch is None:
        raise FileFormatError(
            f"{path}: a torch.export program (.pt2), refused without --arch (with --trust-model too): {PT2_FINDING}, "
            "and its graph is aten operators, which neurokit does not convert; pass --arch FILE.py:callable (or "
            "module:callable): neurokit then reads only its weights, with weights_only=True, into the model that "
            "code builds")
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("serialized_state_dict.pt")]
            if len(names) != 1:
                raise FileFormatError(f"{path}: a .pt2 without exactly one serialized_state_dict.pt (it holds "
                                      f"{len(names)}); save it with torch.export.save, or save "
                                      "torch.save(model.state_dict(), path)")
            blob = z.read(names[0])
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise FileFormatError(f"{path}: not a readable .pt2 file ({type(e).__name__}); save it with "
                              "torch.export.save, or save torch.save(model.state_dict(), path)") from None
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as e:
        found = _pickled_class(e)
        what = (f"pickled Python objects ({found})" if found else
            f"bytes torch's weights-only reader refuses ({_weights_only_detail(e)})")
        raise FileFormatError(f"{path}: its {names[0]} holds {what}, not only weights, and neurokit reads a .pt2's "
                              "weights only (even with --trust-model); export it again with torch.export.save, or "
                              "save torch.save(model.state_dict(), path)") from None
    except Exception as e:
        raise FileFormatError(f"{path}: its {names[0]} is not readable ({type(e).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FileFormatError(f"{path}: its {names[0]} holds a {type(state).__name__} that is not a dict of tensors; "
                              "save it with torch.export.save")
    return _into_architecture(path, state, arch)


def _into_architecture(path: Path, state: dict, arch: str):
    model = build_architecture(arch)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = [line.strip() for line in str(e).splitlines() if line.strip()][1:2] or [type(e).__name__]
        raise FileFormatError(f"{path}: the weights do not fit the model --arch {arch} builds ({first[0]})") from None
    return model.eval()


def _not_a_state_dict(path: Path, d: dict) -> FileFormatError:
    """A dict that is not a state_dict, named for what it holds: a training checkpoint with a model in it, or
    with the state_dict under a key of its own, or something else."""
    import torch

    def is_state(v) -> bool:
        return isinstance(v, dict) and bool(v) and all(isinstance(t, torch.Tensor) for t in v.values())

    keys = ", ".join(repr(k) for k in list(d)[:6]) + (", ..." if len(d) > 6 else "")
    models = [k for k, v in d.items() if isinstance(v, torch.nn.Module)]
    if models:
        k = models[0]
        return FileFormatError(f"{path}: a checkpoint dict (keys {keys}) whose {k!r} holds a whole model "
                               f"({type(d[k]).__name__}), not a model or a state_dict; save "
                               f"torch.save(ckpt[{k!r}].state_dict(), path) and pass --arch FILE.py:callable (or "
                               f"torch.save(ckpt[{k!r}], path) for --trust-model)")
    states = [k for k, v in d.items() if is_state(v)]
    if len(states) == 1:
        k = states[0]
        return FileFormatError(f"{path}: a checkpoint dict (keys {keys}) whose {k!r} looks like the model's "
                               f"state_dict; save torch.save(ckpt[{k!r}], path) and pass it with --arch")
    return FileFormatError(f"{path}: a dict (keys {keys}) whose values are not all tensors, so not a state_dict; "
                           "save torch.save(model.state_dict(), path)")


def _weights_only_detail(e: Exception) -> str:
    return str(e).rsplit("WeightsUnpickler error:", 1)[-1].strip()


def _pickled_class(e: Exception) -> str | None:
    """The class or function torch's weights-only reader refused, from its message (None: it stopped at
    something else, such as bytes that are not pickle opcodes it knows)."""
    import re

    found = re.search(r"(?:[Uu]nsupported class|unrecognized function) <?(?:class |function )?'?([\w.<>]+)",
                      _weights_only_detail(e))
    return found.group(1) if found else None


def _refusal(path: Path, e: Exception) -> FileFormatError:
    """Why torch's weights-only reader stopped: at a class (pickled objects: a whole model, or a payload; the
    class named), or at bytes it cannot read (a corrupt file, or pickle opcodes it does not know)."""
    detail = _weights_only_detail(e)
    found = _pickled_class(e)
    if found:
        return FileFormatError(f"{path}: holds pickled Python objects ({found}), not only weights; {TRUST_HINT}")
    return FileFormatError(f"{path}: not a weights-only torch checkpoint (torch's weights-only reader: {detail}): a "
                           "corrupt file, or pickled objects; save the weights with torch.save(model.state_dict(), "
                           "path) (a whole model from a source you trust loads with --trust-model)")


def _load_trusted(path: Path):
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise FileFormatError(f"{path}: not a readable torch checkpoint ({type(e).__name__})") from None


def arch_source(spec: str | None) -> str | None:
    """The file an --arch spec names (FILE.py:callable), or None for none or a module path."""
    return spec.rsplit(":", 1)[0] if spec and ":" in spec and spec.rsplit(":", 1)[0].endswith(".py") else None


def build_architecture(spec: str):
    """The torch module `spec` builds: "path/to/file.py:callable" or "package.module:callable", called with no
    arguments (a class or a factory function). This runs the named code: the caller's choice."""
    import importlib
    import importlib.util

    import torch

    if ":" not in spec:
        raise FileFormatError(f"--arch {spec}: expected FILE.py:callable or module:callable (e.g. "
                              "examples/mnist_cnn/train.py:make_model)")
    where, name = spec.rsplit(":", 1)
    try:
        if where.endswith(".py"):
            file = Path(where)
            if not file.is_file():
                raise FileFormatError(f"--arch {spec}: {file} not found")
            mod_spec = importlib.util.spec_from_file_location(f"neurokit_arch_{file.stem}", file)
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except FileFormatError:
        raise
    except Exception as e:
        raise FileFormatError(f"--arch {spec}: could not load {where} ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
    build = getattr(module, name, None)
    if not callable(build):
        raise FileFormatError(f"--arch {spec}: {where} has no callable '{name}'")
    try:
        model = build()
    except Exception as e:
        raise FileFormatError(f"--arch {spec}: {name}() failed ({type(e).__name__}: {e})") from None
    if not isinstance(model, torch.nn.Module):
        raise FileFormatError(f"--arch {spec}: {name}() returned a {type(model).__name__}, not a torch.nn.Module")
    return model
