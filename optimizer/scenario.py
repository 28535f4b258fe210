"""Planning rules of a scenario: scoring weights, tiers, balance bands, continuity and solver settings.

A scenario file is YAML; every key is optional and falls back to the defaults below, which are the
rules sales ops use for an annual carve-up: top 10 % of accounts Tier 1, next 30 % Tier 2, the rest
Tier 3, 40 / 16 / 4 hours a year per account, potential within +-5 % of each rep's capacity-weighted
target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from optimizer.errors import ConfigError

SIGNALS = ("intent", "icp_fit", "relationship", "engagement")
BALANCE_METRICS = ("potential", "accounts", "tier_1", "workload")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScoringRules(_Strict):
    """Weights of the account score; they need not sum to 1 because the score divides by their sum."""

    potential: float = Field(0.4, ge=0, description="weight of the potential percentile (0-100)")
    intent: float = Field(0.25, ge=0, description="weight of the buying-signal score (0-100)")
    icp_fit: float = Field(0.2, ge=0, description="weight of the ideal-customer-profile fit (0-100)")
    relationship: float = Field(0.1, ge=0, description="weight of the relationship strength (0-100)")
    engagement: float = Field(0.05, ge=0, description="weight of the engagement score (0-100)")


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
    (0.05 means +-5 %); None means the metric is not balanced."""

    potential: float | None = Field(0.05, ge=0, le=10)
    accounts: float | None = Field(None, ge=0, le=10)
    tier_1: float | None = Field(None, ge=0, le=10)
    workload: float | None = Field(None, ge=0, le=10)
    max_account_share: float | None = Field(
        None, gt=0, le=1, description="no account may hold more than this share of its territory's potential"
    )

    def bands(self) -> dict[str, float]:
        return {metric: getattr(self, metric) for metric in BALANCE_METRICS if getattr(self, metric) is not None}


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
            problems.append(f"{key}: {item['msg']} (got {shown})")
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
