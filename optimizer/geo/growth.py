"""A first connected plan: territories grow from seed units one neighbouring unit at a time.

The territory furthest below its targets takes the next step and adds the unassigned neighbour nearest
its seed. The result is connected but often out of balance; the neighbourhood search repairs that.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from optimizer.geo.problem import NO_TERRITORY, DistrictProblem
from optimizer.geodesy import geodesic_km

logger = logging.getLogger(__name__)


def unit_distances(problem: DistrictProblem, units: np.ndarray, to_units: np.ndarray) -> np.ndarray:
    """Return the len(units) x len(to_units) distance matrix (distance_matrix when given, else geodesic km)."""
    if problem.distance_matrix is not None:
        return problem.distance_matrix[np.ix_(units, to_units)]
    graph = problem.graph
    return geodesic_km(graph.lat[units][:, None], graph.lon[units][:, None],
                       graph.lat[to_units][None, :], graph.lon[to_units][None, :])


def choose_seeds(problem: DistrictProblem, rng: np.random.Generator) -> np.ndarray:
    """Return one seed unit per territory: the home units when given, else spread over the components."""
    if problem.has_homes():
        return problem.home_unit.copy()
    k = problem.territory_count
    seeds = np.full(k, NO_TERRITORY, dtype=np.int64)
    given = problem.home_unit != NO_TERRITORY
    seeds[given] = problem.home_unit[given]

    count, labels = problem.graph.components()
    share = _component_shares(problem, labels, count)
    open_slots = [t for t in range(k) if seeds[t] == NO_TERRITORY]
    taken = {c: int(np.sum(labels[seeds[given]] == c)) for c in range(count)}
    slots_wanted = _allocate(share, k, minimum=1)
    for c in range(count):
        members = np.flatnonzero(labels == c)
        chosen = [int(s) for s in seeds[given] if labels[s] == c]
        for _ in range(max(0, slots_wanted[c] - taken[c])):
            if not open_slots:
                break
            chosen.append(_next_seed(problem, members, chosen, rng))
            seeds[open_slots.pop(0)] = chosen[-1]
    for t in open_slots:  # more territories than the allocation placed: use the largest component
        members = np.flatnonzero(labels == np.argmax(share))
        seeds[t] = _next_seed(problem, members, [int(s) for s in seeds if s != NO_TERRITORY], rng)
    if problem.distance_matrix is not None:
        seeds = _minimax_seeds(problem, seeds, labels, fixed=given)
    return seeds


def _minimax_seeds(problem: DistrictProblem, seeds: np.ndarray, labels: np.ndarray, fixed: np.ndarray,
                   rounds: int = 10) -> np.ndarray:
    """Move each free seed to the centre (smallest largest distance) of the units nearest to it.

    This is the alternating heuristic of the vertex p-centre problem; it needs the distance matrix.
    """
    distance = problem.distance_matrix
    seeds = seeds.copy()
    for _ in range(rounds):
        # Units join the nearest seed of their own component.
        to_seed = distance[:, seeds] + np.where(labels[:, None] == labels[seeds][None, :], 0.0, np.inf)
        nearest = np.argmin(to_seed, axis=1)
        moved = False
        for t in np.flatnonzero(~fixed):
            members = np.flatnonzero(nearest == t)
            if members.size == 0:
                continue
            centre = int(members[np.argmin(distance[np.ix_(members, members)].max(axis=0))])
            if centre != seeds[t] and centre not in seeds:
                seeds[t], moved = centre, True
        if not moved:
            break
    return seeds


def _component_shares(problem: DistrictProblem, labels: np.ndarray, count: int) -> np.ndarray:
    if problem.bands:
        values = problem.bands[0].values
    else:
        values = np.ones(problem.unit_count)
    totals = np.bincount(labels, weights=values, minlength=count)
    return totals / totals.sum() if totals.sum() > 0 else np.full(count, 1.0 / count)


def _allocate(share: np.ndarray, k: int, minimum: int) -> list[int]:
    """Split k seats by share with the largest-remainder rule, at least ``minimum`` each while seats last."""
    raw = share * k
    seats = np.maximum(np.floor(raw).astype(int), minimum)
    while seats.sum() > k:
        seats[np.argmax(seats - raw)] -= 1
    remainder = raw - seats
    while seats.sum() < k:
        best = int(np.argmax(remainder))
        seats[best] += 1
        remainder[best] -= 1
    return [int(v) for v in seats]


def _next_seed(problem: DistrictProblem, members: np.ndarray, chosen: list[int], rng: np.random.Generator) -> int:
    """Pick the member farthest from the chosen seeds, weighted like k-means++ (heaviest unit first)."""
    if not chosen:
        weight = problem.weight[members]
        return int(members[np.argmax(weight)]) if weight.max() > 0 else int(rng.choice(members))
    distance = unit_distances(problem, members, np.array(chosen)).min(axis=1)
    if distance.max() <= 0:
        free = [u for u in members if u not in chosen]
        return int(free[0]) if free else int(members[0])
    probability = distance ** 2 / np.sum(distance ** 2)
    return int(rng.choice(members, p=probability))


def grow_plan(problem: DistrictProblem, seeds: np.ndarray) -> np.ndarray:
    """Return a complete plan in which every territory is connected and contains its seed."""
    n, k = problem.unit_count, problem.territory_count
    neighbours = problem.graph.neighbours()
    assignment = np.full(n, NO_TERRITORY, dtype=np.int64)
    seed_distance = unit_distances(problem, np.arange(n), seeds)
    targets = [band.target for band in problem.bands] or [np.full(k, n / k)]
    values = [band.values for band in problem.bands] or [np.ones(n)]
    load = np.zeros((len(values), k))
    frontier: list[set[int]] = [set() for _ in range(k)]

    def take(unit: int, t: int) -> None:
        assignment[unit] = t
        for m, metric in enumerate(values):
            load[m, t] += metric[unit]
        for other in range(k):
            frontier[other].discard(unit)
        for v in neighbours[unit]:
            if assignment[v] == NO_TERRITORY and _may_take(problem, int(v), t):
                frontier[t].add(int(v))

    for t, seed in enumerate(seeds):
        take(int(seed), t)
    remaining = n - k
    while remaining > 0:
        ratio = np.max(load / np.maximum(np.vstack(targets), 1e-12), axis=0)
        order = [t for t in np.argsort(ratio, kind="stable") if frontier[t]]
        if not order:
            break
        t = int(order[0])
        unit = min(frontier[t], key=lambda u: (seed_distance[u, t], u))
        take(unit, t)
        remaining -= 1

    # Units no territory could reach through units it may take (locks) join any assigned neighbour.
    while np.any(assignment == NO_TERRITORY):
        progress = False
        for u in np.flatnonzero(assignment == NO_TERRITORY):
            owners = [assignment[v] for v in neighbours[u] if assignment[v] != NO_TERRITORY]
            if owners:
                assignment[u] = problem.locked[u] if problem.locked[u] != NO_TERRITORY else min(owners)
                progress = True
        if not progress:
            raise ValueError("some units are not connected to any seed unit; the pre-check should have caught this")
    logger.debug("grown plan: %d units into %d territories", n, k)
    return assignment


def _may_take(problem: DistrictProblem, unit: int, territory: int) -> bool:
    locked = problem.locked[unit]
    if locked != NO_TERRITORY and locked != territory:
        return False
    home_of = np.flatnonzero(problem.home_unit == unit)
    return not (home_of.size and home_of[0] != territory)


def default_group_size(territory_count: int) -> int:
    """Return how many neighbouring territories one search step frees at first."""
    return max(2, min(3, territory_count, math.ceil(territory_count / 2)))
