"""The scale runner's helpers and the two full-model baselines it runs (CP-SAT and HiGHS)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from benchmarks import generate, naive, scale
from optimizer.inputs import load_inputs
from optimizer.instance import NO_REP, build_instance
from optimizer.pipeline import prepare_accounts
from optimizer.scenario import scenario_from_dict
from optimizer.solve.candidates import nearest_candidates
from optimizer.solve.relaxation import concentration_pairs
from optimizer.validator import check_plan

HIGHS_LOG_END = """\
Solving report
  Status            Time limit reached
  Primal bound      72672342
  Dual bound        72431843
  Gap               0.331% (tolerance: 0.01%)
  P-D integral      0.0088
  Solution status   feasible
                    72672342 (objective)
  Timing            20.05
  Nodes             0
"""


@pytest.fixture(scope="module")
def tiny_instance(tmp_path_factory):
    """60 accounts and 3 reps with every optional rule on: +-20 % potential, a 20 % share cap, max 12 moves."""
    folder = tmp_path_factory.mktemp("tiny")
    generate.write_instance(folder, *generate.generate(60, 3, 3))
    inputs = load_inputs(folder / "accounts.csv", folder / "reps.csv")
    scenario = scenario_from_dict({"balance": {"potential": 0.2, "max_account_share": 0.2},
                                   "objective": {"max_moves": 12}})
    return build_instance(prepare_accounts(inputs, scenario), inputs.reps, scenario)


def test_naive_models_reach_same_optimum(tiny_instance, tmp_path):
    pairs = nearest_candidates(tiny_instance, 8)

    cpsat = naive.solve("cpsat", tiny_instance, pairs, 20.0, 2, tmp_path / "cpsat.highs.log")
    highs = naive.solve("highs", tiny_instance, pairs, 20.0, 2, tmp_path / "highs.highs.log")

    assert len(concentration_pairs(tiny_instance, pairs)) > 0
    assert cpsat["status"] == "optimal"
    assert highs["status"] == "optimal"
    # HiGHS stops within its relative gap tolerance of 1e-4.
    assert highs["objective"] == pytest.approx(cpsat["objective"], rel=1e-4)
    assert check_plan(tiny_instance, cpsat["plan"]).violations == []
    assert check_plan(tiny_instance, highs["plan"]).violations == []


def test_naive_rejects_account_without_pairs(tiny_instance, tmp_path):
    pairs = nearest_candidates(tiny_instance, 8)
    keep = pairs.account != 0
    without_first = type(pairs)(pairs.account[keep], pairs.rep[keep], pairs.distance_km[keep], pairs.cost[keep])

    result = naive.solve("cpsat", tiny_instance, without_first, 5.0, 1, tmp_path / "unused.log")

    assert result["status"] == "infeasible: 1 account(s) have no eligible rep"
    assert result["plan"] is None


def test_highs_matrix_accepts_valid_plan(tiny_instance, tmp_path):
    pairs = nearest_candidates(tiny_instance, 8)
    plan = naive.solve("cpsat", tiny_instance, pairs, 20.0, 2, tmp_path / "unused.log")["plan"]
    matrix, lower, upper = naive.highs_matrix(tiny_instance, pairs)

    activity = matrix @ (pairs.rep == plan[pairs.account]).astype(float)

    assert (activity >= lower - 1e-9).all()
    assert (activity <= upper + 1e-9).all()


def test_highs_matrix_rejects_extra_moves(tiny_instance):
    pairs = nearest_candidates(tiny_instance, 8)
    owner = tiny_instance.current_owner[pairs.account]
    moved = (owner != NO_REP) & (owner != pairs.rep)
    matrix, lower, upper = naive.highs_matrix(tiny_instance, pairs)

    activity = matrix @ moved.astype(float)

    # The last row is max_moves: every moved pair at once counts far above 12.
    assert activity[-1] > upper[-1] == 12


def test_row_unit_powers_of_ten():
    assert naive.row_unit(np.array([5_000.0, 900_000.0])) == 1_000.0
    assert naive.row_unit(np.array([40.0])) == 1.0
    assert naive.row_unit(np.array([999.0])) == 1.0
    assert naive.row_unit(np.array([1_000.0])) == 10.0


def test_highs_report_fields():
    report = naive.parse_highs_report("Running HiGHS\n...\n" + HIGHS_LOG_END)

    assert report == {"status": "Time limit reached", "primal_bound": "72672342", "dual_bound": "72431843",
                      "gap": "0.331% (tolerance: 0.01%)", "nodes": "0"}


def test_highs_report_missing():
    assert naive.parse_highs_report("Running HiGHS\nPresolving model\n") == {}


def test_sizes_parsed():
    assert scale.parse_sizes("5000x50, 20000X100") == [scale.Size(5000, 50), scale.Size(20000, 100)]


@pytest.mark.parametrize("text", ["5000", "5000x", "0x10", "5000x-1", "axb"])
def test_sizes_rejected(text):
    with pytest.raises(Exception, match="is not ACCOUNTSxREPS"):
        scale.parse_sizes(text)


def test_methods_rejected():
    with pytest.raises(Exception, match="choose from ours, cpsat, highs"):
        scale.parse_methods("ours,gurobi")


def test_gap_by_hand():
    assert scale.gap({"objective": 200.0, "bound": 150.0}) == 0.25
    assert scale.gap({"objective": 200.0, "bound": 250.0}) == 0.0
    assert scale.gap({"objective": None, "bound": 150.0}) is None


def test_child_exit_code_and_memory(tmp_path):
    child = scale.run_child([sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path / "child.log", 60.0, 0)

    assert child.exit_code == 3
    assert child.killed is False
    assert child.peak_rss_mb > 0


def test_child_killed_after_timeout(tmp_path):
    child = scale.run_child([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "child.log", 0.5, 0)

    assert child.killed is True
    assert child.exit_code is None


def test_results_merged_by_key(tmp_path):
    path = tmp_path / "results.json"
    first = {"size": "10x2", "seed": 1, "time_limit_s": 5.0, "method": "ours", "wall_s": 1.0}
    other = {"size": "10x2", "seed": 1, "time_limit_s": 5.0, "method": "cpsat", "wall_s": 2.0}
    scale.merge_results(path, [first, other])

    scale.merge_results(path, [{**first, "wall_s": 3.0}])

    stored = json.loads(path.read_text())
    assert sorted((r["method"], r["wall_s"]) for r in stored) == [("cpsat", 2.0), ("ours", 3.0)]
