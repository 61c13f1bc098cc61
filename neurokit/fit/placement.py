"""Place a spiking network on cores and chips under a hardware profile's limits.

    result = fit_network(net, profile)          # net: a float neurokit Network or quantize.QuantizedNet
    result.fits, result.cores, result.chips, result.layers, result.problems

Every population goes on cores of its own, with the synapses of every projection into it. Populations are
placed in reverse topological order: a population's output axons depend on how each population it projects
into is cut (one output-axon entry per source and destination core, or per pixel under population axons),
while its own neurons, memory and input axons do not depend on its sources. For each population the fewest
cores win; among cuts with the same core count, the one with the least memory on its fullest core.
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from .encoding import POPULATION_ENCODINGS
from .limits import LIMIT_WORDS, USED_KEYS, CoreLimits, cite
from .mapping import ConvMapping, CoreUse, DenseMapping, PopulationMapping

CORE_LIMITS = ("neurons", "memory", "axons_in", "axons_out")


@dataclasses.dataclass
class FitProblem:
    """One limit a layer (or the whole network) cannot meet, by how much, and what would help."""

    layer: str | None  # None: the network as a whole (cores, chips)
    limit: str  # neurons | memory | axons_in | axons_out | chips
    needed: int
    allowed: int
    profile_key: str  # e.g. 'core.axons_in [UNVERIFIED]'
    message: str
    suggestions: list[str]

    @property
    def exceeded_by(self) -> int:
        return self.needed - self.allowed

    def one_line(self) -> str:
        return f"{self.message}; try: {'; '.join(self.suggestions)}" if self.suggestions else self.message


@dataclasses.dataclass
class LayerFit:
    name: str
    kind: str
    encoding: str
    weight_bits: int
    cut: tuple  # the mapping's cut: (neurons per core,) or (channels, rows) per core
    split: str  # the cut in words
    use: CoreUse
    limits: dict  # limit -> per-core maximum allowed
    problem: FitProblem | None = None

    @property
    def cores(self) -> int:
        return self.use.cores

    def peak(self, limit: str) -> int:
        """The fullest core's use of a per-core limit."""
        arr = {"neurons": self.use.neurons, "memory": self.use.memory_bits, "axons_in": self.use.axons_in,
               "axons_out": self.use.axons_out}[limit]
        return int(arr.max()) if arr is not None and len(arr) else 0

    @property
    def limited_by(self) -> str:
        """The per-core limit its fullest core comes closest to."""
        return max(CORE_LIMITS, key=lambda k: self.peak(k) / self.limits[k])

    def to_dict(self) -> dict:
        u = self.use
        return {
            "name": self.name, "kind": self.kind, "encoding": self.encoding, "weight_bits": self.weight_bits,
            "split": self.split, "cores": self.cores, "fits": self.problem is None,
            "neurons": int(u.neurons.sum()), "synapses": int(u.synapses.sum()), "memory_bits": int(u.memory_bits.sum()),
            "neurons_per_core": self.peak("neurons"), "synapses_per_core": int(u.synapses.max()),
            "memory_bits_per_core": self.peak("memory"), "memory_limit_bits": self.limits["memory"],
            "axons_in_per_core": self.peak("axons_in"), "axons_out_per_core": self.peak("axons_out"),
            "limited_by": self.limited_by,
            "per_core": {"neurons": u.neurons.tolist(), "synapses": u.synapses.tolist(),
                         "memory_bits": u.memory_bits.tolist(), "axons_in": u.axons_in.tolist(),
                         "axons_out": [] if u.axons_out is None else u.axons_out.tolist()},
        }


@dataclasses.dataclass
class FitResult:
    profile: str
    profile_path: str
    layers: list[LayerFit]
    cores: int
    chips: int
    cores_available: int
    chips_available: int
    cores_per_chip: int
    problems: list[FitProblem]
    constants: list[tuple[str, object]]  # (profile key, Cited) the placement read
    mappings: dict = dataclasses.field(default_factory=dict, repr=False)  # population -> its PopulationMapping

    @property
    def fits(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        lim = self.layers[0].limits if self.layers else {}
        used = self.layers
        return {
            "fits": self.fits, "profile": self.profile, "profile_path": self.profile_path,
            "cores": self.cores, "chips": self.chips, "cores_available": self.cores_available,
            "chips_available": self.chips_available, "cores_per_chip": self.cores_per_chip,
            "utilization": {
                "cores": self.cores / self.cores_available,
                "neurons": sum(int(l.use.neurons.sum()) for l in used) / max(1, self.cores * lim.get("neurons", 1)),
                "memory": sum(int(l.use.memory_bits.sum()) for l in used) / max(1, self.cores * lim.get("memory", 1)),
            },
            "layers": [l.to_dict() for l in self.layers],
            "problems": [dict(layer=p.layer, limit=p.limit, needed=p.needed, allowed=p.allowed,
                              exceeded_by=p.exceeded_by, profile_key=p.profile_key, message=p.message,
                              suggestions=p.suggestions) for p in self.problems],
            "constants": [dict(key=k, value=c.value, source=c.source, verified=c.verified) for k, c in self.constants],
        }

    def error_message(self) -> str:
        return "; ".join(p.one_line() for p in self.problems[:1]) + (
            f" (and {len(self.problems) - 1} more problem{'s' if len(self.problems) > 2 else ''})"
            if len(self.problems) > 1 else "")


# ---- building the mappings -----------------------------------------------------------------------------

def mapping_for(proj, weight_bits: int, lim: CoreLimits):
    """A DenseMapping / ConvMapping for one projection (float or quantized)."""
    w = np.asarray(proj.weight)
    if proj.kind == "conv":
        return ConvMapping(proj.target, w.shape, proj.in_shape, proj.out_shape, proj.stride, proj.padding,
                           proj.dilation, proj.groups, weight_bits, lim)
    return DenseMapping(proj.target, w.reshape(w.shape[0], -1) != 0, proj.in_shape, weight_bits, lim)


def projection_weight_bits(net, profile, weight_bits) -> dict[str, int]:
    """Quantized nets carry their own widths; float nets take weight_bits (int, or {population or
    projection name: int}) or the profile's. Keyed by projection name."""
    from ..backends.base import is_quantized

    if is_quantized(net):
        if weight_bits is not None:
            raise ValueError("this network is quantized and its weight bits are fixed; re-quantize with "
                             "'neurokit quantize --weight-bits N' instead of passing --weight-bits to fit")
        return {q.name: int(q.weight_bits) for q in net.projections}
    requested = net.per_projection(weight_bits, "weight bits name")
    out = {}
    for q in net.projections:
        bits = requested[q.name]
        bits = profile.synapse.weight_bits if bits is None else int(bits)
        if not 1 <= bits <= profile.synapse.weight_bits:
            raise ValueError(f"weight bits must be in 1..{profile.synapse.weight_bits} for profile {profile.name}, "
                             f"got {bits} for layer {q.target}")
        out[q.name] = bits
    return out


# ---- placement -----------------------------------------------------------------------------------------

class _Placement:
    """The mappings of a network's populations and who reads whom."""

    def __init__(self, net, profile, weight_bits):
        self.lim = CoreLimits.from_profile(profile)
        bits = projection_weight_bits(net, profile, weight_bits)
        self.order = net.order("fit", cycles=True)
        self.names = [p.name for p in self.order]
        self.mappings = {p.name: PopulationMapping(p.name, [mapping_for(q, bits[q.name], self.lim)
                                                            for q in net.incoming(p.name)])
                         for p in self.order}
        # per population: its readers, as (reader population, index of the projection among the reader's inputs)
        self.readers = {p.name: [] for p in self.order}
        for p in self.order:
            for i, q in enumerate(net.incoming(p.name)):
                if q.source in self.readers:
                    self.readers[q.source].append((p.name, i))
        self.fits: dict[str, LayerFit] = {}

    def consumers(self, name: str) -> list:
        """(reader mapping, its fit, projection index) for every projection out of `name`."""
        return [(self.mappings[r], self.fits[r], i) for r, i in self.readers[name] if r in self.fits]


def fit_network(net, profile, weight_bits: int | dict | None = None) -> FitResult:
    plan = _Placement(net, profile, weight_bits)
    lim = plan.lim
    per_core = {k: lim.limit(k) for k in CORE_LIMITS}

    def place(name: str, fanout_cap: int | None = None) -> LayerFit | None:
        return _place_layer(plan.mappings[name], plan.consumers(name), lim, profile, per_core, fanout_cap)

    for name in reversed(plan.names):
        plan.fits[name] = place(name)
        # Too many output axons: a reader reaches each input from too many cores. Re-cut the reader that takes
        # the most so each input reaches fewer (more row bands, fewer channel groups), while that cut still fits.
        while plan.fits[name].problem is not None and plan.fits[name].problem.limit == "axons_out":
            consumers = plan.consumers(name)
            nm, nf, _ = max(consumers, key=lambda c: int(_out_axons(plan.mappings[name], plan.fits[name].cut, [c]).max()))
            fanout = nm.input_fanout(nf.cut, nf.encoding)
            cap = min(fanout - 1, fanout * plan.fits[name].problem.allowed // plan.fits[name].problem.needed)
            recut = place(nm.name, max(cap, 1)) if fanout > 1 else None
            if recut is None or recut.problem is not None:
                break
            plan.fits[nm.name] = recut
            plan.fits[name] = place(name)
    # a recurrent projection's reader was placed after its source: place such sources again, now that every
    # reader's cut is known, so their output axons count it
    back_edges = net.back_edges()
    back = {q.source for q in net.projections if q.name in back_edges}
    for name in plan.names:
        if name in back:
            plan.fits[name] = place(name)
    fits = [plan.fits[p.name] for p in net.populations]
    cores = sum(f.cores for f in fits)
    chips = -(-cores // lim.cores_per_chip)
    problems = [f.problem for f in fits if f.problem is not None]
    available = lim.cores_per_chip * lim.chips_per_board
    if cores > available and not problems:
        problems.append(_board_problem(fits, cores, chips, lim, profile))
    constants = [(k, getattr(profile, k.split(".")[0]).cited(k.split(".")[1])) for k in USED_KEYS]
    return FitResult(profile=profile.name, profile_path=str(profile.path), layers=fits, cores=cores, chips=chips,
                     cores_available=available, chips_available=lim.chips_per_board,
                     cores_per_chip=lim.cores_per_chip, problems=problems, constants=constants,
                     mappings=dict(plan.mappings))


def _over(use: CoreUse, lim: CoreLimits) -> dict:
    """limit -> the fullest core's use, for per-core limits this use breaks."""
    arrays = {"neurons": use.neurons, "memory": use.memory_bits, "axons_in": use.axons_in}
    if use.axons_out is not None:
        arrays["axons_out"] = use.axons_out
    return {k: int(a.max()) for k, a in arrays.items() if len(a) and a.max() > lim.limit(k)}


def _out_axons(m, split, consumers) -> np.ndarray:
    """Output-axon entries per core of mapping m cut by `split`: for each projection out of it, one per
    (own neuron, listening core of its reader), or per (own pixel, listening core) under population axons."""
    total = np.zeros(m.n_cores(split), np.int64)  # an output population is read by the host
    for nm, nf, index in consumers:
        reach = nm.reach(nf.cut, nf.encoding, index)
        if nm.encoding_of(nf.encoding, index) in POPULATION_ENCODINGS:  # one axon per pixel carries all channels
            total = total + m.sum_owned(split, reach, per_pixel=True) * m.lim.population_axon_slots
        else:
            total = total + m.sum_owned(split, reach)
    return total


def _place_layer(m, nxt: list, lim: CoreLimits, profile, per_core: dict, fanout_cap: int | None = None) -> LayerFit | None:
    """The cut with the fewest cores that meets every per-core limit. With fanout_cap, only cuts where no
    input must reach more than fanout_cap cores (None when there is none)."""
    def result(split, enc, use, problem=None) -> LayerFit:
        return LayerFit(m.name, m.kind, enc, m.weight_bits, split, m.describe(split), use, per_core, problem)

    # The finest cut is the least any core can need: if it breaks one of the layer's own limits (neurons,
    # memory, input axons), no cut fits. Output axons depend on the next layer too; they come after.
    fine = m.finest()
    fine_uses = {enc: m.uses(fine, enc) for enc in m.encodings}

    def badness(e):
        over = _over(fine_uses[e], lim)
        return len(over), max([v / lim.limit(k) for k, v in over.items()], default=0), int(fine_uses[e].memory_bits.max())

    best_fine = min(fine_uses, key=badness)
    fine_uses[best_fine].axons_out = _out_axons(m, fine, nxt)
    if _over(fine_uses[best_fine], lim) and set(_over(fine_uses[best_fine], lim)) != {"axons_out"}:
        if fanout_cap is not None:
            return None
        u = fine_uses[best_fine]
        return result(fine, best_fine, u, _layer_problem(m, fine, best_fine, u, nxt, lim, profile))
    own_best = None  # the first cut that meets the layer's own limits, output axons aside
    for _, group in itertools.groupby(m.splits(), key=lambda s: s[0]):
        feasible = []
        for _, split in group:
            if m.max_neurons(split) > lim.neurons:
                continue
            for enc in m.encodings:
                u = m.uses(split, enc)
                if _over(u, lim):
                    continue
                fanout = m.input_fanout(split, enc) if fanout_cap is not None or m.kind == "conv" else 0
                if fanout_cap is None or fanout <= fanout_cap:
                    feasible.append((fanout, int(u.memory_bits.max()), enc, split, u))
        # fewer cores per input first (less fan-out for the previous layer), then less memory
        for _, _, enc, split, u in sorted(feasible, key=lambda c: c[:2]):
            own_best = own_best or (split, enc, u)
            u.axons_out = _out_axons(m, split, nxt)
            if not _over(u, lim):
                return result(split, enc, u)
    if fanout_cap is not None:
        return None
    # Every cut meets its own limits, none its output axons. Report the finest cut's shortfall (the least
    # fan-out any cut has) but place the layer on its own best cut, so the layers before it are judged
    # against what it needs.
    problem = _layer_problem(m, fine, best_fine, fine_uses[best_fine], nxt, lim, profile)
    return result(*own_best, problem) if own_best else result(fine, best_fine, fine_uses[best_fine], problem)


# ---- what went wrong, and what would help --------------------------------------------------------------

def _layer_problem(m, split, enc, use: CoreUse, nxt, lim: CoreLimits, profile) -> FitProblem:
    over = _over(use, lim)
    limit = max(over, key=lambda k: over[k] / lim.limit(k))
    needed, allowed = over[limit], lim.limit(limit)
    key = cite(profile, limit)
    ratio = needed / allowed
    reader = _biggest_reader(m, split, nxt) if nxt else None
    what = {
        "neurons": f"one core needs {needed:,} neurons even at {m.describe(split)}",
        "memory": f"one core needs {needed:,} bits of synaptic memory even at {m.describe(split)} "
                  f"({enc} encoding, {m.weight_bits}-bit weights)",
        "axons_in": f"one core must listen to {needed:,} input axons even at {m.describe(split)} "
                    f"({enc} encoding)",
        "axons_out": f"one core must send {needed:,} output axons into layer {reader[0].name if reader else '?'} "
                     f"even at {m.describe(split)}",
    }[limit]
    message = (f"layer {m.name} does not fit: {what}; the limit is {allowed:,} {LIMIT_WORDS[limit]} ({key}), "
               f"exceeded by {needed - allowed:,} ({ratio:.2g}x)")
    return FitProblem(m.name, limit, needed, allowed, key, message, _suggestions(m, split, enc, limit, lim, reader))


def _biggest_reader(m, split, consumers):
    """The reader that takes the most of m's output axons."""
    return max(consumers, key=lambda c: int(_out_axons(m, split, [c]).max()))


def use_needed(m, enc, consumers) -> int:
    """The output axons the finest cut of m needs into its readers (the least any cut needs)."""
    return int(_out_axons(m, m.finest(), consumers).max())


def _suggestions(m, split, enc, limit: str, lim: CoreLimits, reader) -> list[str]:
    out = []
    if limit == "memory":
        for bits in range(m.weight_bits - 1, 0, -1):
            if min(int(m.uses(split, e, bits).memory_bits.max()) for e in m.encodings) <= lim.memory_bits:
                out.append(f"fewer weight bits: {bits}-bit weights fit (neurokit quantize --weight-bits {m.name}={bits})")
                break
        if m.kind == "dense":
            out.append("sparser weights: the sparse encoding stores only nonzero synapses (prune, then quantize)")
        out.append(f"fewer input channels or neurons into {m.name}")
    elif limit == "axons_in":
        out.append(f"fewer inputs into {m.name}: fewer channels, or a stride or pooling before it")
        if m.kind == "dense":
            out.append("sparser weights: a core needs an axon only for inputs with a nonzero weight into it")
        if not lim.population_axons:
            out.append("a profile with population axons (one axon per pixel for all its channels)")
    elif limit == "axons_out" and reader is not None:
        nm, nf, _ = reader
        fanout = nm.input_fanout(nf.cut, nf.encoding)
        out.append(f"fewer cores behind each {m.name} neuron: {nm.name} takes {nf.cores:,} cores ({nf.split}, "
                   f"limited by {LIMIT_WORDS[nf.limited_by]}) and each input reaches up to {fanout:,} of them")
        cap = max(1, fanout * lim.axons_out // use_needed(m, enc, [reader]))
        for bits in range(nm.weight_bits - 1, 0, -1):
            trial = nm.with_weight_bits(bits)
            if _place_layer(trial, [], lim, None, nf.limits, fanout_cap=cap) is not None:
                out.append(f"fewer weight bits in {nm.name}: at {bits} bits its channels pack onto fewer cores "
                           f"(neurokit quantize --weight-bits {nm.name}={bits})")
                break
        out.append(f"fewer channels in {nm.name}, or a smaller kernel there")
    elif limit == "neurons":
        out.append(f"narrower output rows in {m.name} (cores hold whole rows)")
    out.append("a profile with larger per-core limits (write one with extends = \"...\" and your values)")
    return out


def _board_problem(fits: list[LayerFit], cores: int, chips: int, lim: CoreLimits, profile) -> FitProblem:
    biggest = max(fits, key=lambda f: f.cores)
    available = lim.cores_per_chip * lim.chips_per_board
    key = cite(profile, "chips")
    message = (f"the network needs {cores:,} cores on {chips} chips; {profile.name} has {lim.chips_per_board} "
               f"chip{'s' if lim.chips_per_board > 1 else ''} x {lim.cores_per_chip} cores ({key}, "
               f"{cite(profile, 'cores')}), exceeded by {cores - available:,} cores; the largest layer is "
               f"{biggest.name} ({biggest.cores:,} cores, {biggest.split}, limited by {LIMIT_WORDS[biggest.limited_by]})")
    suggestions = [f"a bigger board (at least {chips} chips, e.g. --profile kapoho_point for 8 Loihi 2 chips)",
                   f"fewer channels or neurons in {biggest.name}"]
    if biggest.limited_by == "memory":
        suggestions.append(f"fewer weight bits or sparser weights in {biggest.name} (it is limited by memory)")
    return FitProblem(None, "chips", chips, lim.chips_per_board, key, message, suggestions)
