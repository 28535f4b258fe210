"""The solver's view of a planning request: plain arrays, no geometry and no pandas.

``build_instance`` is the one place where located accounts and reps become numbers. Accounts that
could not be located are left out here (the pipeline reports them on their own line).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.errors import InputError, RowIssue
from optimizer.geodesy import SPHERICAL_LOWER_FACTOR, geodesic_km, spherical_km
from optimizer.scenario import Scenario

logger = logging.getLogger(__name__)

# Solver inputs are integers: hours and currency are counted in hundredths, objective terms in tenths of
# their unit. The validator checks plans again in real units.
QUANTITY_SCALE = 100
COST_SCALE = 10
NO_REP = -1


@dataclass
class Band:
    """Hard lower and upper limits of one metric per rep, in real units, with the target they surround."""

    metric: str
    tolerance: float
    target: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    values: np.ndarray  # the metric's value per account (potential, 1 per account, 1 per Tier-1 account, hours)
    unit: str


@dataclass
class Instance:
    """Accounts (located only) and reps as arrays, with every rule the model must keep."""

    account_ids: list[str]
    rep_ids: list[str]
    account_lat: np.ndarray
    account_lon: np.ndarray
    rep_lat: np.ndarray
    rep_lon: np.ndarray
    potential: np.ndarray
    workload: np.ndarray
    tier: np.ndarray
    industry: np.ndarray          # industry code per account; -1 for no industry
    industry_names: list[str]
    rep_industries: list[frozenset[int]]  # empty set: the rep covers every industry
    current_owner: np.ndarray     # rep index or NO_REP
    locked_owner: np.ndarray      # rep index or NO_REP
    capacity: np.ndarray          # hours a year
    max_accounts: np.ndarray      # NO_REP (-1) when the rep has no limit
    bands: dict[str, Band]
    max_account_share: float | None
    max_moves: int | None
    distance_weight: np.ndarray   # objective weight of each km for each account
    distance_unit: str
    move_penalty: np.ndarray      # objective charge when the account leaves its current owner
    objective_unit: str
    # Generalized assignment (benchmarks): hours and objective charge per (account, rep) when they depend
    # on the rep. None means workload[account] hours and distance-based charges for every rep. With a
    # load_matrix, workload is each account's smallest hours over reps, which keeps the pre-checks valid.
    load_matrix: np.ndarray | None = None
    cost_matrix: np.ndarray | None = None

    @property
    def account_count(self) -> int:
        return len(self.account_ids)

    @property
    def rep_count(self) -> int:
        return len(self.rep_ids)

    def eligible_matrix(self, accounts: np.ndarray) -> np.ndarray:
        """Return a bool matrix (len(accounts) x reps): may the rep take the account?"""
        allowed = np.ones((len(accounts), self.rep_count), dtype=bool)
        industry = self.industry[accounts]
        for r, covered in enumerate(self.rep_industries):
            if covered:
                allowed[:, r] = np.isin(industry, list(covered))
        if self.max_account_share is not None and "potential" in self.bands:
            # An account above the share of the rep's largest allowed territory can never be there.
            limit = self.max_account_share * self.bands["potential"].upper
            allowed &= self.potential[accounts][:, None] <= limit[None, :] + 1e-9
        locked = self.locked_owner[accounts]
        rows = np.flatnonzero(locked != NO_REP)
        if rows.size:
            allowed[rows, :] = False
            allowed[rows, locked[rows]] = True
        return allowed

    def pair_load(self, accounts: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Return the hours each paired rep would spend on each account (counted against capacity)."""
        if self.load_matrix is None:
            return self.workload[accounts]
        return self.load_matrix[accounts, reps]

    def pair_distance_km(self, accounts: np.ndarray, reps: np.ndarray) -> np.ndarray:
        return geodesic_km(self.account_lat[accounts], self.account_lon[accounts], self.rep_lat[reps], self.rep_lon[reps])

    def pair_cost(self, accounts: np.ndarray, reps: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
        """Return the objective charge of assigning each account to the paired rep, in objective units."""
        owner = self.current_owner[accounts]
        moved = (owner != NO_REP) & (owner != reps)
        if self.cost_matrix is not None:
            base = self.cost_matrix[accounts, reps]
        else:
            base = self.distance_weight[accounts] * distance_km
        return base + np.where(moved, self.move_penalty[accounts], 0.0)

    @functools.cached_property
    def rounding_slack(self) -> float:
        """Amount, in scaled cost units, by which a plan's real cost times COST_SCALE can fall below its
        integer cost. Each pair cost is rounded to the nearest integer, so by at most 0.5 per account.

        An account whose every pair cost is a whole number of scaled units adds nothing. Without a cost
        matrix, that is an account with no distance term and such a move penalty. With one, its row and its
        move penalty must all be such numbers, as in the generalized assignment benchmarks.
        """
        def whole(values: np.ndarray) -> np.ndarray:
            scaled = np.asarray(values, dtype=float) * COST_SCALE
            return scaled == np.rint(scaled)

        if self.cost_matrix is not None:
            exact = whole(self.cost_matrix).all(axis=1) & whole(self.move_penalty)
        else:
            exact = (self.distance_weight == 0) & whole(self.move_penalty)
        return 0.5 * float(np.count_nonzero(~exact))

    def pair_cost_lower_bound(self, accounts: np.ndarray, reps: np.ndarray) -> np.ndarray:
        """Return a lower bound on pair_cost that needs no geodesic computation (for pricing)."""
        if self.cost_matrix is not None:
            return self.pair_cost(accounts, reps, np.zeros(len(accounts)))
        spherical = spherical_km(self.account_lat[accounts], self.account_lon[accounts],
                                 self.rep_lat[reps], self.rep_lon[reps])
        return self.pair_cost(accounts, reps, spherical * SPHERICAL_LOWER_FACTOR)


def build_instance(accounts: pd.DataFrame, reps: pd.DataFrame, scenario: Scenario) -> Instance:
    """Turn scored, located accounts (columns tier, workload_hours) and reps into an Instance."""
    located = accounts[accounts["lat"].notna() & accounts["lon"].notna()]
    rep_index = {rep_id: i for i, rep_id in enumerate(reps["rep_id"])}

    unlocated_reps = reps[reps["lat"].isna() | reps["lon"].isna()]
    if len(unlocated_reps):
        issues = [RowIssue("reps", int(row.row) if "row" in reps else None, "lat", "",
                           f"rep {row.rep_id} has no home base location; give lat/lon or a postal code")
                  for row in unlocated_reps.itertuples()]
        raise InputError(issues)

    industry_names = sorted({str(v) for v in located["industry"].fillna("") if str(v)}
                            | {name for covered in reps["industries"] for name in covered})
    industry_code = {name: i for i, name in enumerate(industry_names)}
    industry = np.array([industry_code.get(str(v), -1) if str(v) else -1 for v in located["industry"].fillna("")],
                        dtype=np.int64)
    rep_industries = [frozenset(industry_code[name] for name in covered) for covered in reps["industries"]]

    def owner_codes(column: str) -> np.ndarray:
        if column not in located:
            return np.full(len(located), NO_REP, dtype=np.int64)
        return np.array([rep_index.get(v, NO_REP) if isinstance(v, str) and v else NO_REP for v in located[column]],
                        dtype=np.int64)

    potential = located["potential"].to_numpy(dtype=float)
    workload = located["workload_hours"].to_numpy(dtype=float)
    tier = located["tier"].to_numpy(dtype=np.int64)
    capacity = reps["capacity_hours"].to_numpy(dtype=float)
    max_accounts = np.array([int(v) if pd.notna(v) else NO_REP for v in reps["max_accounts"]], dtype=np.int64)

    bands = _bands(scenario, potential, workload, tier, capacity)
    objective = scenario.objective
    if objective.distance_weight == "workload":
        distance_weight, distance_unit = workload.copy(), "hour-km"
    elif objective.distance_weight == "potential":
        distance_weight, distance_unit = potential / 1000.0, "thousand-potential-km"
    else:
        distance_weight, distance_unit = np.zeros(len(located)), "km (not weighted)"
    move_penalty = objective.move_penalty + objective.moved_potential_penalty * potential / 1000.0

    instance = Instance(
        account_ids=[str(v) for v in located["account_id"]],
        rep_ids=[str(v) for v in reps["rep_id"]],
        account_lat=located["lat"].to_numpy(dtype=float),
        account_lon=located["lon"].to_numpy(dtype=float),
        rep_lat=reps["lat"].to_numpy(dtype=float),
        rep_lon=reps["lon"].to_numpy(dtype=float),
        potential=potential,
        workload=workload,
        tier=tier,
        industry=industry,
        industry_names=industry_names,
        rep_industries=rep_industries,
        current_owner=owner_codes("current_owner"),
        locked_owner=owner_codes("locked_owner"),
        capacity=capacity,
        max_accounts=max_accounts,
        bands=bands,
        max_account_share=scenario.balance.max_account_share,
        max_moves=objective.max_moves,
        distance_weight=distance_weight,
        distance_unit=distance_unit,
        move_penalty=move_penalty,
        objective_unit=distance_unit,
    )
    logger.info("instance: %d located accounts, %d reps, bands on %s", instance.account_count,
                instance.rep_count, ", ".join(bands) or "nothing")
    return instance


def _bands(scenario: Scenario, potential, workload, tier, capacity) -> dict[str, Band]:
    """Capacity-weighted targets with their hard bands. Count metrics get whole-number limits."""
    share = capacity / capacity.sum() if capacity.sum() > 0 else np.full(len(capacity), 1.0 / max(len(capacity), 1))
    per_account = {
        "potential": (potential, "USD"),
        "accounts": (np.ones(len(potential)), "accounts"),
        "tier_1": ((tier == 1).astype(float), "Tier-1 accounts"),
        "workload": (workload, "hours"),
    }
    bands = {}
    for metric, tolerance in scenario.balance.bands().items():
        values, unit = per_account[metric]
        target = values.sum() * share
        lower, upper = target * (1 - tolerance), target * (1 + tolerance)
        if metric in ("accounts", "tier_1"):
            lower, upper = np.ceil(lower - 1e-9), np.floor(upper + 1e-9)
        bands[metric] = Band(metric, tolerance, target, lower, upper, values, unit)
    return bands

