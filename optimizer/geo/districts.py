"""Solve a districting problem: connected territories of whole units, balanced within hard bands.

1. ``check_districting`` rejects requests that cannot work, with numbers.
2. A first plan grows each territory from its home unit (or a spread-out seed unit).
3. Small problems go to one CP-SAT model of every territory at once; its bound is a proof.
4. Larger ones run a neighbourhood search: each step frees a territory and its neighbouring
   territories and solves their units exactly with CP-SAT (connectivity included), first to bring
   every metric inside its band, then to improve compactness. A step is kept only if the whole plan
   improves.
5. Larger problems with compactness "diameter", priority "compactness" and hard bands only run a
   tabu search over unit moves and swaps (descent.py) instead, from several starts and then from
   the best plan. The group models take over when it finds no plan inside the bands, when a start
   falls apart, or when no unit can move.

While some band still cannot be met, the search keeps reducing the total violation, and the plan
reports the smallest deviation it reached. No unit is ever left out and no territory dropped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import ortools
from ortools.linear_solver.python import model_builder_helper
from scipy import sparse

from optimizer.errors import SolverError
from optimizer.geo.contiguity import GroupResult, group_time_limit, integer_bands, solve_group, weighted_deviation
from optimizer.geo.descent import WidthDescent
from optimizer.geo.growth import bisection_plan, choose_seeds, grow_plan
from optimizer.geo.precheck import check_districting
from optimizer.geo.problem import (NO_TERRITORY, DistrictProblem, band_violation, centre_cost, diameters,
                                   disconnected_territories, max_deviation, objective_value, territory_centres)
from optimizer.interrupt import stoppable

logger = logging.getLogger(__name__)

# One CP-SAT model over every territory when units x territories stays below this.
FULL_MODEL_MAX_PAIRS = 150
# The LP bound (compactness "home") is skipped above this many unit-territory pairs.
BOUND_MAX_PAIRS = 3_000_000
VIOLATION_TOLERANCE = 1e-9
# A step frees between 2 and this many neighbouring territories; the size grows after failed steps.
LARGEST_GROUP = 6
FAILURES_BEFORE_GROWING = 6
# Compactness "diameter": a group model aims at DIAMETER_LEVELS evenly spaced widths from
# (1 - DIAMETER_RANGE) times the widest territory up to it; DIAMETER_STEP is the tolerance on equal widths.
DIAMETER_LEVELS = 24
DIAMETER_RANGE = 0.15
DIAMETER_STEP = 1e-6
# Compactness "diameter" on larger problems: one model over every territory in which a unit may join
# only territories whose centre lies within RADIUS_FACTORS[i] times the widest territory's width.
# On DTDP instance planar500_G0 the factor 0.75 took the width from 49.9 to 42.9 in 11 s.
RADIUS_FACTORS = (0.6, 0.75, 0.9)
RADIUS_MODEL_SECONDS = 12.0
RADIUS_BURST_SECONDS = 6.0
# Compactness "diameter": seed sets tried for the first plan, and how much wider than the widest
# territory a territory may get while the bands are being repaired.
SEED_ATTEMPTS = 30
BALANCE_WIDTH_SLACK = 0.1
# Compactness "diameter" without soft bands: a tabu search (descent.py) from several starts, each for
# START_SECONDS, during START_SHARE of the time, then from the best plan in turns of DESCENT_SECONDS.
# On the 30 DTDP instances (60 s each) these values gave a mean of 1.19 % above the best known. Turns
# alternating with 4-s group models did worse in a trial (docs/benchmarks.md).
START_SECONDS = 2.0
START_SHARE = 0.8
DESCENT_SECONDS = 4.0
# Starts without any plan inside the bands after which the group models take over.
STARTS_WITHOUT_PLAN = 2
# Share of the time limit the border-shifting balance model may take on larger problems.
BOUNDARY_MODEL_SHARE = 0.6
BOUNDARY_HOPS = 2
LOCAL_OPTIMUM_NOTE = "the neighbourhood search stopped early at a local optimum"


@dataclass
class DistrictPlan:
    """A solved districting plan with its quality figures."""

    assignment: np.ndarray            # territory index per unit
    status: str                       # "optimal", "feasible", "bands_not_met" or "bands_infeasible"
    objective: float
    objective_unit: str
    lower_bound: float | None
    gap: float | None
    band_violation: float             # sum of relative distances outside the bands (0 when every band holds)
    max_deviation: dict[str, float]   # per metric, the largest relative deviation from target
    time_s: float
    seed: int
    workers: int
    steps: int
    notes: list[str] = field(default_factory=list)

    def solver_dict(self) -> dict:
        return {
            "status": self.status, "objective": self.objective, "objective_unit": self.objective_unit,
            "lower_bound": self.lower_bound, "gap": self.gap, "band_violation": self.band_violation,
            "max_deviation": self.max_deviation, "time_s": round(self.time_s, 3), "seed": self.seed,
            "workers": self.workers, "search_steps": self.steps, "version": ortools.__version__,
            "solver": "OR-Tools CP-SAT (connected territories) + GLOP", "notes": list(self.notes),
        }


def solve_districts(problem: DistrictProblem, time_limit_s: float = 30.0, *, seed: int = 0, workers: int = 2,
                    start: np.ndarray | None = None) -> DistrictPlan:
    """Return the best connected plan found within the time limit; raise InfeasibleError from the pre-check."""
    started = time.monotonic()
    deadline = started + time_limit_s
    check_districting(problem)
    rng = np.random.default_rng(seed)
    search = _Search(problem, deadline, seed, workers, rng)

    assignment, from_caller = _first_plan(problem, start, rng)
    search.accept(assignment)
    lower_bound = None
    if problem.compactness == "home":
        lower_bound = relaxation_bound(problem, min(time_limit_s * 0.2, max(0.0, deadline - time.monotonic())))

    settled = False
    if problem.unit_count * problem.territory_count <= FULL_MODEL_MAX_PAIRS:
        settled = search.whole_model()
    elif problem.compactness == "diameter" and search.width_search_applies():
        search.width_search(assignment, from_caller)
    elif problem.compactness == "diameter":
        search.radius_models()
    else:
        if search.needs_repair():
            search.boundary_model("balance", BOUNDARY_MODEL_SHARE)
        if not search.needs_repair() and search.ranks_deviation:
            search.boundary_model("deviation", BOUNDARY_MODEL_SHARE / 2)
    if not settled and search.remaining() > 0.05:
        search.neighbourhoods()

    plan = search.best
    violation = band_violation(problem, plan)
    objective = objective_value(problem, plan)
    notes = list(problem.notes) + search.notes + _capacity_notes(problem, plan)
    if search.proven_bound is not None and violation <= VIOLATION_TOLERANCE:
        lower_bound = max(lower_bound or 0.0, search.proven_bound)
    if violation > VIOLATION_TOLERANCE and search.bands_proven_infeasible:
        status = "bands_infeasible"
        notes.append("no connected plan meets every band (CP-SAT proved it); max_deviation gives the smallest "
                     "deviation possible")
        lower_bound = None
    elif violation > VIOLATION_TOLERANCE:
        status = "bands_not_met"
        notes.append("no connected plan inside every band was found in the time limit; max_deviation gives the "
                     "best reached")
        lower_bound = None
    elif search.proved_optimal:
        status = "optimal"
    else:
        status = "feasible"
    gap = None
    if lower_bound is not None and objective > 0:
        lower_bound = min(lower_bound, objective)
        gap = (objective - lower_bound) / objective
    elif lower_bound is not None:
        gap = 0.0
    if status == "feasible" and gap is not None and gap <= 1e-9:
        # The bound meets the plan, so the plan is optimal however the search ended.
        status = "optimal"
        notes = [note for note in notes if note != LOCAL_OPTIMUM_NOTE]
    if lower_bound is None and violation <= VIOLATION_TOLERANCE:
        notes.append("no lower bound: the compactness of territories without home bases depends on where "
                     "their centres fall" if problem.compactness == "centre" else
                     "no lower bound: the LP bound was not computed" if problem.compactness == "home" else
                     "no lower bound: the search did not prove the largest diameter optimal")
    broken = disconnected_territories(problem, plan)
    if broken:
        names = ", ".join(problem.territory_ids[t] for t in broken[:5])
        raise SolverError(f"no plan with every territory connected was found within the time limit: "
                          f"{names} still fall apart (locked units far from each other keep them apart); give a "
                          "longer time limit, or lock fewer units")
    logger.info("districts: %s, objective %.6g %s, violation %.3g, %d steps, %.1f s", status, objective,
                _objective_unit(problem), violation, search.steps, time.monotonic() - started)
    return DistrictPlan(plan, status, objective, _objective_unit(problem), lower_bound, gap, violation,
                        max_deviation(problem, plan), time.monotonic() - started, seed, workers, search.steps, notes)


def _capacity_notes(problem: DistrictProblem, plan: np.ndarray) -> list[str]:
    """Name the territories whose workload exceeds their rep's capacity_hours (possible without a workload band)."""
    if problem.capacity is None or problem.workload is None:
        return []
    hours = np.bincount(plan, weights=problem.workload, minlength=problem.territory_count)
    over = np.flatnonzero(hours > problem.capacity + 1e-9)
    if over.size == 0:
        return []
    listed = ", ".join(f"{problem.territory_ids[t]} {hours[t]:,.1f} of {problem.capacity[t]:,.1f}" for t in over[:5])
    more = f" and {over.size - 5} more" if over.size > 5 else ""
    noun = "territory" if over.size == 1 else "territories"
    return [f"workload above the rep's capacity_hours in {over.size} {noun} (workload hours of capacity hours: "
            f"{listed}{more}); add a hard band on workload_hours, such as --band workload_hours=10%, to keep every "
            "rep within capacity"]


def _objective_unit(problem: DistrictProblem) -> str:
    return problem.distance_unit if problem.compactness == "diameter" else problem.weight_unit


def _first_plan(problem: DistrictProblem, start: np.ndarray | None,
                rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Use ``start`` or the current plan when it is complete and connected, or else build one.

    Return the plan and whether it is the caller's (``start`` or the current plan).

    "diameter" starts from the cells of the nearest seed. Problems without homes or locks start from a
    recursive bisection, and the others grow each territory from its home or seed unit.
    """
    for candidate in (start, problem.current):
        if candidate is None:
            continue
        candidate = np.asarray(candidate, dtype=np.int64)
        if np.any(candidate == NO_TERRITORY) or not _keeps_rules(problem, candidate):
            continue
        if not disconnected_territories(problem, candidate):
            return candidate.copy(), True
    if problem.compactness == "diameter":
        seeds = choose_seeds(problem, rng)
        if np.any(problem.locked != NO_TERRITORY):
            return grow_plan(problem, seeds), False
        return _nearest_seed_cells(problem, seeds, rng), False
    split = bisection_plan(problem, rng)
    if split is not None:
        return split, False
    return grow_plan(problem, choose_seeds(problem, rng)), False


def _nearest_seed_cells(problem: DistrictProblem, seeds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return the narrowest of SEED_ATTEMPTS plans in which each unit joins its nearest seed.

    With shortest-path distances these cells are connected and compact, though rarely balanced. Other
    distances may break them apart, so each plan is checked.
    """
    best, best_width = None, np.inf
    for attempt in range(SEED_ATTEMPTS):
        if attempt:
            seeds = choose_seeds(problem, rng)
        cells = np.argmin(problem.distance_matrix[:, seeds], axis=1)
        cells[seeds] = np.arange(len(seeds))
        if len(np.unique(cells)) != problem.territory_count or disconnected_territories(problem, cells):
            continue
        width = float(diameters(problem, cells).max())
        if width < best_width:
            best, best_width = cells, width
    return best if best is not None else grow_plan(problem, seeds)


def _keeps_rules(problem: DistrictProblem, assignment: np.ndarray) -> bool:
    locked = problem.locked != NO_TERRITORY
    if np.any(assignment[locked] != problem.locked[locked]):
        return False
    homes = problem.home_unit
    given = homes != NO_TERRITORY
    return bool(np.all(assignment[homes[given]] == np.flatnonzero(given)))


class _Search:
    """The incumbent plan and the steps that improve it."""

    def __init__(self, problem: DistrictProblem, deadline: float, seed: int, workers: int, rng):
        self.problem = problem
        self.deadline = deadline
        self.seed = seed
        self.workers = workers
        self.rng = rng
        self.bands = integer_bands(problem)
        self.neighbours = problem.graph.neighbours()
        self.everything = np.arange(problem.territory_count)
        self.best: np.ndarray | None = None
        self.best_key: tuple = (np.inf, np.inf, 0, np.inf, ())
        self.steps = 0
        self.notes: list[str] = []
        self.proven_bound: float | None = None
        self.proved_optimal = False
        self.bands_proven_infeasible = False
        self._home_cost = problem.home_cost() if problem.compactness == "home" else None
        self.ranks_deviation = any(band.in_deviation for band in self.bands)

    # -- incumbent ---------------------------------------------------------------------------------------

    def key(self, assignment: np.ndarray) -> tuple:
        """Return the lexicographic quality of a plan.

        In order: territories that fall apart (a start plan that had to keep far-apart locked units),
        band violation, deviation score and objective. For "diameter" every territory's diameter comes
        last, widest first, so a step that narrows a territory other than the widest still counts.
        """
        broken = len(disconnected_territories(self.problem, assignment))
        violation = round(band_violation(self.problem, assignment), 12)
        deviation = self.deviation(assignment, self.everything) if self.ranks_deviation else 0
        widths = ()
        if self.problem.compactness == "diameter":
            widths = tuple(np.round(np.sort(diameters(self.problem, assignment))[::-1], 9).tolist())
        return (broken, violation, deviation, objective_value(self.problem, assignment), widths)

    def deviation(self, assignment: np.ndarray, territories: np.ndarray) -> int:
        return weighted_deviation(self.bands, assignment, territories)

    def accept(self, assignment: np.ndarray) -> bool:
        """Keep ``assignment`` if it is better than the incumbent; return whether it was kept."""
        key = self.key(assignment)
        if key >= self.best_key:
            return False
        self.best, self.best_key = assignment.copy(), key
        return True

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def needs_repair(self) -> bool:
        """Return whether the incumbent has a territory that falls apart or a hard band it misses."""
        return self.best_key[0] > 0 or self.best_key[1] > VIOLATION_TOLERANCE

    def cost(self, assignment: np.ndarray) -> np.ndarray | None:
        """Return the unit x territory charges of the cost stage for the plan around ``assignment``."""
        problem = self.problem
        if problem.compactness == "home":
            cost = self._home_cost.copy()
        elif problem.compactness == "centre":
            lat, lon = territory_centres(problem, assignment)
            cost = centre_cost(problem, lat, lon)
        else:
            return None
        if problem.move_penalty:
            had = problem.current != NO_TERRITORY
            moved = np.ones_like(cost, dtype=bool)
            moved[np.flatnonzero(had), problem.current[had]] = False
            cost = cost + np.where(moved & had[:, None], problem.move_penalty, 0.0)
        return cost

    def run_group(self, group: np.ndarray, stage: str, time_limit_s: float, **extra) -> GroupResult:
        self.steps += 1
        if stage == "cost" and self.ranks_deviation:
            extra.setdefault("deviation_cap", self.deviation(self.best, group))
        if self.problem.compactness == "diameter":
            # No territory of the group may get wider than the widest territory now. In stage "cost"
            # the levels below that width reward narrowing the group's widest territory.
            widest = float(diameters(self.problem, self.best).max())
            # While bands are violated the width may grow a little, or balancing could stall.
            slack = BALANCE_WIDTH_SLACK if stage == "balance" else 0.0
            extra.setdefault("forbidden_distance", widest * (1 + slack) + DIAMETER_STEP)
            if stage == "cost":
                extra.setdefault("diameter_levels", np.linspace(widest * (1 - DIAMETER_RANGE), widest,
                                                                DIAMETER_LEVELS + 1)[:-1])
        return solve_group(self.problem, self.bands, self.best, group, self.neighbours, stage=stage,
                           cost=self.cost(self.best) if stage == "cost" else None, time_limit_s=time_limit_s,
                           seed=self.seed + self.steps, workers=self.workers, **extra)

    # -- one model over everything -------------------------------------------------------------------------

    def whole_model(self) -> bool:
        """Solve every territory in one model; return True when nothing is left to search."""
        everything = self.everything
        if self.needs_repair():
            result = self.run_group(everything, "balance", self.remaining() * 0.5)
            if result.assignment is not None:
                self.accept(result.assignment)
            if self.needs_repair():
                # The model covers every unit and territory, so an optimum above zero is a proof.
                self.bands_proven_infeasible = result.status == "OPTIMAL" and self.best_key[0] == 0
                return result.status == "OPTIMAL"
        if self.ranks_deviation:
            result = self.run_group(everything, "deviation", self.remaining() * 0.6)
            if result.assignment is not None:
                self.accept(result.assignment)
            if result.status != "OPTIMAL":
                return False
        # Each pass fixes the territories' centres ("centre") or the largest diameter ("diameter") at
        # the incumbent's, so the passes repeat while they improve the plan.
        while self.remaining() > 0.05:
            result = self.run_group(everything, "cost", self.remaining())
            if result.assignment is None:
                return False
            improved = self.accept(result.assignment)
            if result.status != "OPTIMAL":
                return False
            if self.problem.compactness == "home":
                self.proven_bound, self.proved_optimal = result.bound, self.problem.priority == "compactness"
                return True
            if self.problem.compactness == "diameter" and not improved:
                return True
            if self.problem.compactness == "centre" and not improved:
                self.notes.append("each territory's centre is its weighted centre; the plan is optimal for "
                                  "the centres it ended with")
                return True
        return False

    # -- tabu search for compactness "diameter" ---------------------------------------------------------------

    def width_search_applies(self) -> bool:
        """Return whether the tabu search can rank plans as the search does: no soft bands, no deviation score."""
        return not self.ranks_deviation and all(band.hard for band in self.problem.bands)

    def width_search(self, first: np.ndarray, from_caller: bool) -> None:
        """Run the tabu search from several starts, then again and again from the best plan.

        The first start is ``first``. When it is the caller's start or current plan (``from_caller``) or
        units are locked, it is the only start. The search returns early and leaves the rest of the
        time to the group models in three cases. A start falls apart (locked units far from each
        other), no start has met every band, or no unit can move. The last happens when every border
        unit is locked, a home unit or needed to keep its territory connected.
        """
        problem = self.problem
        starts_until = time.monotonic() + self.remaining() * START_SHARE
        plan, starts = first, 0
        while self.remaining() > 0.05:
            if disconnected_territories(problem, plan):
                return
            descent = WidthDescent(problem, plan, self.rng)
            found, _ = descent.run(min(self.deadline, time.monotonic() + START_SECONDS))
            starts += 1
            if found is not None:
                self.accept(found)
            if descent.stuck or (self.needs_repair() and starts >= STARTS_WITHOUT_PLAN):
                return
            if from_caller or time.monotonic() + START_SECONDS > starts_until or np.any(problem.locked != NO_TERRITORY):
                break
            plan = _nearest_seed_cells(problem, choose_seeds(problem, self.rng), self.rng)
        logger.debug("width search: %d starts, best width %.6g", starts, self.best_key[3])
        while self.remaining() > 0.05 and not self.needs_repair():
            descent = WidthDescent(problem, self.best, self.rng)
            found, _ = descent.run(min(self.deadline, time.monotonic() + DESCENT_SECONDS))
            if found is not None:
                self.accept(found)
            if descent.stuck:
                return

    # -- models over every territory, each unit limited to nearby territories --------------------------------

    def radius_allowed(self, factor: float) -> np.ndarray:
        """Return unit x territory: is the territory's centre within factor x the widest width of the unit?"""
        distance = self.problem.distance_matrix
        widest = float(diameters(self.problem, self.best).max())
        centres = []
        for t in range(self.problem.territory_count):
            members = np.flatnonzero(self.best == t)
            centres.append(int(members[np.argmin(distance[np.ix_(members, members)].max(axis=0))]))
        allowed = distance[:, centres] <= widest * factor
        allowed[np.arange(self.problem.unit_count), self.best] = True
        return allowed

    def radius_models(self) -> None:
        """Re-solve every territory at once with nearby territories only, until time runs out.

        The radius widens after a model that did not improve the plan. When every radius has failed,
        a short burst of group steps changes the plan before the radii start again.
        """
        attempt = 0
        while self.remaining() > 1.0:
            if attempt == len(RADIUS_FACTORS):
                self.neighbourhoods(until=time.monotonic() + RADIUS_BURST_SECONDS)
                attempt = 0
                continue
            stage = "balance" if self.needs_repair() else "cost"
            allowed = self.radius_allowed(RADIUS_FACTORS[attempt])
            result = self.run_group(self.everything, stage, min(self.remaining(), RADIUS_MODEL_SECONDS),
                                    allowed=allowed)
            improved = result.assignment is not None and self.accept(result.assignment)
            attempt = 0 if improved else attempt + 1

    def boundary_model(self, stage: str, share: float) -> None:
        """Run stage "balance" or "deviation" as one model over every territory, for ``share`` of the time left.

        Each unit may stay or join a territory within BOUNDARY_HOPS edges of it, so the model shifts
        every border a little at once. On the 3,107 contiguous-US counties in 30 territories this removed a
        16 % population deviation in one call, where pairs of territories kept passing it along.
        """
        n, k = self.problem.unit_count, self.problem.territory_count
        allowed = np.zeros((n, k), dtype=bool)
        allowed[np.arange(n), self.best] = True
        for _ in range(BOUNDARY_HOPS):
            reached = allowed.copy()
            for u, around in enumerate(self.neighbours):
                if len(around):
                    reached[u] |= allowed[around].any(axis=0)
            allowed = reached
        result = self.run_group(self.everything, stage, self.remaining() * share, allowed=allowed)
        if result.assignment is not None:
            self.accept(result.assignment)

    # -- neighbourhood search --------------------------------------------------------------------------------

    def territory_neighbours(self) -> list[set[int]]:
        edges = self.problem.graph.edges
        a, b = self.best[edges[:, 0]], self.best[edges[:, 1]]
        different = a != b
        result: list[set[int]] = [set() for _ in range(self.problem.territory_count)]
        for s, t in zip(a[different].tolist(), b[different].tolist()):
            result[s].add(t)
            result[t].add(s)
        return result

    def pick_group(self, centre: int, size: int) -> np.ndarray:
        adjacent = self.territory_neighbours()
        group = [centre]
        frontier = sorted(adjacent[centre])
        self.rng.shuffle(frontier)
        while frontier and len(group) < size:
            t = frontier.pop()
            if t in group:
                continue
            group.append(t)
            extra = sorted(adjacent[t] - set(group) - set(frontier))
            self.rng.shuffle(extra)
            frontier = extra + frontier
        return np.array(group, dtype=np.int64)

    def neighbourhoods(self, until: float | None = None) -> None:
        """Improve the incumbent one group of neighbouring territories at a time until time runs out.

        The group size starts at 2 and grows after repeated failures. The search stops early when
        groups of the largest size around every territory fail in a row (a local optimum), except for
        "diameter", which keeps trying new groups.
        """
        k = self.problem.territory_count
        largest = min(LARGEST_GROUP, k)
        size, failures = min(2, k), 0
        order: list[int] = []
        while self.remaining() > 0.05 and (until is None or time.monotonic() < until):
            stage = "balance" if self.needs_repair() else "cost"
            group = self.pick_group(self._centre_territory(stage, order), size)
            units = int(np.isin(self.best, group).sum())
            limit = group_time_limit(units * len(group) // 2, self.remaining())
            improved = False
            if stage == "cost" and self.ranks_deviation and self.best_key[2] > 0:
                result = self.run_group(group, "deviation", limit)
                improved = result.assignment is not None and self.accept(result.assignment)
            if self.remaining() > 0.05:
                result = self.run_group(group, stage, limit)
                improved = (result.assignment is not None and self.accept(result.assignment)) or improved
            if improved:
                size, failures = min(2, k), 0
                continue
            failures += 1
            if failures >= FAILURES_BEFORE_GROWING and size < largest:
                size, failures = size + 1, 0
            elif size == largest and failures >= 2 * k and self.problem.compactness != "diameter":
                self.notes.append(LOCAL_OPTIMUM_NOTE)
                break
        logger.debug("neighbourhood search: %d steps", self.steps)

    def _centre_territory(self, stage: str, order: list[int]) -> int:
        problem, k = self.problem, self.problem.territory_count
        if stage == "balance":
            broken = disconnected_territories(problem, self.best)
            if broken:
                return int(self.rng.choice(broken))
            excess = np.zeros(k)
            for band in problem.bands:
                sums = band.totals(self.best, k)
                scale = np.where(band.target > 0, band.target, 1.0)
                excess += (np.maximum(band.lower - sums, 0) + np.maximum(sums - band.upper, 0)) / scale
            violated = np.flatnonzero(excess > VIOLATION_TOLERANCE)
            return int(self.rng.choice(violated)) if violated.size else int(self.rng.integers(k))
        if problem.compactness == "diameter":
            d = diameters(problem, self.best)
            widest = np.flatnonzero(d >= d.max() - 1e-9)
            return int(self.rng.choice(widest))
        if not order:
            order.extend(self.rng.permutation(k).tolist())
        return order.pop()


def relaxation_bound(problem: DistrictProblem, time_limit_s: float) -> float | None:
    """Return the LP relaxation optimum without contiguity (compactness "home"), a valid lower bound."""
    n, k = problem.unit_count, problem.territory_count
    if n * k > BOUND_MAX_PAIRS or time_limit_s <= 0.2:
        return None
    cost = problem.home_cost()
    if problem.move_penalty:
        had = problem.current != NO_TERRITORY
        stay = np.zeros_like(cost, dtype=bool)
        stay[np.flatnonzero(had), problem.current[had]] = True
        cost = cost + np.where(had[:, None] & ~stay, problem.move_penalty, 0.0)
    column = np.arange(n * k)
    unit, territory = column // k, column % k
    rows = [unit]
    coefficients = [np.ones(n * k)]
    lower, upper = [np.ones(n)], [np.ones(n)]
    offset = n
    for band in problem.bands:
        rows.append(offset + territory)
        coefficients.append(band.values[unit])
        lower.append(band.lower)
        upper.append(band.upper)
        offset += k
    matrix = sparse.csr_matrix((np.concatenate(coefficients), (np.concatenate(rows), np.concatenate([column] * len(rows)))),
                               shape=(offset, n * k))
    column_lower, column_upper = np.zeros(n * k), np.ones(n * k)
    fixed = np.full(n, NO_TERRITORY, dtype=np.int64)
    fixed[problem.locked != NO_TERRITORY] = problem.locked[problem.locked != NO_TERRITORY]
    given = problem.home_unit != NO_TERRITORY
    fixed[problem.home_unit[given]] = np.flatnonzero(given)
    for u in np.flatnonzero(fixed != NO_TERRITORY):
        column_upper[u * k:(u + 1) * k] = 0.0
        column_upper[u * k + fixed[u]] = 1.0
        column_lower[u * k + fixed[u]] = 1.0
    builder = model_builder_helper.ModelBuilderHelper()
    builder.fill_model_from_sparse_data(column_lower, column_upper, cost.ravel(), np.concatenate(lower),
                                        np.concatenate(upper), matrix)
    solver = model_builder_helper.ModelSolverHelper("glop")
    solver.set_time_limit_in_seconds(time_limit_s)
    with stoppable(solver.interrupt_solve):
        solver.solve(builder)
    if solver.status() != model_builder_helper.SolveStatus.OPTIMAL:
        logger.info("the LP bound of the districting problem ended with status %s", solver.status())
        return None
    return float(solver.objective_value())
