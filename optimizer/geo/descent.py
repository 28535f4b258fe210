"""Tabu search over unit moves for compactness "diameter": narrow the widest territory.

The search works on a width level L, 1 % below the narrowest plan found so far. Its score is the
excess of the plan over that level, the sum over pairs of units in one territory of how far their
distance exceeds L, plus a penalty on band violation. Any plan inside the bands that is narrower
than the best becomes the new best, and the level drops below it. Unlike the widest width itself,
the excess also falls when units near the far ends of a territory leave it, which guides the chains
of moves that narrowing usually needs.

Each iteration takes the best allowed move: one border unit into a neighbouring territory, or two
units that swap across a border. A unit that would split its territory never moves, so every plan
the search visits has connected territories. Locked units and home units stay. Bands may be broken
on the way: the penalty rises while the plan misses a band and falls while it meets them all. A unit
that leaves a territory may not rejoin it for a few iterations (the tabu tenure), unless the move
gives a plan inside the bands with no excess.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from optimizer.geo.problem import NO_TERRITORY, DistrictProblem

logger = logging.getLogger(__name__)

# The level sits this share below the best plan's width.
LEVEL_STEP = 0.01
# Rows of the distance matrix handled at once when the level changes (bounds the temporary memory).
LEVEL_BLOCK_ROWS = 512
TENURE_RANGE = (15, 40)
# The band penalty per unit of violation (a share of a target), as a multiple of the level.
PENALTY_START = 1.0
PENALTY_RANGE = (0.01, 1e5)
PENALTY_FACTOR = 1.01
VIOLATION_TOLERANCE = 1e-9
EXCESS_TOLERANCE = 1e-9


class WidthDescent:
    """Tabu search state for one districting problem with compactness "diameter"."""

    def __init__(self, problem: DistrictProblem, assignment: np.ndarray, rng: np.random.Generator):
        self.problem = problem
        self.rng = rng

        self.distance = problem.distance_matrix
        # Units of different graph components are infinitely far apart but never share a territory, so
        # their pairs count no excess.
        finite = np.isfinite(self.distance)
        self.reach = self.distance if finite.all() else np.where(finite, self.distance, 0.0)
        self.k = problem.territory_count
        n = problem.unit_count
        hard = [band for band in problem.bands if band.hard]
        self.values = np.column_stack([band.values for band in hard]) if hard else np.zeros((n, 0))
        self.lower = np.column_stack([band.lower for band in hard]) if hard else np.zeros((self.k, 0))
        self.upper = np.column_stack([band.upper for band in hard]) if hard else np.zeros((self.k, 0))
        target = np.column_stack([band.target for band in hard]) if hard else np.ones((self.k, 0))
        self.scale = np.where(target > 0, target, 1.0)

        homes = problem.home_unit[problem.home_unit != NO_TERRITORY]
        self.movable = problem.locked == NO_TERRITORY
        self.movable[homes] = False
        self.neighbours = [row.tolist() for row in problem.graph.neighbours()]
        # Each neighbour pair once in both directions, even where the graph lists an edge twice.
        self.pair_from = np.repeat(np.arange(n), [len(row) for row in self.neighbours])
        self.pair_to = np.array([v for row in self.neighbours for v in row], dtype=np.int64)
        # NOTE: this n x n array, like the distance matrix, grows with the square of the unit count, so
        # the search suits a few thousand units, not every ZIP area of the country.
        self.adjacent = np.zeros((n, n), dtype=bool)
        self.adjacent[self.pair_from, self.pair_to] = True

        self.tabu = np.zeros((n, self.k), dtype=np.int64)
        self.iteration = 0
        self.penalty = PENALTY_START
        self.level = np.inf
        self.best: np.ndarray | None = None
        self.best_width = np.inf
        self.stuck = False   # True once the search cannot go on (see run)
        self.load(assignment)

    # -- state -------------------------------------------------------------------------------------------

    def load(self, assignment: np.ndarray) -> None:
        self.assignment = np.asarray(assignment, dtype=np.int64).copy()
        k, n = self.k, self.problem.unit_count
        self.sums = np.zeros((k, self.values.shape[1]))
        for column in range(self.values.shape[1]):
            self.sums[:, column] = np.bincount(self.assignment, weights=self.values[:, column], minlength=k)
        self.size = np.bincount(self.assignment, minlength=k)
        self.width = np.zeros(k)
        self.cut = np.zeros(n, dtype=bool)
        # touching[u, t]: how many neighbours unit u has in territory t.
        self.touching = np.zeros((n, k), dtype=np.int64)
        np.add.at(self.touching, (self.pair_from, self.assignment[self.pair_to]), 1)
        for t in range(k):
            self._refresh(t)
        self.violation = self._violation_of(self.sums, np.arange(k))
        self.set_level(self.level)

    def set_level(self, level: float) -> None:
        """Aim at plans no wider than ``level``; recompute each unit's excess over it towards every territory."""
        self.level = level
        n, k = self.problem.unit_count, self.k
        # excess[u, t]: the sum over units v of territory t of max(0, distance(u, v) - level).
        self.excess = np.zeros((n, k))
        if np.isfinite(level):
            membership = np.zeros((n, k))
            membership[np.arange(n), self.assignment] = 1.0
            for start in range(0, n, LEVEL_BLOCK_ROWS):
                rows = slice(start, start + LEVEL_BLOCK_ROWS)
                self.excess[rows] = np.maximum(self.reach[rows] - level, 0.0) @ membership
        units = np.arange(n)
        self.total_excess = float(self.excess[units, self.assignment].sum()) / 2

    def _violation_of(self, sums: np.ndarray, territories: np.ndarray) -> np.ndarray:
        below = np.maximum(self.lower[territories] - sums, 0.0)
        above = np.maximum(sums - self.upper[territories], 0.0)
        return ((below + above) / self.scale[territories]).sum(axis=1)

    def _refresh(self, t: int) -> None:
        """Recompute territory t's width and cut units after its members changed."""
        members = np.flatnonzero(self.assignment == t)
        self.width[t] = self.distance[np.ix_(members, members)].max() if len(members) > 1 else 0.0
        self.cut[members] = False
        self.cut[list(_cut_units(members, self.neighbours))] = True

    def move(self, unit: int, target: int, refresh: bool = True) -> None:
        """Move ``unit`` to territory ``target``; without ``refresh``, widths and cut units wait for the caller."""
        source = int(self.assignment[unit])
        self.total_excess += self.excess[unit, target] - self.excess[unit, source]
        if np.isfinite(self.level):
            over = np.maximum(self.reach[:, unit] - self.level, 0.0)
            self.excess[:, source] -= over
            self.excess[:, target] += over
        self.assignment[unit] = target
        self.sums[source] -= self.values[unit]
        self.sums[target] += self.values[unit]
        self.size[source] -= 1
        self.size[target] += 1
        around = self.neighbours[unit]
        self.touching[around, source] -= 1
        self.touching[around, target] += 1
        pair = np.array([source, target])
        self.violation[pair] = self._violation_of(self.sums[pair], pair)
        if refresh:
            self._refresh(source)
            self._refresh(target)

    # -- search ------------------------------------------------------------------------------------------

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the (unit, territory) pairs of every allowed move: a border unit into a neighbouring territory."""
        units, targets = np.nonzero(self.touching)
        keep = (targets != self.assignment[units]) & self.movable[units] & ~self.cut[units]
        units, targets = units[keep], targets[keep]
        keep = self.size[self.assignment[units]] > 1
        return units[keep], targets[keep]

    def swaps(self, units: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return index pairs (i, j) of moves that swap units across one border: i goes s -> t, j goes t -> s.

        Both territories stay connected: neither unit is a cut unit, and each joins its new territory
        through a neighbour other than the unit it changes places with.
        """
        sources = self.assignment[units]
        forward = sources * self.k + targets
        backward = targets * self.k + sources
        order = np.argsort(forward, kind="stable")
        sorted_keys = forward[order]
        first = np.searchsorted(sorted_keys, backward, side="left")
        last = np.searchsorted(sorted_keys, backward, side="right")
        count = last - first
        i = np.repeat(np.arange(len(units)), count)
        if i.size == 0:
            return i, i
        offsets = np.arange(i.size) - np.repeat(np.cumsum(count) - count, count)
        j = order[np.repeat(first, count) + offsets]
        keep = i < j
        i, j = i[keep], j[keep]
        u, v = units[i], units[j]
        linked = self.adjacent[u, v]
        keep = ((self.touching[v, sources[i]] - linked) > 0) & ((self.touching[u, targets[i]] - linked) > 0)
        return i[keep], j[keep]

    def run(self, deadline: float, max_iterations: int | None = None) -> tuple[np.ndarray | None, int]:
        """Search until ``deadline`` or for ``max_iterations``; return the best plan so far (or None) and the iterations.

        The best plan is the narrowest plan inside every band that this search has visited, over all
        its runs. ``stuck`` is True when the search cannot go on: no unit can move at all, or the best
        plan has width 0.
        """
        if self.violation.sum() <= VIOLATION_TOLERANCE and self.width.max() < self.best_width:
            self.best, self.best_width = self.assignment.copy(), float(self.width.max())
        if self.best_width <= 0:
            self.stuck = True
            return self.best, 0
        if time.monotonic() >= deadline:
            return self.best, 0
        if not np.isfinite(self.level):
            base = self.best_width if np.isfinite(self.best_width) else float(self.width.max())
            self.set_level(base * (1 - LEVEL_STEP))
        penalty = self.penalty
        start_iteration = self.iteration
        while time.monotonic() < deadline:
            if max_iterations is not None and self.iteration - start_iteration >= max_iterations:
                break
            self.iteration += 1
            units, targets = self.candidates()
            if units.size == 0:
                self.stuck = True
                break
            sources = self.assignment[units]
            gain = self.excess[units, targets] - self.excess[units, sources]
            first, second = self.swaps(units, targets)
            u, v = units[first], units[second]
            over = np.maximum(self.reach[u, v] - self.level, 0.0)
            swap_gain = gain[first] + gain[second] - 2 * over
            move_s = np.concatenate([sources, sources[first]])
            move_t = np.concatenate([targets, targets[first]])
            moved = np.concatenate([self.values[units], self.values[u] - self.values[v]])
            excess = self.total_excess + np.concatenate([gain, swap_gain])
            violation = (self.violation.sum() - self.violation[move_s] - self.violation[move_t]
                         + self._violation_of(self.sums[move_s] - moved, move_s)
                         + self._violation_of(self.sums[move_t] + moved, move_t))
            # The level is positive once a plan has a positive width, and a width of 0 ends the search.
            score = excess + penalty * (self.level if self.level > 0 else 1.0) * violation
            better = (violation <= VIOLATION_TOLERANCE) & (excess <= EXCESS_TOLERANCE)
            free = self.tabu[units, targets] <= self.iteration
            allowed = np.concatenate([free, free[first] & free[second]]) | better
            if not allowed.any():
                continue
            score = np.where(allowed, score + self.rng.random(score.size) * 1e-9 * self.level, np.inf)
            choice = int(np.argmin(score))
            if choice < len(units):
                self._apply(int(units[choice]), int(targets[choice]))
            else:
                pair = choice - len(units)
                self._apply(int(u[pair]), int(targets[first[pair]]), refresh=False)
                self._apply(int(v[pair]), int(sources[first[pair]]))
            if self.violation.sum() <= VIOLATION_TOLERANCE:
                penalty = max(PENALTY_RANGE[0], penalty / PENALTY_FACTOR)
                width = float(self.width.max())
                if width < self.best_width - 1e-12:
                    self.best, self.best_width = self.assignment.copy(), width
                    self.set_level(width * (1 - LEVEL_STEP))
            else:
                penalty = min(PENALTY_RANGE[1], penalty * PENALTY_FACTOR)
        self.penalty = penalty
        logger.debug("width descent: %d iterations, best width %s", self.iteration - start_iteration,
                     self.best_width)
        return self.best, self.iteration - start_iteration

    def _apply(self, unit: int, target: int, refresh: bool = True) -> None:
        self.tabu[unit, self.assignment[unit]] = self.iteration + int(self.rng.integers(*TENURE_RANGE))
        self.move(unit, target, refresh)


def _cut_units(members: np.ndarray, neighbours: list[list[int]]) -> set[int]:
    """Return the members whose removal splits their territory (articulation points of its subgraph)."""
    if len(members) < 3:
        return set()
    inside = set(members.tolist())
    root = int(members[0])
    # Depth-first search: order is each unit's visiting rank, low the smallest rank its subtree reaches.
    order = {root: 0}
    low = {root: 0}
    cut: set[int] = set()
    root_children = 0
    stack = [(root, -1, iter(neighbours[root]))]

    while stack:
        unit, parent, pending = stack[-1]
        descended = False
        for other in pending:
            if other not in inside:
                continue
            rank = order.get(other)
            if rank is None:
                order[other] = low[other] = len(order)
                stack.append((other, unit, iter(neighbours[other])))
                descended = True
                break
            if other != parent and rank < low[unit]:
                low[unit] = rank
        if descended:
            continue

        stack.pop()
        if stack:
            above = stack[-1][0]
            if low[unit] < low[above]:
                low[above] = low[unit]
            if above == root:
                root_children += 1
            elif low[unit] >= order[above]:
                cut.add(above)

    if root_children > 1:
        cut.add(root)
    return cut
