"""Scenario rules: balance bands as fractions or percentages, and ambiguous numbers rejected."""

from __future__ import annotations

import pytest

from optimizer.errors import ConfigError
from optimizer.scenario import load_scenario, scenario_from_dict


@pytest.mark.parametrize(("written", "fraction"), [
    (0.05, 0.05), ("5%", 0.05), (" 2.5 % ", 0.025), ("0%", 0.0), ("150%", 1.5), (0, 0), (None, None),
])
def test_band_as_fraction_or_percentage(written, fraction):
    assert scenario_from_dict({"balance": {"potential": written}}).balance.potential == fraction


def test_share_as_percentage():
    assert scenario_from_dict({"balance": {"max_account_share": "20%"}}).balance.max_account_share == 0.2


def test_band_of_five_names_both_readings():
    with pytest.raises(ConfigError) as error:
        scenario_from_dict({"balance": {"potential": 5}})
    assert str(error.value) == (
        "invalid settings in scenario:\n  - balance.potential: 5 would mean +-500 %, as tolerances are fractions "
        "of the target (0.05 means +-5 %); write 0.05 or \"5%\" for +-5 %, or \"500%\" if you mean +-500 % (got 5)")


@pytest.mark.parametrize(("written", "message"), [
    (1, "1 would mean +-100 %"),
    ("5 percent", "write a fraction or a percentage, such as 0.05 or \"5%\" for +-5 %"),
    ("-5%", "-5% is outside 0 % to 1000 %"),
    ("2000%", "2000% is outside 0 % to 1000 %"),
    (True, "write a fraction or a percentage"),
])
def test_unclear_band_rejected(written, message):
    with pytest.raises(ConfigError, match="balance.potential: ") as error:
        scenario_from_dict({"balance": {"workload": 0.1, "potential": written}})
    assert message in str(error.value)
    assert "Value error" not in str(error.value)


def test_share_above_one_rejected():
    with pytest.raises(ConfigError, match=r"balance.max_account_share: 120% is outside 0 % to 100 %"):
        scenario_from_dict({"balance": {"max_account_share": "120%"}})


def test_yaml_percentage_reads_as_fraction(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text("balance:\n  potential: 3%\n  accounts: 10%\n", encoding="utf-8")
    balance = load_scenario(path).balance
    assert (balance.potential, balance.accounts) == (0.03, 0.1)


def test_bands_lists_balanced_metrics():
    balance = scenario_from_dict({"balance": {"potential": "5%", "workload": 0.1}}).balance
    assert balance.bands() == {"potential": 0.05, "workload": 0.1}


@pytest.mark.parametrize("written", ["150%", "100%", "1000%", "110%"])
def test_wide_band_survives_dump(written):
    """Stored API rules and changed solver settings validate a dumped scenario again."""
    scenario = scenario_from_dict({"balance": {"potential": written}})
    again = scenario_from_dict(scenario.model_dump(mode="json"))
    assert again.balance.potential == scenario.balance.potential
    assert scenario.with_solver(time_limit_s=5.0).balance.potential == scenario.balance.potential


def test_all_scoring_weights_zero_rejected():
    weights = {"potential": 0, "intent": 0, "icp_fit": 0, "relationship": 0, "engagement": 0}
    with pytest.raises(ConfigError, match="scoring: every scoring weight is 0, so no score can rank the accounts"):
        scenario_from_dict({"scoring": weights})


@pytest.mark.parametrize(("written", "advice"), [
    (50, 'write 0.5 or "50%" for +-50 %'),
    (100, 'write "100%" for +-100 %'),
    (5000, "give a percentage from 0 % to 1000 %"),
])
def test_ambiguous_band_offers_only_allowed_readings(written, advice):
    with pytest.raises(ConfigError) as error:
        scenario_from_dict({"balance": {"potential": written}})
    assert f"(0.05 means +-5 %); {advice} (got {written})" in str(error.value)


def test_quoted_fraction_read_as_number():
    assert scenario_from_dict({"balance": {"potential": "0.05"}}).balance.potential == 0.05
