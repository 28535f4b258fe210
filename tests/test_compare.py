"""Plans side by side: figures read from metrics.json, hand-checked."""

from __future__ import annotations

import json

import pytest

from optimizer.compare import compare_metrics, comparison_rows, format_comparison, read_plan_metrics
from optimizer.errors import InputError


def metrics(objective: float, bound: float | None, band: float | None, deviations: list[float], moved: int,
            potential_moved: float) -> dict:
    """Return a small metrics.json: two reps whose potential lies `deviations` (fractions) off target."""
    return {
        "summary": {"reps": 2, "assigned": 10, "not_located": 0},
        "solver": {"status": "feasible", "objective": objective, "objective_unit": "hour-km", "lower_bound": bound,
                   "gap": None if bound is None else (objective - bound) / objective},
        "balance": {"potential": {"unit": "USD", "band": band, "cv": 0.1, "gini": 0.05,
                                  "max_deviation_from_target": max(abs(value) for value in deviations)}},
        "reps": [{"rep_id": f"R{index + 1}", "potential_pct_of_target": 100 * (1 + deviation),
                  "utilisation": 0.5 + 0.25 * index, "mean_distance_km": 10.0 + index,
                  "max_distance_km": 20.0 * (index + 1)}
                 for index, deviation in enumerate(deviations)],
        "disruption": {"accounts_moved": moved, "share_moved": moved / 8, "potential_moved": potential_moved},
        "empty_territories": [],
    }


def test_measures_per_plan() -> None:
    table = compare_metrics([("wide", metrics(1000.0, 990.0, 0.05, [0.04, -0.04], 2, 500.0)),
                             ("tight", metrics(1100.0, 1089.0, 0.01, [0.01, -0.005], 4, 900.0))])

    assert list(table.columns) == ["unit", "wide", "tight"]
    assert table.loc["objective"].tolist() == ["hour-km", 1000.0, 1100.0]
    assert table.loc["gap", "wide"] == pytest.approx(1.0)
    assert table.loc["gap", "tight"] == pytest.approx(1.0)
    assert table.loc["potential: band"].tolist() == ["+-%", 5.0, 1.0]
    assert table.loc["potential: max deviation from target", "wide"] == pytest.approx(4.0)
    assert table.loc["potential: max deviation from target", "tight"] == pytest.approx(1.0)
    assert table.loc["utilisation, lowest rep"].tolist() == ["%", 50.0, 50.0]
    assert table.loc["utilisation, highest rep"].tolist() == ["%", 75.0, 75.0]
    assert table.loc["longest distance to an account"].tolist() == ["km", 40.0, 40.0]
    assert table.loc["accounts moved"].tolist() == ["", 2, 4]
    assert table.loc["accounts moved, share of owned"].tolist() == ["%", 25.0, 50.0]
    assert table.loc["potential moved"].tolist() == ["USD", 500.0, 900.0]


def test_missing_figures_are_empty() -> None:
    """A plan without a band or a bound, and metrics of an older version without disruption, give blanks."""
    older = metrics(1000.0, None, None, [0.0, 0.0], 0, 0.0)
    del older["disruption"]
    rows = comparison_rows(compare_metrics([("new", metrics(1000.0, 990.0, 0.05, [0.0, 0.0], 1, 5.0)),
                                            ("old", older)]))
    values = {row["measure"]: row["values"] for row in rows}

    assert values["lower bound"] == [990.0, None]
    assert values["gap"][1] is None
    assert values["potential: band"] == [5.0, None]
    assert values["accounts moved"] == [1, None]
    json.dumps(rows)  # every value is one JSON can write


def test_repeated_name_is_invalid() -> None:
    plan = metrics(1000.0, 990.0, 0.05, [0.0, 0.0], 1, 5.0)
    with pytest.raises(ValueError, match="'a' is given more than once"):
        compare_metrics([("a", plan), ("a", plan)])


def test_text_table_decimals() -> None:
    text = format_comparison(compare_metrics([("wide", metrics(1000.0, 990.0, 0.05, [0.04, -0.04], 2, 500.0)),
                                              ("tight", metrics(1100.5, 1089.0, 0.01, [0.01, -0.005], 4, 900.0))]))
    lines = {line.split("  ")[0].strip(): line.split()[-2:] for line in text.splitlines()[2:]}

    # Whole numbers get no decimals, a row with a fraction gets 2 from 1 upwards and 3 below 1.
    assert lines["accounts moved"] == ["2", "4"]
    assert lines["objective (hour-km)"] == ["1,000.00", "1,100.50"]
    assert lines["potential: coefficient of variation"] == ["0.100", "0.100"]
    assert lines["potential: band (+-%)"] == ["5.00", "1.00"]


def test_unreadable_metrics_named(tmp_path) -> None:
    folder = tmp_path / "plan"
    folder.mkdir()
    with pytest.raises(InputError) as missing:
        read_plan_metrics(folder)
    assert "is missing; give a folder that territory plan wrote" in str(missing.value)

    (folder / "metrics.json").write_text('{"solver": {}}')
    with pytest.raises(InputError) as partial:
        read_plan_metrics(folder)
    assert "has no summary section" in str(partial.value)

    (folder / "metrics.json").write_text("{not json")
    with pytest.raises(InputError) as broken:
        read_plan_metrics(folder)
    assert "cannot be read as a plan's metrics.json (JSONDecodeError" in str(broken.value)


def test_objectives_of_other_units_named() -> None:
    by_potential = metrics(1000.0, 990.0, 0.05, [0.0, 0.0], 1, 5.0)
    by_potential["solver"]["objective_unit"] = "thousand-potential-km"
    table = compare_metrics([("hours", metrics(1000.0, 990.0, 0.05, [0.0, 0.0], 1, 5.0)), ("potential", by_potential)])

    assert table.loc["objective unit"].tolist() == ["", "hour-km", "thousand-potential-km"]
    assert table.loc["objective", "unit"] == "differs: see objective unit"


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.update(reps="x"), "has a reps section of the wrong kind"),
    (lambda m: m.update(balance=[]), "has a balance section of the wrong kind"),
    (lambda m: m["solver"].pop("objective"), "has no numeric solver objective"),
    (lambda m: m["reps"][0].pop("rep_id"), "has a reps entry without a rep_id"),
    (lambda m: m["reps"][0].update(utilisation="abc"), "has a non-numeric utilisation for rep R2"),
])
def test_wrong_shape_named(tmp_path, change, message) -> None:
    plan = metrics(1000.0, 990.0, 0.05, [0.0, 0.0], 1, 5.0)
    plan["reps"].reverse()
    change(plan)
    (tmp_path / "metrics.json").write_text(json.dumps(plan))
    with pytest.raises(InputError) as error:
        read_plan_metrics(tmp_path)
    assert f"{message}; give the metrics.json that territory plan wrote" in str(error.value)
