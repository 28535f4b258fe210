"""Start plans: bases from LP diving (or the hubs, without the LP), points assigned by CP-SAT."""

from __future__ import annotations

import logging
import time

import numpy as np

from optimizer.bases.cpsat import Plan, Progress, plan_cost, solve_sub_problem
from optimizer.bases.problem import BaseProblem
from optimizer.bases.relaxation import Pairs, Relaxation, unique_pairs
from optimizer.errors import InfeasibleError

logger = logging.getLogger(__name__)

DIVE_SHARE_OF_TIME = 0.5
START_WORK = 5.0
NEAREST_START_SITES = 8
# The start searches every pair when the candidate pairs hold no plan, up to this many pairs.
ALL_PAIRS_SEARCH_LIMIT = 200_000


def start_plan(problem: BaseProblem, relaxation: Relaxation, pairs: Pairs, seed: int, deadline: float,
               started: float, progress: Progress | None) -> tuple[Plan | None, float]:
    """Open the `count` sites with the largest LP values and assign the points to them with CP-SAT.

    When that opening cannot hold every point, CP-SAT searches the whole candidate model instead,
    hinted with the same opening.
    """
    m, count = problem.site_count, problem.count
    if relaxation.model is not None and relaxation.status == "optimal":
        chosen = _dive(problem, relaxation, started + (deadline - started) * DIVE_SHARE_OF_TIME)
    else:
        opening = relaxation.y if relaxation.y.any() else np.bincount(pairs.site, minlength=m).astype(float)
        chosen = np.sort(np.argsort(-opening, kind="stable")[:count])
    assign_pairs = _pairs_to(problem, pairs, chosen)
    result = solve_sub_problem(problem, assign_pairs, np.zeros(0, dtype=np.int64), 0, chosen,
                               problem.capacity[chosen], None, START_WORK, seed, 1, deadline)
    work = result.work
    if result.site_of is None:
        logger.info("the LP's opening cannot hold every point (%s); searching the full model", result.status)
        cheapest = np.lexsort((assign_pairs.cost, assign_pairs.point))
        first = np.searchsorted(assign_pairs.point[cheapest], np.arange(problem.point_count))
        hint = dict(zip(range(problem.point_count), assign_pairs.site[cheapest[first]].tolist(), strict=True))
        result = solve_sub_problem(problem, pairs, np.arange(m), count, np.zeros(0, dtype=np.int64), np.zeros(0),
                                   hint, 3 * START_WORK, seed, 1, deadline)
        work += result.work
        if result.status == "infeasible" and len(pairs) < problem.point_count * m <= ALL_PAIRS_SEARCH_LIMIT:
            logger.info("no plan over the candidate pairs; searching every pair")
            pairs = Pairs.build(problem, np.repeat(np.arange(problem.point_count), m), np.tile(np.arange(m),
                                                                                             problem.point_count))
            result = solve_sub_problem(problem, pairs, np.arange(m), count, np.zeros(0, dtype=np.int64),
                                       np.zeros(0), hint, 3 * START_WORK, seed, 1, deadline)
            work += result.work
        if result.status == "infeasible" and len(pairs) == problem.point_count * m:
            raise InfeasibleError([f"the demands cannot be split among {count} bases without exceeding a capacity, "
                                   f"although their total ({problem.amount(problem.demand.sum())}) fits"],
                                  ["ask for more bases or raise the capacity"])
        if result.site_of is None:
            return None, work
        assign_pairs = pairs
    site_of = np.array([result.site_of[i] for i in range(problem.point_count)], dtype=np.int64)
    return Plan(site_of, plan_cost(assign_pairs, m, site_of)), work


def _pairs_to(problem: BaseProblem, pairs: Pairs, sites: np.ndarray) -> Pairs:
    """Return the candidate pairs to `sites`, plus each point's NEAREST_START_SITES nearest of them, so
    every point has somewhere to go even where the nearest bases are full."""
    keep = np.isin(pairs.site, sites)
    n = problem.point_count
    near = min(NEAREST_START_SITES, len(sites))
    points = np.repeat(np.arange(n), len(sites))
    distance = problem.distances.between(points, np.tile(sites, n)).reshape(n, len(sites))
    nearest = sites[np.argsort(distance, axis=1, kind="stable")[:, :near]]
    extra = Pairs.build(problem, np.repeat(np.arange(n), near), nearest.ravel())
    return unique_pairs(Pairs(pairs.point[keep], pairs.site[keep], pairs.cost[keep]).extend(extra), problem.site_count)


def _dive(problem: BaseProblem, relaxation: Relaxation, deadline: float) -> np.ndarray:
    """Return `count` sites found by LP diving: open the sites the LP opens fully, and the most open
    fractional site, solve the LP again, and repeat until `count` sites are open."""
    model = relaxation.model
    count = problem.count
    opened: list[int] = []
    closed: list[int] = []
    values = relaxation.y.copy()
    while len(opened) < count and time.monotonic() < deadline:
        free = np.setdiff1d(np.arange(problem.site_count), np.array(opened + closed, dtype=np.int64))
        order = free[np.argsort(-values[free], kind="stable")]
        full = [int(s) for s in order if values[s] >= 1 - 1e-6]
        # Open the sites the LP opens fully, else the most open eighth of the sites still to open.
        step = full if full else [int(s) for s in order[: max(1, (count - len(opened)) // 8)]]
        opened += step[: count - len(opened)]
        model.fix_sites(np.array(opened, dtype=np.int64), np.array(closed, dtype=np.int64))
        status = model.solve(deadline - time.monotonic())
        if status == "infeasible":
            # The last step closed off every feasible plan: keep its first site closed instead.
            last = step[0]
            opened = [s for s in opened if s not in step]
            closed.append(last)
            model.fix_sites(np.array(opened, dtype=np.int64), np.array(closed, dtype=np.int64))
            status = model.solve(deadline - time.monotonic())
        if status != "optimal":
            break
        values = model.site_values()
        logger.debug("dive: %d of %d sites open, LP %.1f", len(opened), count, model.solver.Objective().Value())
    model.fix_sites(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if len(opened) < count:
        rest = np.setdiff1d(np.argsort(-values, kind="stable"), np.array(opened, dtype=np.int64), assume_unique=True)
        opened += [int(s) for s in rest if s not in closed][: count - len(opened)]
    return np.sort(np.array(opened, dtype=np.int64))
