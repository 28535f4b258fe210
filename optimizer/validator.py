"""Check a plan against every planning rule without the solver, in real units.

The validator reads only the instance's data (accounts, reps, limits) and the plan, and recomputes
every sum itself; it shares no code with the model builders, so a modelling mistake cannot hide here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.geodesy import geodesic_km
from optimizer.instance import NO_REP, Instance

# Limits are checked in real units with this relative slack, for floating-point sums only.
RELATIVE_SLACK = 1e-9


@dataclass
class PlanCheck:
    violations: list[str]
    objective: float   # recomputed, in instance.objective_unit

    @property
    def ok(self) -> bool:
        return not self.violations


def _over(value: float, limit: float) -> bool:
    return value > limit + RELATIVE_SLACK * max(1.0, abs(limit))


def _under(value: float, limit: float) -> bool:
    return value < limit - RELATIVE_SLACK * max(1.0, abs(limit))


def check_plan(instance: Instance, rep_of: np.ndarray) -> PlanCheck:
    """Return every rule the plan breaks (empty when it keeps them all) and its recomputed objective."""
    violations: list[str] = []
    rep_of = np.asarray(rep_of)
    if rep_of.shape != (instance.account_count,):
        return PlanCheck([f"plan has {rep_of.size} entries for {instance.account_count} accounts"], float("nan"))
    bad = np.flatnonzero((rep_of < 0) | (rep_of >= instance.rep_count))
    for a in bad[:20]:
        violations.append(f"account {instance.account_ids[a]} has no rep")
    if bad.size:
        return PlanCheck(violations, float("nan"))

    for a in range(instance.account_count):
        r = int(rep_of[a])
        covered = instance.rep_industries[r]
        if covered and instance.industry[a] not in covered:
            violations.append(f"account {instance.account_ids[a]} is in an industry rep {instance.rep_ids[r]} "
                              "does not cover")
        locked = instance.locked_owner[a]
        if locked != NO_REP and locked != r:
            violations.append(f"account {instance.account_ids[a]} is locked to {instance.rep_ids[locked]} but "
                              f"assigned to {instance.rep_ids[r]}")

    for r, rep_id in enumerate(instance.rep_ids):
        mine = rep_of == r
        for band in instance.bands.values():
            value = float(band.values[mine].sum())
            if _under(value, band.lower[r]) or _over(value, band.upper[r]):
                violations.append(f"rep {rep_id}: {band.metric} {value:,.2f} {band.unit} outside its band "
                                  f"[{band.lower[r]:,.2f}, {band.upper[r]:,.2f}]")
        hours = float(instance.pair_load(np.flatnonzero(mine), r).sum())
        if _over(hours, instance.capacity[r]):
            violations.append(f"rep {rep_id}: workload {hours:,.2f} hours above capacity {instance.capacity[r]:,.2f}")
        if instance.max_accounts[r] != NO_REP and mine.sum() > instance.max_accounts[r]:
            violations.append(f"rep {rep_id}: {int(mine.sum())} accounts above max_accounts "
                              f"{int(instance.max_accounts[r])}")
        if instance.max_account_share is not None and mine.any():
            territory = float(instance.potential[mine].sum())
            largest = int(np.flatnonzero(mine)[np.argmax(instance.potential[mine])])
            if _over(float(instance.potential[largest]), instance.max_account_share * territory):
                violations.append(f"rep {rep_id}: account {instance.account_ids[largest]} holds "
                                  f"{instance.potential[largest] / territory:.1%} of the territory's potential, "
                                  f"above the cap of {instance.max_account_share:.1%}")

    owner = instance.current_owner
    moved = (owner != NO_REP) & (owner != rep_of)
    if instance.max_moves is not None and moved.sum() > instance.max_moves:
        violations.append(f"accounts changing owner: {int(moved.sum())}, above max_moves {instance.max_moves}")

    distance = geodesic_km(instance.account_lat, instance.account_lon, instance.rep_lat[rep_of], instance.rep_lon[rep_of])
    objective = float(instance.pair_cost(np.arange(instance.account_count), rep_of, distance).sum())
    return PlanCheck(violations, objective)
