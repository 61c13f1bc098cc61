"""Typed, validated hardware profiles. Every value carries its source and whether a primary source confirmed it."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

from .schema import MESH_FIELDS, OPTIONAL_FIELDS, OPTIONAL_SECTIONS, RANGED_SECTIONS, SCHEMA

PROFILE_DIR = Path(__file__).resolve().parent


class ProfileError(ValueError):
    """A profile file is missing, malformed, or holds an impossible value."""


@dataclasses.dataclass(frozen=True)
class Cited:
    """One profile constant with where it comes from."""

    value: Any
    source: str
    verified: bool
    note: str = ""
    low: Any = None  # the range around value (energy constants); None: no range given, the value alone
    high: Any = None

    def cite(self) -> str:
        flag = "" if self.verified else " [UNVERIFIED]"
        return f"{self.source}{flag}"

    @property
    def span(self) -> tuple:
        """(low, value, high); a constant given without a range spans its value alone."""
        return (self.value if self.low is None else self.low, self.value,
                self.value if self.high is None else self.high)


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    fields: dict[str, Cited]

    def __getattr__(self, key: str) -> Any:
        fields = object.__getattribute__(self, "fields")
        if key in fields:
            return fields[key].value
        raise AttributeError(key)

    def cited(self, key: str) -> Cited:
        return self.fields[key]


@dataclasses.dataclass(frozen=True)
class HardwareProfile:
    name: str
    description: str
    path: Path
    synapse: Section
    neuron: Section
    core: Section
    chip: Section
    board: Section
    energy: Section | None  # None: the profile gives no energy constants (it quantizes and fits; no energy report)
    extends: str | None = None  # the profile this one was derived from (its `extends` key)

    def constants(self) -> list[tuple[str, Cited]]:
        """All constants as ('section.field', Cited), for reports."""
        out = []
        for section in SCHEMA:
            sec: Section | None = getattr(self, section)
            if sec is not None:
                out += [(f"{section}.{k}", c) for k, c in sec.fields.items()]
        return out

    @property
    def has_mesh(self) -> bool:
        """Whether the profile gives the mesh's layout and the message and hop energies (the mesh traffic's
        estimate and price, neurokit.fit.routing); profiles without them price one route per spike."""
        for key in MESH_FIELDS:
            section, field = key.split(".")
            sec = getattr(self, section)
            if sec is None or field not in sec.fields:
                return False
        return True

    def require_energy(self) -> "HardwareProfile":
        """This profile, or a ProfileError in one line when it has no [energy] constants to report with."""
        if self.energy is None:
            raise ProfileError(
                f"{self.path}: no [energy] section, so no energy report: give its constants "
                f"({', '.join(SCHEMA['energy'])}), each {{ value, low, high, source, verified }}, "
                f"or start from a bundled profile with extends = \"loihi2\"")
        return self


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def _resolve(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    """A bundled profile name, or a path (relative paths in `extends` are taken from the extending file)."""
    path = Path(name_or_path)
    if relative_to is not None and not path.is_absolute() and (relative_to.parent / path).exists():
        return relative_to.parent / path
    if path.suffix != ".toml" and not path.exists():
        path = PROFILE_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ProfileError(
                f"unknown hardware profile '{name_or_path}'; bundled profiles: "
                f"{', '.join(available_profiles())}, or pass the path of a .toml profile file"
            )
    if not path.exists():
        raise ProfileError(f"profile file {path} does not exist")
    if not path.is_file():
        raise ProfileError(f"profile {path} is a folder, not a .toml profile file")
    return path


def _read_raw(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """The TOML table of `path`, with the profile it `extends` merged underneath (field by field)."""
    if path.resolve() in chain:
        raise ProfileError(f"{path}: 'extends' loops back to itself ({' -> '.join(str(p) for p in chain + (path,))})")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: not valid TOML ({e}); fix the syntax") from None
    parent = raw.get("extends")
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ProfileError(f"{path}: 'extends' must be a profile name or path (a string)")
    base = _read_raw(_resolve(parent, relative_to=path), chain + (path.resolve(),))
    merged = {k: v for k, v in base.items() if k not in ("name", "description")}
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}  # a field given here replaces the inherited one whole
        else:
            merged[key] = value
    return merged


def load_profile(name_or_path: str | Path, energy: bool = False) -> HardwareProfile:
    """Load a bundled profile by name (e.g. 'loihi2') or any profile file by path.

    A file may start from another profile with `extends = "NAME or PATH"` and override only some fields;
    each overriding field needs its own value, source and verified flag. energy=True: the caller reports
    energy, so a profile without an [energy] section is an error (one line) rather than a profile without one.
    """
    path = _resolve(name_or_path)
    profile = _parse(_read_raw(path), path)
    return profile.require_energy() if energy else profile


def _parse(raw: dict, path: Path) -> HardwareProfile:
    for key in ("name", "description"):
        if not isinstance(raw.get(key), str):
            raise ProfileError(f"{path}: top-level field '{key}' must be a string")
    stray = sorted(set(raw) - {"name", "description", "extends"} - set(SCHEMA))
    if stray:
        raise ProfileError(f"{path}: unknown section or key '{stray[0]}'; allowed sections: {', '.join(SCHEMA)}")
    sections = {}
    for sec_name, spec in SCHEMA.items():
        sec_raw = raw.get(sec_name)
        if sec_raw is None and sec_name in OPTIONAL_SECTIONS:
            sections[sec_name] = None
            continue
        if not isinstance(sec_raw, dict):
            raise ProfileError(f"{path}: missing section [{sec_name}]")
        unknown = set(sec_raw) - set(spec)
        if unknown:
            raise ProfileError(
                f"{path}: unknown field '{sec_name}.{sorted(unknown)[0]}'; "
                f"allowed: {', '.join(spec)}"
            )
        fields = {}
        for field, (typ, lo, hi, meaning) in spec.items():
            if sec_raw.get(field) is None and f"{sec_name}.{field}" in OPTIONAL_FIELDS:
                continue
            fields[field] = _parse_field(path, f"{sec_name}.{field}", sec_raw.get(field), typ, lo, hi,
                                         ranged=sec_name in RANGED_SECTIONS)
        sections[sec_name] = Section(sec_name, fields)
    _check_consistency(path, sections)
    return HardwareProfile(name=raw["name"], description=raw["description"], path=path,
                           extends=raw.get("extends"), **sections)


def _parse_field(path: Path, key: str, entry: Any, typ: type, lo: float, hi: float, ranged: bool = False) -> Cited:
    if entry is None:
        raise ProfileError(f"{path}: missing field '{key}' (a table with value, source, verified)")
    if not isinstance(entry, dict) or "value" not in entry:
        raise ProfileError(f"{path}: field '{key}' must be a table {{ value = ..., source = \"...\", verified = true|false }}")
    value = entry["value"]
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if typ is int and isinstance(value, bool) or not isinstance(value, typ):
        raise ProfileError(f"{path}: field '{key}' must be {typ.__name__}, got {type(value).__name__} {value!r}")
    if typ is not bool and not (lo <= value <= hi):
        span = f"{lo}..{hi}" if typ is int else f"{lo:g}..{hi:g}"
        raise ProfileError(f"{path}: field '{key}' = {value} is out of range; allowed {span}")
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ProfileError(f"{path}: field '{key}' needs a non-empty 'source' saying where the value comes from")
    verified = entry.get("verified")
    if not isinstance(verified, bool):
        raise ProfileError(f"{path}: field '{key}' needs 'verified = true|false'")
    low, high = entry.get("low"), entry.get("high")
    if (low is not None or high is not None) and not ranged:
        raise ProfileError(f"{path}: field '{key}' takes no low/high range (only {', '.join(RANGED_SECTIONS)} constants do)")
    for name, bound in (("low", low), ("high", high)):
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not (lo <= bound <= hi):
            raise ProfileError(f"{path}: field '{key}' {name} = {bound!r} must be a number in {lo:g}..{hi:g}")
    if not (low if low is not None else value) <= value <= (high if high is not None else value):
        raise ProfileError(f"{path}: field '{key}' needs low <= value <= high, got {low!r} <= {value!r} <= {high!r}")
    return Cited(value=value, source=source, verified=verified, note=str(entry.get("note", "")),
                 low=None if low is None else float(low), high=None if high is None else float(high))


def _check_consistency(path: Path, s: dict[str, Section]) -> None:
    syn, neu = s["synapse"], s["neuron"]
    if syn.weight_exp_min > syn.weight_exp_max:
        raise ProfileError(f"{path}: synapse.weight_exp_min ({syn.weight_exp_min}) exceeds weight_exp_max ({syn.weight_exp_max})")
    if neu.bias_exp_min > neu.bias_exp_max:
        raise ProfileError(f"{path}: neuron.bias_exp_min ({neu.bias_exp_min}) exceeds bias_exp_max ({neu.bias_exp_max})")
    if neu.threshold_bits + neu.threshold_shift > neu.state_bits:
        raise ProfileError(
            f"{path}: threshold_bits + threshold_shift ({neu.threshold_bits}+{neu.threshold_shift}) "
            f"exceeds neuron.state_bits ({neu.state_bits}); the threshold could never be reached"
        )
    from types import SimpleNamespace

    from neurokit.arithmetic import UnsupportedArithmeticError, arithmetic_of_profile, check_supported

    try:  # a profile whose arithmetic no backend computes would quantize for hardware nobody simulates
        check_supported(arithmetic_of_profile(SimpleNamespace(neuron=neu, synapse=syn)), str(path))
    except UnsupportedArithmeticError as e:
        raise ProfileError(str(e)) from None
    if neu.refractory_delay_min > neu.refractory_delay_max:
        raise ProfileError(f"{path}: neuron.refractory_delay_min ({neu.refractory_delay_min}) exceeds "
                           f"refractory_delay_max ({neu.refractory_delay_max})")
