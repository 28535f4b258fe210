"""The CP-SAT model of a group of territories: reassign all their units, keep each territory connected.

Connectivity uses a spanning tree per territory. Every unit is either its territory's root or picks
one neighbour in the same territory as its parent, and a parent's depth is smaller than its child's.
Following parents therefore always ends at the root, so each territory is connected. The model has
one parent literal per directed edge, not one flow variable per edge and territory.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from optimizer.geo.problem import NO_TERRITORY, DistrictProblem
from optimizer.interrupt import stoppable

logger = logging.getLogger(__name__)

COST_RESOLUTION = 1_000_000  # the largest charge in a model becomes this many integer steps
# A territory's deviation from its target counts DEVIATION_RESOLUTION / target per unit of the metric,
# so every metric's deviation is measured as a share of its target, in billionths.
DEVIATION_RESOLUTION = 1_000_000_000
INTEGER_TARGET_MAX = 100_000_000


@dataclass
class GroupResult:
    """Outcome of one group model: the new plan (None without a solution), CP-SAT's status and bound."""

    assignment: np.ndarray | None
    status: str
    objective: float | None
    bound: float | None
    wall_s: float


@dataclass
class IntegerBand:
    values: np.ndarray  # per unit, scaled to integers
    lower: np.ndarray   # per territory, scaled and rounded inwards
    upper: np.ndarray
    target: np.ndarray  # per territory, scaled (not rounded)
    hard: bool
    in_deviation: bool  # counted in the deviation score

    def deviation_weight(self) -> np.ndarray:
        return np.maximum(1, np.round(DEVIATION_RESOLUTION / np.maximum(self.target, 1.0))).astype(np.int64)


def weighted_deviation(bands: list[IntegerBand], assignment: np.ndarray, territories: np.ndarray) -> int:
    """Return the integer deviation score of ``territories``: the sum of |total - target| x weight."""
    score = 0
    for band in bands:
        if not band.in_deviation:
            continue
        totals = np.bincount(assignment, weights=band.values, minlength=len(band.target)).round().astype(np.int64)
        gap = np.abs(totals[territories] - np.round(band.target[territories]).astype(np.int64))
        score += int(np.sum(gap * band.deviation_weight()[territories]))
    return score


def integer_bands(problem: DistrictProblem) -> list[IntegerBand]:
    """Scale each metric to integers with targets of at most INTEGER_TARGET_MAX steps.

    Whole-number metrics of a hard band stay exact when their target fits. Otherwise each unit's value
    is rounded to the step, and a hard band is narrowed by the largest rounding error a territory can
    collect (half a step per unit), so a plan inside the integer band is inside the real one. Large
    coefficients made CP-SAT 9.15 overrun its time limit and abort with bad_alloc on US counties with
    potential counted in cents.

    The deviation score counts the soft bands, and the hard ones too when the priority is balance.
    """
    result = []
    n = problem.unit_count
    for band in problem.bands:
        whole = np.allclose(band.values, np.round(band.values), rtol=0, atol=1e-9)
        largest_target = float(np.max(band.target)) if len(band.target) else 1.0
        factor = 1.0 if whole else 100.0
        if largest_target * factor > INTEGER_TARGET_MAX:
            factor = INTEGER_TARGET_MAX / largest_target
        values = np.round(band.values * factor).astype(np.int64)
        exact = whole and factor == 1.0
        margin = 0 if exact else int(math.ceil(0.5 * n))
        lower = np.ceil(band.lower * factor - 1e-6).astype(np.int64) + margin
        upper = np.floor(band.upper * factor + 1e-6).astype(np.int64) - margin
        if band.hard and np.any(lower > upper):
            # The rounding margin would close the band; keep it open and let the real check decide.
            lower = np.ceil(band.lower * factor - 1e-6).astype(np.int64)
            upper = np.floor(band.upper * factor + 1e-6).astype(np.int64)
        result.append(IntegerBand(values, np.maximum(lower, 0), upper, np.maximum(band.target * factor, 1.0),
                                  band.hard, problem.priority == "balance" or not band.hard))
    return result


def solve_group(problem: DistrictProblem, bands: list[IntegerBand], assignment: np.ndarray, group: np.ndarray,
                neighbours: list[np.ndarray], *, stage: str, cost: np.ndarray | None, time_limit_s: float,
                seed: int, workers: int, forbidden_distance: float | None = None,
                roots: np.ndarray | None = None, deviation_cap: int | None = None,
                allowed: np.ndarray | None = None, diameter_levels: np.ndarray | None = None) -> GroupResult:
    """Reassign every unit of the territories in ``group`` among them; other territories stay as they are.

    stage "balance" minimises the band violation (each metric's excess as a share of its target).
    Stage "deviation" keeps the bands hard and minimises the group's ``weighted_deviation``. Stage
    "cost" keeps the bands hard, keeps that deviation at most ``deviation_cap`` when given, and
    minimises ``cost`` (unit x territory charges). With
    ``forbidden_distance``, two units at least that far apart (``distance_matrix``) may not share a
    territory. ``roots`` fixes each group territory's root unit when the problem has no home units.
    ``allowed`` (unit x territory, bool) limits where each unit may go; locks and homes override it.
    With ``diameter_levels`` (ascending distances, all below ``forbidden_distance``), stage "cost"
    first minimises the group's largest diameter, measured as the number of levels it reaches, and
    only then ``cost``.
    """
    group = np.asarray(group, dtype=np.int64)
    units = np.flatnonzero(np.isin(assignment, group))
    symmetric = (stage != "cost" or cost is None) and _interchangeable(problem, group)
    if symmetric:
        # The model orders interchangeable territories by their lowest-numbered unit; order the group
        # the same way so that the current plan stays a valid hint.
        group = np.array(sorted(group, key=lambda t: units[assignment[units] == t].min(initial=len(assignment))))
    position = {int(u): i for i, u in enumerate(units)}
    model = cp_model.CpModel()
    g = len(group)
    slot = {int(t): s for s, t in enumerate(group)}

    zero = model.new_constant(0)
    x = [[None] * g for _ in units]
    for i, u in enumerate(units):
        slots = _allowed_slots(problem, int(u), slot)
        if allowed is not None and len(slots) > 1:
            slots = {s for s in slots if allowed[u, group[s]]}
        for s in range(g):
            x[i][s] = model.new_bool_var(f"x{u}_{s}") if s in slots else zero
        model.add_exactly_one(x[i])

    is_root, root_of, root_units = _roots(problem, model, units, group, x, roots, symmetric, zero)
    tree = _tree(model, units, position, neighbours, x, is_root, g, zero.index)

    objective_terms = []
    violation_terms = []
    deviation_terms = []
    # Auxiliary variables are hinted too, so the hint is complete: CP-SAT can then take the current
    # plan as its first solution.
    for band in bands:
        weight = band.deviation_weight()
        current_total = np.bincount(assignment[units], weights=band.values[units],
                                    minlength=problem.territory_count).round().astype(np.int64)
        for s, t in enumerate(group):
            total = sum(int(band.values[u]) * x[i][s] for i, u in enumerate(units) if band.values[u])
            now = int(current_total[t])
            if band.in_deviation and (stage == "deviation" or deviation_cap is not None):
                gap = model.new_int_var(0, int(band.values.sum() + band.target[t] + 1), "")
                model.add_abs_equality(gap, total - int(round(band.target[t])))
                model.add_hint(gap, abs(now - int(round(band.target[t]))))
                deviation_terms.append(int(weight[t]) * gap)
            if not band.hard:
                continue
            if stage == "balance":
                under = model.new_int_var(0, int(band.lower[t]), "")
                over = model.new_int_var(0, int(band.values[units].sum()), "")
                model.add(total + under - over >= int(band.lower[t]))
                model.add(total + under - over <= int(band.upper[t]))
                model.add_hint(under, max(int(band.lower[t]) - now, 0))
                model.add_hint(over, max(now - int(band.upper[t]), 0))
                violation_terms.append(int(weight[t]) * (under + over))
            else:
                model.add(total >= int(band.lower[t]))
                model.add(total <= int(band.upper[t]))

    if forbidden_distance is not None:
        _forbid_far_pairs(problem, model, units, x, g, forbidden_distance, zero.index)
    levels = None
    if diameter_levels is not None and len(diameter_levels):
        levels = _diameter_levels(problem, model, units, group, x, np.asarray(diameter_levels, dtype=float),
                                  assignment, zero.index)

    if deviation_cap is not None:
        model.add(sum(deviation_terms) <= deviation_cap)

    scale = 0.0
    if stage == "balance":
        # Integer weights: CP-SAT stops a floating-point objective within 1e-4 of its bound, which
        # would call a violation of a few people in a million optimal.
        model.minimize(sum(violation_terms))
    elif stage == "deviation":
        model.minimize(sum(deviation_terms))
    elif cost is not None:
        local = cost[np.ix_(units, group)]
        largest = float(np.max(np.abs(local))) if local.size else 0.0
        scale = COST_RESOLUTION / largest if largest > 0 else 1.0
        integer_cost = np.round(local * scale).astype(np.int64)
        objective_terms = [int(integer_cost[i, s]) * x[i][s] for i in range(len(units)) for s in range(g)
                           if integer_cost[i, s]]
        if levels is not None:
            # The widest territory first, then the widths of all group territories, then the charges.
            objective_terms.append((int(integer_cost.sum()) + 1) * _levels_objective(levels))
            scale = 0.0
        model.minimize(sum(objective_terms))
    elif levels is not None:
        model.minimize(_levels_objective(levels))

    _hint(model, units, position, neighbours, assignment, group, x, tree, root_of, root_units, is_root, zero.index)

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit_s)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    # Presolve is off: on Iowa's counties (two territories, 50 units, population bands) CP-SAT 9.15
    # spent the whole 3 s limit in presolve and found nothing, while without presolve it proved the
    # optimum in 0.09 s.
    solver.parameters.cp_model_presolve = False
    solver.parameters.catch_sigint_signal = False     # Ctrl-C goes to optimizer.interrupt
    with stoppable(solver.stop_search):
        status = solver.solve(model)
    name = solver.status_name(status)
    if status == cp_model.MODEL_INVALID:
        raise ValueError(f"the group model is invalid: {model.validate()}")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return GroupResult(None, name, None, None, solver.wall_time)

    result = assignment.copy()
    for i, u in enumerate(units):
        for s in range(g):
            if solver.boolean_value(x[i][s]):
                result[u] = group[s]
                break
    has_objective = stage != "cost" or cost is not None
    objective = solver.objective_value if has_objective else None
    bound = solver.best_objective_bound if has_objective else None
    if scale:
        objective, bound = objective / scale, bound / scale
    return GroupResult(result, name, objective, bound, solver.wall_time)


def _allowed_slots(problem: DistrictProblem, unit: int, slot: dict[int, int]) -> set[int]:
    locked = problem.locked[unit]
    if locked != NO_TERRITORY:
        return {slot[locked]} if locked in slot else set()
    homes = np.flatnonzero(problem.home_unit == unit)
    if homes.size:
        return {slot[int(homes[0])]} if int(homes[0]) in slot else set()
    return set(slot.values())


def _roots(problem, model, units, group, x, roots, symmetric, zero):
    """Return the is-root literal per unit, the root literal per (unit, slot) and the fixed root units.

    The roots are fixed when every group territory has a home unit or ``roots`` names them; then the
    second item is None. Otherwise the third item is None.
    """
    g = len(group)
    fixed = problem.home_unit[group] if roots is None else np.asarray(roots, dtype=np.int64)
    if np.all(fixed != NO_TERRITORY):
        root_units = {int(u) for u in fixed}
        for s, u in enumerate(fixed):
            i = int(np.flatnonzero(units == u)[0])
            model.add(x[i][s] == 1)
        return [model.new_constant(1 if int(u) in root_units else 0) for u in units], None, fixed

    # Each territory's root is its lowest-numbered unit, which removes equivalent trees. seen[i][s]
    # is true when any of units 0..i is in territory s, so the root is the unit where seen turns true.
    count = len(units)
    root_of = [[zero] * g for _ in units]
    for s in range(g):
        candidates = [i for i in range(count) if x[i][s].index != zero.index]
        seen_before = None
        for position_in_slot, i in enumerate(candidates):
            root_of[i][s] = model.new_bool_var("")
            if seen_before is None:
                model.add(root_of[i][s] == x[i][s])
            else:
                model.add_implication(root_of[i][s], x[i][s])
                model.add_implication(root_of[i][s], seen_before.negated())
                model.add_bool_or([x[i][s].negated(), seen_before, root_of[i][s]])
            if position_in_slot < len(candidates) - 1:
                seen = model.new_bool_var("")
                model.add_implication(x[i][s], seen)
                if seen_before is not None:
                    model.add_implication(seen_before, seen)
                    model.add_bool_or([seen.negated(), seen_before, x[i][s]])
                else:
                    model.add(seen == x[i][s])
                seen_before = seen
        model.add_exactly_one(root_of[i][s] for i in candidates)
    is_root = [model.new_bool_var("") for _ in units]
    for i in range(count):
        model.add(sum(root_of[i]) == is_root[i])
    if symmetric:
        # Territories with the same bands are interchangeable, so order them by their root's number.
        order = [sum(i * root_of[i][s] for i in range(count)) for s in range(g)]
        for s in range(g - 1):
            model.add(order[s] < order[s + 1])
    return is_root, root_of, None


def _interchangeable(problem: DistrictProblem, group: np.ndarray) -> bool:
    """Return whether relabelling the group's territories changes neither the rules nor the objective."""
    if np.any(np.isin(problem.locked, group)) or np.any(problem.home_unit[group] != NO_TERRITORY):
        return False
    if problem.move_penalty > 0 and np.any(np.isin(problem.current, group)):
        return False
    return all(np.allclose(band.lower[group], band.lower[group[0]]) and
               np.allclose(band.upper[group], band.upper[group[0]]) for band in problem.bands)


def _tree(model, units, position, neighbours, x, is_root, g, zero_index):
    """Add the parent literals and depths; return (parent[i][j] literal per directed edge, depth per unit)."""
    depth = [model.new_int_var(0, max(0, len(units) - 1), "") for _ in units]
    parent = [{} for _ in units]
    possible = [[s for s in range(g) if x[i][s].index != zero_index] for i in range(len(units))]
    for i, u in enumerate(units):
        options = []
        for v in neighbours[u]:
            j = position.get(int(v))
            if j is None or not set(possible[i]) & set(possible[j]):
                continue  # the two units can never share a territory
            p = model.new_bool_var("")
            parent[i][j] = p
            options.append(p)
            for s in possible[i]:
                # A parent is in the child's territory.
                model.add_bool_or([p.negated(), x[i][s].negated(), x[j][s]])
            model.add(depth[i] >= depth[j] + 1).only_enforce_if(p)
        model.add(sum(options) + is_root[i] == 1)
        model.add(depth[i] == 0).only_enforce_if(is_root[i])
    return parent, depth


def _forbid_far_pairs(problem, model, units, x, g, limit, zero_index):
    distances = problem.distance_matrix[np.ix_(units, units)]
    rows, cols = np.nonzero(np.triu(distances >= limit - 1e-9, k=1))
    for i, j in zip(rows.tolist(), cols.tolist()):
        for s in range(g):
            if x[i][s].index != zero_index and x[j][s].index != zero_index:
                model.add_bool_or([x[i][s].negated(), x[j][s].negated()])


def _levels_objective(levels):
    """Return the levels reached by the widest territory, weighted above the levels of all territories."""
    widest, reached = levels
    every = sum(sum(row) for row in reached)
    return (len(reached) * len(widest) + 1) * sum(widest) + every


def _diameter_levels(problem, model, units, group, x, levels, assignment, zero_index):
    """Return (per level: some group territory is that wide, per slot and level: that territory is).

    A pair at distance d in one territory reaches every level <= d. The literals of a territory are
    ordered (a level implies the ones below it), so one clause per pair and territory, at the
    highest level <= d, is enough.
    """
    g = len(group)
    widest = [model.new_bool_var("") for _ in levels]
    reached = [[model.new_bool_var("") for _ in levels] for _ in range(g)]
    for s in range(g):
        for level, literal in enumerate(reached[s]):
            model.add_implication(literal, widest[level])
            if level:
                model.add_implication(literal, reached[s][level - 1])
    distances = problem.distance_matrix[np.ix_(units, units)]
    rows, cols = np.nonzero(np.triu(distances >= levels[0] - 1e-9, k=1))
    level_of = np.searchsorted(levels, distances[rows, cols] + 1e-9, side="right") - 1
    for i, j, level in zip(rows.tolist(), cols.tolist(), level_of.tolist()):
        for s in range(g):
            if x[i][s].index != zero_index and x[j][s].index != zero_index:
                model.add_bool_or([x[i][s].negated(), x[j][s].negated(), reached[s][level]])

    current = assignment[units]
    group_width = 0.0
    for s, t in enumerate(group):
        members = np.flatnonzero(current == t)
        width = float(distances[np.ix_(members, members)].max()) if len(members) > 1 else 0.0
        group_width = max(group_width, width)
        for level, literal in zip(levels, reached[s]):
            model.add_hint(literal, int(width >= level - 1e-9))
    for level, literal in zip(levels, widest):
        model.add_hint(literal, int(group_width >= level - 1e-9))
    return widest, reached


def _hint(model, units, position, neighbours, assignment, group, x, tree, root_of, root_units, is_root, zero_index):
    """Hint the current plan, with a breadth-first tree from each territory's root."""
    parent, depth = tree
    current = assignment[units]
    starts = set()
    for i in range(len(units)):
        for s in range(len(group)):
            if x[i][s].index != zero_index:  # the shared constant 0 takes no hint
                model.add_hint(x[i][s], int(current[i] == group[s]))
    for s, t in enumerate(group):
        members = np.flatnonzero(current == t)
        if not members.size:
            continue
        if root_units is not None and int(root_units[s]) in position and current[position[int(root_units[s])]] == t:
            start = position[int(root_units[s])]
        else:
            start = int(members[0])
        starts.add(start)
        if root_of is not None:
            for i in range(len(units)):
                if root_of[i][s].index != zero_index:
                    model.add_hint(root_of[i][s], int(i == start))
        seen, queue, level = {start}, deque([start]), {start: 0}
        while queue:
            i = queue.popleft()
            model.add_hint(depth[i], level[i])
            for v in neighbours[units[i]]:
                j = position.get(int(v))
                if j is None or j in seen or current[j] != t:
                    continue
                seen.add(j)
                level[j] = level[i] + 1
                queue.append(j)
                for b, literal in parent[j].items():
                    model.add_hint(literal, int(b == i))
    if root_of is not None:
        for i in range(len(units)):
            model.add_hint(is_root[i], int(i in starts))


def group_time_limit(unit_count: int, remaining_s: float) -> float:
    """Return a time limit for one group model: about a second per 200 units, within what remains."""
    return max(0.2, min(remaining_s, 0.5 + unit_count / 200.0, 10.0 + math.log10(max(unit_count, 1))))
