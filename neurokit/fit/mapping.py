"""One population's ways onto cores: how its neurons split into cores, and what each core then uses.

A projection's target neurons are cut into equal blocks, one block per core, and no core holds two layers (as
nengo-loihi places blocks). Dense layers are cut into runs of consecutive neurons; convolution layers into
groups of output channels x bands of whole output rows, so a core's inputs are a band of the input map.
For each cut and encoding, `uses` gives every core's neurons, synapses, memory and input axons;
`reach` gives how many cores listen to each input, and `sum_owned` sums such counts over the neurons a
core holds: that is how the previous layer's output axons are counted.
"""
from __future__ import annotations

import copy
import dataclasses
from collections import Counter

import numpy as np

from .encoding import list_bits, synapse_bits
from .limits import CoreLimits


@dataclasses.dataclass
class CoreUse:
    """Per-core resource use of one placed layer (arrays, one entry per core)."""

    neurons: np.ndarray
    synapses: np.ndarray  # synapses stored (shared convolution weights once)
    memory_bits: np.ndarray  # synapse lists + neuron state
    axons_in: np.ndarray
    axons_out: np.ndarray | None = None  # filled once the next layer is placed

    @property
    def cores(self) -> int:
        return len(self.neurons)


def _split(n: int, per: int) -> list[tuple[int, int]]:
    return [(a, min(a + per, n)) for a in range(0, n, per)]


def _sizes(n: int) -> list[int]:
    """Distinct block sizes ceil(n / k), k = 1..n, largest first (fewest blocks first)."""
    return sorted({-(-n // k) for k in range(1, n + 1)}, reverse=True)


class DenseMapping:
    """A dense layer: weights (n_out, n_in); a core holds consecutive output neurons."""

    kind = "dense"

    def __init__(self, name: str, nonzero: np.ndarray, in_shape: tuple, weight_bits: int, lim: CoreLimits):
        self.name, self.in_shape, self.weight_bits, self.lim = name, tuple(in_shape), weight_bits, lim
        self.n_out, self.n_in = nonzero.shape
        self.out_shape = (self.n_out,)
        # nonzero synapses of input j into output rows [a, b) = csum[b, j] - csum[a, j]
        self._csum = np.zeros((self.n_out + 1, self.n_in), np.int32)
        np.cumsum(nonzero, axis=0, dtype=np.int32, out=self._csum[1:])
        self.encodings = ("dense", "sparse")
        if len(self.in_shape) == 3 and lim.population_axons:
            self.encodings += ("population",)

    @property
    def n_neurons(self) -> int:
        return self.n_out

    def splits(self) -> list[tuple[int, tuple]]:
        """(cores, split) for every cut, fewest cores first."""
        return [(-(-self.n_out // per), (per,)) for per in _sizes(self.n_out)]

    def finest(self) -> tuple:
        return (1,)

    def describe(self, split) -> str:
        return f"{split[0]} neuron{'s' if split[0] > 1 else ''} per core"

    def _blocks(self, split):
        return _split(self.n_out, split[0])

    def n_cores(self, split) -> int:
        return len(self._blocks(split))

    def max_neurons(self, split) -> int:
        return min(split[0], self.n_out)

    def _fan(self, split) -> np.ndarray:
        """(cores, n_in): nonzero synapses from each input into each core."""
        b = np.array(self._blocks(split))
        return self._csum[b[:, 1]] - self._csum[b[:, 0]]

    def uses(self, split, encoding: str, weight_bits: int | None = None) -> CoreUse:
        lim, bits = self.lim, synapse_bits(weight_bits or self.weight_bits, encoding, self.lim)
        neurons = np.array([b - a for a, b in self._blocks(split)], np.int64)
        fan = self._fan(split)
        connected = fan > 0
        if encoding == "dense":
            axons = connected.sum(1)
            synapses = axons * neurons
            mem = axons * list_bits(neurons, bits, lim)
        elif encoding == "sparse":
            axons = connected.sum(1)
            synapses = fan.sum(1, dtype=np.int64)
            mem = list_bits(fan, bits, lim).sum(1)
        else:  # population: one weight set per pixel, (channels x core neurons), zeros included
            pixels = connected.reshape(len(neurons), self.in_shape[0], -1).any(1).sum(1)
            axons = pixels
            synapses = pixels * self.in_shape[0] * neurons
            mem = pixels * list_bits(self.in_shape[0] * neurons, bits, lim)
        return CoreUse(neurons, synapses, mem + neurons * lim.neuron_memory_bits, axons)

    def reach(self, split, encoding: str) -> np.ndarray:
        """Per input (neuron, or pixel under population axons): how many of this layer's cores listen to it."""
        connected = self._fan(split) > 0
        if encoding == "population":
            connected = connected.reshape(len(connected), self.in_shape[0], -1).any(1)
        return connected.sum(0)

    def input_fanout(self, split, encoding: str) -> int:
        """Most cores of this layer that one input must reach."""
        return int(self.reach(split, encoding).max(initial=0))

    def sum_owned(self, split, values: np.ndarray, per_pixel: bool = False) -> np.ndarray:
        """Per core: the sum of `values` (one per output neuron) over the neurons it holds. (A dense layer's
        outputs have no pixels, and only a (C, H, W) input can be read through population axons.)"""
        c = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
        b = np.array(self._blocks(split))
        return c[b[:, 1]] - c[b[:, 0]]


def tap_patterns(n_in: int, kernel: int, stride: int, pad: int, dil: int, lo: int, hi: int) -> Counter:
    """Along one axis: for each input position, the kernel taps that land on outputs lo..hi-1.
    Returns {taps: number of input positions with exactly those taps}; positions with none are left out."""
    counts: Counter = Counter()
    for i in range(n_in):
        taps = []
        for a in range(kernel):
            q, r = divmod(i + pad - a * dil, stride)
            if r == 0 and lo <= q < hi:
                taps.append(a)
        if taps:
            counts[tuple(taps)] += 1
    return counts


class ConvMapping:
    """A convolution layer: a core holds a group of output channels x a band of whole output rows."""

    kind = "conv"

    def __init__(self, name: str, weight_shape: tuple, in_shape: tuple, out_shape: tuple, stride, padding,
                 dilation, groups: int, weight_bits: int, lim: CoreLimits):
        self.name, self.weight_bits, self.lim = name, weight_bits, lim
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self.kernel = tuple(weight_shape[2:])
        self.stride, self.padding, self.dilation, self.groups = tuple(stride), tuple(padding), tuple(dilation), groups
        self.c_out, self.h_out, self.w_out = self.out_shape
        self.c_in, self.h_in, self.w_in = self.in_shape
        self.encodings = ("conv", "sparse", "dense") if lim.population_axons else ("sparse", "dense")
        self._cols = self._axis(1, 0, self.w_out)
        self._rows: dict[tuple[int, int], Counter] = {}
        self._cache: dict = {}  # block use by (connections, band size, tap patterns, encoding, bits)
        self._full: dict = {}  # connections of a channel group of each size (groups == 1)

    @property
    def n_neurons(self) -> int:
        return self.c_out * self.h_out * self.w_out

    def _axis(self, axis: int, lo: int, hi: int) -> Counter:
        n_in = self.in_shape[1 + axis]
        return tap_patterns(n_in, self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis], lo, hi)

    def _row_patterns(self, band) -> Counter:
        if band not in self._rows:
            self._rows[band] = self._axis(0, *band)
        return self._rows[band]

    def splits(self) -> list[tuple[int, tuple]]:
        out = [(-(-self.c_out // c) * -(-self.h_out // r), (c, r)) for c in _sizes(self.c_out) for r in _sizes(self.h_out)]
        return sorted(out, key=lambda s: s[0])

    def finest(self) -> tuple:
        return (1, 1)

    def describe(self, split) -> str:
        c, r = split
        return f"{c} channel{'s' if c > 1 else ''} x {r} row{'s' if r > 1 else ''} of {self.w_out} per core"

    def _blocks(self, split):
        return [(cg, band) for cg in _split(self.c_out, split[0]) for band in _split(self.h_out, split[1])]

    def n_cores(self, split) -> int:
        return len(self._blocks(split))

    def _connections(self, channels) -> np.ndarray:
        """Per input channel: how many of the core's output channels it feeds (groups respected)."""
        if self.groups == 1:  # every input channel feeds every output channel
            n = channels[1] - channels[0]
            if n not in self._full:
                self._full[n] = np.full(self.c_in, n, np.int64)
            return self._full[n]
        cin_g, cout_g = self.c_in // self.groups, self.c_out // self.groups
        g = np.arange(self.c_in) // cin_g
        lo, hi = np.maximum(g * cout_g, channels[0]), np.minimum((g + 1) * cout_g, channels[1])
        return np.maximum(hi - lo, 0)

    def max_neurons(self, split) -> int:
        return min(split[0], self.c_out) * min(split[1], self.h_out) * self.w_out

    def uses(self, split, encoding: str, weight_bits: int | None = None) -> CoreUse:
        bits = synapse_bits(weight_bits or self.weight_bits, encoding, self.lim)
        rows = [self._block_use(ch, band, encoding, bits) for ch, band in self._blocks(split)]
        return CoreUse(*(np.array(col, np.int64) for col in zip(*rows)))

    def _block_use(self, channels, band, encoding: str, bits: int) -> tuple[int, int, int, int]:
        """(neurons, synapses, memory bits, input axons) of the core holding channels x band."""
        conn = self._connections(channels)
        rows = self._row_patterns(band)
        # interior bands share their tap patterns, and channel groups of one size their connections
        key = (conn.tobytes(), band[1] - band[0], frozenset(rows.items()), encoding, bits)
        if key in self._cache:
            return self._cache[key]
        lim, cols = self.lim, self._cols
        neurons = (channels[1] - channels[0]) * (band[1] - band[0]) * self.w_out
        atoms = int((conn > 0).sum())
        pixels = sum(rows.values()) * sum(cols.values())
        # taps per (row pattern, col pattern), and how many input pixels have that pattern
        taps = np.array([len(r) * len(c) for r in rows for c in cols], np.int64)
        mult = np.array([rows[r] * cols[c] for r in rows for c in cols], np.int64)
        if encoding == "dense":
            a = pixels * atoms
            n_syn, n_mem = a * neurons, a * int(list_bits(neurons, bits, lim))
        elif encoding == "conv":  # one weight set per tap pattern: (atoms x taps x channels), stored once
            a = pixels
            per_set = taps * int(conn.sum())
            n_syn, n_mem = int(per_set.sum()), int(list_bits(per_set, bits, lim).sum())
        else:  # sparse: every input neuron its own list of taps x channels
            a = pixels * atoms
            per_list = list_bits(taps[:, None] * conn[None, :], bits, lim).sum(1)
            n_syn, n_mem = int((mult * taps).sum() * conn.sum()), int((mult * per_list).sum())
        out = (neurons, n_syn, n_mem + neurons * lim.neuron_memory_bits, a)
        self._cache[key] = out
        return out

    def reach(self, split, encoding: str) -> np.ndarray:
        """Per input (neuron, or pixel under the conv encoding): how many of this layer's cores listen to it.
        Cores are channel groups x row bands, so the count factors into channels x rows x columns."""
        rows = np.zeros(self.h_in, np.int64)
        for band in _split(self.h_out, split[1]):
            rows += [self._taps(0, i, band) for i in range(self.h_in)]
        cols = np.array([self._taps(1, i, (0, self.w_out)) for i in range(self.w_in)], np.int64)
        channels = sum((self._connections(g) > 0).astype(np.int64) for g in _split(self.c_out, split[0]))
        if encoding == "conv":
            return (len(_split(self.c_out, split[0])) * rows[:, None] * cols[None, :]).reshape(-1)
        return (channels[:, None, None] * rows[None, :, None] * cols[None, None, :]).reshape(-1)

    def input_fanout(self, split, encoding: str) -> int:
        """Most cores of this layer that one input must reach."""
        return int(self.reach(split, encoding).max(initial=0))

    def sum_owned(self, split, values: np.ndarray, per_pixel: bool = False) -> np.ndarray:
        """Per core: the sum of `values` over the output neurons it holds (per_pixel: over its pixels,
        `values` then holding one number per output pixel)."""
        out = []
        if per_pixel:
            v = np.asarray(values).reshape(self.h_out, self.w_out)
            for _, band in self._blocks(split):
                out.append(v[band[0]:band[1]].sum())
        else:
            v = np.asarray(values).reshape(self.out_shape)
            for ch, band in self._blocks(split):
                out.append(v[ch[0]:ch[1], band[0]:band[1]].sum())
        return np.array(out, np.int64)

    def _taps(self, axis: int, i: int, band) -> bool:
        """Whether input position i (along axis) feeds any output in band."""
        k, s, p, d = self.kernel[axis], self.stride[axis], self.padding[axis], self.dilation[axis]
        return any((i + p - a * d) % s == 0 and band[0] <= (i + p - a * d) // s < band[1] for a in range(k))


class PopulationMapping:
    """A population fed by several projections: one cut of its neurons shared by the mapping of every
    projection into it (all have the population's output geometry). Per core it needs the sum of their
    synapses, synaptic memory and input axons; its neuron state is counted once. An encoding is one per
    projection, written 'conv+sparse'."""

    def __init__(self, name: str, parts: list):
        self.name, self.parts = name, parts
        first = parts[0]
        self.kind, self.lim, self.out_shape = first.kind, first.lim, first.out_shape
        self.encodings = tuple("+".join(c) for c in _product([p.encodings for p in parts]))

    @property
    def n_neurons(self) -> int:
        return self.parts[0].n_neurons

    @property
    def weight_bits(self) -> int:
        return max(p.weight_bits for p in self.parts)

    def with_weight_bits(self, bits: int) -> "PopulationMapping":
        """The same population with every projection's weights at `bits`."""
        parts = []
        for p in self.parts:
            q = copy.copy(p)
            q.weight_bits = bits
            parts.append(q)
        return PopulationMapping(self.name, parts)

    def encoding_of(self, encoding: str, index: int) -> str:
        return encoding.split("+")[index]

    def splits(self):
        return self.parts[0].splits()

    def finest(self):
        return self.parts[0].finest()

    def describe(self, split) -> str:
        return self.parts[0].describe(split)

    def n_cores(self, split) -> int:
        return self.parts[0].n_cores(split)

    def max_neurons(self, split) -> int:
        return self.parts[0].max_neurons(split)

    def uses(self, split, encoding: str, weight_bits: int | None = None) -> CoreUse:
        uses = [p.uses(split, e, weight_bits) for p, e in zip(self.parts, encoding.split("+"))]
        neurons = uses[0].neurons
        state = neurons * self.lim.neuron_memory_bits
        return CoreUse(neurons, sum(u.synapses for u in uses),
                       sum(u.memory_bits - state for u in uses) + state, sum(u.axons_in for u in uses))

    def reach(self, split, encoding: str, index: int = 0) -> np.ndarray:
        """Per input of projection `index`: how many of this population's cores listen to it."""
        return self.parts[index].reach(split, self.encoding_of(encoding, index))

    def input_fanout(self, split, encoding: str) -> int:
        return max(p.input_fanout(split, e) for p, e in zip(self.parts, encoding.split("+")))

    def sum_owned(self, split, values: np.ndarray, per_pixel: bool = False) -> np.ndarray:
        return self.parts[0].sum_owned(split, values, per_pixel)


def _product(lists):
    out = [[]]
    for options in lists:
        out = [prev + [o] for prev in out for o in options]
    return out
