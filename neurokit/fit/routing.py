"""Traffic on the chip's mesh: how many messages a run sends from core to core, how far they travel and how
many bits they carry, from the fit's placement and the run's spikes.

Loihi routes a spike as one message per destination core that holds a synapse of it (Davies et al. 2018:
a core's output axon names a destination core), over a 2-D mesh of tiles of a few cores each; a message
within a tile costs less than one that crosses tiles, and each tile hop east-west or north-south has its
own cost (docs/references.md D.1). What neurokit knows and what it estimates:
- messages per projection: exact under the fit's cuts. A source neuron's (or pixel's) spike goes to every
  core of the target population that listens to it (neurokit.fit.mapping's `reach`), so messages =
  sum over sources of spikes x reach;
- tile hops: an estimate. neurokit.fit counts cores per population; it does not choose coordinates, and
  Lava's Loihi 2 mapper is not public. The estimate puts the populations on consecutive cores in the
  network's order (as the fit's core map draws them), fills tiles of `chip.cores_per_tile` cores, and lays
  tiles in rows of `chip.mesh_columns`. A message from a source core is charged the mean east-west and
  north-south tile distance to the target population's cores on the same chip;
- messages whose destination core is on another chip are counted (chip crossings) and not priced: the
  chip-to-chip link's energy is not published;
- the input's messages enter from the host or an embedded core, whose place on the mesh is unknown: they
  are counted as messages, with no hops;
- bits moved: each message's payload, 1 bit for a binary spike, the graded width for a graded message;
  the routing header (address) is not published and not counted.
"""
from __future__ import annotations

import numpy as np

from ..network import INPUT

COORDINATES = ("populations on consecutive cores in the network's order, tiles of chip.cores_per_tile cores "
               "filled in core order, tiles in rows of chip.mesh_columns (an estimate: Lava's Loihi 2 mapper is "
               "not public)")


def core_positions(first: int, count: int, cores_per_chip: int, cores_per_tile: int, columns: int) -> np.ndarray:
    """(count, 3) int: chip, tile column, tile row of cores first .. first + count - 1."""
    k = np.arange(first, first + count)
    chip, local = np.divmod(k, cores_per_chip)
    tile = local // cores_per_tile
    return np.stack([chip, tile % columns, tile // columns], axis=1)


def payload_bits(net, proj) -> int:
    """Bits a message of `proj` carries: 1 for a binary spike, the graded width otherwise."""
    from ..energy import graded_source

    if not graded_source(net, proj):
        return 1
    if proj.source == INPUT:
        return int(getattr(net, "input_bits", 8) or 8)
    return int(net.population(proj.source).model.graded_output_bits)


def _per_input(reach: np.ndarray, n_inputs: int) -> np.ndarray:
    """Reach per input neuron: a per-pixel reach (population / conv axons) repeated over the channels."""
    reach = np.asarray(reach, np.int64)
    if len(reach) == n_inputs:
        return reach
    return np.tile(reach, n_inputs // len(reach))


def mesh_traffic(net, fit, trace, profile) -> dict:
    """Per projection and in total, per inference (mean over the run's samples): messages on the mesh, tile
    hops east-west and north-south, chip crossings and payload bits. fit: neurokit.fit.fit_network(net, ...)
    (a placement that fits); trace: a run of `net`."""
    lim_chip, cpt, cols = fit.cores_per_chip, profile.chip.cores_per_tile, profile.chip.mesh_columns
    names = [p.name for p in net.populations]
    layers = {l.name: l for l in fit.layers}
    first, start = {}, 0
    for name in names:
        first[name] = start
        start += layers[name].cores
    samples = max(trace.samples, 1)
    spikes = {name: np.rint(np.asarray(s, np.float64)).astype(np.int64).reshape(-1)
              for name, s in zip(names, trace.neuron_spikes)}
    spikes[INPUT] = np.rint(np.asarray(trace.input_events, np.float64)).astype(np.int64).reshape(-1)
    out = {}
    for q in net.projections:
        target = layers[q.target]
        index = [p.name for p in net.incoming(q.target)].index(q.name)
        reach = _per_input(fit.mappings[q.target].reach(target.cut, target.encoding, index), q.n_inputs)
        sent = spikes[q.source] * reach  # messages per source neuron, all samples
        bits = payload_bits(net, q)
        row = {"messages": float(sent.sum()) / samples, "payload_bits": bits,
               "bits_moved": float(sent.sum()) * bits / samples}
        if q.source == INPUT:
            row.update(hops_ew=None, hops_ns=None, chip_crossings=None)
            out[q.name] = row
            continue
        src = layers[q.source]
        per_core = fit.mappings[q.source].sum_owned(src.cut, sent)  # messages leaving each source core
        s_pos = core_positions(first[q.source], src.cores, lim_chip, cpt, cols)
        d_pos = core_positions(first[q.target], target.cores, lim_chip, cpt, cols)
        same = s_pos[:, None, 0] == d_pos[None, :, 0]  # (source cores, target cores) on one chip
        share = same.mean(1)  # a source core's messages that stay on its chip
        dx = np.where(same, np.abs(s_pos[:, None, 1] - d_pos[None, :, 1]), 0).sum(1) / np.maximum(same.sum(1), 1)
        dy = np.where(same, np.abs(s_pos[:, None, 2] - d_pos[None, :, 2]), 0).sum(1) / np.maximum(same.sum(1), 1)
        row.update(hops_ew=float(np.sum(per_core * share * dx)) / samples,
                   hops_ns=float(np.sum(per_core * share * dy)) / samples,
                   chip_crossings=float(np.sum(per_core * (1 - share))) / samples)
        out[q.name] = row
    total = {k: float(sum(r[k] or 0.0 for r in out.values()))
             for k in ("messages", "bits_moved", "hops_ew", "hops_ns", "chip_crossings")}
    return {"projections": out, "total": total, "coordinates": COORDINATES,
            "not_counted": "routing headers; the input's hops (it enters from the host); chip-to-chip links"}
