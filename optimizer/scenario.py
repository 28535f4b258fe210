"""Planning rules of a scenario: scoring weights, tiers, balance bands, continuity and solver settings.

A scenario file is YAML; every key is optional and falls back to the defaults below, which are the
rules sales ops use for an annual carve-up: top 10 % of accounts Tier 1, next 30 % Tier 2, the rest
Tier 3, 40 / 16 / 4 hours a year per account, potential within +-5 % of each rep's capacity-weighted
target.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator,
                      model_validator)

from optimizer.errors import ConfigError

SIGNALS = ("intent", "icp_fit", "relationship", "engagement")
BALANCE_METRICS = ("potential", "accounts", "tier_1", "workload")
# A tolerance above 1000 % lets a rep reach 11 times the target, so it is almost certainly a typo.
MAX_TOLERANCE = 10.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScoringRules(_Strict):
    """Weights of the account score; they need not sum to 1 because the score divides by their sum."""

    potential: float = Field(0.4, ge=0, description="weight of the potential percentile (0-100)")
    intent: float = Field(0.25, ge=0, description="weight of the buying-signal score (0-100)")
    icp_fit: float = Field(0.2, ge=0, description="weight of the ideal-customer-profile fit (0-100)")
    relationship: float = Field(0.1, ge=0, description="weight of the relationship strength (0-100)")
    engagement: float = Field(0.05, ge=0, description="weight of the engagement score (0-100)")

    @model_validator(mode="after")
    def _some_weight(self) -> ScoringRules:
        if not any((self.potential, self.intent, self.icp_fit, self.relationship, self.engagement)):
            raise ValueError("every scoring weight is 0, so no score can rank the accounts; give at least one "
                             "weight above 0, such as potential: 1")
        return self


class TierRules(_Strict):
    """Rules that turn scores into tiers and tiers into workload hours."""

    method: Literal["quantile", "threshold"] = "quantile"
    # quantile: shares of accounts, best first: Tier 1 gets the top 10 %, Tier 2 the next 30 %.
    tier_1_share: float = Field(0.10, ge=0, le=1)
    tier_2_share: float = Field(0.30, ge=0, le=1)
    # threshold: minimum score (0-100) for Tier 1 and Tier 2.
    tier_1_min_score: float = Field(70.0, ge=0, le=100)
    tier_2_min_score: float = Field(40.0, ge=0, le=100)
    hours: dict[int, float] = Field(default_factory=lambda: {1: 40.0, 2: 16.0, 3: 4.0},
                                    description="hours a year per account of each tier")

    @model_validator(mode="after")
    def _check(self) -> TierRules:
        if self.tier_1_share + self.tier_2_share > 1:
            raise ValueError(
                f"tier_1_share + tier_2_share is {self.tier_1_share + self.tier_2_share:g}; it must be at most 1"
            )
        if self.tier_2_min_score > self.tier_1_min_score:
            raise ValueError("tier_2_min_score must not exceed tier_1_min_score")
        if sorted(self.hours) != [1, 2, 3] or any(h < 0 for h in self.hours.values()):
            raise ValueError(f"hours must give a non-negative number for tiers 1, 2 and 3, got {self.hours}")
        return self


class BalanceRules(_Strict):
    """Hard balance bands: each value is the tolerance around a rep's capacity-weighted target, as a fraction
    (0.05 means +-5 %) or as a percentage text ("5%"); None means the metric is not balanced.

    A bare number of 1 or more is rejected because "potential: 5" would mean +-500 %, and a user who
    writes it usually means +-5 %. Tolerances of 100 % or more are written as percentages, such as "150%".
    """

    potential: float | None = Field(0.05, ge=0, le=MAX_TOLERANCE)
    accounts: float | None = Field(None, ge=0, le=MAX_TOLERANCE)
    tier_1: float | None = Field(None, ge=0, le=MAX_TOLERANCE)
    workload: float | None = Field(None, ge=0, le=MAX_TOLERANCE)
    max_account_share: float | None = Field(
        None, gt=0, le=1, description="no account may hold more than this share of its territory's potential"
    )

    @field_validator(*BALANCE_METRICS, mode="before")
    @classmethod
    def _tolerance(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("write a fraction or a percentage, such as 0.05 or \"5%\" for +-5 %, or null for no band")
        if isinstance(value, str):
            number = _number_text(value)
            if number is None:
                return _percentage(value, example="0.05 or \"5%\" for +-5 %", largest=MAX_TOLERANCE)
            value = number
        if isinstance(value, int | float) and math.isfinite(value) and value >= 1:
            return _ambiguous_tolerance(value)
        return value

    @field_validator("max_account_share", mode="before")
    @classmethod
    def _share(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("write a fraction or a percentage, such as 0.2 or \"20%\", or null for no limit")
        if isinstance(value, str):
            return _percentage(value, example="0.2 or \"20%\"", largest=1.0)
        return value

    @field_serializer(*BALANCE_METRICS)
    def _tolerance_text(self, value: float | None) -> float | str | None:
        # A dumped scenario is validated again (stored API rules, changed solver settings), so a
        # tolerance of 100 % or more goes out in the only form that comes back in.
        if value is not None and value >= 1:
            return f"{value * 100:.12g}%"
        return value

    def bands(self) -> dict[str, float]:
        return {metric: getattr(self, metric) for metric in BALANCE_METRICS if getattr(self, metric) is not None}


_PERCENTAGE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*%\s*$")


def _percentage(text: str, example: str, largest: float) -> float:
    """Return the fraction that a text such as "5%" names, or raise ValueError with an example.

    The range is checked here, so that the message quotes the percentage as written.
    """
    match = _PERCENTAGE.match(text)
    if match is None:
        raise ValueError(f"write a fraction or a percentage, such as {example}")
    fraction = float(match.group(1)) / 100.0
    if not 0.0 <= fraction <= largest:
        raise ValueError(f"{text.strip()} is outside 0 % to {largest * 100:g} %; give a percentage in that range")
    return fraction


def _number_text(text: str) -> float | None:
    """Return the number in a text such as "0.05" (YAML and JSON clients may quote numbers), else None."""
    try:
        return float(text)
    except ValueError:
        return None


def _ambiguous_tolerance(value: float) -> float:
    """Raise ValueError for a bare tolerance of 1 or more, naming the readings of it that are allowed."""
    readings = []
    if value < 100:
        readings.append(f"write {value / 100:g} or \"{value:g}%\" for +-{value:g} %")
    elif value <= MAX_TOLERANCE * 100:
        readings.append(f"write \"{value:g}%\" for +-{value:g} %")
    if value <= MAX_TOLERANCE:
        readings.append(f"\"{value * 100:g}%\" if you mean +-{value * 100:g} %")
    advice = ", or ".join(readings) if readings else f"give a percentage from 0 % to {MAX_TOLERANCE * 100:g} %"
    raise ValueError(f"{value:g} would mean +-{value * 100:g} %, as tolerances are fractions of the target "
                     f"(0.05 means +-5 %); {advice}")


class ObjectiveRules(_Strict):
    """Weights of the objective. Distances are geodesic km from each rep's home base, multiplied by the
    account's workload hours (travel effort follows visits), so the objective unit is hour-km."""

    distance_weight: Literal["workload", "potential", "none"] = "workload"
    move_penalty: float = Field(1000.0, ge=0, description="hour-km charged per account moved away from its current owner")
    moved_potential_penalty: float = Field(
        10.0, ge=0, description="hour-km charged per 1,000 of potential moved away from its current owner"
    )
    max_moves: int | None = Field(None, ge=0, description="hard cap on the number of accounts that change owner")


class SolverSettings(_Strict):
    time_limit_s: float = Field(60.0, gt=0, le=86_400)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="random seed of the search (CP-SAT takes 32-bit seeds)")
    workers: int = Field(2, ge=1, le=16, description="search threads; more than the machine's cores slows each")
    candidates_per_account: int = Field(
        10, ge=1, description="nearest eligible reps offered to each account before pricing adds more"
    )
    search_pairs_per_account: int = Field(
        4, ge=1, description="reps per account that CP-SAT searches: those of smallest LP reduced cost"
    )
    free_share: float = Field(
        0.05, ge=0, le=1, description="share of accounts, cheapest to move first, that CP-SAT may reassign "
        "besides those the LP splits"
    )
    repeatable: bool = Field(
        False, description="same input, seed and workers give the same plan (interleaved search stopped on a "
        "work limit); plans are usually a little worse"
    )


class Scenario(_Strict):
    """A named set of planning rules."""

    name: str = "scenario"
    scoring: ScoringRules = ScoringRules()
    tiers: TierRules = TierRules()
    balance: BalanceRules = BalanceRules()
    objective: ObjectiveRules = ObjectiveRules()
    solver: SolverSettings = SolverSettings()

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    def with_solver(self, **changes: object) -> Scenario:
        """Return a validated copy with some solver settings changed (None values are ignored)."""
        settings = {key: value for key, value in changes.items() if value is not None}
        data = self.model_dump()
        data["solver"].update(settings)
        return scenario_from_dict(data, source="the command-line options")


def scenario_from_dict(data: dict, *, source: str = "scenario") -> Scenario:
    """Validate a scenario mapping, turning pydantic's errors into one ConfigError that names each key."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "(top level)"
            shown = repr(item.get("input"))
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            # pydantic starts the messages of this module's validators with "Value error, ", which adds nothing.
            problems.append(f"{key}: {item['msg'].removeprefix('Value error, ')} (got {shown})")
        raise ConfigError(f"invalid settings in {source}:\n  - " + "\n  - ".join(problems)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read scenario file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise ConfigError(f"scenario file {path} is not UTF-8 text (the byte at offset {error.start} is "
                          f"0x{byte:02x}); save it as UTF-8") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"scenario file {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"scenario file {path} must hold a mapping of settings, got {type(data).__name__}")
    return scenario_from_dict(data, source=f"scenario file {path}")
