"""The search over groups of neighbouring reps: hand-checked plans, and every rule kept."""

from __future__ import annotations

import time

import numpy as np

from optimizer.solve.candidates import Pairs
from optimizer.solve.groups import _solve_group, improve_by_groups
from optimizer.validator import check_plan
from tests.plan_fixtures import make_instance, make_scenario, point_at

EAST = 90.0


def _line_instance(account_km, rep_km, scenario, owners=None):
    accounts = []
    for i, km in enumerate(account_km):
        lat, lon = point_at(km, azimuth=EAST)
        row = {"account_id": f"a{km}", "lat": lat, "lon": lon, "workload_hours": 1.0}
        if owners is not None and owners[i] is not None:
            row["current_owner"] = owners[i]
        accounts.append(row)
    reps = []
    for rep_id, km, max_accounts in rep_km:
        lat, lon = point_at(km, azimuth=EAST)
        reps.append({"rep_id": rep_id, "lat": lat, "lon": lon, "max_accounts": max_accounts})
    return make_instance(accounts, reps, scenario)


def _plan(instance, territories):
    rep_of = np.full(instance.account_count, -1, dtype=np.int64)
    for rep_id, account_ids in territories.items():
        for account_id in account_ids:
            rep_of[instance.account_ids.index(account_id)] = instance.rep_ids.index(rep_id)
    return rep_of


def _territories(instance, rep_of):
    return {rep_id: sorted(instance.account_ids[a] for a in np.flatnonzero(rep_of == r))
            for r, rep_id in enumerate(instance.rep_ids)}


def _cost(instance, rep_of):
    return int(Pairs.build(instance, np.arange(instance.account_count), rep_of).cost.sum())


def test_group_search_untangles_crossed_territories():
    # Reps at 0, 100 and 200 km east, two accounts each at most. B's two slots go to the accounts
    # 5 km from it, so the accounts at 50 and 150 km must go to A and C: 5 + 50 + 5 + 5 + 50 + 5 km.
    scenario = make_scenario(balance={"potential": None})
    instance = _line_instance([5, 50, 95, 105, 150, 195], [("A", 0, 2), ("B", 100, 2), ("C", 200, 2)], scenario)
    start = _plan(instance, {"A": ["a195", "a150"], "B": ["a5", "a50"], "C": ["a95", "a105"]})
    assert check_plan(instance, start).ok

    result = improve_by_groups(instance, start, Pairs.build(instance, np.repeat(np.arange(6), 3),
                                                            np.tile(np.arange(3), 6)),
                               deadline=time.monotonic() + 20, seed=0, workers=2, work_limit=None)

    assert _territories(instance, result.rep_of) == {"A": ["a5", "a50"], "B": ["a105", "a95"],
                                                      "C": ["a150", "a195"]}
    assert result.objective == _cost(instance, result.rep_of)
    # Costs are hour-km in tenths: 120 km of 1-hour accounts.
    assert result.objective == 1200
    assert check_plan(instance, result.rep_of).ok


def test_group_search_counts_moves_outside_the_group():
    # Reps at 0, 100 and 300 km; max_moves 1, no move penalty. a150 has left its owner A for C: the one
    # move allowed. a45 is 45 km from A and 55 km from its owner B, but moving it would be a second move,
    # so a group of A and B alone must leave it with B.
    scenario = make_scenario(balance={"potential": None}, objective={"max_moves": 1, "move_penalty": 0.0,
                                                                      "moved_potential_penalty": 0.0})
    instance = _line_instance([10, 45, 150], [("A", 0, None), ("B", 100, None), ("C", 300, None)], scenario,
                              owners=["A", "B", "A"])
    start = _plan(instance, {"A": ["a10"], "B": ["a45"], "C": ["a150"]})
    assert check_plan(instance, start).ok

    result, (accounts, current_cost) = _solve_group(instance, start, np.array([0, 1]), 10.0, None, 0)
    assert result.status == "optimal"
    assert sorted(instance.account_ids[a] for a in accounts) == ["a10", "a45"]
    assert result.objective == current_cost == 100 + 550

    # Over all groups the best plan under the cap moves a150 to B instead (50 km, still one move):
    # 10 + 55 + 50 km.
    all_pairs = Pairs.build(instance, np.repeat(np.arange(3), 3), np.tile(np.arange(3), 3))
    improved = improve_by_groups(instance, start, all_pairs, deadline=time.monotonic() + 20, seed=0, workers=1,
                                 work_limit=None)
    assert _territories(instance, improved.rep_of) == {"A": ["a10"], "B": ["a150", "a45"], "C": []}
    assert improved.objective == 1150
    assert check_plan(instance, improved.rep_of).ok
