"""Check a plan against every planning rule without the solver, in real units.

The validator reads only the instance's data (accounts, reps, limits) and the plan, and recomputes
every sum itself; it shares no code with the model builders, so a modelling mistake cannot hide here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.geodesy import geodesic_km
from optimizer.instance import NO_REP, Instance

# Limits are checked in real units with this relative slack, for floating-point sums only.
RELATIVE_SLACK = 1e-9


@dataclass
class PlanCheck:
    violations: list[str]
    objective: float   # recomputed, in instance.objective_unit
    # Per violation, the rule it breaks (kind and rep or account, without quantities) and how far past its
    # limit the plan lies, in the rule's unit (0 for rules without a quantity).
    breaches: list[tuple[str, float]] = field(default_factory=list)

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
    breaches: list[tuple[str, float]] = []

    def broken(text: str, rule: str, excess: float = 0.0) -> None:
        violations.append(text)
        breaches.append((rule, excess))

    rep_of = np.asarray(rep_of)
    if rep_of.shape != (instance.account_count,):
        return PlanCheck([f"plan has {rep_of.size} entries for {instance.account_count} accounts"], float("nan"),
                         [("plan size", 0.0)])
    bad = np.flatnonzero((rep_of < 0) | (rep_of >= instance.rep_count))
    for a in bad[:20]:
        broken(f"account {instance.account_ids[a]} has no rep", f"no rep {instance.account_ids[a]}")
    if bad.size:
        return PlanCheck(violations, float("nan"), breaches)

    for a in range(instance.account_count):
        r = int(rep_of[a])
        covered = instance.rep_industries[r]
        if covered and instance.industry[a] not in covered:
            broken(f"account {instance.account_ids[a]} is in an industry rep {instance.rep_ids[r]} does not cover",
                   f"industry {instance.account_ids[a]} {instance.rep_ids[r]}")
        locked = instance.locked_owner[a]
        if locked != NO_REP and locked != r:
            broken(f"account {instance.account_ids[a]} is locked to {instance.rep_ids[locked]} but assigned to "
                   f"{instance.rep_ids[r]}", f"lock {instance.account_ids[a]}")

    for r, rep_id in enumerate(instance.rep_ids):
        mine = rep_of == r
        for band in instance.bands.values():
            value = float(band.values[mine].sum())
            if _under(value, band.lower[r]) or _over(value, band.upper[r]):
                broken(f"rep {rep_id}: {band.metric} {value:,.2f} {band.unit} outside its band "
                       f"[{band.lower[r]:,.2f}, {band.upper[r]:,.2f}]", f"band {band.metric} {rep_id}",
                       max(band.lower[r] - value, value - band.upper[r]))
        hours = float(instance.pair_load(np.flatnonzero(mine), r).sum())
        if _over(hours, instance.capacity[r]):
            broken(f"rep {rep_id}: workload {hours:,.2f} hours above capacity {instance.capacity[r]:,.2f}",
                   f"capacity {rep_id}", hours - instance.capacity[r])
        if instance.max_accounts[r] != NO_REP and mine.sum() > instance.max_accounts[r]:
            broken(f"rep {rep_id}: {int(mine.sum())} accounts above max_accounts {int(instance.max_accounts[r])}",
                   f"max_accounts {rep_id}", float(mine.sum() - instance.max_accounts[r]))
        if instance.max_account_share is not None and mine.any():
            territory = float(instance.potential[mine].sum())
            largest = int(np.flatnonzero(mine)[np.argmax(instance.potential[mine])])
            if _over(float(instance.potential[largest]), instance.max_account_share * territory):
                share = float(instance.potential[largest]) / territory
                broken(f"rep {rep_id}: account {instance.account_ids[largest]} holds {share:.1%} of the territory's "
                       f"potential, above the cap of {instance.max_account_share:.1%}", f"concentration {rep_id}",
                       share - instance.max_account_share)

    owner = instance.current_owner
    moved = (owner != NO_REP) & (owner != rep_of)
    if instance.max_moves is not None and moved.sum() > instance.max_moves:
        broken(f"accounts changing owner: {int(moved.sum())}, above max_moves {instance.max_moves}", "max_moves",
               float(moved.sum() - instance.max_moves))

    distance = geodesic_km(instance.account_lat, instance.account_lon, instance.rep_lat[rep_of], instance.rep_lon[rep_of])
    objective = float(instance.pair_cost(np.arange(instance.account_count), rep_of, distance).sum())
    return PlanCheck(violations, objective, breaches)
