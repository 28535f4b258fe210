"""A first connected plan: territories grow from seed units one neighbouring unit at a time.

The territory furthest below its targets takes the next step and adds the unassigned neighbour nearest
its seed. The result is connected but often out of balance; the neighbourhood search repairs that.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

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

    # Locked units start in their territory; a seed locked to another territory is not used.
    for u in np.flatnonzero(problem.locked != NO_TERRITORY):
        take(int(u), int(problem.locked[u]))
    for t, seed in enumerate(seeds):
        if assignment[seed] == NO_TERRITORY and _may_take(problem, int(seed), t):
            take(int(seed), t)
        elif not np.any(assignment == t):
            free = [u for u in np.argsort(seed_distance[:, t], kind="stable")
                    if assignment[u] == NO_TERRITORY and _may_take(problem, int(u), t)]
            if free:
                take(int(free[0]), t)
    remaining = int(np.sum(assignment == NO_TERRITORY))
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


# Recursive bisection: each split cuts one edge of a spanning tree so that the two sides hold whole
# numbers of territories. Errors add up over the levels of splits, so a split stops looking once the
# sides are within BISECTION_PRECISION times the band's tolerance, or after BISECTION_TREES trees.
BISECTION_TREES = 60
BISECTION_PRECISION = 0.1


def bisection_plan(problem: DistrictProblem, rng: np.random.Generator) -> np.ndarray | None:
    """Return a connected plan by recursive spanning-tree bisection, or None when it does not apply.

    Works for problems without home units and locks, on one connected graph. Each part is split into
    two parts of k // 2 and k - k // 2 territories, at the tree edge whose sides come closest to those
    territories' targets on every hard band. Spanning trees weight each edge by its length times a
    random factor, so the parts stay compact.
    """
    if np.any(problem.home_unit != NO_TERRITORY) or np.any(problem.locked != NO_TERRITORY):
        return None
    count, _ = problem.graph.components()
    if count != 1:
        return None
    hard = [band for band in problem.bands if band.hard]
    metrics = np.column_stack([band.values for band in hard]) if hard else np.ones((problem.unit_count, 1))
    per_territory = np.array([band.target.mean() for band in hard]) if hard else \
        np.array([problem.unit_count / problem.territory_count])
    tolerance = np.array([band.tolerance for band in hard]) if hard else np.array([1.0])
    edges = problem.graph.edges
    length = unit_distances_for_edges(problem, edges)
    assignment = np.full(problem.unit_count, NO_TERRITORY, dtype=np.int64)
    stack = [(np.arange(problem.unit_count), problem.territory_count, 0)]
    while stack:
        units, k, first = stack.pop()
        if k == 1:
            assignment[units] = first
            continue
        left_k = k // 2
        left = _split(units, left_k, k, metrics, per_territory, tolerance, edges, length, problem.unit_count, rng)
        right = np.setdiff1d(units, left, assume_unique=True)
        stack.append((left, left_k, first))
        stack.append((right, k - left_k, first + left_k))
    return assignment


def unit_distances_for_edges(problem: DistrictProblem, edges: np.ndarray) -> np.ndarray:
    """Return each edge's length between its unit points (distance_matrix when given, else geodesic km)."""
    if len(edges) == 0:
        return np.zeros(0)
    if problem.distance_matrix is not None:
        return problem.distance_matrix[edges[:, 0], edges[:, 1]]
    graph = problem.graph
    return geodesic_km(graph.lat[edges[:, 0]], graph.lon[edges[:, 0]], graph.lat[edges[:, 1]], graph.lon[edges[:, 1]])


def _split(units, left_k, k, metrics, per_territory, tolerance, edges, length, n, rng) -> np.ndarray:
    """Return the units of the side holding left_k of the k territories."""
    inside = np.zeros(n, dtype=bool)
    inside[units] = True
    keep = inside[edges[:, 0]] & inside[edges[:, 1]]
    local = np.full(n, -1, dtype=np.int64)
    local[units] = np.arange(len(units))
    a, b = local[edges[keep, 0]], local[edges[keep, 1]]
    base = np.maximum(length[keep], 1e-9)
    target = left_k * per_territory
    right_target = (k - left_k) * per_territory
    good_enough = BISECTION_PRECISION * tolerance.min()
    values = metrics[units]
    best_cut, best_miss = None, np.inf
    for _ in range(BISECTION_TREES):
        weights = base * rng.uniform(0.5, 1.5, size=len(base))
        tree = minimum_spanning_tree(coo_matrix((weights, (a, b)), shape=(len(units), len(units))))
        root = int(rng.integers(len(units)))
        order, parent = breadth_first_order(tree, root, directed=False, return_predecessors=True)
        sums = values.copy()
        for node in order[:0:-1]:  # children before parents
            sums[parent[node]] += sums[node]
        # Cutting the edge above a node separates its subtree, which may become either side.
        candidates = order[1:]
        below = sums[candidates]
        # The miss of a cut: the larger relative error of the two sides, over the hard metrics.
        miss_left = np.max(np.abs(below / target - 1), axis=1)
        miss_right = np.max(np.abs(below / right_target - 1), axis=1)
        for miss, subtree_is_left in ((miss_left, True), (miss_right, False)):
            at = int(np.argmin(miss))
            if miss[at] < best_miss:
                best_miss = float(miss[at])
                best_cut = (tree, root, int(candidates[at]), subtree_is_left, parent)
        if best_miss <= good_enough:
            break
    tree, root, node, subtree_is_left, parent = best_cut
    # The subtree below `node`: every unit whose path to the root passes through node.
    in_subtree = np.zeros(len(units), dtype=bool)
    order, _ = breadth_first_order(tree, root, directed=False, return_predecessors=True)
    in_subtree[node] = True
    for child in order:
        if child != node and parent[child] >= 0 and in_subtree[parent[child]]:
            in_subtree[child] = True
    side = in_subtree if subtree_is_left else ~in_subtree
    return units[side]
