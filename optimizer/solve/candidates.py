"""Candidate (account, rep) pairs offered to the model, and pricing of the pairs left out.

The model starts from each account's nearest eligible reps, its current owner and its lock. Pairs left
out are not lost: after each LP solve, ``price`` looks at every eligible pair, and any pair with
a negative reduced cost joins the model, so the LP bound holds for the full problem.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from optimizer.geodesy import spherical_km
from optimizer.instance import COST_SCALE, NO_REP, Instance

logger = logging.getLogger(__name__)

CHUNK_ACCOUNTS = 20_000


@dataclass
class Pairs:
    """Model columns: account index, rep index, geodesic distance (km) and integer cost per pair."""

    account: np.ndarray
    rep: np.ndarray
    distance_km: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return len(self.account)

    @staticmethod
    def build(instance: Instance, account: np.ndarray, rep: np.ndarray) -> Pairs:
        account, rep = np.asarray(account, dtype=np.int64), np.asarray(rep, dtype=np.int64)
        distance = instance.pair_distance_km(account, rep)
        cost = np.rint(instance.pair_cost(account, rep, distance) * COST_SCALE).astype(np.int64)
        return Pairs(account, rep, distance, cost)

    def extend(self, other: Pairs) -> Pairs:
        return Pairs(*(np.concatenate([getattr(self, name), getattr(other, name)])
                       for name in ("account", "rep", "distance_km", "cost")))


def nearest_candidates(instance: Instance, per_account: int) -> Pairs:
    """Return, for every account, its `per_account` nearest eligible reps plus its owner and lock."""
    chosen_accounts, chosen_reps = [], []
    k = min(per_account, instance.rep_count)
    for start in range(0, instance.account_count, CHUNK_ACCOUNTS):
        accounts = np.arange(start, min(start + CHUNK_ACCOUNTS, instance.account_count))
        eligible = instance.eligible_matrix(accounts)
        reps = np.arange(instance.rep_count)
        cost = instance.pair_cost_lower_bound(np.repeat(accounts, len(reps)), np.tile(reps, len(accounts)))
        cost = np.where(eligible, cost.reshape(len(accounts), len(reps)), np.inf)
        nearest = np.argpartition(cost, k - 1, axis=1)[:, :k] if k < len(reps) else np.tile(reps, (len(accounts), 1))
        keep = np.isfinite(np.take_along_axis(cost, nearest, axis=1))
        rows = np.repeat(accounts, nearest.shape[1])[keep.ravel()]
        chosen_accounts.append(rows)
        chosen_reps.append(nearest.ravel()[keep.ravel()])

        owner = instance.current_owner[accounts]
        has_owner = owner != NO_REP
        owner_ok = has_owner.copy()
        owner_ok[has_owner] = eligible[np.flatnonzero(has_owner), owner[has_owner]]
        chosen_accounts.append(accounts[owner_ok])
        chosen_reps.append(owner[owner_ok])

    rep_side_accounts, rep_side_reps = _nearest_accounts_per_rep(instance)
    account = np.concatenate(chosen_accounts + [rep_side_accounts])
    rep = np.concatenate(chosen_reps + [rep_side_reps])
    unique = np.unique(account * instance.rep_count + rep)
    return Pairs.build(instance, unique // instance.rep_count, unique % instance.rep_count)


def cheapest_pair_bound(instance: Instance) -> int:
    """Return the sum over accounts of their cheapest eligible pair's cost (integer units), a lower bound
    on every plan. Pairs are costed with the distance lower bound, so no geodesic is computed."""
    total = 0.0
    reps = np.arange(instance.rep_count)
    for start in range(0, instance.account_count, CHUNK_ACCOUNTS):
        accounts = np.arange(start, min(start + CHUNK_ACCOUNTS, instance.account_count))
        cost = instance.pair_cost_lower_bound(np.repeat(accounts, len(reps)), np.tile(reps, len(accounts)))
        cost = np.where(instance.eligible_matrix(accounts), cost.reshape(len(accounts), len(reps)), np.inf)
        total += float(np.floor(cost.min(axis=1) * COST_SCALE).sum())
    return int(total)


def _nearest_accounts_per_rep(instance: Instance, reach: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Return pairs giving each rep its nearest eligible accounts until they hold `reach` times the rep's
    upper limit of every band and of capacity, so a rep far from everyone (a specialist, say) can
    still fill its band in the LP. Specialists covering the same industries compete for the same
    accounts, so their reach is multiplied by their number."""
    all_accounts = np.arange(instance.account_count)
    chosen_accounts, chosen_reps = [], []
    sharing = {covered: sum(1 for other in instance.rep_industries if other == covered)
               for covered in set(instance.rep_industries) if covered}
    eligible_all = instance.eligible_matrix(all_accounts)
    for r in range(instance.rep_count):
        eligible = np.flatnonzero(eligible_all[:, r])
        if eligible.size == 0:
            continue
        if instance.cost_matrix is None:
            nearness = spherical_km(instance.account_lat[eligible], instance.account_lon[eligible],
                                    instance.rep_lat[r], instance.rep_lon[r])
        else:
            nearness = instance.cost_matrix[eligible, r]
        factor = reach * sharing.get(instance.rep_industries[r], 1)
        # Sorting only the nearest part is enough. That part doubles until it contains what the rep needs.
        size = min(eligible.size, max(64, 4 * int(factor * instance.account_count / instance.rep_count)))
        while True:
            order, whole = _nearest_first(eligible, nearness, size)
            limits = [(band.values[order], band.upper[r]) for band in instance.bands.values()]
            limits.append((instance.pair_load(order, np.full(order.size, r)), instance.capacity[r]))
            needed = max(int(np.searchsorted(np.cumsum(values), factor * upper)) + 1 for values, upper in limits)
            if needed <= order.size or whole:
                break
            size *= 2
        chosen_accounts.append(order[:needed])
        chosen_reps.append(np.full(min(needed, order.size), r))
    if not chosen_accounts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(chosen_accounts), np.concatenate(chosen_reps)


def _nearest_first(items: np.ndarray, nearness: np.ndarray, size: int) -> tuple[np.ndarray, bool]:
    """Return the `size` nearest items (more on a tie), nearest first and ties in item order, and whether
    that is all of them. The order is the same as a stable sort of every item by nearness."""
    if size >= items.size:
        return items[np.argsort(nearness, kind="stable")], True
    cutoff = np.partition(nearness, size - 1)[size - 1]
    near = np.flatnonzero(nearness <= cutoff)
    return items[near[np.argsort(nearness[near], kind="stable")]], near.size == items.size


@dataclass
class Duals:
    """LP duals (reduced cost = cost - sum of row coefficient x dual) needed to price a pair."""

    assignment: np.ndarray             # per account
    band: dict[str, np.ndarray]        # per metric, per rep
    capacity: np.ndarray               # per rep
    max_accounts: np.ndarray           # per rep
    concentration: dict[tuple[int, int], float]  # (account, rep) -> dual of that account's share row
    max_moves: float
    # Per account, the smallest reduced cost over every eligible pair (zero once pricing has converged).
    # A plan using pair (a, r) costs at least the bound plus reduced cost(a, r) - floor[a].
    floor: np.ndarray | None = None

    def floor_of(self, account: np.ndarray) -> np.ndarray | float:
        return self.floor[account] if self.floor is not None else 0.0


def reduced_costs(instance: Instance, duals: Duals, account: np.ndarray, rep: np.ndarray,
                  cost: np.ndarray) -> np.ndarray:
    """Return the reduced cost of each pair, in the same units as the integer pair costs."""
    value = cost.astype(float) - duals.assignment[account]
    for metric, dual in duals.band.items():
        value -= instance.bands[metric].values[account] * dual[rep]
    value -= instance.pair_load(account, rep) * duals.capacity[rep]
    value -= duals.max_accounts[rep]
    if duals.concentration:
        share = instance.max_account_share
        per_rep = np.zeros(instance.rep_count)
        for (_, r), dual in duals.concentration.items():
            per_rep[r] += dual
        value -= instance.potential[account] * per_rep[rep]
        for (a, r), dual in duals.concentration.items():
            hit = (account == a) & (rep == r)
            value[hit] -= -(instance.potential[a] / share) * dual
    if duals.max_moves:
        owner = instance.current_owner[account]
        moved = (owner != NO_REP) & (owner != rep)
        value -= np.where(moved, duals.max_moves, 0.0)
    return value


def _open_pairs_below(instance: Instance, duals: Duals, in_model: np.ndarray, threshold: float,
                      phase_one: bool = False, smallest: np.ndarray | None = None):
    """Yield (pairs, reduced costs) of eligible pairs outside the model whose reduced cost minus the
    account's floor (see Duals) is below `threshold`.

    The screen uses a lower bound on each pair's cost, so it never misses a pair that the exact cost
    would let through. The pairs it lets through are priced again with their exact geodesic cost.
    With `phase_one`, pairs cost nothing (the LP then only looks for a feasible solution). With
    `smallest`, each account's smallest reduced cost over the open pairs is written there: exact for
    the pairs the screen lets through, screened for the others.
    """
    reps = np.arange(instance.rep_count)
    for start in range(0, instance.account_count, CHUNK_ACCOUNTS):
        accounts = np.arange(start, min(start + CHUNK_ACCOUNTS, instance.account_count))
        account = np.repeat(accounts, len(reps))
        rep = np.tile(reps, len(accounts))
        if phase_one:
            lower = np.zeros(len(account))
        else:
            lower = np.floor(instance.pair_cost_lower_bound(account, rep) * COST_SCALE)
        screen = reduced_costs(instance, duals, account, rep, lower).reshape(len(accounts), len(reps))
        open_pair = instance.eligible_matrix(accounts) & ~in_model[accounts]
        limit = threshold + np.broadcast_to(duals.floor_of(accounts), accounts.shape)
        rows, cols = np.nonzero((screen < limit[:, None]) & open_pair)
        exact = Pairs.build(instance, accounts[rows], cols)
        value = reduced_costs(instance, duals, exact.account, exact.rep,
                              np.zeros(len(exact)) if phase_one else exact.cost)
        if smallest is not None:
            # A pair priced exactly counts with its exact reduced cost, the others with their screen.
            screen = np.where(open_pair, screen, np.inf)
            screen[rows, cols] = value
            smallest[accounts] = screen.min(axis=1)
        if rows.size == 0:
            continue
        below = value - duals.floor_of(exact.account) < threshold
        yield Pairs(exact.account[below], exact.rep[below], exact.distance_km[below], exact.cost[below]), value[below]


def price(instance: Instance, duals: Duals, model_pairs: Pairs, in_model: np.ndarray, *,
          limit_per_account: int = 3, tolerance: float = 1e-6, phase_one: bool = False) -> tuple[Pairs, np.ndarray]:
    """Return the eligible pairs outside the model whose reduced cost is negative, at most
    `limit_per_account` per account (most negative first), and each account's smallest reduced cost
    over every eligible pair. With `phase_one`, reduced costs are those of the LP that minimises
    violation, where pairs cost nothing.

    The smallest reduced costs make the Lagrangian bound: the sum of the duals times their row limits
    plus these minima is a lower bound on every plan, whether or not pricing has converged.
    """
    smallest = np.full(instance.account_count, np.inf)
    found = []
    for pairs, value in _open_pairs_below(instance, duals, in_model, -tolerance, phase_one, smallest):
        order = np.lexsort((value, pairs.account))
        account = pairs.account[order]
        rank = np.arange(len(account)) - np.searchsorted(account, account)
        keep = order[rank < limit_per_account]
        found.append(Pairs(pairs.account[keep], pairs.rep[keep], pairs.distance_km[keep], pairs.cost[keep]))
    model_costs = np.zeros(len(model_pairs)) if phase_one else model_pairs.cost
    np.minimum.at(smallest, model_pairs.account,
                  reduced_costs(instance, duals, model_pairs.account, model_pairs.rep, model_costs))
    result = Pairs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))
    for pairs in found:
        result = result.extend(pairs)
    return result, smallest


def pairs_below(instance: Instance, duals: Duals, model_pairs: Pairs, *, threshold: float) -> Pairs:
    """Return every eligible pair, in the model or not, whose reduced cost is below `threshold`.

    A plan that uses a pair costs at least the bound plus that pair's reduced cost less its account's
    floor, so for threshold = incumbent - bound these are the only pairs a better plan can use.
    """
    value = reduced_costs(instance, duals, model_pairs.account, model_pairs.rep, model_pairs.cost)
    keep = value - duals.floor_of(model_pairs.account) < threshold
    result = Pairs(model_pairs.account[keep], model_pairs.rep[keep], model_pairs.distance_km[keep],
                   model_pairs.cost[keep])
    in_model = np.zeros((instance.account_count, instance.rep_count), dtype=bool)
    in_model[model_pairs.account, model_pairs.rep] = True
    for pairs, _ in _open_pairs_below(instance, duals, in_model, threshold):
        result = result.extend(pairs)
    return result


def count_open_pairs_below(instance: Instance, duals: Duals, model_pairs: Pairs, *, threshold: float) -> int:
    """Count eligible pairs outside `model_pairs` whose reduced cost is below `threshold`."""
    in_model = np.zeros((instance.account_count, instance.rep_count), dtype=bool)
    in_model[model_pairs.account, model_pairs.rep] = True
    return sum(len(pairs) for pairs, _ in _open_pairs_below(instance, duals, in_model, threshold))
