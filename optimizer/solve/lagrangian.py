"""Exact search for plans whose only per-rep rule is capacity, through the Lagrangian bound.

When capacity is the only rule on a rep (no balance bands, account limits, concentration cap or move
limit), the plan is a generalized assignment problem. Relaxing "each account to exactly one rep" with
a multiplier per account leaves one 0/1 knapsack per rep, and the sum of their optima plus the
multipliers is a lower bound (the Lagrangian bound), often well above the LP's.

``column_search`` raises a cost level from that bound and decides, level by level, whether some
plan costs at most the level. A level with no plan raises the proven bound past it; the cheapest
plan within the first level that contains one is optimal. Two methods answer the question, each
stepping up the levels by its own rule. On the clock they run side by side, in two threads, until one
settles it or the deadline passes; the other stops at its next look at the stop signal (between
chunks of work, and between reps while listing sets):

- listing: a plan's cost equals the bound plus, for each rep, the excess of its account set over its
  own knapsack optimum (in multiplier-adjusted costs), so a plan within bound + T uses only sets
  whose excess is at most T. It lists every such set for each rep, then picks one set per rep that
  covers every account once, by depth-first search with a Lagrangian bound at every node. It is fast
  while the sets are few, but their number grows quickly with T and with the accounts per rep.
- fixing: depth-first branch and bound on account-rep pairs, with the Lagrangian bound recomputed at
  every node and pairs dropped or fixed by the bound with each forced in or out. Its memory does not
  grow with T, so it goes on where the listing runs out of room.

The search stops at its deadline or work budget and reports the bound it proved.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from optimizer.instance import QUANTITY_SCALE, Instance
from optimizer.solve.candidates import Pairs

logger = logging.getLogger(__name__)

# Largest problem the search takes on: pairs (accounts x reps) and knapsack table cells per rep.
MAX_PAIRS = 20_000
MAX_TABLE_CELLS = 4_000_000
# Columns listed at one level; above this the level is not attempted. The search keeps two lists of
# column numbers per depth (reps + 1 depths), so the limit also caps those cells, about 320 MB.
MAX_COLUMNS = 1_500_000
MAX_COVER_CELLS = 40_000_000
# Levels step by the costs' common divisor, or by this share of the bound when that is larger.
LEVEL_SHARE = 1e-5
# A level that lists fewer sets than this was cheap: the next step is twice as large.
CHEAP_LEVEL_COLUMNS = 200
SUBGRADIENT_ROUNDS = 600
SUBGRADIENT_SHARE = 0.15
# Subgradient rounds at each node of the cover search.
NODE_ROUNDS = 10
# Column visits between two looks at the clock. A node is never split, so a chunk at a node with
# many columns takes longer.
WORK_CHUNK = 5_000_000
# Work rates, rounded from generalized assignment types C and D on a 2 vCPU Intel Xeon, where they
# ranged from 46 to 66 million listing nodes, 0.7 to 3.7 billion knapsack cells and 2.5 to 27 cover
# chunks a second. They turn the clock into counted work in repeatable mode and cap each listing by
# the time left.
LIST_NODES_PER_SECOND = 45_000_000
KNAPSACK_CELLS_PER_SECOND = 1_000_000_000
COVER_CHUNKS_PER_SECOND = 15
# A fixing level that took fewer nodes than this was cheap: the next step is twice as large.
CHEAP_LEVEL_NODES = 10
# The two ways to search a level (see ``column_search``).
METHODS = ("fixing", "listing")
# Accounts held by the listed sets of one level, at 8 bytes each. Growing the buffer and gathering
# the sets briefly hold two more copies, so a level peaks near 500 MB.
MAX_LISTED_ACCOUNTS = 20_000_000


@dataclass
class ColumnSearchResult:
    """Outcome of the column search: proven bound and best plan, in the integer cost units of ``Pairs.cost``."""

    lower_bound: int              # every plan costs at least this much
    rep_of: np.ndarray | None     # a plan, optimal when ``proven``
    objective: int | None
    proven: bool
    lagrangian_bound: float
    levels: int                   # levels searched to the end
    columns: int                  # columns listed at the last level
    time_s: float
    infeasible: bool = False      # proven: no plan keeps every capacity
    stop: str = ""                # why it ended: "optimal", "no plan", or each method's limit


def applies(instance: Instance) -> str | None:
    """Return why the search does not apply to `instance`, or None when it does."""
    if instance.bands or instance.max_account_share is not None or instance.max_moves is not None:
        return "rules other than capacity"
    if (np.asarray(instance.max_accounts) >= 0).any():
        return "account limits"
    if instance.account_count * instance.rep_count > MAX_PAIRS:
        return f"more than {MAX_PAIRS:,} account-rep pairs"
    return None


def column_search(instance: Instance, multipliers: np.ndarray, deadline: float,
                  work_seconds: float | None = None, methods: tuple[str, ...] = METHODS) -> ColumnSearchResult | None:
    """Search `instance` (see ``applies``) until `deadline`; None when its loads do not fit a knapsack table.

    `multipliers` (per account, integer cost units), such as the LP's assignment duals, start the
    subgradient steps. Both `methods` start from the same level: "listing" lists each rep's sets and
    covers them, "fixing" branches on pairs with variable fixing. On the clock they run side by side
    in two threads until either settles the question. With `work_seconds`, the search ignores the
    clock, so the same input gives the same result. It then counts its work in knapsack cells,
    listing nodes and cover chunks, converted to seconds at rates measured on a 2 vCPU machine. The
    methods run one after the other: the first gets an equal share of the work the root step left,
    the next all that remains.
    """
    started = time.monotonic()
    data = _knapsack_data(instance)
    if data is None:
        return None
    cost, weight, capacity = data
    m, n = cost.shape
    work = _Work(deadline, work_seconds)
    result = ColumnSearchResult(0, None, None, False, -math.inf, 0, 0, 0.0)
    eligible = weight <= capacity[:, None]
    if not eligible.any(axis=0).all():
        # An account that fits no rep: the pre-check reports it with numbers.
        result.infeasible, result.stop = True, "an account fits no rep"
        return result
    bound, u = _subgradient(cost, weight, capacity, np.asarray(multipliers, dtype=float), work,
                            started + SUBGRADIENT_SHARE * max(0.0, deadline - started))
    # Float sums of many multipliers carry rounding error, so the bound is lowered by a margin relative
    # to the size of the multipliers and of the bound.
    tolerance = 1e-6 + 1e-9 * (abs(bound) + float(np.abs(u).sum()))
    # Every plan costs a whole multiple of the costs' common divisor, so levels sit on those multiples.
    divisor = int(np.gcd.reduce(cost.ravel())) or 1
    step = max(divisor, divisor * math.ceil(abs(bound) * LEVEL_SHARE / divisor))
    first_level = divisor * math.ceil((bound - tolerance) / divisor)
    # No plan costs more than every account at its dearest eligible rep. A level at that cost
    # contains every plan, so finding none there proves that no plan exists.
    ceiling = int(np.where(eligible, cost, 0).max(axis=0).sum())
    ceiling = divisor * math.ceil(ceiling / divisor)
    levels = _Levels(cost, weight, capacity, u, bound, tolerance, divisor, first_level, step, ceiling)
    result.lower_bound, result.lagrangian_bound = first_level, bound
    runs = [(_METHOD_RUNS[name], name) for name in methods]
    if work.seconds is not None or len(runs) == 1:
        outcomes = []
        for index, (run, _) in enumerate(runs):
            share = None if work.seconds is None else max(0.0, work.seconds) / (len(runs) - index)
            own = _Work(deadline, share)
            outcomes.append(run(levels, own))
            if work.seconds is not None:
                work.seconds -= share - own.seconds
            if outcomes[-1].settled:
                break
    else:
        settled = threading.Event()
        with ThreadPoolExecutor(max_workers=len(runs)) as pool:
            futures = [pool.submit(_settling, run, levels, _Work(deadline, None, settled), settled) for run, _ in runs]
            outcomes = [future.result() for future in futures]
    _combine(result, outcomes, [name for _, name in runs][:len(outcomes)])
    result.time_s = time.monotonic() - started
    return result


@dataclass
class _Levels:
    """Input shared by both methods: the knapsack data, the root multipliers and bound, and the level steps."""

    cost: np.ndarray
    weight: np.ndarray
    capacity: np.ndarray
    u: np.ndarray
    bound: float
    tolerance: float
    divisor: int
    first: int
    step: int
    ceiling: int


@dataclass
class _Outcome:
    """Result of one method: every plan costs at least ``lower_bound``; its plan is optimal when ``proven``."""

    lower_bound: int
    rep_of: np.ndarray | None = None
    objective: int | None = None
    proven: bool = False
    infeasible: bool = False
    levels: int = 0
    columns: int = 0
    stop: str = "time or work limit"

    @property
    def settled(self) -> bool:
        return self.proven or self.infeasible

    def found(self, levels: _Levels, plan: np.ndarray, complete: bool) -> None:
        """Record `plan`, optimal when the search of its level was `complete`."""
        self.rep_of = plan
        self.objective = int(levels.cost[plan, np.arange(len(plan))].sum())
        self.proven = complete or self.objective <= self.lower_bound
        if self.proven:
            self.lower_bound, self.stop = self.objective, "optimal"


def _settling(run, levels: _Levels, work: _Work, settled: threading.Event) -> _Outcome:
    """Run one method; once it settles the question (or fails), tell the other to stop."""
    try:
        outcome = run(levels, work)
    except BaseException:
        settled.set()
        raise
    if outcome.settled:
        settled.set()
    return outcome


def _combine(result: ColumnSearchResult, outcomes: list[_Outcome], names: list[str]) -> None:
    """Fill `result` from the methods' outcomes: the best bound, and the proven or cheapest plan."""
    result.lower_bound = max([result.lower_bound] + [o.lower_bound for o in outcomes])
    result.levels = max(o.levels for o in outcomes)
    result.columns = max(o.columns for o in outcomes)
    plans = [o for o in outcomes if o.rep_of is not None]
    # A plan in hand outweighs a claim that none exists. Both at once would mean a fault in one method.
    result.infeasible = any(o.infeasible for o in outcomes) and not plans
    if plans and any(o.infeasible for o in outcomes):
        logger.warning("column search: one method found no plan while the other found one; keeping the plan")
    if plans:
        chosen = min(plans, key=lambda o: (not o.proven, o.objective))
        result.rep_of, result.objective = chosen.rep_of, chosen.objective
        result.proven = chosen.proven or chosen.objective <= result.lower_bound
        if result.proven:
            result.lower_bound = chosen.objective
    if result.proven:
        result.stop = "optimal"
    elif result.infeasible:
        result.stop = "no plan"
    else:
        result.stop = "; ".join(f"{name}: {o.stop}" for name, o in zip(names, outcomes, strict=True))
    logger.info("column search: bound %d, plan %s, %s", result.lower_bound, result.objective, result.stop)


def _listing_levels(levels: _Levels, work: _Work) -> _Outcome:
    """Raise the level, listing each rep's sets within it and searching them for a cover."""
    cost, weight, capacity, u = levels.cost, levels.weight, levels.capacity, levels.u
    m, n = cost.shape
    outcome = _Outcome(levels.first)
    limit = min(MAX_COLUMNS, MAX_COVER_CELLS // (m + 1))
    level_target, step = levels.first, levels.step
    while work.left() > 0:
        slack = level_target - levels.bound
        columns, reason, nodes = _columns(cost, weight, capacity, u, slack, levels.tolerance, limit,
                                          work.list_nodes(), work.settled)
        work.spend_list(nodes)
        if columns is None:
            outcome.stop = reason
            logger.info("listing: stopped at %s, within %.1f of the bound", reason, slack)
            break
        start, jobs, excess, rep = columns
        outcome.columns = len(excess)
        cover, complete, nodes = _cover(start, jobs, excess, rep, m, n, levels.divisor, slack + levels.tolerance,
                                        work)
        if cover is not None:
            plan = np.empty(n, dtype=np.int64)
            for r in range(m):
                q = cover[r]
                plan[jobs[start[q]:start[q + 1]]] = r
            outcome.found(levels, plan, complete)
            break
        if not complete:
            break
        outcome.levels += 1
        outcome.lower_bound = level_target + levels.divisor
        logger.info("listing: no plan within %.1f of the bound (%d columns, %d nodes)", slack, len(excess), nodes)
        if level_target >= levels.ceiling:
            outcome.infeasible, outcome.stop = True, "no plan"
            break
        if len(excess) < CHEAP_LEVEL_COLUMNS:
            step *= 2
        level_target = min(level_target + step, levels.ceiling)
    return outcome


def _fixing_levels(levels: _Levels, work: _Work) -> _Outcome:
    """Raise the level, searching each by branch and bound with variable fixing."""
    cost, weight, capacity = levels.cost, levels.weight, levels.capacity
    m, n = cost.shape
    outcome = _Outcome(levels.first)
    if not _FixingState.fits(m, n, int(capacity.max())):
        outcome.stop = "memory limit"
        return outcome
    level_target, step = levels.first, levels.step
    while work.left() > 0:
        state = _FixingState(weight, capacity, levels.u)
        state.target[0] = level_target
        while True:
            complete = _fixing_run(cost, weight, levels.divisor, levels.tolerance, FIXING_ROUNDS, work.fixing_chunk(),
                                   *state.arrays())
            work.spend_cells(int(state.scalars[4]))
            if complete or work.left() <= 0:
                break
        nodes = int(state.scalars[1])
        if state.scalars[3] == 1:
            outcome.found(levels, state.best.copy(), complete)
            break
        if not complete:
            break
        outcome.levels += 1
        outcome.lower_bound = level_target + levels.divisor
        logger.info("fixing: no plan within %.1f of the bound (%d nodes)", level_target - levels.bound, nodes)
        if level_target >= levels.ceiling:
            outcome.infeasible, outcome.stop = True, "no plan"
            break
        if nodes < CHEAP_LEVEL_NODES:
            step *= 2
        level_target = min(level_target + step, levels.ceiling)
    return outcome


_METHOD_RUNS = {"fixing": _fixing_levels, "listing": _listing_levels}


def compile_search() -> None:
    """Compile the search's numba functions by running both methods on a two-account instance.

    The first call after an install compiles them (about 12 s on 2 vCPUs) and later calls load them
    from numba's cache. A caller with a short time limit can run this first, so that compiling does
    not use up the search's share of the limit.
    """
    cost = np.array([[1, 2], [2, 1]], dtype=np.int64)
    weight = np.ones((2, 2), dtype=np.int64)
    capacity = np.ones(2, dtype=np.int64)
    u = np.zeros(2)
    _knapsacks(cost - u[None, :], weight, capacity)
    levels = _Levels(cost, weight, capacity, u, bound=0.0, tolerance=1e-6, divisor=1, first=2, step=1, ceiling=4)
    work = _Work(time.monotonic() + 60.0, None)
    _listing_levels(levels, work)
    _fixing_levels(levels, work)


class _Work:
    """Budget of one search: the clock, or in repeatable mode estimated seconds of counted work."""

    def __init__(self, deadline: float, seconds: float | None, settled: threading.Event | None = None):
        self.deadline = deadline
        self.seconds = seconds
        self.settled = settled

    def left(self) -> float:
        if self.settled is not None and self.settled.is_set():
            return 0.0
        if self.seconds is not None:
            return self.seconds
        return self.deadline - time.monotonic()

    def list_nodes(self) -> float:
        return max(0.0, self.left()) * LIST_NODES_PER_SECOND

    def spend_list(self, nodes: int) -> None:
        self._spend(nodes / LIST_NODES_PER_SECOND)

    def knapsack_rounds(self, cells: int) -> int:
        """Return how many subgradient rounds of `cells` knapsack cells each the budget allows."""
        if self.seconds is None:
            return SUBGRADIENT_ROUNDS
        return min(SUBGRADIENT_ROUNDS, int(SUBGRADIENT_SHARE * self.seconds * KNAPSACK_CELLS_PER_SECOND / cells))

    def spend_rounds(self, rounds: int, cells: int) -> None:
        self._spend(rounds * cells / KNAPSACK_CELLS_PER_SECOND)

    def fixing_chunk(self) -> int:
        """Return the knapsack cells the next call of the branch and bound may spend."""
        if self.seconds is None:
            return FIXING_CHUNK_CELLS
        return max(1, min(FIXING_CHUNK_CELLS, int(self.seconds * FIXING_CELLS_PER_SECOND)))

    def spend_cells(self, cells: int) -> None:
        self._spend(cells / FIXING_CELLS_PER_SECOND)

    def spend_chunk(self) -> None:
        self._spend(1.0 / COVER_CHUNKS_PER_SECOND)

    def _spend(self, seconds: float) -> None:
        if self.seconds is not None:
            self.seconds -= seconds


def _knapsack_data(instance: Instance):
    """Return (cost, weight, capacity) as integer rep x account arrays, or None when the table is too large.

    An ineligible pair weighs more than the rep's capacity, so no account set can hold it. Loads and
    capacities are CP-SAT's (hours x QUANTITY_SCALE), divided by their common divisor.
    """
    n, m = instance.account_count, instance.rep_count
    accounts = np.repeat(np.arange(n), m)
    reps = np.tile(np.arange(m), n)
    pairs = Pairs.build(instance, accounts, reps)
    cost = pairs.cost.reshape(n, m).T.copy()
    weight = np.rint(instance.pair_load(accounts, reps) * QUANTITY_SCALE).astype(np.int64).reshape(n, m).T.copy()
    capacity = np.floor(np.asarray(instance.capacity, dtype=float) * QUANTITY_SCALE + 1e-6).astype(np.int64)
    divisor = int(np.gcd.reduce(np.concatenate([weight.ravel(), capacity])))
    if divisor > 1:
        weight //= divisor
        capacity //= divisor
    if int(capacity.max(initial=0)) * n > MAX_TABLE_CELLS:
        return None
    eligible = instance.eligible_matrix(np.arange(n)).T
    weight[~eligible] = capacity.max() + 1
    return cost, weight, capacity


def _subgradient(cost, weight, capacity, u, work: _Work, deadline: float) -> tuple[float, np.ndarray]:
    """Raise the Lagrangian bound from multipliers `u` by subgradient steps; return the best bound and u.

    Stops at `deadline`, or in repeatable mode after the rounds the work budget allows.
    """
    best_bound, best_u = -math.inf, u.copy()
    scale, stall = 1.0, 0
    cells = int(cost.shape[1] * (capacity + 1).sum())
    rounds = max(1, work.knapsack_rounds(cells))
    done = 0
    for _ in range(rounds):
        value, chosen = _knapsacks(cost - u[None, :], weight, capacity)
        done += 1
        bound = float(u.sum() + value.sum())
        if bound > best_bound + 1e-9:
            best_bound, best_u, stall = bound, u.copy(), 0
        else:
            stall += 1
            if stall >= 20:
                scale, stall = scale / 2, 0
        direction = 1.0 - chosen.sum(axis=0)
        norm = float((direction * direction).sum())
        if norm == 0 or scale < 1e-4 or (work.seconds is None and time.monotonic() > deadline):
            break
        target = best_bound * 1.002 + 1.0
        u = u + scale * (target - bound) / norm * direction
    work.spend_rounds(done, cells)
    return best_bound, best_u


@numba.njit(cache=True, nogil=True)
def _knapsacks(reduced, weight, capacity):
    """For each rep, the account set of least reduced cost within its capacity: (values, chosen)."""
    m, n = reduced.shape
    value = np.zeros(m)
    chosen = np.zeros((m, n), np.bool_)
    size = capacity.max()
    table = np.empty(size + 1)
    took = np.empty((n, size + 1), np.bool_)
    for r in range(m):
        value[r] = -_knapsack_pick(-reduced[r], weight[r], capacity[r], table, took, chosen[r])
    return value, chosen


def _columns(cost, weight, capacity, u, slack, tolerance, limit, node_limit, stop: threading.Event | None = None):
    """List every rep's account sets within `slack` of its knapsack optimum, in CSR form.

    Returns ((start, accounts, excess, rep), None, nodes), where set q contains
    accounts[start[q]:start[q + 1]]. Returns (None, reason, nodes) when the sets exceed `limit`, their
    accounts exceed MAX_LISTED_ACCOUNTS, the listing needs more than `node_limit` nodes, or `stop` is
    set (looked at between reps).
    """
    m, n = cost.shape
    starts, members, excess, reps = [], [], [], []
    total, offset, nodes = 0, 0, 0
    for r in range(m):
        if stop is not None and stop.is_set():
            return None, LIST_STOPS[-1], nodes
        gain = u - cost[r]
        order = np.argsort(-gain, kind="stable")
        start, positions, over, used = _list_sets(gain[order], weight[r, order], int(capacity[r]), slack, tolerance,
                                                  limit - total, MAX_LISTED_ACCOUNTS - offset,
                                                  max(0, int(min(node_limit - nodes, 2**62))))
        nodes += used
        if start is None:
            return None, positions, nodes
        starts.append(start[:-1] + offset)
        members.append(order[positions])
        excess.append(over)
        reps.append(np.full(len(over), r, dtype=np.int64))
        total += len(over)
        offset += len(positions)
    start = np.concatenate(starts + [np.array([offset], dtype=np.int64)])
    return (start, np.concatenate(members), np.concatenate(excess), np.concatenate(reps)), None, nodes


def _list_sets(gain, weight, size, slack, tolerance, limit, member_limit, node_limit):
    """Return (start, positions, excess, nodes) of one rep's sets, or (None, reason, None, nodes)."""
    start, members, over, count, nodes = _list_sets_jit(gain, weight, size, slack, tolerance, limit, member_limit,
                                                        node_limit)
    if count < 0:
        return None, LIST_STOPS[-count - 1], None, nodes
    return start[:count + 1], members[:start[count]], over[:count], nodes


# Why a listing stopped, by its negative count: -1, -2, -3.
LIST_STOPS = ("column limit", "account-cell limit", "time or work limit")


@numba.njit(cache=True, nogil=True)
def _list_sets_jit(gain, weight, size, slack, tolerance, limit, member_limit, node_limit):
    """List, depth first, every set with total gain >= optimum - slack, deciding items in the given order."""
    n = len(gain)

    best = np.zeros((n + 1, size + 1))
    for k in range(n - 1, -1, -1):
        for w in range(size + 1):
            v = best[k + 1, w]
            if gain[k] > 0 and weight[k] <= w and best[k + 1, w - weight[k]] + gain[k] > v:
                v = best[k + 1, w - weight[k]] + gain[k]
            best[k, w] = v
    lightest = np.zeros(n + 1, np.int64)
    lightest[n] = size + 1
    for k in range(n - 1, -1, -1):
        lightest[k] = min(lightest[k + 1], weight[k])
    optimum = best[0, size]
    threshold = optimum - slack - tolerance

    cap = 1024
    start = np.zeros(cap + 1, np.int64)
    members = np.zeros(cap * 4, np.int64)
    over = np.zeros(cap)
    count = 0
    state = np.zeros(n + 1, np.int8)
    inside = np.zeros(n + 1, np.bool_)
    room = np.zeros(n + 1, np.int64)
    have = np.zeros(n + 1)
    room[0] = size
    k = 0
    nodes = 0
    while k >= 0:
        if state[k] == 0:
            nodes += 1
            if nodes > node_limit:
                return start, members, over, -3, nodes
            if have[k] + best[k, room[k]] < threshold:
                k -= 1
                continue
            # Emit when no later item can join: none fits, or each would cost more than the slack.
            if k == n or lightest[k] > room[k] or (gain[k] <= 0 and have[k] + gain[k] < threshold):
                if count >= limit:
                    return start, members, over, -1, nodes
                if count >= cap:
                    cap *= 2
                    start = _grown(start, cap + 1)
                    over = _grown(over, cap)
                used = start[count]
                # Writing the set out visits every decided item, which costs as much as nodes.
                nodes += k
                for d in range(k):
                    if inside[d]:
                        if used >= member_limit:
                            return start, members, over, -2, nodes
                        if used >= len(members):
                            members = _grown(members, min(2 * len(members), member_limit))
                        members[used] = d
                        used += 1
                start[count + 1] = used
                over[count] = optimum - have[k]
                count += 1
                k -= 1
                continue
            state[k] = 1
            if weight[k] <= room[k]:
                inside[k] = True
                room[k + 1] = room[k] - weight[k]
                have[k + 1] = have[k] + gain[k]
                state[k + 1] = 0
                k += 1
                continue
        if state[k] == 1:
            state[k] = 2
            inside[k] = False
            room[k + 1] = room[k]
            have[k + 1] = have[k]
            state[k + 1] = 0
            k += 1
            continue
        k -= 1
    return start, members, over, count, nodes


@numba.njit(cache=True, nogil=True)
def _grown(values, size):
    """Return a copy of `values` zero-padded to `size` entries."""
    out = np.zeros(size, values.dtype)
    out[:len(values)] = values
    return out



def _cover(start, jobs, excess, rep, m, n, divisor, allowed, work: _Work):
    """Find the cover of least total excess up to `allowed`; return (cover, complete, nodes).

    Stops early when the work budget runs out.
    """
    state = _CoverState(start, jobs, excess, m, n, allowed)
    while True:
        done = _cover_run(start, jobs, excess, rep, m, n, divisor, WORK_CHUNK, *state.arrays())
        work.spend_chunk()
        if done or work.left() <= 0:
            break
    nodes = int(state.scalars[1])
    cover = state.best.copy() if state.scalars[3] == 1 else None
    return cover, bool(done), nodes


class _CoverState:
    """Arrays of one resumable cover search (each call of ``_cover_run`` goes on where the last stopped)."""

    def __init__(self, start, jobs, excess, m, n, allowed):
        count = len(excess)
        self.alive = np.empty((m + 1, count), np.int32)
        self.count_alive = np.zeros(m + 1, np.int64)
        self.branch = np.empty((m + 1, count), np.int32)
        self.count_branch = np.zeros(m + 1, np.int64)
        self.position = np.zeros(m + 1, np.int64)
        self.chosen = np.full(m + 1, -1, np.int64)
        self.spent = np.zeros(m + 2)
        self.covered = np.zeros(n, np.bool_)
        self.used = np.zeros(m, np.bool_)
        self.duals = np.zeros((m + 1, n))
        self.best = np.full(m, -1, np.int64)
        # depth, nodes, entering (1/0), found (1/0)
        self.scalars = np.array([0, 0, 1, 0], np.int64)
        self.allowed = np.array([allowed])

    def arrays(self):
        return (self.alive, self.count_alive, self.branch, self.count_branch, self.position, self.chosen,
                self.spent, self.covered, self.used, self.duals, self.best, self.scalars, self.allowed)


@numba.njit(cache=True, nogil=True)
def _undo(depth, chosen, start, jobs, rep, covered, used):
    if depth >= 0:
        q = chosen[depth]
        for t in range(start[q], start[q + 1]):
            covered[jobs[t]] = False
        used[rep[q]] = False


@numba.njit(cache=True, nogil=True)
def _cover_run(start, jobs, excess, rep, m, n, divisor, chunk, alive, count_alive, branch, count_branch, position,
               chosen, spent, covered, used, duals, best, scalars, allowed):
    """Run up to `chunk` nodes of the cover search; return True once it is complete."""
    depth, nodes, entering = scalars[0], scalars[1], scalars[2]
    work = 0
    low = np.zeros(m)
    low_best = np.zeros(m)
    pick = np.zeros(m, np.int64)
    direction = np.zeros(n)
    best_duals = np.zeros(n)
    job_count = np.zeros(n, np.int64)
    rep_count = np.zeros(m, np.int64)
    scratch = np.empty(len(excess))
    while depth >= 0:
        if work >= chunk:
            scalars[0], scalars[1], scalars[2] = depth, nodes, entering
            return False
        if entering == 1:
            nodes += 1
            entering = 0
            budget = allowed[0] - spent[depth]
            if depth == m:
                complete = True
                for j in range(n):
                    if not covered[j]:
                        complete = False
                        break
                if complete:
                    scalars[3] = 1
                    for d in range(m):
                        best[rep[chosen[d]]] = chosen[d]
                    # Plan costs are whole multiples of the divisor: a better cover saves at least that.
                    allowed[0] = spent[depth] - divisor + 1e-6
                depth -= 1
                _undo(depth, chosen, start, jobs, rep, covered, used)
                continue
            # The columns still possible: no account covered twice, rep unused, excess within budget.
            alive_count = 0
            source = depth - 1 if depth > 0 else 0
            total = count_alive[source] if depth > 0 else len(excess)
            for index in range(total):
                q = alive[source, index] if depth > 0 else index
                if used[rep[q]] or excess[q] > budget:
                    continue
                clash = False
                for t in range(start[q], start[q + 1]):
                    if covered[jobs[t]]:
                        clash = True
                        break
                if not clash:
                    alive[depth, alive_count] = q
                    alive_count += 1
            count_alive[depth] = alive_count
            work += total + alive_count * NODE_ROUNDS
            # Lagrangian bound on the rest: one column per unused rep, each uncovered account priced.
            for j in range(n):
                duals[depth, j] = duals[depth - 1, j] if depth > 0 else 0.0
            scale = 1.0
            best_bound = -1e18
            pruned = False
            rounds = NODE_ROUNDS
            for _ in range(rounds):
                for r in range(m):
                    low[r] = 1e18
                    pick[r] = -1
                for index in range(alive_count):
                    q = alive[depth, index]
                    value = excess[q]
                    for t in range(start[q], start[q + 1]):
                        value -= duals[depth, jobs[t]]
                    if value < low[rep[q]]:
                        low[rep[q]] = value
                        pick[rep[q]] = q
                bound = 0.0
                for r in range(m):
                    if not used[r]:
                        bound += low[r]
                for j in range(n):
                    if not covered[j]:
                        bound += duals[depth, j]
                if bound > best_bound:
                    best_bound = bound
                    for r in range(m):
                        low_best[r] = low[r]
                    for j in range(n):
                        best_duals[j] = duals[depth, j]
                if bound > budget:
                    pruned = True
                    break
                for j in range(n):
                    direction[j] = 0.0 if covered[j] else 1.0
                for r in range(m):
                    if not used[r] and pick[r] >= 0:
                        q = pick[r]
                        for t in range(start[q], start[q + 1]):
                            direction[jobs[t]] -= 1.0
                norm = 0.0
                for j in range(n):
                    norm += direction[j] * direction[j]
                if norm == 0.0:
                    break
                step = scale * (budget - bound + 0.05) / norm
                for j in range(n):
                    duals[depth, j] += step * direction[j]
                scale *= 0.8
            if pruned:
                depth -= 1
                _undo(depth, chosen, start, jobs, rep, covered, used)
                continue
            for j in range(n):
                duals[depth, j] = best_duals[j]
            # Drop columns that cannot be part of a cover within budget, then count each item's options.
            alive_count = 0
            for r in range(m):
                rep_count[r] = 0
            for j in range(n):
                job_count[j] = 0
            for index in range(count_alive[depth]):
                q = alive[depth, index]
                value = excess[q]
                for t in range(start[q], start[q + 1]):
                    value -= best_duals[jobs[t]]
                if best_bound - low_best[rep[q]] + value <= budget:
                    alive[depth, alive_count] = q
                    alive_count += 1
                    rep_count[rep[q]] += 1
                    for t in range(start[q], start[q + 1]):
                        job_count[jobs[t]] += 1
            count_alive[depth] = alive_count
            item, fewest, dead = -1, 1 << 60, False
            for r in range(m):
                if not used[r]:
                    if rep_count[r] == 0:
                        dead = True
                        break
                    if rep_count[r] < fewest:
                        fewest, item = rep_count[r], n + r
            if not dead:
                for j in range(n):
                    if not covered[j]:
                        if job_count[j] == 0:
                            dead = True
                            break
                        if job_count[j] < fewest:
                            fewest, item = job_count[j], j
            if dead:
                depth -= 1
                _undo(depth, chosen, start, jobs, rep, covered, used)
                continue
            # Branch on the item with the fewest options, cheapest reduced excess first.
            options = 0
            for index in range(alive_count):
                q = alive[depth, index]
                hit = False
                if item >= n:
                    hit = rep[q] == item - n
                else:
                    for t in range(start[q], start[q + 1]):
                        if jobs[t] == item:
                            hit = True
                            break
                if hit:
                    value = excess[q]
                    for t in range(start[q], start[q + 1]):
                        value -= best_duals[jobs[t]]
                    branch[depth, options] = q
                    scratch[options] = value
                    options += 1
            order = np.argsort(scratch[:options])
            for t in range(options):
                scratch[t] = branch[depth, order[t]]
            for t in range(options):
                branch[depth, t] = np.int32(scratch[t])
            count_branch[depth] = options
            position[depth] = 0
        budget = allowed[0] - spent[depth]
        next_column = -1
        while position[depth] < count_branch[depth]:
            q = branch[depth, position[depth]]
            position[depth] += 1
            if excess[q] <= budget:
                next_column = q
                break
        if next_column < 0:
            depth -= 1
            _undo(depth, chosen, start, jobs, rep, covered, used)
            continue
        chosen[depth] = next_column
        for t in range(start[next_column], start[next_column + 1]):
            covered[jobs[t]] = True
        used[rep[next_column]] = True
        spent[depth + 1] = spent[depth] + excess[next_column]
        depth += 1
        entering = 1
    scalars[0], scalars[1], scalars[2] = depth, nodes, entering
    return True


# Branch and bound with variable fixing ------------------------------------------------------------
#
# The second search works on account-rep pairs instead of listed sets. It decides, level by level,
# whether a plan costs at most the level. At each node it raises the Lagrangian bound by a few
# subgradient rounds, from the parent's multipliers, over the accounts not yet placed. Forcing a pair
# into its rep's knapsack, or out of it, costs at least the change in that knapsack's optimum, read
# from one table of the items before each item and one of the items after it. A pair whose forced
# bound exceeds the level is dropped; an account whose only other choices all exceed it is placed.
# The search then branches on the unplaced account with the fewest reps left, cheapest rep first.

# Memory of the branch and bound: its stack, one copy of the node state per depth, and its knapsack tables.
MAX_FIXING_BYTES = 256_000_000
FIXING_ROUNDS = 5
# Knapsack cells between two looks at the clock (a node is never split). The rate turns cells into
# seconds in repeatable mode. It was measured on generalized assignment type D on a 2 vCPU AMD EPYC.
FIXING_CHUNK_CELLS = 50_000_000
FIXING_CELLS_PER_SECOND = 600_000_000


class _FixingState:
    """Arrays of one resumable branch and bound: each call of ``_fixing_run`` goes on where the last stopped."""

    def __init__(self, weight, capacity, u):
        m, n = weight.shape
        depths = n + 1
        self.allowed = np.zeros((depths, m, n), np.bool_)
        self.allowed[0] = weight <= capacity[:, None]
        self.placed = np.full((depths, n), -1, np.int64)
        self.room = np.zeros((depths, m), np.int64)
        self.room[0] = capacity
        self.spent = np.zeros(depths, np.int64)
        self.duals = np.zeros((depths, n))
        self.duals[0] = u
        self.branch_job = np.full(depths, -1, np.int64)
        self.branch_reps = np.zeros((depths, m), np.int64)
        self.branch_count = np.zeros(depths, np.int64)
        self.position = np.zeros(depths, np.int64)
        self.best = np.full(n, -1, np.int64)
        # depth, nodes, entering (1/0), found (1/0), cells of the last call
        self.scalars = np.array([0, 0, 1, 0, 0], np.int64)
        self.target = np.zeros(1, np.int64)

    @staticmethod
    def fits(m: int, n: int, size: int) -> bool:
        """Return whether the stack (per depth: pairs, placements, multipliers) and the knapsack tables fit."""
        return (n + 1) * n * (m + 24) + (n + 1) * (size + 1) * 17 <= MAX_FIXING_BYTES

    def arrays(self):
        return (self.allowed, self.placed, self.room, self.spent, self.duals, self.branch_job, self.branch_reps,
                self.branch_count, self.position, self.best, self.scalars, self.target)


@numba.njit(cache=True, nogil=True)
def _knapsack_pick(gain, weight, size, best, took, pick):
    """Solve one 0/1 knapsack (largest gain within `size`), mark its items in `pick`, and return its gain.

    Items of no gain or heavier than `size` are left out. `best` has at least size + 1 cells and `took`
    one row per item of at least size + 1 cells.
    """
    count = len(gain)
    for c in range(size + 1):
        best[c] = 0.0
    for k in range(count):
        g, w = gain[k], weight[k]
        if g <= 0 or w > size:
            continue
        for c in range(w):
            took[k, c] = False
        for c in range(size, w - 1, -1):
            took[k, c] = False
            value = best[c - w] + g
            if value > best[c]:
                best[c] = value
                took[k, c] = True
    c = size
    for k in range(count - 1, -1, -1):
        pick[k] = gain[k] > 0 and weight[k] <= size and took[k, c]
        if pick[k]:
            c -= weight[k]
    return best[size]


@numba.njit(cache=True, nogil=True)
def _forced_gains(gain, weight, size, before, after, with_item, without_item):
    """For each item, the knapsack's best gain with that item forced in, and with it left out.

    `before[k, c]` is the best gain of items before k within c, and `after[k, c]` of items from k on.
    The best without item k within c is then the largest before[k, c1] + after[k + 1, c - c1].
    """
    count = len(gain)
    for c in range(size + 1):
        before[0, c] = 0.0
        after[count, c] = 0.0
    # Gains and weights are read into locals first: numba cannot tell that the tables do not alias them.
    for k in range(count):
        g, w = gain[k], weight[k]
        for c in range(size + 1):
            value = before[k, c]
            if g > 0 and w <= c and before[k, c - w] + g > value:
                value = before[k, c - w] + g
            before[k + 1, c] = value
    for k in range(count - 1, -1, -1):
        g, w = gain[k], weight[k]
        for c in range(size + 1):
            value = after[k + 1, c]
            if g > 0 and w <= c and after[k + 1, c - w] + g > value:
                value = after[k + 1, c - w] + g
            after[k, c] = value
    for k in range(count):
        without = -np.inf
        for c in range(size + 1):
            value = before[k, c] + after[k + 1, size - c]
            if value > without:
                without = value
        without_item[k] = without
        with_item[k] = -np.inf
        if weight[k] <= size:
            rest = size - weight[k]
            best = -np.inf
            for c in range(rest + 1):
                value = before[k, c] + after[k + 1, rest - c]
                if value > best:
                    best = value
            with_item[k] = best + gain[k]
    return before[count, size]


@numba.njit(cache=True, nogil=True)
def _free_items(cost, weight, u, placed, allowed, r, items, gain, load):
    """Fill rep r's knapsack items (unplaced accounts it may take) with their gains and loads; return how many."""
    count = 0
    for j in range(len(placed)):
        if placed[j] < 0 and allowed[j]:
            items[count] = j
            gain[count] = u[j] - cost[r, j]
            load[count] = weight[r, j]
            count += 1
    return count


@numba.njit(cache=True, nogil=True)
def _fixing_run(cost, weight, divisor, tolerance, rounds, chunk_cells, allowed, placed, room, spent, duals, branch_job,
                branch_reps, branch_count, position, best, scalars, target):
    """Search for plans costing at most target[0] until `chunk_cells` knapsack cells are spent.

    Each plan found lowers target[0] to its cost minus the costs' common divisor, so the search ends
    with the cheapest plan at or below the starting target, or none. Returns True once the search is complete.
    """
    m, n = cost.shape
    depth, nodes, entering = scalars[0], scalars[1], scalars[2]
    size = int(room[0].max())
    table = np.zeros(size + 1)
    # The knapsack routines write every cell of these tables before reading it.
    took = np.empty((n, size + 1), np.bool_)
    before = np.empty((n + 1, size + 1))
    after = np.empty((n + 1, size + 1))
    items = np.zeros(n, np.int64)
    gain = np.zeros(n)
    load = np.zeros(n, np.int64)
    pick = np.zeros(n, np.bool_)
    with_item = np.zeros(n)
    without_item = np.zeros(n)
    times = np.zeros(n, np.int64)
    pick_rep = np.full(n, -1, np.int64)
    direction = np.zeros(n)
    best_u = np.zeros(n)
    forced = np.zeros((m, n))
    cells = 0
    while depth >= 0:
        if entering == 1:
            if cells >= chunk_cells:
                break
            entering = 0
            nodes += 1
            u = duals[depth]
            dead = False
            changed = True
            while changed and not dead:
                changed = False
                # A rep without room for an account cannot take it, and an account left with one rep goes there.
                placing = True
                while placing and not dead:
                    placing = False
                    for j in range(n):
                        if placed[depth, j] >= 0:
                            continue
                        options, last = 0, -1
                        for r in range(m):
                            if allowed[depth, r, j]:
                                if weight[r, j] > room[depth, r]:
                                    allowed[depth, r, j] = False
                                else:
                                    options += 1
                                    last = r
                        if options == 0:
                            dead = True
                            break
                        if options == 1:
                            placed[depth, j] = last
                            room[depth, last] -= weight[last, j]
                            spent[depth] += cost[last, j]
                            placing = True
                if dead:
                    break
                # Subgradient rounds from the parent's multipliers.
                best_bound = -np.inf
                margin = tolerance
                scale = 1.0
                for round_ in range(rounds):
                    bound = float(spent[depth])
                    # Float rounding grows with the size of the terms summed, so the margin does too.
                    magnitude = abs(bound)
                    for j in range(n):
                        times[j] = 0
                        if placed[depth, j] < 0:
                            bound += u[j]
                            magnitude += abs(u[j])
                    for r in range(m):
                        count = _free_items(cost, weight, u, placed[depth], allowed[depth, r], r, items, gain, load)
                        cells += count * (room[depth, r] + 1)
                        value = _knapsack_pick(gain[:count], load[:count], room[depth, r], table, took, pick)
                        bound -= value
                        magnitude += abs(value)
                        for k in range(count):
                            if pick[k]:
                                times[items[k]] += 1
                                pick_rep[items[k]] = r
                    margin = max(margin, tolerance + 1e-9 * magnitude)
                    if bound > best_bound:
                        best_bound = bound
                        best_u[:] = u
                    if bound > target[0] + margin:
                        dead = True
                        break
                    norm = 0.0
                    for j in range(n):
                        direction[j] = 0.0
                        if placed[depth, j] < 0:
                            direction[j] = 1.0 - times[j]
                            norm += direction[j] * direction[j]
                    if norm == 0.0:
                        # The knapsacks place every account once: a plan.
                        total = spent[depth]
                        for j in range(n):
                            if placed[depth, j] < 0:
                                total += cost[pick_rep[j], j]
                        if total <= target[0]:
                            for j in range(n):
                                best[j] = placed[depth, j] if placed[depth, j] >= 0 else pick_rep[j]
                            scalars[3] = 1
                            target[0] = total - divisor
                        dead = True
                        break
                    if round_ == rounds - 1:
                        break
                    step = scale * (target[0] + 1.0 - bound) / norm
                    for j in range(n):
                        u[j] += step * direction[j]
                    scale *= 0.9
                if dead:
                    break
                u[:] = best_u
                # Drop or place pairs by the bound with each pair forced in or out.
                for r in range(m):
                    count = _free_items(cost, weight, u, placed[depth], allowed[depth, r], r, items, gain, load)
                    cells += 4 * count * (room[depth, r] + 1)
                    top = _forced_gains(gain[:count], load[:count], room[depth, r], before, after, with_item,
                                        without_item)
                    for k in range(count):
                        j = items[k]
                        forced[r, j] = top - with_item[k]
                        limit = target[0] + margin + 1e-9 * (abs(top) + abs(with_item[k]) + abs(without_item[k]))
                        if best_bound + top - with_item[k] > limit:
                            allowed[depth, r, j] = False
                            changed = True
                        elif best_bound + top - without_item[k] > limit:
                            for other in range(m):
                                if other != r and allowed[depth, other, j]:
                                    allowed[depth, other, j] = False
                                    changed = True
            if dead:
                depth -= 1
                continue
            job, fewest = -1, m + 1
            for j in range(n):
                if placed[depth, j] < 0:
                    options = 0
                    for r in range(m):
                        if allowed[depth, r, j]:
                            options += 1
                    if options < fewest:
                        fewest, job = options, j
            if job < 0:
                # Every account placed within the reps' room.
                if spent[depth] <= target[0]:
                    best[:] = placed[depth]
                    scalars[3] = 1
                    target[0] = spent[depth] - divisor
                depth -= 1
                continue
            options = 0
            for r in range(m):
                if allowed[depth, r, job]:
                    # Cheapest forced bound first (insertion into the sorted prefix).
                    at = options
                    while at > 0 and forced[branch_reps[depth, at - 1], job] > forced[r, job]:
                        branch_reps[depth, at] = branch_reps[depth, at - 1]
                        at -= 1
                    branch_reps[depth, at] = r
                    options += 1
            branch_job[depth], branch_count[depth], position[depth] = job, options, 0
        if position[depth] >= branch_count[depth]:
            depth -= 1
            continue
        r = branch_reps[depth, position[depth]]
        position[depth] += 1
        j = branch_job[depth]
        child = depth + 1
        allowed[child] = allowed[depth]
        placed[child] = placed[depth]
        room[child] = room[depth]
        spent[child] = spent[depth] + cost[r, j]
        duals[child] = duals[depth]
        placed[child, j] = r
        room[child, r] -= weight[r, j]
        depth = child
        entering = 1
    scalars[0], scalars[1], scalars[2], scalars[4] = depth, nodes, entering, cells
    return depth < 0
