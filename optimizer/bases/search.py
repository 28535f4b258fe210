"""CP-SAT search for the capacitated p-median: a start, large-neighbourhood rounds, a proof.

1. ``check_feasibility`` rejects requests no plan can meet, with the numbers.
2. Bound. Up to LP_MAX_PAIRS (point, site) pairs: the LP relaxation over each point's nearest
   sites, priced until no pair is missing. If pruning made it infeasible, pairs to hubs spread over
   the map are added, then the lists widened. Larger problems get a Lagrangian bound instead, at the
   end, because GLOP needs minutes on their LP.
3. Start: LP diving (or, without the LP, the first hubs) chooses the bases; CP-SAT assigns the points.
4. Large-neighbourhood rounds. Local rounds free a few neighbouring bases and their points, and let
   CP-SAT choose as many bases again nearby and reassign those points. Each worker thread searches
   its own neighbourhood. The neighbourhoods of one round share no site, so every improvement found
   is applied. Global rounds free every base but offer each point only its nearest sites. When
   neither finds more, kicks close a random base and accept a worse plan to leave the local optimum.
5. Proof (with the LP): CP-SAT over every pair whose reduced cost is below the gap, hinted with the
   best plan. Its bound is then valid for the full problem, and "optimal" means proven.

CP-SAT runs without presolve here: presolve turns each link x <= y into a clause, which CP-SAT leaves
out of its own LP relaxation, and without those links that LP is so weak that small models take
minutes instead of a second.

Every CP-SAT call stops on a deterministic work limit, so the same problem, seed and worker count
give the same plan unless the wall-clock time limit, a guard against a slow or busy machine, cuts
the search first.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from optimizer.bases.cpsat import Plan, Progress, rank_within_point, report_progress, solve_sub_problem
from optimizer.bases.lagrangian import dense_costs, lagrangian_bound
from optimizer.bases.neighbourhoods import NeighbourhoodSearch
from optimizer.bases.problem import (BasePlan, BaseProblem, check_base_plan, check_feasibility, plan_objective,
                                     real_units, rounding_slack)
from optimizer.bases.relaxation import (Pairs, Relaxation, hub_pairs, hub_sites, nearest_pairs, solve_relaxation,
                                        unique_pairs)
from optimizer.bases.start import start_plan
from optimizer.errors import InfeasibleError, SolverError

logger = logging.getLogger(__name__)

# Every pair goes into the model up to this many pairs; above it, each point's nearest sites.
ALL_PAIRS_LIMIT = 12_000
SITES_PER_POINT = 20
HUBS_PER_BASE = 2
HUBS_PER_POINT = 5
# Above this many (point, site) pairs the LP is too slow for GLOP; a Lagrangian bound replaces it.
LP_MAX_PAIRS = 200_000
DENSE_COST_LIMIT = 25_000_000
LAGRANGIAN_SHARE_OF_TIME = 0.15
LP_SHARE_OF_TIME = 0.3
# CP-SAT deterministic work units allowed per second of the time limit. On the 2-core machine of
# docs/benchmarks.md, busy with other jobs, the rounds did about 0.5 to 0.8 units per wall-clock second.
WORK_PER_SECOND = 0.6
PROOF_SHARE_OF_WORK = 0.25
ROUND_WORK = 1.0
PROOF_MAX_PAIRS_PER_POINT = 60


def solve_bases(problem: BaseProblem, time_limit_s: float = 60.0, *, seed: int = 0, workers: int = 2,
                progress: Progress | None = None) -> BasePlan:
    """Choose `problem.count` bases and assign every point; raise InfeasibleError or SolverError."""
    if time_limit_s <= 0:
        raise SolverError(f"the time limit must be positive, got {time_limit_s:g} s")
    started = time.monotonic()
    deadline = started + time_limit_s
    check_feasibility(problem)
    budget = WORK_PER_SECOND * time_limit_s

    use_lp = problem.point_count * problem.site_count <= LP_MAX_PAIRS
    if use_lp:
        relaxation, pairs = _relaxation(problem, time_limit_s * LP_SHARE_OF_TIME, started, progress)
    else:
        relaxation, pairs = _without_lp(problem)
    bound_units = relaxation.bound
    report_progress(progress, "start", started, None, real_units(problem, bound_units))

    plan, work = start_plan(problem, relaxation, pairs, seed, deadline, started, progress)
    if plan is None:
        raise SolverError(f"no plan found within the time limit of {time_limit_s:g} s; give more time")
    logger.info("start plan: cost %d (work %.1f)", plan.cost, work)
    report_progress(progress, "search", started, plan_objective(problem, plan.site_of),
                    real_units(problem, bound_units))

    # Without the LP, the Lagrangian bound runs last, on the best plan's costs, in time kept for it.
    bound_time = 0.0 if use_lp else LAGRANGIAN_SHARE_OF_TIME * time_limit_s
    search = NeighbourhoodSearch(problem, pairs, plan, seed, workers, deadline - bound_time, started, progress,
                                 bound_units, relaxation.duals)
    # Without LP duals no pair can be ruled out, so the proof search would prove nothing: the rounds
    # get its share of the work too.
    search.run((1.0 - PROOF_SHARE_OF_WORK if use_lp else 1.0) * budget - work)
    plan, rounds = search.plan, search.rounds
    work += search.work

    real_bound = None
    proof = _proof_pairs(problem, relaxation, pairs, plan) if use_lp else None
    if use_lp and proof is None:
        # Too many pairs could still improve the plan for a proof to finish: search on instead.
        before = search.work
        search.run(before + budget - work)
        plan, rounds = search.plan, search.rounds
        work += search.work - before
        status, proof_pairs, source = "feasible", len(search.pairs), "lp"
    elif use_lp:
        status, plan, bound_units, proof_work, proof_pairs, source = _prove(
            problem, relaxation, proof, plan, max(ROUND_WORK, budget - work), seed, workers, deadline)
        work += proof_work
    else:
        report_progress(progress, "lower bound", started, plan_objective(problem, plan.site_of), None)
        real_bound = _lagrangian(problem, plan, max(1.0, deadline - time.monotonic()))
        status, proof_pairs, source = "feasible", len(search.pairs), "lagrangian" if real_bound is not None else "none"
    return _result(problem, plan, status, bound_units, real_bound, source, started, seed, workers, relaxation,
                   work, proof_pairs, rounds)


def _relaxation(problem: BaseProblem, time_limit_s: float, started: float,
                progress: Progress | None) -> tuple[Relaxation, Pairs]:
    n, m = problem.point_count, problem.site_count
    per_point = m if n * m <= ALL_PAIRS_LIMIT else min(m, SITES_PER_POINT)
    report_progress(progress, "relaxation", started, None, None)
    hubs = None
    while True:
        pairs = nearest_pairs(problem, per_point)
        pairs = unique_pairs(pairs.extend(hubs), m) if hubs is not None else pairs
        relaxation = solve_relaxation(problem, pairs, max(1.0, time_limit_s - (time.monotonic() - started)))
        if relaxation.status != "infeasible" or per_point >= m:
            break
        # Pruning to the nearest sites may have cut off every feasible plan: add pairs to hubs spread
        # over the map, then widen the lists, before giving up.
        if hubs is None:
            logger.info("LP infeasible with %d sites per point; adding hubs", per_point)
            hubs = hub_pairs(problem, hub_sites(problem, HUBS_PER_BASE * problem.count))
        else:
            logger.info("LP infeasible with %d sites per point and hubs; widening", per_point)
            per_point = min(m, per_point * 3)
    if relaxation.status == "infeasible":
        raise InfeasibleError([f"no assignment of the {n} points to {problem.count} of the {m} sites keeps every "
                               "base within its capacity, even with fractional assignments"],
                              ["ask for more bases or raise the capacity"])
    return relaxation, relaxation.pairs if relaxation.status == "optimal" else pairs


def _without_lp(problem: BaseProblem) -> tuple[Relaxation, Pairs]:
    """Return the candidate pairs (nearest sites and hubs) and, as opening scores, the hubs in order."""
    m = problem.site_count
    hubs = hub_sites(problem, HUBS_PER_BASE * problem.count)
    # Each point gets pairs to its nearest hubs only: pairs to every hub would be points x hubs.
    to_hubs = hub_pairs(problem, hubs)
    near_hubs = rank_within_point(to_hubs) < HUBS_PER_POINT
    pairs = nearest_pairs(problem, min(m, SITES_PER_POINT))
    pairs = unique_pairs(pairs.extend(Pairs(to_hubs.point[near_hubs], to_hubs.site[near_hubs],
                                            to_hubs.cost[near_hubs])), m)
    opening = np.zeros(m)
    opening[hubs] = np.arange(len(hubs), 0, -1)
    return Relaxation("skipped", None, pairs, np.zeros(len(pairs)), opening, None, 0, 0.0), pairs


def _lagrangian(problem: BaseProblem, plan: Plan, time_limit_s: float) -> float | None:
    """Return a Lagrangian lower bound in real units, or None when the cost matrix is too large."""
    if problem.point_count * problem.site_count > DENSE_COST_LIMIT:
        logger.info("no lower bound: %d x %d costs are too many to keep in memory", problem.point_count,
                    problem.site_count)
        return None
    costs = dense_costs(problem)
    return lagrangian_bound(problem, costs, plan.site_of, time_limit_s).bound


def _proof_pairs(problem: BaseProblem, relaxation: Relaxation, pairs: Pairs, plan: Plan) -> Pairs | None:
    """Return the candidate pairs plus every pair whose reduced cost is below the gap, or None when
    those are more than PROOF_MAX_PAIRS_PER_POINT a point (or the LP gave no duals)."""
    if relaxation.duals is None or relaxation.bound is None:
        return None
    below = _pairs_below(problem, relaxation, plan.cost - relaxation.bound)
    if len(below) > PROOF_MAX_PAIRS_PER_POINT * problem.point_count:
        logger.info("%d pairs could improve the plan; too many to search them all", len(below))
        return None
    plan_pairs = Pairs.build(problem, np.arange(problem.point_count), plan.site_of)
    return unique_pairs(pairs.extend(plan_pairs).extend(below), problem.site_count)


def _prove(problem: BaseProblem, relaxation: Relaxation, search: Pairs, plan: Plan, work_limit: float, seed: int,
           workers: int, deadline: float) -> tuple[str, Plan, float | None, float, int, str]:
    """Search `search`, which contains every pair that could still improve `plan`; return status, plan,
    bound, work, pairs searched and the bound's source."""
    m = problem.site_count
    bound = relaxation.bound
    if time.monotonic() >= deadline or work_limit <= 0:
        return "feasible", plan, bound, 0.0, len(search), "lp"

    hint = {int(i): int(s) for i, s in enumerate(plan.site_of)}
    result = solve_sub_problem(problem, search, np.arange(m), problem.count, np.zeros(0, dtype=np.int64),
                               np.zeros(0), hint, work_limit, seed, workers, deadline, interleave=True)
    logger.info("proof search over %d pairs: %s, cost %s, bound %s, work %.1f", len(search), result.status,
                result.cost, result.bound, result.work)
    if result.site_of is not None and result.cost < plan.cost:
        plan = Plan(np.array([result.site_of[i] for i in range(problem.point_count)], dtype=np.int64), result.cost)
    source = "lp"
    if result.bound is not None:
        # A better plan needs either only searched pairs (cost >= CP-SAT's bound) or an unsearched one
        # (cost >= LP bound + its reduced cost >= the plan's cost).
        cp_bound = min(float(result.bound), float(plan.cost))
        if bound is None or cp_bound > bound:
            bound, source = cp_bound, "cp-sat"
    status = "optimal" if result.status == "optimal" else "feasible"
    return status, plan, bound, result.work, len(search), source


def _pairs_below(problem: BaseProblem, relaxation: Relaxation, gap: float) -> Pairs:
    """Return every pair whose LP reduced cost is below `gap` (priced with the lower distance bound)."""
    n, m = problem.point_count, problem.site_count
    duals = relaxation.duals
    demand = problem.demand.astype(float)
    points, sites = [], []
    block_size = max(1, 2_000_000 // max(1, m))
    for start in range(0, n, block_size):
        block = np.arange(start, min(start + block_size, n))
        cost = problem.distances.lower_rows(block) * problem.point_weight(block)[:, None] * problem.cost_scale
        reduced = np.rint(cost) - duals.assign[block, None] - demand[block, None] * duals.capacity[None, :]
        rows, columns = np.nonzero(reduced < gap)
        points.append(block[rows])
        sites.append(columns)
    return Pairs.build(problem, np.concatenate(points), np.concatenate(sites))


def _result(problem: BaseProblem, plan: Plan, status: str, bound_units: float | None, real_bound: float | None,
            source: str, started: float, seed: int, workers: int, relaxation: Relaxation, work: float, pairs: int,
            rounds: int) -> BasePlan:
    bases = np.unique(plan.site_of)
    if len(bases) < problem.count:
        # An empty base is as good as any: open the lowest unused sites to reach exactly `count`.
        spare = np.setdiff1d(np.arange(problem.site_count), bases)[: problem.count - len(bases)]
        bases = np.sort(np.concatenate([bases, spare]))
    violations = check_base_plan(problem, bases, plan.site_of)
    if violations:
        raise SolverError("the solver's plan breaks rules it should keep (please report this):\n  - "
                          + "\n  - ".join(violations[:20]))
    objective = plan_objective(problem, plan.site_of)
    lower_bound = real_units(problem, bound_units)
    if real_bound is not None:
        lower_bound = real_bound if lower_bound is None else max(lower_bound, real_bound)
    exact = rounding_slack(problem) == 0
    if lower_bound is not None and exact and problem.cost_scale == 1:
        lower_bound = float(math.ceil(lower_bound - 1e-6))   # every plan's cost is an integer
    if lower_bound is not None:
        lower_bound = min(lower_bound, objective)
    if status == "optimal" and not exact:
        status = "feasible"   # proven only for the costs rounded to integers
    gap = (objective - lower_bound) / objective if lower_bound is not None and objective > 0 else (
        0.0 if lower_bound is not None else None)
    elapsed = time.monotonic() - started
    logger.info("bases: %s, objective %.3f, lower bound %s, gap %s, %.1f s", status, objective, lower_bound,
                f"{gap:.4%}" if gap is not None else "none", elapsed)
    return BasePlan(status, bases, plan.site_of.copy(), objective, lower_bound, gap, elapsed, seed, workers,
                    relaxation.time_s, work, pairs, rounds, source)
