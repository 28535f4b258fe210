"""Turn a rounded LP solution into a plan that keeps every band, capacity and account limit.

Local search on one measure: the total violation of all limits, each divided by its typical size so
that currency and hours weigh alike. Each step looks at every move of one account from or to the most
violated rep that lowers the violation, and takes the one with the smallest rise in cost per unit of
violation removed. Locked accounts never move. The result is only a start for CP-SAT; it may still violate a limit
when the search stalls, and CP-SAT then repairs or replaces it.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from optimizer.instance import COST_SCALE, NO_REP, Instance

logger = logging.getLogger(__name__)


class _Loads:
    """Per-rep sums of every limited quantity, with their limits, as rows of one matrix."""

    def __init__(self, instance: Instance):
        rows_values, lower, upper, scale = [], [], [], []
        for band in instance.bands.values():
            rows_values.append(band.values)
            lower.append(band.lower)
            upper.append(band.upper)
            scale.append(max(float(np.mean(band.target)), 1e-9))
        self.capacity_row = len(rows_values)
        self.load_matrix = instance.load_matrix
        rows_values.append(instance.workload)
        lower.append(np.zeros(instance.rep_count))
        upper.append(instance.capacity)
        scale.append(max(float(np.mean(instance.capacity)), 1e-9))
        max_accounts = np.where(instance.max_accounts == NO_REP, np.inf, instance.max_accounts).astype(float)
        rows_values.append(np.ones(instance.account_count))
        lower.append(np.zeros(instance.rep_count))
        upper.append(max_accounts)
        scale.append(max(float(np.mean(np.where(np.isfinite(max_accounts), max_accounts, 1.0))), 1.0))
        self.values = np.vstack(rows_values)            # quantity x account
        self.lower = np.vstack(lower)                   # quantity x rep
        self.upper = np.vstack(upper)
        self.scale = np.array(scale)[:, None]

    def at(self, accounts: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Return the (quantity x pair) loads of accounts with the paired reps (hours may depend on the rep)."""
        values = self.values[:, accounts]
        if self.load_matrix is not None:
            values = values.copy()
            values[self.capacity_row] = self.load_matrix[accounts, reps]
        return values

    def violation(self, load: np.ndarray) -> np.ndarray:
        """Return the scaled violation per rep of a (quantity x rep) load matrix."""
        return _violation_at(self, load, np.arange(load.shape[1]))


def repair(instance: Instance, rep_of: np.ndarray, cost_of, time_limit_s: float, *, max_moves: int) -> np.ndarray:
    """Return a copy of `rep_of` moved towards feasibility. `cost_of(accounts, reps)` returns integer costs.

    The search stops after `max_moves` moves, so its result does not depend on the machine's speed.
    The time limit only guards against a very slow machine.
    """
    started = time.monotonic()
    rep_of = rep_of.copy()
    loads = _Loads(instance)
    load = np.zeros((loads.values.shape[0], instance.rep_count))
    np.add.at(load.T, rep_of, loads.at(np.arange(instance.account_count), rep_of).T)
    movable = instance.locked_owner == NO_REP
    all_accounts = np.arange(instance.account_count)
    steps = 0
    while steps < max_moves and time.monotonic() - started < time_limit_s:
        per_rep = loads.violation(load)
        if per_rep.sum() <= 1e-12:
            break
        worst = int(np.argmax(per_rep))
        over = (load[:, worst] > loads.upper[:, worst] + 1e-9).any()
        if over:
            accounts = all_accounts[(rep_of == worst) & movable]
        else:
            accounts = all_accounts[(rep_of != worst) & movable]
        if accounts.size == 0:
            break
        move = _best_move(instance, loads, load, rep_of, accounts, worst, over, cost_of)
        if move is None:
            break
        account, target = move
        source = rep_of[account]
        load[:, source] -= loads.at(np.array([account]), np.array([source]))[:, 0]
        load[:, target] += loads.at(np.array([account]), np.array([target]))[:, 0]
        rep_of[account] = target
        steps += 1

    remaining = float(loads.violation(load).sum())
    logger.info("repair: %d moves in %.1f s, remaining scaled violation %.6f", steps, time.monotonic() - started,
                remaining)
    return rep_of


def _best_move(instance, loads, load, rep_of, accounts, worst, over, cost_of):
    """Return (account, new rep) lowering the total violation most, or None when no move lowers it."""
    if over:
        eligible = instance.eligible_matrix(accounts)
        eligible[:, worst] = False
        rows, targets = np.nonzero(eligible)
        moved, sources = accounts[rows], np.full(len(rows), worst)
    else:
        eligible = instance.eligible_matrix(accounts)[:, worst]
        moved = accounts[eligible]
        sources, targets = rep_of[moved], np.full(len(moved), worst)
    if moved.size == 0:
        return None

    before = _violation_at(loads, load[:, sources], sources) + _violation_at(loads, load[:, targets], targets)
    after = (_violation_at(loads, load[:, sources] - loads.at(moved, sources), sources)
             + _violation_at(loads, load[:, targets] + loads.at(moved, targets), targets))
    gain = before - after
    useful = np.flatnonzero(gain > 1e-12)
    if useful.size == 0:
        return None
    # Cheapest repair per unit of violation removed; a move that lowers the cost is taken first.
    delta_cost = cost_of(moved[useful], targets[useful]) - cost_of(moved[useful], sources[useful])
    price = np.where(delta_cost <= 0, delta_cost - 1.0, delta_cost / gain[useful])
    choice = useful[np.lexsort((-gain[useful], price))[0]]
    return int(moved[choice]), int(targets[choice])


def _violation_at(loads: _Loads, load_columns: np.ndarray, reps: np.ndarray) -> np.ndarray:
    """Scaled violation of given load columns, each against the limits of the paired rep."""
    lower, upper = loads.lower[:, reps], loads.upper[:, reps]
    return ((np.maximum(0.0, lower - load_columns) + np.maximum(0.0, load_columns - upper)) / loads.scale).sum(axis=0)


def pair_cost_function(instance: Instance):
    """Return cost_of(accounts, reps) -> integer costs, computing geodesic distances on demand."""

    def cost_of(accounts: np.ndarray, reps: np.ndarray) -> np.ndarray:
        distance = instance.pair_distance_km(accounts, reps)
        return np.rint(instance.pair_cost(accounts, reps, distance) * COST_SCALE)

    return cost_of
