"""The solving strategy: pre-check, LP relaxation with column generation, then CP-SAT from the LP's rounding.

1. ``check_feasibility`` rejects requests that cannot work, with numbers.
2. The LP relaxation over each account's nearest eligible reps, with priced columns added until no
   eligible pair has a negative reduced cost. Its optimum is the plan's lower bound.
   When capacity is the only rule on a rep, ``lagrangian.column_search`` may prove an optimal plan
   or a tighter bound first.
3. CP-SAT searches the accounts the LP splits and those cheapest to move, hinted with each account's
   largest LP value. Each worker runs one single-threaded search with its own seed and neighbourhood.
4. If every pair left out of CP-SAT has a reduced cost above the remaining gap, no better plan can use
   it, so CP-SAT's own bound is valid for the full problem too.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import ortools

from optimizer.errors import InfeasibleError, SolverError
from optimizer.feasibility import check_feasibility, format_percent
from optimizer.instance import COST_SCALE, NO_REP, Instance
from optimizer.scenario import SolverSettings
from optimizer.solve.candidates import (Pairs, cheapest_pair_bound, count_open_pairs_below, nearest_candidates,
                                       pairs_below)
from optimizer.solve.cpsat import CpSatResult, Progress, solve_cpsat
from optimizer.solve.groups import improve_by_groups
from optimizer.solve.lagrangian import ColumnSearchResult, column_search
from optimizer.solve.lagrangian import applies as column_search_applies
from optimizer.solve.candidates import reduced_costs
from optimizer.solve.relaxation import Relaxation, fewest_moves, narrowest_band, solve_relaxation
from optimizer.solve.repair import pair_cost_function, repair
from optimizer.validator import check_plan

logger = logging.getLogger(__name__)

LP_SHARE_OF_TIME = 0.5
REPAIR_TIME_S = 10.0
REPAIR_MAX_MOVES = 2_000
FULL_SEARCH_MAX_PAIRS = 2_000_000
PROOF_MAX_PAIRS_PER_ACCOUNT = 12
# Repeatable mode: CP-SAT's deterministic work units allowed per second of the time limit. With two
# search threads on a 2-core x86-64 machine each thread did about 0.5 units a second. At 0.35, searches
# stop on work done rather than on the clock, so the same input gives the same plan.
WORK_PER_SECOND = 0.35
MIN_ROUND_WORK = 0.5
REPAIR_SHARE_OF_TIME = 0.05
# Share of the time left after the LP that the first CP-SAT search gets; groups of reps get the rest.
FIRST_SEARCH_SHARE = 0.7
GROUP_SEARCH_MAX_ACCOUNTS = 50_000
# Share of the time limit for the exact column search (plans bound by capacity alone).
COLUMN_SEARCH_SHARE = 0.8



@dataclass
class SolverReport:
    """Solver outcome of a plan: status, objective, proven lower bound and gap, and the settings used."""

    status: str                    # "optimal" or "feasible"
    objective: float               # in objective_unit, recomputed in real units
    objective_unit: str
    lower_bound: float | None      # in objective_unit; None when the LP did not finish
    gap: float | None              # (objective - lower_bound) / objective, a fraction
    time_s: float
    time_limit_s: float
    lp_time_s: float
    seed: int
    workers: int
    version: str
    candidate_pairs: int
    pricing_rounds: int
    bound_source: str
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "status": self.status, "objective": self.objective, "objective_unit": self.objective_unit,
            "lower_bound": self.lower_bound, "gap": self.gap, "time_s": round(self.time_s, 3),
            "time_limit_s": self.time_limit_s, "lp_time_s": round(self.lp_time_s, 3), "seed": self.seed,
            "workers": self.workers, "version": self.version, "solver": "OR-Tools CP-SAT + GLOP",
            "candidate_pairs": self.candidate_pairs, "pricing_rounds": self.pricing_rounds,
            "bound_source": self.bound_source, "notes": list(self.notes),
        }


@dataclass
class Solution:
    rep_of: np.ndarray             # rep index per located account
    report: SolverReport


def solve(instance: Instance, settings: SolverSettings, progress: Progress | None = None) -> Solution:
    """Find a plan for `instance` within settings.time_limit_s, or raise InfeasibleError / SolverError."""
    started = time.monotonic()
    deadline = started + settings.time_limit_s
    check_feasibility(instance)

    pairs = nearest_candidates(instance, settings.candidates_per_account)
    lp_budget = max(0.5, (deadline - time.monotonic()) * LP_SHARE_OF_TIME)
    _report(progress, instance, "relaxation", started, None, None)
    # Infeasible here means over every eligible pair: the relaxation prices in whatever pairs reduce
    # the violation before it concludes.
    relaxation = solve_relaxation(instance, pairs, lp_budget)

    if relaxation.status == "infeasible":
        raise InfeasibleError(*_explain_lp_infeasible(instance, deadline))

    # The Lagrangian bound of the LP's duals; the reduced-cost arguments below hold for it alone.
    lagrangian = math.ceil(relaxation.bound - 1e-6) if relaxation.bound is not None else None
    lower_bound, bound_source = lagrangian, "LP relaxation" if lagrangian is not None else "none"
    if relaxation.status != "optimal":
        # Pricing stopped early, so that bound may be weak: the cost of every account at its cheapest
        # eligible rep also bounds every plan.
        cheapest = cheapest_pair_bound(instance)
        if lower_bound is None or cheapest > lower_bound:
            lower_bound, bound_source = cheapest, "each account at its cheapest eligible rep"
    column = _column_search(instance, relaxation, settings, started)
    if column is not None and column.infeasible:
        raise InfeasibleError(*_explain_capacity_infeasible(instance))
    if column is not None and (lower_bound is None or column.lower_bound > lower_bound):
        lower_bound, bound_source = column.lower_bound, COLUMN_BOUND
    _report(progress, instance, "search", started, None, lower_bound)
    fallback = None
    if column is not None and column.proven:
        result = CpSatResult("optimal", column.rep_of, column.objective, column.objective, column.time_s, 0.0)
        search_pairs = Pairs.build(instance, np.arange(instance.account_count), column.rep_of)
    elif relaxation.bound is not None:
        rounded = _round_relaxation(instance, relaxation.pairs, relaxation.values)
        repair_time = min(REPAIR_TIME_S, REPAIR_SHARE_OF_TIME * settings.time_limit_s)
        fallback = repair(instance, rounded, pair_cost_function(instance), repair_time, max_moves=REPAIR_MAX_MOVES)
        # The first search gets a share of the time left; groups of neighbouring reps then improve its plan.
        # Above GROUP_SEARCH_MAX_ACCOUNTS the first search keeps all of it: at 200,000 accounts its first plan
        # came after more than 70 % of the time.
        share = FIRST_SEARCH_SHARE if instance.account_count <= GROUP_SEARCH_MAX_ACCOUNTS else 1.0
        search_deadline = time.monotonic() + share * (deadline - time.monotonic())
        # After a column search, the stages below have the rest of the time, so they get that share of work.
        searched = 1.0 - COLUMN_SEARCH_SHARE if column is not None else 1.0
        work = settings.time_limit_s * searched * WORK_PER_SECOND if settings.repeatable else None
        result, search_pairs = _widening_search(instance, relaxation, rounded, fallback, settings, search_deadline,
                                                _with_bound(progress, instance, lower_bound, started), lagrangian,
                                                None if work is None else work * share)
        if result.rep_of is None and check_plan(instance, fallback).ok:
            # CP-SAT found nothing in its share, but the repaired rounding keeps every rule: the groups
            # start from it.
            cost = int(Pairs.build(instance, np.arange(instance.account_count), fallback).cost.sum())
            result = CpSatResult("feasible", fallback, cost, None, result.time_s, result.deterministic_time)
        elif result.rep_of is None and result.status != "infeasible" and deadline - time.monotonic() > 1.0:
            # No plan within the first search's share: it gets the rest of the time instead of the groups.
            result, search_pairs = _widening_search(instance, relaxation, rounded, fallback, settings, deadline,
                                                    _with_bound(progress, instance, lower_bound, started), lagrangian,
                                                    None if work is None else work * (1 - FIRST_SEARCH_SHARE))
        # This check runs before the groups take the rest of the time. CP-SAT's bound over its pairs is
        # valid for every plan once no pair outside them could improve this plan, and later gains keep it so.
        proven = _searched_bound(instance, relaxation, result, search_pairs, lagrangian, lower_bound, deadline)
        if proven is not None:
            lower_bound, bound_source = proven, SEARCHED_BOUND
        if (result.rep_of is not None and deadline - time.monotonic() > 1.0
                and (lower_bound is None or result.objective > lower_bound)):
            improved = improve_by_groups(instance, result.rep_of, relaxation.pairs, deadline=deadline,
                                         seed=settings.seed, workers=settings.workers,
                                         work_limit=None if work is None else work * (1 - FIRST_SEARCH_SHARE),
                                         progress=_with_bound(progress, instance, lower_bound, started))
            if improved.objective < result.objective:
                result = CpSatResult(result.status if result.status != "optimal" else "feasible", improved.rep_of,
                                     improved.objective, result.bound, result.time_s, result.deterministic_time)
    else:
        search_pairs = relaxation.pairs
        result = solve_cpsat(instance, search_pairs, hint=None, time_limit_s=deadline - time.monotonic(),
                             deterministic_limit=None, seed=settings.seed, workers=settings.workers,
                             progress=_with_bound(progress, instance, lower_bound, started))
    if column is not None and column.rep_of is not None and (result.rep_of is None
                                                              or column.objective < result.objective):
        result = CpSatResult("feasible", column.rep_of, column.objective, None, result.time_s, result.deterministic_time)
    if result.rep_of is None and result.status == "infeasible":
        # The search pairs hold no plan; only a search over every eligible pair can prove there is none.
        search_pairs = _all_eligible_pairs(instance)
        if search_pairs is not None:
            result = solve_cpsat(instance, search_pairs, hint=None, time_limit_s=deadline - time.monotonic(),
                                 deterministic_limit=None, seed=settings.seed, workers=settings.workers,
                                 progress=_with_bound(progress, instance, lower_bound, started))
            if result.status == "infeasible":
                raise InfeasibleError(*_explain_integer_infeasible(instance, deadline))
    if result.rep_of is None:
        raise SolverError(_no_plan_message(result.status, settings.time_limit_s, lower_bound, instance))

    if bound_source != SEARCHED_BOUND and (lower_bound is None or result.objective > lower_bound):
        proven = _searched_bound(instance, relaxation, result, search_pairs, lagrangian, lower_bound, deadline)
        if proven is not None:
            lower_bound, bound_source = proven, SEARCHED_BOUND

    pairs = Pairs.build(instance, np.arange(instance.account_count), result.rep_of)
    objective = float(instance.pair_cost(pairs.account, pairs.rep, pairs.distance_km).sum())
    # The bound holds for the integer (rounded) pair costs; the rounding slack makes it hold for real costs.
    bound_real = _real_bound(instance, lower_bound)
    gap = None
    if bound_real is not None:
        gap = 0.0 if objective <= 0 else max(0.0, (objective - bound_real) / objective)
    # Optimal means proven optimal for the rounded costs CP-SAT works with.
    status = "optimal" if lower_bound is not None and result.objective <= lower_bound else "feasible"
    report = SolverReport(
        status=status, objective=round(objective, 3), objective_unit=instance.objective_unit,
        lower_bound=bound_real, gap=gap, time_s=time.monotonic() - started, time_limit_s=settings.time_limit_s,
        lp_time_s=relaxation.time_s, seed=settings.seed, workers=settings.workers, version=ortools.__version__,
        candidate_pairs=len(search_pairs), pricing_rounds=relaxation.rounds, bound_source=bound_source,
    )
    if status == "optimal" and gap:
        report.notes.append(f"optimal for pair costs rounded to 1/{COST_SCALE} {instance.objective_unit}; the lower "
                            f"bound allows for that rounding, up to {0.5 / COST_SCALE:g} {instance.objective_unit} per "
                            "account")
    if column is not None:
        report.notes.append(_column_note(column))
    if relaxation.bound is None:
        report.notes.append("the LP relaxation did not finish within its share of the time limit, so no bound is "
                            "proven; give a longer time limit")
    elif relaxation.status != "optimal":
        report.notes.append(f"pricing stopped after {relaxation.rounds} LP round(s) at its share of the time limit, "
                            "so the bound is weaker than the LP optimum; a longer time limit tightens it")
    logger.info("plan: %s, objective %.1f %s, bound %s, gap %s, %.1f s", status, objective, instance.objective_unit,
                bound_real, f"{gap:.4%}" if gap is not None else "unknown", report.time_s)
    return Solution(result.rep_of, report)


SEARCHED_BOUND = "CP-SAT over every pair that could improve the plan"
COLUMN_BOUND = "Lagrangian bound raised by an exact search of cost levels"


def _column_search(instance: Instance, relaxation: Relaxation, settings: SolverSettings,
                   started: float) -> ColumnSearchResult | None:
    """Run the exact column search when capacity is the only rule on a rep and the LP converged.

    It gets COLUMN_SEARCH_SHARE of the time limit, or in repeatable mode a fixed amount of work.
    """
    if relaxation.status != "optimal" or relaxation.duals is None or column_search_applies(instance) is not None:
        return None
    budget = COLUMN_SEARCH_SHARE * settings.time_limit_s
    return column_search(instance, relaxation.duals.assignment, started + budget,
                         work_seconds=budget if settings.repeatable else None)


def _column_note(column: ColumnSearchResult) -> str:
    if column.proven:
        return f"column search: found this plan and proved it optimal in {column.time_s:.1f} s"
    if column.rep_of is not None:
        outcome = "found a plan but did not finish proving it optimal"
    elif column.levels:
        outcome = f"proved that {column.levels} cost level(s) above the Lagrangian bound contain no plan"
    else:
        outcome = "found no plan"
    return f"column search: {outcome}, then stopped after {column.time_s:.1f} s ({column.stop})"


def _explain_capacity_infeasible(instance: Instance) -> tuple[list[str], list[str]]:
    """Explain a capacity-only request that whole accounts cannot meet, naming the largest accounts."""
    accounts = np.arange(instance.account_count)
    allowed = instance.eligible_matrix(accounts)
    hours = np.stack([instance.pair_load(accounts, np.full(len(accounts), r)) for r in range(instance.rep_count)],
                     axis=1)
    fits = allowed & (hours <= instance.capacity[None, :] + 1e-9)
    homeless = np.flatnonzero(~fits.any(axis=1))
    if homeless.size:
        a = int(homeless[0])
        reps = np.flatnonzero(allowed[a])
        need = ", ".join(f"{instance.rep_ids[r]} {hours[a, r]:,.1f} of {instance.capacity[r]:,.1f}" for r in reps[:5])
        causes = [f"account {instance.account_ids[a]} fits no rep that may take it: it needs more hours than each "
                  f"such rep's capacity (hours needed of capacity: {need})"
                  + (f", and {homeless.size - 1} more account(s) likewise" if homeless.size > 1 else "")]
        return causes, [f"raise the capacity of a rep that may take {instance.account_ids[a]}, or let another rep "
                        "take it"]
    largest = int(np.argmax(np.where(allowed, hours, 0).max(axis=1)))
    reps = np.flatnonzero(allowed[largest])
    room = ", ".join(f"{instance.rep_ids[r]} {instance.capacity[r]:,.1f}" for r in reps[:5])
    causes = ["no plan gives each account to a single rep within every rep's capacity and skills, although "
              "splitting accounts between reps would: the column search tried every combination of whole accounts"]
    relaxations = [f"raise the capacity of the reps that may take the largest accounts: the largest, "
                   f"{instance.account_ids[largest]}, needs {hours[largest, reps].min():,.1f} hours or more, and "
                   f"the reps that may take it have {room} hours", "or let more reps take the largest accounts"]
    return causes, relaxations


def _real_bound(instance: Instance, bound: float | None) -> float | None:
    """Return an integer-cost bound in real objective units, lowered by the rounding of pair costs.

    Every pair cost is 0 or more, so 0 bounds every plan as well.
    """
    if bound is None:
        return None
    return max(0.0, (bound - instance.rounding_slack) / COST_SCALE)


def _searched_bound(instance: Instance, relaxation: Relaxation, result: CpSatResult, search_pairs: Pairs,
                    lagrangian: int | None, lower_bound: int | None, deadline: float) -> int | None:
    """Return CP-SAT's bound over `search_pairs` when it is a valid, better lower bound, else None.

    A plan that uses a pair outside the search costs at least the Lagrangian bound plus that pair's
    reduced cost. When no such pair is below the gap of `result`'s plan, every better plan uses the
    searched pairs only, so CP-SAT's bound over them bounds every plan. The check scans every pair,
    so it runs only while more than a second remains before `deadline`.
    """
    if (lagrangian is None or lower_bound is None or result.rep_of is None or result.bound is None
            or relaxation.duals is None or result.bound <= lower_bound or deadline - time.monotonic() <= 1.0):
        return None
    if count_open_pairs_below(instance, relaxation.duals, search_pairs, threshold=result.objective - lagrangian):
        return None
    return math.ceil(result.bound - 1e-6)


def _widening_search(instance: Instance, relaxation: Relaxation, rounded: np.ndarray, fallback: np.ndarray,
                     settings: SolverSettings, deadline: float, progress: Progress | None, lower_bound: int | None,
                     work_left: float | None):
    """Search the neighbourhood of the LP solution with CP-SAT, widening it while time remains.

    The neighbourhood contains the accounts the LP splits plus the share of the others cheapest to move
    (smallest reduced cost of a second rep), hinted with the LP rounding. CP-SAT's parallel search,
    with its own large-neighbourhood workers, improves the plan until the deadline. When it settles
    the neighbourhood (optimal or infeasible within its pairs), the next step searches every pair a
    better plan could use if they are few enough, so that CP-SAT's bound holds for all plans.
    Otherwise the share grows. In repeatable mode every search runs interleaved with a work limit
    fixed by the time limit, so the same input, seed and worker count give the same plan.
    """
    share, per_account = settings.free_share, settings.search_pairs_per_account
    hint = rounded
    best = best_pairs = None
    while True:
        pairs = _search_pairs(instance, relaxation, hint, per_account, share)
        pairs = pairs.extend(_missing_pairs(instance, pairs, fallback))
        result = solve_cpsat(instance, pairs, hint=hint, time_limit_s=deadline - time.monotonic(),
                             deterministic_limit=work_left, seed=settings.seed, workers=settings.workers,
                             deterministic=settings.repeatable, progress=progress)
        if work_left is not None:
            work_left -= result.deterministic_time
        if result.rep_of is not None and (best is None or result.objective < best.objective):
            best, best_pairs = result, pairs
        settled = result.status in ("optimal", "infeasible")
        out_of_time = deadline - time.monotonic() < 1.0 or (work_left is not None and work_left < MIN_ROUND_WORK)
        at_bound = best is not None and lower_bound is not None and best.objective <= lower_bound
        if not settled or at_bound or out_of_time:
            break
        if best is not None and lower_bound is not None:
            proof = _prove(instance, relaxation, best, lower_bound, settings, deadline, work_left, progress)
            if proof is not None:
                return proof
        if share >= 1.0:
            break
        share, per_account = min(1.0, share * 2), per_account + 2
        logger.info("search settled its neighbourhood; widening to %.0f %% of accounts", share * 100)
        if best is not None:
            hint = best.rep_of
    return (best, best_pairs) if best is not None else (result, pairs)


def _prove(instance: Instance, relaxation: Relaxation, best: CpSatResult, lower_bound: int,
           settings: SolverSettings, deadline: float, work_limit: float | None, progress: Progress | None):
    """Search every pair whose reduced cost is below the gap, starting from `best`.

    Returns the result with its pairs, or None when those pairs are too many to search.
    """
    pairs = pairs_below(instance, relaxation.duals, relaxation.pairs, threshold=best.objective - lower_bound)
    pairs = pairs.extend(_missing_pairs(instance, pairs, best.rep_of))
    if len(pairs) > PROOF_MAX_PAIRS_PER_ACCOUNT * instance.account_count:
        return None
    logger.info("searching all %d pairs that could improve the plan", len(pairs))
    result = solve_cpsat(instance, pairs, hint=best.rep_of, time_limit_s=deadline - time.monotonic(),
                         deterministic_limit=work_limit, seed=settings.seed,
                         workers=settings.workers, deterministic=settings.repeatable,
                         progress=(lambda event: progress({**event, "bound_valid": True})) if progress else None)
    if result.rep_of is None or result.objective > best.objective:
        # NOTE: CP-SAT's bound over these pairs is still valid, but the better plan found earlier is kept.
        best.bound = max(best.bound or 0, result.bound or 0) if result.rep_of is not None else best.bound
        return best, pairs
    return result, pairs


def _missing_pairs(instance: Instance, pairs: Pairs, plan: np.ndarray) -> Pairs:
    """Return the pairs of `plan` that `pairs` lacks, so the search can reach that plan."""
    have = pairs.account * instance.rep_count + pairs.rep
    wanted = np.arange(instance.account_count) * instance.rep_count + plan
    missing = np.flatnonzero(~np.isin(wanted, have) & (plan != NO_REP))
    return Pairs.build(instance, missing, plan[missing])


def _round_relaxation(instance: Instance, pairs: Pairs, values: np.ndarray) -> np.ndarray:
    """Return each account's rep with the largest LP value (the CP-SAT hint)."""
    hint = np.full(instance.account_count, NO_REP, dtype=np.int64)
    best = np.full(instance.account_count, -1.0)
    for a, r, v in zip(pairs.account, pairs.rep, values, strict=True):
        if v > best[a]:
            best[a], hint[a] = v, r
    return hint


def _search_pairs(instance: Instance, relaxation: Relaxation, hint: np.ndarray, per_account: int,
                  free_share: float) -> Pairs:
    """Return the pairs CP-SAT searches.

    Accounts the LP splits between reps, and the share `free_share` of the others that are cheapest to
    move (smallest reduced cost of a second rep), get their `per_account` pairs of smallest reduced
    cost. Every other account keeps only its LP rep and its repaired start. The strategy checks
    afterwards whether a pair left out could still improve the plan.
    """
    pairs = relaxation.pairs
    n = instance.account_count
    value = reduced_costs(instance, relaxation.duals, pairs.account, pairs.rep, pairs.cost)
    order = np.lexsort((value, pairs.account))
    account = pairs.account[order]
    rank = np.arange(len(account)) - np.searchsorted(account, account)

    second = np.full(n, np.inf)
    second_rows = order[rank == 1]
    second[pairs.account[second_rows]] = value[second_rows]
    largest = np.zeros(n)
    np.maximum.at(largest, pairs.account, relaxation.values)
    fractional = largest < 1 - 1e-6
    free = fractional.copy()
    budget = int(free_share * n)
    candidates = np.flatnonzero(~fractional)
    free[candidates[np.argsort(second[candidates], kind="stable")[:budget]]] = True

    keep = np.zeros(len(pairs), dtype=bool)
    keep[order[(rank < per_account) & free[account]]] = True
    keep |= relaxation.values > 1e-6
    keep |= hint[pairs.account] == pairs.rep
    chosen = Pairs(pairs.account[keep], pairs.rep[keep], pairs.distance_km[keep], pairs.cost[keep])
    chosen = chosen.extend(_missing_pairs(instance, chosen, hint))
    logger.info("search: %d of %d accounts free (%d split by the LP), %d pairs", int(free.sum()), n,
                int(fractional.sum()), len(chosen))
    return chosen


def _report(progress: Progress | None, instance: Instance, phase: str, started: float, objective, bound) -> None:
    if progress is not None:
        progress({"phase": phase, "elapsed_s": time.monotonic() - started, "objective": objective,
                  "bound": _real_bound(instance, bound)})


def _with_bound(progress: Progress | None, instance: Instance, lower_bound: int | None,
                started: float) -> Progress | None:
    """Wrap `progress` so that CP-SAT's events carry real objective units and the LP bound.

    CP-SAT's own bound covers only the pairs it searches. It is shown only for events marked
    "bound_valid", whose search covered every pair that a better plan could use.
    """
    if progress is None:
        return None

    def report(event: dict) -> None:
        bound = lower_bound
        if event.get("bound_valid") and event.get("bound") is not None:
            bound = max(bound or event["bound"], event["bound"])
        objective = event.get("objective")
        progress({**event, "elapsed_s": time.monotonic() - started,
                  "objective": objective / COST_SCALE if objective is not None else None,
                  "bound": _real_bound(instance, bound)})

    return report


def _all_eligible_pairs(instance: Instance) -> Pairs | None:
    """Return every eligible pair, or None when there are too many to search at once."""
    if instance.account_count * instance.rep_count > FULL_SEARCH_MAX_PAIRS:
        return None
    rows, cols = np.nonzero(instance.eligible_matrix(np.arange(instance.account_count)))
    return Pairs.build(instance, rows, cols)


def _no_plan_message(status: str, time_limit_s: float, lower_bound, instance: Instance) -> str:
    if status == "infeasible":
        return ("CP-SAT proved that no whole-account plan keeps every rule, although the LP relaxation "
                "(accounts split between reps) does; widen the balance bands or the capacities")
    # With `territory plan` the solver gets what is left of --time-limit after loading, so this names
    # the solver's own seconds rather than the number the user gave.
    return (f"no plan found in the {time_limit_s:.1f} s the solver had for {instance.account_count:,} accounts "
            f"and {instance.rep_count} reps (the LP relaxation is feasible); give a longer --time-limit or "
            "wider balance bands")


def _explain_integer_infeasible(instance: Instance, deadline: float) -> tuple[list[str], list[str]]:
    """Explain a request that split accounts could meet but whole accounts cannot, band by band."""
    causes = ["no plan keeps every rule with whole accounts, although splitting accounts between reps would "
              "(CP-SAT proved it over every eligible pair): the accounts are too large or too few for the bands"]
    relaxations = []
    bands = sorted(instance.bands.items(), key=lambda item: item[1].tolerance)
    for k, (metric, band) in enumerate(bands):
        status, tolerance = narrowest_band(instance, metric, _explain_time(deadline, len(bands) - k))
        if status == "time_limit":
            causes.append(_UNSETTLED.format(what=f"how narrow the {metric} band may be"))
        if tolerance is None:
            continue
        causes.append(f"the {metric} band is +-{format_percent(band.tolerance)}; with split accounts the other rules "
                      f"would allow +-{format_percent(tolerance)}")
        relaxations.append(f"widen the {metric} band beyond +-{format_percent(max(tolerance, band.tolerance))}; "
                           "whole accounts need more than split ones")
    return causes, relaxations


# Seconds each explaining LP gets at least, even past the run's time limit: without them an
# infeasible request would get no cause at all.
EXPLAIN_MIN_SECONDS = 2.0
_UNSETTLED = "{what} was not settled within the time limit; a longer --time-limit gives that figure"


def _explain_time(deadline: float, left: int) -> float:
    """Return the time for the next of `left` explaining LPs: an equal share of what remains."""
    return max(EXPLAIN_MIN_SECONDS, (deadline - time.monotonic()) / max(left, 1))


def _explain_lp_infeasible(instance: Instance, deadline: float) -> tuple[list[str], list[str]]:
    """Name the rules that cannot hold, with the narrowest band or the fewest moves the LP allows.

    Each LP gets a share of the time left before `deadline`. An LP that does not finish is named as
    not settled, so its rule is never ruled out by a time-out.
    """
    causes = ["no assignment keeps every rule at once, even with accounts split between reps (the LP "
              "relaxation over every eligible pair is infeasible)"]
    relaxations = []
    unsettled = False
    checks = len(instance.bands) + (instance.max_moves is not None)
    for k, (metric, band) in enumerate(instance.bands.items()):
        status, tolerance = narrowest_band(instance, metric, _explain_time(deadline, checks - k))
        if status == "time_limit":
            unsettled = True
            causes.append(_UNSETTLED.format(what=f"whether the {metric} band of +-{format_percent(band.tolerance)} "
                                                 "is too narrow"))
        if tolerance is not None and tolerance > band.tolerance + 1e-9:
            causes.append(f"the {metric} band of +-{format_percent(band.tolerance)} is too narrow: the other rules "
                          f"allow no better balance than +-{format_percent(tolerance)}")
            relaxations.append(f"widen the {metric} band to at least +-{format_percent(tolerance)}")
    if instance.max_moves is not None:
        status, moves = fewest_moves(instance, _explain_time(deadline, 1))
        if status == "time_limit":
            unsettled = True
            causes.append(_UNSETTLED.format(what=f"whether max_moves {instance.max_moves} is too low"))
        if moves is not None and moves > instance.max_moves:
            causes.append(f"max_moves {instance.max_moves} is too low: the other rules need at least "
                          f"{math.ceil(moves - 1e-6)} accounts to change owner")
            relaxations.append(f"raise max_moves to at least {math.ceil(moves - 1e-6)}")
    if len(causes) == 1 and not unsettled:
        causes.append("no single band or max_moves is to blame: capacity, max_accounts, locks, industries and "
                      "bands conflict together; loosen one rule at a time to find the conflict")
    return causes, relaxations
