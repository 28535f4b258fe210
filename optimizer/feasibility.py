"""Checks that find an infeasible request before the solver runs, and explain it with numbers.

Each check is a necessary condition for a plan to exist. When one fails, the message names the rule,
the reps or industry involved and the numbers on both sides, and, where a single setting can repair it,
the smallest change of that setting (for instance the narrowest balance band that would do).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from optimizer.errors import InfeasibleError
from optimizer.instance import NO_REP, Instance

logger = logging.getLogger(__name__)


@dataclass
class Findings:
    causes: list[str] = field(default_factory=list)
    relaxations: list[str] = field(default_factory=list)


def _num(value: float) -> str:
    """Format a quantity for a message: whole numbers from 10,000 up, else at most two decimals."""
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def format_percent(value: float) -> str:
    """Format a fraction as a percentage rounded up to 0.01 %, so a band of that width is wide enough."""
    return _num(math.ceil(value * 10_000 - 1e-6) / 100) + " %"


def check_feasibility(instance: Instance) -> None:
    """Raise InfeasibleError naming every cause found; return quietly when no check fails."""
    findings = Findings()
    _check_totals(instance, findings)
    _check_eligibility(instance, findings)
    _check_specialists(instance, findings)
    _check_locks(instance, findings)
    _check_single_accounts(instance, findings)
    _check_forced_moves(instance, findings)
    if findings.causes:
        logger.info("pre-check found %d cause(s) of infeasibility", len(findings.causes))
        raise InfeasibleError(findings.causes, findings.relaxations)


def capacity_shortfall(workload: float, capacity: float) -> tuple[str, str] | None:
    """Return the cause and the fix when the total workload exceeds the reps' total capacity, else None."""
    if workload <= capacity + 1e-9:
        return None
    return (f"total workload is {_num(workload)} hours but the reps' total capacity is {_num(capacity)} hours "
            f"({_num(workload - capacity)} hours short)",
            f"add at least {_num(workload - capacity)} hours of rep capacity, or lower the hours per tier")


def _check_totals(instance: Instance, findings: Findings) -> None:
    shortfall = capacity_shortfall(instance.workload.sum(), instance.capacity.sum())
    if shortfall is not None:
        findings.causes.append(shortfall[0])
        findings.relaxations.append(shortfall[1])

    limited = instance.max_accounts != NO_REP
    if limited.all() and instance.account_count > instance.max_accounts.sum():
        findings.causes.append(
            f"{instance.account_count:,} located accounts but the reps' max_accounts add up to "
            f"{int(instance.max_accounts.sum()):,}"
        )
        findings.relaxations.append(
            f"raise max_accounts by {instance.account_count - int(instance.max_accounts.sum()):,} in total"
        )

    for band in instance.bands.values():
        total = band.values.sum()
        slack = 1e-9 * max(1.0, abs(total))  # float sums of the same numbers in another order
        if band.lower.sum() > total + slack:
            findings.causes.append(
                f"the lower {band.metric} limits add up to {_num(band.lower.sum())} {band.unit}, more than the "
                f"{_num(total)} {band.unit} there are (whole-number limits rounded up)"
            )
        if band.upper.sum() < total - slack:
            findings.causes.append(
                f"the upper {band.metric} limits add up to {_num(band.upper.sum())} {band.unit}, less than the "
                f"{_num(total)} {band.unit} to place (whole-number limits rounded down)"
            )


def _check_eligibility(instance: Instance, findings: Findings) -> None:
    """Each industry's workload must fit the capacity of the reps allowed to take it."""
    accounts = np.arange(instance.account_count)
    eligible = instance.eligible_matrix(accounts)
    nobody = np.flatnonzero(~eligible.any(axis=1))
    for a in nobody[:10]:
        industry = _industry_name(instance, instance.industry[a])
        findings.causes.append(
            f"account {instance.account_ids[a]} ({industry}, potential {_num(instance.potential[a])} USD) "
            "has no rep allowed to take it"
        )
    if len(nobody) > 10:
        findings.causes.append(f"... and {len(nobody) - 10} more accounts with no allowed rep")

    for code in np.unique(instance.industry):
        members = instance.industry == code
        reps = eligible[members].any(axis=0)
        if reps.all():
            continue  # the same as the total workload check
        need, have = instance.workload[members].sum(), instance.capacity[reps].sum()
        if need > have + 1e-9:
            findings.causes.append(
                f"industry {_industry_name(instance, code)} needs {_num(need)} hours but the reps allowed to "
                f"take it have {_num(have)} hours of capacity"
            )


def _check_specialists(instance: Instance, findings: Findings) -> None:
    """Reps limited to some industries must reach their lower bands from those industries alone."""
    coverage_sets = {covered for covered in instance.rep_industries if covered}
    for covered in sorted(coverage_sets, key=sorted):
        group = [r for r, rep_cover in enumerate(instance.rep_industries) if rep_cover and rep_cover <= covered]
        in_scope = np.isin(instance.industry, list(covered))
        locked_elsewhere = (instance.locked_owner != NO_REP) & ~np.isin(instance.locked_owner, group)
        available = in_scope & ~locked_elsewhere
        names = ", ".join(_industry_name(instance, code) for code in sorted(covered))
        reps = ", ".join(instance.rep_ids[r] for r in group)
        for band in instance.bands.values():
            supply, need = band.values[available].sum(), band.lower[group].sum()
            if supply + 1e-9 >= need:
                continue
            if not in_scope.any():
                findings.causes.append(
                    f"reps {reps} take only {names}, but no account has that industry, so they cannot reach "
                    f"their lower {band.metric} limits; check the spelling (industries in the accounts: "
                    f"{_industry_list(instance)})"
                )
                break
            findings.causes.append(
                f"reps {reps} take only {names}; their lower {band.metric} limits add up to {_num(need)} "
                f"{band.unit} but those accounts hold {_num(supply)} {band.unit} in total"
            )
            target = band.target[group].sum()
            if band.metric in ("potential", "workload") and target > 0:
                findings.relaxations.append(
                    f"widen the {band.metric} band to at least +-{format_percent(1 - supply / target)} (now "
                    f"+-{format_percent(band.tolerance)}), or {_capacity_cut(instance, group, band, supply)}"
                )


def _capacity_cut(instance: Instance, group: list[int], band, supply: float) -> str:
    """Say how far the group's capacity must fall for its lower limits to fit `supply`.

    Targets are capacity shares: a group with capacity c out of a total of c + rest needs
    ratio x total x c / (c + rest) <= supply, where ratio = lower limit / target, so
    c <= supply x rest / (ratio x total - supply).
    """
    ratio = band.lower[group].sum() / band.target[group].sum()
    rest = instance.capacity.sum() - instance.capacity[group].sum()
    denominator = ratio * band.values.sum() - supply
    if denominator <= 0 or rest <= 0:
        return "give those reps more industries"
    return (f"cut those reps' capacity_hours to at most {_num(supply * rest / denominator)} hours in total "
            f"(now {_num(instance.capacity[group].sum())})")


def _check_locks(instance: Instance, findings: Findings) -> None:
    for r, rep_id in enumerate(instance.rep_ids):
        locked = instance.locked_owner == r
        if not locked.any():
            continue
        hours = instance.workload[locked].sum()
        if hours > instance.capacity[r] + 1e-9:
            findings.causes.append(
                f"rep {rep_id} has {int(locked.sum())} locked accounts needing {_num(hours)} hours, more than "
                f"the capacity of {_num(instance.capacity[r])} hours"
            )
        if instance.max_accounts[r] != NO_REP and locked.sum() > instance.max_accounts[r]:
            findings.causes.append(
                f"rep {rep_id} has {int(locked.sum())} locked accounts, more than max_accounts "
                f"{int(instance.max_accounts[r])}"
            )
        for band in instance.bands.values():
            value = band.values[locked].sum()
            if value > band.upper[r] + 1e-9:
                findings.causes.append(
                    f"rep {rep_id}'s locked accounts hold {_num(value)} {band.unit} of {band.metric}, above "
                    f"the upper limit of {_num(band.upper[r])} (target {_num(band.target[r])} +-{format_percent(band.tolerance)})"
                )
                if band.target[r] > 0:
                    findings.relaxations.append(
                        f"widen the {band.metric} band to at least +-{format_percent(value / band.target[r] - 1)}, or "
                        f"unlock some of rep {rep_id}'s accounts"
                    )


def _check_single_accounts(instance: Instance, findings: Findings) -> None:
    """Find accounts too large for every rep allowed to take them."""
    accounts = np.arange(instance.account_count)
    eligible = instance.eligible_matrix(accounts)
    for band in instance.bands.values():
        stuck = _too_big_everywhere(eligible, band.values, band.upper)
        for a in stuck[:10]:
            best = _largest_allowed(eligible[a], band.upper)
            findings.causes.append(
                f"account {instance.account_ids[a]} alone has {_num(band.values[a])} {band.unit} of {band.metric}, "
                f"above the upper limit of every rep allowed to take it (largest: rep {instance.rep_ids[best]}, "
                f"{_num(band.upper[best])})"
            )
            if band.target[best] > 0:
                findings.relaxations.append(
                    f"widen the {band.metric} band to at least +-{format_percent(band.values[a] / band.target[best] - 1)}"
                )
    for a in _too_big_everywhere(eligible, instance.workload, instance.capacity)[:10]:
        best = _largest_allowed(eligible[a], instance.capacity)
        findings.causes.append(
            f"account {instance.account_ids[a]} alone needs {_num(instance.workload[a])} hours, more than the "
            f"capacity of every rep allowed to take it (largest: rep {instance.rep_ids[best]}, "
            f"{_num(instance.capacity[best])} hours)"
        )


def _too_big_everywhere(eligible: np.ndarray, values: np.ndarray, upper: np.ndarray) -> np.ndarray:
    fits = eligible & (values[:, None] <= upper[None, :] + 1e-9)
    return np.flatnonzero(~fits.any(axis=1) & eligible.any(axis=1))


def _largest_allowed(allowed: np.ndarray, limits: np.ndarray) -> int:
    reps = np.flatnonzero(allowed)
    return int(reps[np.argmax(limits[reps])])


def _check_forced_moves(instance: Instance, findings: Findings) -> None:
    if instance.max_moves is None:
        return
    owner = instance.current_owner
    has_owner = np.flatnonzero(owner != NO_REP)
    eligible = instance.eligible_matrix(has_owner)
    may_stay = eligible[np.arange(len(has_owner)), owner[has_owner]]
    not_allowed = int((~may_stay).sum())

    # A rep who owns more accounts than max_accounts allows must give the surplus away.
    staying = np.bincount(owner[has_owner][may_stay], minlength=instance.rep_count)
    limit = np.where(instance.max_accounts == NO_REP, np.iinfo(np.int64).max, instance.max_accounts)
    surplus = np.maximum(0, staying - limit)
    forced = not_allowed + int(surplus.sum())
    if forced > instance.max_moves:
        parts = []
        if not_allowed:
            parts.append(f"{not_allowed} whose owner may no longer take them (locks or industries)")
        for r in np.flatnonzero(surplus)[:5]:
            parts.append(f"{int(surplus[r])} of rep {instance.rep_ids[r]}'s {int(staying[r])} accounts "
                         f"(max_accounts {int(instance.max_accounts[r])})")
        findings.causes.append(
            f"at least {forced} accounts must change owner, more than max_moves {instance.max_moves}: "
            + "; ".join(parts)
        )
        findings.relaxations.append(f"raise max_moves to at least {forced}")


def _industry_list(instance: Instance, limit: int = 12) -> str:
    present = sorted({instance.industry_names[code] for code in np.unique(instance.industry) if code >= 0})
    if not present:
        return "none"
    listed = ", ".join(present[:limit])
    if len(present) > limit:
        listed += f" and {len(present) - limit} more"
    return listed


def _industry_name(instance: Instance, code: int) -> str:
    return instance.industry_names[code] if code >= 0 else "(no industry)"
