"""Large-neighbourhood rounds over a plan: local rounds around a few bases, global rounds over all."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from optimizer.bases.cpsat import (Plan, Progress, SubResult, rank_within_point, report_progress, solve_sub_problem,
                                   sub_cost)
from optimizer.bases.problem import BaseProblem, plan_objective, real_units
from optimizer.bases.relaxation import Duals, Pairs, nearest_pairs, unique_pairs

logger = logging.getLogger(__name__)

ROUND_WORK = 1.0
LOCAL_PHASE_WORK = 2.0
GLOBAL_ROUND_WORK = 8.0
FIRST_GLOBAL_SITES = 10
GLOBAL_SITES_STEP = 5
SEARCH_SITES_PER_POINT = 40
FIRST_NEIGHBOURHOOD = 3
MAX_NEIGHBOURHOOD_BASES = 6
FIXED_BASES = 4
POOL_SITES = 10
MAX_GLOBAL_SITES = 20
KICK_BASES = 2
MAX_KICKS_IN_VAIN = 8


@dataclass
class Neighbourhood:
    """A sub-problem: the points of a few bases, the sites they may use, and the current plan as hint."""

    pairs: Pairs
    free: np.ndarray             # sites CP-SAT may open
    open_count: int              # how many of them
    fixed: np.ndarray            # bases open elsewhere that may take freed points
    residual: np.ndarray         # their capacity left
    touched: set[int]            # every site above; neighbourhoods of one round share none
    hint: dict[int, int]         # the current site of each freed point


class NeighbourhoodSearch:
    """Large-neighbourhood rounds over one plan, which they improve in place.

    Local rounds free a few neighbouring bases (one neighbourhood per worker thread). Global rounds
    free every base but keep each point's `sites_per_point` nearest sites only, so CP-SAT can move
    bases across the whole map. Each global round without improvement widens that list.
    """

    def __init__(self, problem: BaseProblem, pairs: Pairs, plan: Plan, seed: int, workers: int, deadline: float,
                 started: float, progress: Progress | None, bound_units: float | None, duals: Duals | None = None):
        m = problem.site_count
        self.problem, self.plan, self.seed, self.workers = problem, plan, seed, workers
        self.deadline, self.started, self.progress, self.bound_units = deadline, started, progress, bound_units
        near = nearest_pairs(problem, min(m, SEARCH_SITES_PER_POINT))
        current = Pairs.build(problem, np.arange(problem.point_count), plan.site_of)
        self.pairs = unique_pairs(pairs.extend(near).extend(current), m)
        self.rank = rank_within_point(self.pairs)
        if duals is not None:
            # A pair counts as near when it is among the nearest or among the lowest reduced costs of
            # its point: the capacity duals make some farther pairs as useful as near ones.
            reduced = (self.pairs.cost - duals.assign[self.pairs.point]
                       - problem.demand[self.pairs.point] * duals.capacity[self.pairs.site])
            self.rank = np.minimum(self.rank, rank_within_point(self.pairs, reduced))
        self.rng = np.random.default_rng(seed)
        self.size = min(FIRST_NEIGHBOURHOOD, problem.count)
        self.sites_per_point = FIRST_GLOBAL_SITES
        self.work, self.rounds = 0.0, 0
        self.queue: list[int] = []
        self.best = Plan(plan.site_of.copy(), plan.cost)
        self.global_settled = False
        self.kicks = 0
        self.kicks_in_vain = 0

    def run(self, budget: float) -> None:
        """Alternate local phases and global rounds until `budget` work units are spent.

        Once global rounds over the widest lists find nothing, a kick (see ``kick``) follows each
        local phase that finds nothing too. The search stops after MAX_KICKS_IN_VAIN kicks in a row
        without a better plan. The best plan found is left in ``plan``.
        """
        widest = min(int(self.rank.max()) + 1, MAX_GLOBAL_SITES)
        while self.work < budget and time.monotonic() < self.deadline:
            before = self.best.cost
            self.local_phase(min(budget, self.work + LOCAL_PHASE_WORK))
            if self.work >= budget or time.monotonic() >= self.deadline:
                break
            if self.global_settled:
                if self.best.cost < before:
                    self.kicks_in_vain = 0
                elif self.kicks_in_vain >= MAX_KICKS_IN_VAIN:
                    break   # settled: give the rest of the work to the proof
                else:
                    self.kicks_in_vain += 1
                    self.kick(min(ROUND_WORK, budget - self.work))
                continue
            status, improved = self.global_round(min(GLOBAL_ROUND_WORK, budget - self.work))
            if not improved:
                if self.sites_per_point >= widest:
                    self.global_settled = True
                self.sites_per_point = min(widest, self.sites_per_point + GLOBAL_SITES_STEP)
        if self.best.cost < self.plan.cost:
            self.plan = Plan(self.best.site_of.copy(), self.best.cost)
        logger.info("large-neighbourhood search: %d rounds, cost %d, %d bases per neighbourhood, %d sites per "
                    "point in global rounds, %d kicks, work %.1f", self.rounds, self.plan.cost, self.size,
                    self.sites_per_point, self.kicks, self.work)

    def local_phase(self, work_until: float) -> None:
        """Run local rounds until `work_until`, or until neighbourhoods of the largest size are settled."""
        count = self.problem.count
        largest = min(count, MAX_NEIGHBOURHOOD_BASES)
        settled = 0
        while self.work < work_until and time.monotonic() < self.deadline:
            results, neighbourhoods = self.local_round(min(ROUND_WORK, max(0.05, work_until - self.work)))
            if self.apply(neighbourhoods, results):
                settled = 0
            elif all(result.status == "optimal" for result in results):
                settled += len(results)
                if settled >= count:
                    if self.size >= largest:
                        return
                    self.size += 1
                    settled = 0
            elif self.size > 2:
                self.size -= 1

    def local_round(self, work_limit: float) -> tuple[list[SubResult], list[Neighbourhood]]:
        bases = np.unique(self.plan.site_of)
        neighbourhoods: list[Neighbourhood] = []
        used_sites: set[int] = set()
        while len(neighbourhoods) < self.workers:
            if not self.queue:
                if neighbourhoods:
                    break
                self.queue = self.rng.permutation(bases).tolist()
            centre = self.queue.pop()
            if centre not in bases or centre in used_sites:
                continue
            neighbourhood = build_neighbourhood(self.problem, self.pairs, self.rank, self.plan, bases, centre,
                                                self.size, used_sites, self.rng)
            if neighbourhood is not None:
                neighbourhoods.append(neighbourhood)
                used_sites |= neighbourhood.touched

        def solve(k: int) -> SubResult:
            n = neighbourhoods[k]
            return solve_sub_problem(self.problem, n.pairs, n.free, n.open_count, n.fixed, n.residual, n.hint,
                                     work_limit, self.seed + self.rounds + k, 1, self.deadline)

        with ThreadPoolExecutor(max_workers=len(neighbourhoods)) as pool:
            results = list(pool.map(solve, range(len(neighbourhoods))))
        self.rounds += 1
        self.work += max(result.work for result in results)
        return results, neighbourhoods

    def global_round(self, work_limit: float) -> tuple[str, bool]:
        problem, plan = self.problem, self.plan
        everyone = np.arange(problem.point_count)
        keep = self.rank < self.sites_per_point
        pairs = unique_pairs(Pairs(self.pairs.point[keep], self.pairs.site[keep], self.pairs.cost[keep])
                        .extend(Pairs.build(problem, everyone, plan.site_of)), problem.site_count)
        hint = {int(i): int(s) for i, s in enumerate(plan.site_of)}
        neighbourhood = Neighbourhood(pairs, np.arange(problem.site_count), problem.count,
                                       np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), set(), hint)
        result = solve_sub_problem(problem, pairs, neighbourhood.free, problem.count, neighbourhood.fixed,
                                   neighbourhood.residual, hint, work_limit, self.seed + self.rounds, self.workers,
                                   self.deadline, interleave=True)
        self.rounds += 1
        self.work += result.work
        improved = self.apply([neighbourhood], [result])
        logger.debug("global round over %d sites per point: %s, cost %s", self.sites_per_point, result.status,
                     result.cost)
        return result.status, improved

    def kick(self, work_limit: float) -> None:
        """Close one base at random and re-solve its neighbourhood without it, accepting a worse plan.

        A settled search can leave its local optimum this way; ``best`` keeps the best plan found.
        """
        problem = self.problem
        bases = np.unique(self.plan.site_of)
        if len(bases) < 2:
            return
        centre = int(self.rng.choice(bases))
        n = build_neighbourhood(problem, self.pairs, self.rank, self.plan, bases, centre,
                                min(KICK_BASES, problem.count), set(), self.rng)
        keep = n.pairs.site != centre
        pairs = Pairs(n.pairs.point[keep], n.pairs.site[keep], n.pairs.cost[keep])
        result = solve_sub_problem(problem, pairs, n.free[n.free != centre], n.open_count, n.fixed, n.residual,
                                   n.hint, work_limit, self.seed + self.rounds, 1, self.deadline)
        self.rounds += 1
        self.kicks += 1
        self.work += result.work
        if result.site_of is None:
            return
        for point, site in result.site_of.items():
            self.plan.site_of[point] = site
        self.plan.cost += result.cost - sub_cost(n.pairs, n.hint)
        self.size = min(FIRST_NEIGHBOURHOOD, problem.count)

    def apply(self, neighbourhoods: list[Neighbourhood], results: list[SubResult]) -> bool:
        """Apply every improving result (their neighbourhoods share no site); return whether any did."""
        improved = False
        for neighbourhood, result in zip(neighbourhoods, results, strict=True):
            current = sub_cost(neighbourhood.pairs, neighbourhood.hint)
            if result.site_of is not None and result.cost < current:
                for point, site in result.site_of.items():
                    self.plan.site_of[point] = site
                self.plan.cost -= current - result.cost
                improved = True
        if improved and self.plan.cost < self.best.cost:
            self.best = Plan(self.plan.site_of.copy(), self.plan.cost)
        if improved:
            report_progress(self.progress, "search", self.started, plan_objective(self.problem, self.plan.site_of),
                    real_units(self.problem, self.bound_units))
        return improved


def build_neighbourhood(problem: BaseProblem, pairs: Pairs, rank: np.ndarray, plan: Plan, bases: np.ndarray,
                        centre: int, size: int, used_sites: set[int], rng: np.random.Generator) -> Neighbourhood | None:
    """Return the sub-problem that frees base `centre`, `size` - 1 bases near it and their points.

    The freed points may go to any site among their POOL_SITES nearest that is not open elsewhere
    (CP-SAT opens `size` of them), or to a base open elsewhere with capacity left. Returns None when
    every such base is taken by another neighbourhood of the same round.
    """
    members = np.flatnonzero(plan.site_of == centre)
    others = bases[(bases != centre) & ~np.isin(bases, list(used_sites))]
    if members.size and others.size:
        points = np.repeat(members, len(others))
        distance = problem.distances.between(points, np.tile(others, len(members))).reshape(len(members), len(others))
        by_distance = others[np.argsort(distance.min(axis=0), kind="stable")]
    else:
        by_distance = others
    near = by_distance[:size]
    # One extra near base to choose from, so that a centre does not always free the same bases.
    nearest = np.sort(rng.choice(near, size=min(size - 1, len(near)), replace=False)) if len(near) else near
    freed_bases = np.concatenate([[centre], nearest]).astype(np.int64)
    points = np.flatnonzero(np.isin(plan.site_of, freed_bases))
    of_points = np.isin(pairs.point, points)
    close = of_points & (rank < POOL_SITES)
    open_elsewhere = np.setdiff1d(bases, freed_bases)
    blocked = np.array(sorted(used_sites), dtype=np.int64)
    free = np.setdiff1d(np.setdiff1d(np.union1d(np.unique(pairs.site[close]), freed_bases), open_elsewhere), blocked)
    neighbours = by_distance[~np.isin(by_distance, freed_bases)][:FIXED_BASES]
    fixed = np.setdiff1d(np.union1d(np.intersect1d(np.unique(pairs.site[close]), open_elsewhere), neighbours), blocked)
    if not np.all(np.isin(freed_bases, free)):
        return None
    # Each freed point may go to its nearest sites, to every freed base and to the open bases nearby.
    reach = np.concatenate([freed_bases, fixed])
    sub = Pairs(pairs.point[close], pairs.site[close], pairs.cost[close])
    sub = sub.extend(Pairs.build(problem, np.repeat(points, len(reach)), np.tile(reach, len(points))))
    sub = unique_pairs(sub.extend(Pairs.build(problem, points, plan.site_of[points])), problem.site_count)
    sub = Pairs(sub.point[np.isin(sub.site, np.concatenate([free, fixed]))],
                sub.site[np.isin(sub.site, np.concatenate([free, fixed]))],
                sub.cost[np.isin(sub.site, np.concatenate([free, fixed]))])
    loads = np.bincount(plan.site_of, weights=problem.demand, minlength=problem.site_count)
    residual = problem.capacity[fixed] - loads[fixed].astype(np.int64)
    hint = {int(i): int(plan.site_of[i]) for i in points}
    return Neighbourhood(sub, free, len(freed_bases), fixed, residual, set(free.tolist()) | set(fixed.tolist()), hint)
