"""Check a districting plan without the solver: every rule in real units, from the plan alone."""

from __future__ import annotations

import numpy as np

from optimizer.geo.problem import NO_TERRITORY, DistrictProblem

# Relative slack when comparing a territory's total with its band, for float sums of many values.
BAND_SLACK = 1e-9


def district_plan_problems(problem: DistrictProblem, assignment: np.ndarray, *, bands_required: bool = True) -> list[str]:
    """Return every broken rule of the plan as a sentence; an empty list means the plan is valid.

    With ``bands_required`` False, hard bands that the plan misses are not reported (a plan whose
    status reports that the bands could not be met).
    """
    problems: list[str] = []
    n, k = problem.unit_count, problem.territory_count
    assignment = np.asarray(assignment)
    if assignment.shape != (n,):
        return [f"the plan has {assignment.size} entries for {n} units"]
    outside = np.flatnonzero((assignment < 0) | (assignment >= k))
    if outside.size:
        problems.append(f"{outside.size} unit(s) have no territory, e.g. {problem.graph.unit_ids[outside[0]]}")
        return problems
    ids, names = problem.graph.unit_ids, problem.territory_ids
    for t in range(k):
        members = assignment == t
        if not members.any():
            problems.append(f"territory {names[t]} is empty")
            continue
        parts, _ = problem.graph.components(members)
        if parts != 1:
            problems.append(f"territory {names[t]} falls into {parts} disconnected parts")
        home = problem.home_unit[t]
        if home != NO_TERRITORY and assignment[home] != t:
            problems.append(f"territory {names[t]} does not contain its home unit {ids[home]}")
    locked = np.flatnonzero(problem.locked != NO_TERRITORY)
    for u in locked[assignment[locked] != problem.locked[locked]]:
        problems.append(f"unit {ids[u]} is locked to {names[problem.locked[u]]} but is in {names[assignment[u]]}")
    if bands_required:
        for band in (band for band in problem.bands if band.hard):
            totals = band.totals(assignment, k)
            slack = BAND_SLACK * np.maximum(np.abs(band.target), 1.0)
            for t in np.flatnonzero((totals < band.lower - slack) | (totals > band.upper + slack)):
                problems.append(f"territory {names[t]} has {band.name} {totals[t]:.6g} {band.unit}, outside its band "
                                f"[{band.lower[t]:.6g}, {band.upper[t]:.6g}]")
    return problems
