"""Necessary conditions for a connected, balanced districting plan, explained with numbers when they fail."""

from __future__ import annotations

import logging
import math

import numpy as np

from optimizer.errors import InfeasibleError
from optimizer.feasibility import _num, capacity_shortfall, format_percent
from optimizer.geo.problem import NO_TERRITORY, DistrictProblem

logger = logging.getLogger(__name__)

# A message lists at most this many units of one kind by id.
UNITS_NAMED = 5


def check_districting(problem: DistrictProblem) -> None:
    """Raise InfeasibleError naming every cause found; return quietly when no check fails."""
    causes: list[str] = []
    relaxations: list[str] = []
    n, k = problem.unit_count, problem.territory_count
    if k > n:
        causes.append(f"{k} territories were requested but there are only {n} units; each territory needs at least one")
    _check_homes(problem, causes)
    _check_capacity(problem, causes, relaxations)
    _check_whole_number_bands(problem, causes, relaxations)
    _check_single_units(problem, causes, relaxations)
    _check_locks(problem, causes)
    _check_components(problem, causes)
    if causes:
        logger.info("districting pre-check found %d cause(s) of infeasibility", len(causes))
        raise InfeasibleError(causes, relaxations)


def _names(problem: DistrictProblem, units) -> str:
    ids = [problem.graph.label(int(u)) for u in units]
    shown = ", ".join(ids[:UNITS_NAMED])
    return shown + (f" and {len(ids) - UNITS_NAMED} more" if len(ids) > UNITS_NAMED else "")


def _check_capacity(problem: DistrictProblem, causes: list[str], relaxations: list[str]) -> None:
    """Report a total workload above the reps' total capacity: some territory would then exceed its rep's."""
    if problem.capacity is None or problem.workload is None:
        return
    shortfall = capacity_shortfall(float(problem.workload.sum()), float(problem.capacity.sum()))
    if shortfall is not None:
        causes.append(shortfall[0])
        relaxations.append(shortfall[1])


def _check_homes(problem: DistrictProblem, causes: list[str]) -> None:
    homes = problem.home_unit
    given = homes[homes != NO_TERRITORY]
    values, counts = np.unique(given, return_counts=True)
    for unit in values[counts > 1]:
        owners = [problem.territory_ids[t] for t in np.flatnonzero(homes == unit)]
        causes.append(f"territories {', '.join(owners)} all have their home in unit {problem.graph.unit_ids[unit]}, "
                      "but a unit belongs to one territory; move a rep's home base or merge the territories")
    for t, unit in enumerate(homes):
        if unit != NO_TERRITORY and problem.locked[unit] not in (NO_TERRITORY, t):
            causes.append(f"unit {problem.graph.unit_ids[unit]} is the home of territory {problem.territory_ids[t]} "
                          f"but is locked to {problem.territory_ids[problem.locked[unit]]}")


def _check_whole_number_bands(problem: DistrictProblem, causes: list[str], relaxations: list[str]) -> None:
    """Report bands on whole-number metrics whose limits contain no whole number."""
    for band in (band for band in problem.bands if band.hard):
        if not np.allclose(band.values, np.round(band.values), rtol=0, atol=1e-9):
            continue
        empty = np.flatnonzero(np.ceil(band.lower - 1e-9) > np.floor(band.upper + 1e-9))
        if empty.size == 0:
            continue
        t = int(empty[0])
        target = band.target[t]
        needed = max(np.ceil(target) - target, target - np.floor(target)) / target if target > 0 else 0.0
        causes.append(f"{band.name} counts whole {band.unit or 'units'}, but the band of territory "
                      f"{problem.territory_ids[t]} ({_quantity(band.lower[t], band.unit)} to "
                      f"{_quantity(band.upper[t], band.unit)}) contains no whole number"
                      + (f" ({empty.size - 1} more territories alike)" if empty.size > 1 else ""))
        relaxations.append(f"widen the {band.name} band to +-{format_percent(needed)}")


def _quantity(value: float, unit: str) -> str:
    """Format a value with its unit, or alone when the metric has no unit."""
    return f"{_num(value)} {unit}" if unit else _num(value)


def _check_single_units(problem: DistrictProblem, causes: list[str], relaxations: list[str]) -> None:
    """Report units whose value alone is above every territory's upper limit, so they fit nowhere."""
    for band in problem.bands:
        if not band.hard:
            continue
        largest_upper = band.upper.max()
        too_large = np.flatnonzero(band.values > largest_upper * (1 + 1e-12))
        if too_large.size == 0:
            continue
        order = too_large[np.argsort(-band.values[too_large])]
        worst = order[0]
        value, target = band.values[worst], band.target.max()
        needed = value / target - 1.0
        causes.append(
            f"unit {problem.graph.label(worst)} alone has {band.name} {_quantity(value, band.unit)}, above the "
            f"upper limit {_quantity(largest_upper, band.unit)} of every territory (target {_num(target)} "
            f"+{format_percent(band.tolerance)}), so a territory holding it is {format_percent(needed)} above "
            f"its target" + (f"; {len(order) - 1} more unit(s) exceed it too: {_names(problem, order[1:])}"
                             if len(order) > 1 else "")
        )
        relaxations.append(f"widen the {band.name} band to +-{format_percent(needed)}, plan fewer territories "
                           f"(at most {math.floor(band.values.sum() / value * (1 + band.tolerance))} keep this unit "
                           "inside the band), or split the unit into smaller units such as ZIP areas")


def _check_locks(problem: DistrictProblem, causes: list[str]) -> None:
    locked = problem.locked
    if not np.any(locked != NO_TERRITORY):
        return
    bad = np.flatnonzero((locked != NO_TERRITORY) & ((locked < 0) | (locked >= problem.territory_count)))
    if bad.size:
        causes.append(f"units {_names(problem, bad)} are locked to a territory that does not exist")
        return
    mask = locked != NO_TERRITORY
    for band in (band for band in problem.bands if band.hard):
        sums = np.bincount(locked[mask], weights=band.values[mask], minlength=problem.territory_count)
        for t in np.flatnonzero(sums > band.upper * (1 + 1e-12)):
            causes.append(f"the units locked to {problem.territory_ids[t]} already have {band.name} "
                          f"{_quantity(sums[t], band.unit)}, above its upper limit {_quantity(band.upper[t], band.unit)}")


def _check_components(problem: DistrictProblem, causes: list[str]) -> None:
    """Report components that cannot contain a whole number of territories (a territory never spans two)."""
    graph = problem.graph
    count, labels = graph.components()
    if count == 1:
        return
    homes = problem.home_unit
    needed_fewest: list[int] = []
    for c in range(count):
        members = np.flatnonzero(labels == c)
        if problem.has_homes():
            inside = [t for t in range(problem.territory_count) if labels[homes[t]] == c]
            if not inside:
                causes.append(
                    f"{len(members)} unit(s) ({_names(problem, members)}) are not connected to any rep's home unit; "
                    "add a connector edge (bridge, ferry) to a neighbouring unit or a rep based there")
                continue
            for band in (band for band in problem.bands if band.hard):
                total = band.values[members].sum()
                low, high = band.lower[inside].sum(), band.upper[inside].sum()
                if total < low * (1 - 1e-12) or total > high * (1 + 1e-12):
                    causes.append(
                        f"the connected area of {len(members)} unit(s) around {_names(problem, members[:1])} has "
                        f"{band.name} {_quantity(total, band.unit)}, but its {len(inside)} territory(ies) need "
                        f"between {_num(low)} and {_num(high)}; add a connector edge to join it to its neighbours")
            continue
        # Without home units, the component can take any number of territories c >= 1 that fits every band.
        fewest, most = 1, len(members)
        needed_fewest.append(fewest)
        for band in (band for band in problem.bands if band.hard):
            total = band.values[members].sum()
            fewest = max(fewest, math.ceil(total / band.upper.max() - 1e-9) if band.upper.max() > 0 else 1)
            if band.lower.min() > 0:
                most = min(most, math.floor(total / band.lower.min() + 1e-9))
        needed_fewest[-1] = fewest
        if fewest > most:
            causes.append(
                f"the connected area of {len(members)} unit(s) around {_names(problem, members[:1])} cannot hold a "
                f"whole number of territories inside every band (it would need at least {fewest} and at most "
                f"{most}); add a connector edge to join it to its neighbours or widen the bands")
    if not problem.has_homes() and sum(needed_fewest) > problem.territory_count:
        sizes = ", ".join(str(int(np.sum(labels == c))) for c in range(min(count, UNITS_NAMED)))
        causes.append(
            f"the units form {count} separate connected areas ({sizes}{', ...' if count > UNITS_NAMED else ''} units) "
            f"that need at least {sum(needed_fewest)} territories, because a territory cannot span two areas, but "
            f"{problem.territory_count} were requested; join the areas with connector edges, use queen adjacency "
            f"or a snapping distance for units that touch at a corner or nearly touch, or plan more territories")
