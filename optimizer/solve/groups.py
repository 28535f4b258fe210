"""Large-neighbourhood search over groups of neighbouring reps.

The first CP-SAT search works on the whole plan at once and settles slowly on large instances. This
search then improves the plan a few territories at a time. A group of reps whose territories border
each other gives up all its accounts, and CP-SAT reassigns them among the group's reps under every
rule of the main model (bands, capacity, max_accounts, concentration, locks, industries, max_moves).
The rest of the plan stays as it is, so a better sub-plan is a better plan. Each worker thread solves its own group; the groups of one round
share no rep, so every improvement found is applied.

Reps count as neighbours when accounts of one have the other among their candidate pairs (the LP's
columns: the nearest eligible reps and the priced ones). Groups start at GROUP_SIZE reps. Once every
rep has led a group of the current size without a gain, groups grow by one rep, up to every rep. Past
FULL_TIME_GROUP_SIZE reps, a group's time grows in proportion to its size. The search ends at the
deadline, or when a group of every rep finds nothing.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from optimizer.instance import NO_REP, Instance
from optimizer.solve.candidates import Pairs
from optimizer.solve.cpsat import CpSatResult, Progress, solve_cpsat

logger = logging.getLogger(__name__)

GROUP_SIZE = 3
# Seconds, and CP-SAT work units in repeatable mode, for one group's sub-problem of up to
# FULL_TIME_GROUP_SIZE reps. Larger groups get proportionally more.
GROUP_TIME_S = 1.0
GROUP_WORK = 0.5
FULL_TIME_GROUP_SIZE = 6
# Sub-problems above this many (account, rep) pairs use smaller groups.
MAX_GROUP_PAIRS = 60_000


@dataclass
class GroupSearchResult:
    rep_of: np.ndarray
    objective: int
    rounds: int
    improvements: int
    work: float


def rep_affinity(instance: Instance, pairs: Pairs, rep_of: np.ndarray) -> np.ndarray:
    """Return a symmetric rep x rep matrix: how many accounts of one rep have the other as a candidate."""
    m = instance.rep_count
    owner = rep_of[pairs.account]
    other = (owner != pairs.rep) & (owner != NO_REP)
    affinity = np.bincount(owner[other] * m + pairs.rep[other], minlength=m * m).reshape(m, m).astype(float)
    return affinity + affinity.T


def improve_by_groups(instance: Instance, rep_of: np.ndarray, pairs: Pairs, *, deadline: float, seed: int,
                      workers: int, work_limit: float | None, progress: Progress | None = None) -> GroupSearchResult:
    """Improve `rep_of` group by group until `deadline`, `work_limit` or no group finds a gain."""
    rep_of = rep_of.copy()
    objective = int(Pairs.build(instance, np.arange(instance.account_count), rep_of).cost.sum())
    affinity = rep_affinity(instance, pairs, rep_of)
    rng = np.random.default_rng(seed)
    size = min(GROUP_SIZE, instance.rep_count)
    queue: list[int] = []
    in_vain = rounds = improvements = 0
    work = 0.0
    if instance.rep_count < 2:
        return GroupSearchResult(rep_of, objective, 0, 0, 0.0)
    while time.monotonic() < deadline - 0.2 and (work_limit is None or work < work_limit):
        groups = []
        used = np.zeros(instance.rep_count, dtype=bool)
        while len(groups) < workers:
            if not queue:
                if groups:
                    break
                queue = rng.permutation(instance.rep_count).tolist()
            leader = queue.pop()
            if used[leader]:
                continue
            group = _grow_group(affinity, leader, size, used)
            if len(group) < 2:
                continue
            used[group] = True
            groups.append(group)
        if not groups:
            break
        scale = max(1.0, size / FULL_TIME_GROUP_SIZE)
        sub_limit = min(GROUP_TIME_S * scale, deadline - time.monotonic())
        step_work = GROUP_WORK * scale if work_limit is not None else None

        def solve(k: int, groups=groups, sub_limit=sub_limit, step_work=step_work) -> tuple[CpSatResult, np.ndarray]:
            return _solve_group(instance, rep_of, groups[k], sub_limit, step_work, seed + rounds + k)

        with ThreadPoolExecutor(max_workers=len(groups)) as pool:
            results = list(pool.map(solve, range(len(groups))))
        rounds += 1
        work += max(result.deterministic_time for result, _ in results)
        gained = False
        for result, (accounts, current_cost) in results:
            # Each account of a group can keep its current rep, so no result should leave one unassigned.
            # The check keeps the plan whole even if one did.
            if (result.rep_of is not None and result.objective < current_cost
                    and np.all(result.rep_of[accounts] != NO_REP)):
                rep_of[accounts] = result.rep_of[accounts]
                objective -= current_cost - result.objective
                improvements += 1
                gained = True
        if gained:
            in_vain = 0
            affinity = rep_affinity(instance, pairs, rep_of)
            if progress is not None:
                progress({"phase": "search", "objective": objective, "bound": None})
            continue
        in_vain += sum(len(group) for group in groups)
        if in_vain >= instance.rep_count:
            if size >= instance.rep_count:
                break
            size += 1
            in_vain = 0
    logger.info("group search: %d rounds, %d improvements, objective %d, groups of %d reps, work %.1f",
                rounds, improvements, objective, size, work)
    return GroupSearchResult(rep_of, objective, rounds, improvements, work)


def _grow_group(affinity: np.ndarray, leader: int, size: int, used: np.ndarray) -> np.ndarray:
    """Return `leader` and up to `size` - 1 unused reps most tied to the group, strongest tie first."""
    group = [leader]
    ties = affinity[leader].copy()
    while len(group) < size:
        ties[group] = 0
        ties[used] = 0
        best = int(np.argmax(ties))
        if ties[best] <= 0:
            break
        group.append(best)
        ties += affinity[best]
    return np.array(group, dtype=np.int64)


def _solve_group(instance: Instance, rep_of: np.ndarray, group: np.ndarray, time_limit_s: float,
                 work_limit: float | None, seed: int) -> tuple[CpSatResult, tuple[np.ndarray, int]]:
    """Reassign every account of `group` among its reps; return the result, the accounts and their cost now."""
    accounts = np.flatnonzero(np.isin(rep_of, group))
    eligible = instance.eligible_matrix(accounts)[:, group]
    rows, columns = np.nonzero(eligible)
    if len(rows) > MAX_GROUP_PAIRS and len(group) > 2:
        # The weakest tie goes first: groups grow in order of their ties.
        return _solve_group(instance, rep_of, group[:-1], time_limit_s, work_limit, seed)
    pairs = Pairs.build(instance, accounts[rows], group[columns])
    current_cost = int(Pairs.build(instance, accounts, rep_of[accounts]).cost.sum())
    moves_elsewhere = 0
    if instance.max_moves is not None:
        owner = instance.current_owner
        moved = (owner != NO_REP) & (owner != rep_of)
        moved[accounts] = False
        moves_elsewhere = int(moved.sum())
    result = solve_cpsat(instance, pairs, hint=rep_of, time_limit_s=time_limit_s, deterministic_limit=work_limit,
                         seed=seed, workers=1, quiet=True, reps=group, moves_elsewhere=moves_elsewhere)
    return result, (accounts, current_cost)
