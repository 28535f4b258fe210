"""The settings of a geographic plan, and the parsers of their text forms.

The command line (``territory districts``) and the API's form fields write the settings the same way,
and both go through the parsers here, so a mistake gets the same message from either:

* a balance band: ``population=5%`` (hard, within +-5 % of each territory's target) or
  ``population=soft`` (balanced as well as contiguity allows, never enforced);
* a metric taken from a column: ``population=TOTPOP`` or ``population=TOTPOP:people`` with its unit;
* a connector or barrier: ``UNIT_A:UNIT_B``;
* a lock: ``UNIT=REP``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from optimizer.errors import ConfigError
from optimizer.scenario import Scenario

PRIORITIES = ("compactness", "balance")
ADJACENCY_MODES = ("rook", "queen")
SOFT = "soft"
# A tolerance above 1000 % lets a territory reach 11 times its target, so it is almost certainly a typo.
MAX_TOLERANCE = 10.0
MAX_SEED = 2**31 - 1  # CP-SAT takes 32-bit seeds
MAX_WORKERS = 16

# Columns of units.csv, so no metric may take these names.
RESERVED_NAMES = ("unit_id", "territory_id", "rep_id", "previous_territory_id", "moved", "geometry")
_PERCENT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*%\s*$")


@dataclass(frozen=True)
class BandSpec:
    """A balance band on one metric: a tolerance as a fraction of the target, or None for a soft band."""

    metric: str
    tolerance: float | None

    @property
    def hard(self) -> bool:
        return self.tolerance is not None

    def text(self) -> str:
        """Return the band as it is written on the command line, such as population=5%."""
        return f"{self.metric}={SOFT}" if self.tolerance is None else f"{self.metric}={self.tolerance * 100:g}%"


@dataclass(frozen=True)
class MetricSpec:
    """A metric named after a column of the unit layer or of the unit values file, with its unit."""

    name: str
    column: str
    unit: str = ""


@dataclass
class GeoRequest:
    """Everything a geographic plan needs: where the units, values, accounts and reps come from, and the rules.

    Give a boundary layer in ``units``, or leave it None to build ZIP units from the accounts' postal
    codes. Give reps (territory ids are rep ids, compactness from each rep's home base) or a number of
    ``territories`` (ids T1..Tk, compactness around each territory's weighted centre).
    """

    units: Path | None = None
    layer: str | None = None                  # layer name inside a file with several
    unit_id: str | None = None                # id column of the layer (and key of unit_values)
    unit_values: Path | None = None           # table of values keyed by unit id
    metrics: list[MetricSpec] = field(default_factory=list)
    accounts: Path | None = None
    reps: Path | None = None
    territories: int | None = None
    bands: list[BandSpec] = field(default_factory=list)
    priority: str = "compactness"
    weight: str = "units"                     # metric that weights each unit's distance in the compactness term
    adjacency: str = "rook"
    snap_km: float = 0.0
    connectors: list[tuple[str, str]] = field(default_factory=list)
    barriers: list[tuple[str, str]] = field(default_factory=list)
    locks: dict[str, str] = field(default_factory=dict)   # unit id -> territory (rep) id
    current: Path | None = None               # table of unit id -> territory (rep) id
    move_penalty: float = 0.0                 # objective units charged per unit that leaves its current territory
    time_limit_s: float = 60.0                # the whole run: reading, solving and writing
    seed: int = 0
    workers: int = 2
    scenario: Scenario = field(default_factory=Scenario)  # scoring and tiers of the accounts
    account_columns: dict[str, str] | None = None
    rep_columns: dict[str, str] | None = None
    skip_bad_rows: bool = False
    name: str = "geographic plan"

    def check(self) -> None:
        """Raise ConfigError naming the first setting that is missing, out of range or in conflict."""
        if self.reps is not None and self.territories is not None:
            raise ConfigError("give either reps (a rep roster, one territory per rep) or territories (a number of "
                              "territories without reps), not both")
        if self.reps is None and self.territories is None:
            raise ConfigError("give reps (a rep roster, one territory per rep) or territories (a number of "
                              "territories without reps)")
        if self.territories is not None and self.territories < 1:
            raise ConfigError(f"territories is {self.territories}; give a number of territories of at least 1")
        if self.units is None and self.accounts is None:
            raise ConfigError("give a boundary layer of units, or accounts whose postal codes become ZIP units")
        if self.units is None and self.layer is not None:
            raise ConfigError(f"layer {self.layer!r} names a layer of the unit file, but no unit file was given")
        if self.priority not in PRIORITIES:
            raise ConfigError(f"priority {self.priority!r} is unknown; use {' or '.join(PRIORITIES)}")
        if self.adjacency not in ADJACENCY_MODES:
            raise ConfigError(f"adjacency {self.adjacency!r} is unknown; use {' or '.join(ADJACENCY_MODES)}")
        _check_number("snap_km", self.snap_km, "a distance in km of 0 or more", minimum=0.0)
        _check_number("move_penalty", self.move_penalty, "a charge of 0 or more in objective units per unit moved",
                      minimum=0.0)
        _check_number("time_limit_s", self.time_limit_s, "a positive number of seconds", above=0.0)
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed is {self.seed}; give a whole number from 0 to {MAX_SEED}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigError(f"workers is {self.workers}; give a number of search threads from 1 to {MAX_WORKERS}")
        if not self.weight.strip():
            raise ConfigError("weight is blank; give a metric name, or units to count every unit once")
        _check_names(self)


def _check_number(name: str, value: float, what: str, *, minimum: float | None = None,
                  above: float | None = None) -> None:
    valid = math.isfinite(value) and (minimum is None or value >= minimum) and (above is None or value > above)
    if not valid:
        raise ConfigError(f"{name} is {value:g}; give {what}")


def _check_names(request: GeoRequest) -> None:
    banded = [band.metric for band in request.bands]
    repeated = sorted({name for name in banded if banded.count(name) > 1})
    if repeated:
        raise ConfigError(f"band {repeated[0]!r} is given more than once; give one band per metric")
    defined = [metric.name for metric in request.metrics]
    repeated = sorted({name for name in defined if defined.count(name) > 1})
    if repeated:
        raise ConfigError(f"metric {repeated[0]!r} is defined more than once; give each metric one column")


# --- parsers of the text forms -------------------------------------------------------------------------


def parse_band(text: str, setting: str = "band") -> BandSpec:
    """Parse NAME=TOLERANCE% or NAME=soft, and raise ConfigError with an example for anything else."""
    name, separator, tolerance = text.partition("=")
    name, tolerance = name.strip(), tolerance.strip()
    if not separator or not name or not tolerance:
        raise ConfigError(f"{setting} {text!r} is not NAME=TOLERANCE; write for example population=5% (hard, "
                          f"within +-5 % of the target) or population={SOFT}")
    _check_metric_name(name, setting, text)
    if tolerance.lower() == SOFT:
        return BandSpec(name, None)
    match = _PERCENT.match(tolerance)
    if match is None:
        raise ConfigError(f"{setting} {text!r}: the tolerance {tolerance!r} is not a percentage; write it with a % "
                          f"sign, such as {name}=5%, or write {name}={SOFT} for a soft band")
    fraction = float(match.group(1)) / 100.0
    if not 0.0 <= fraction <= MAX_TOLERANCE:
        raise ConfigError(f"{setting} {text!r}: the tolerance {tolerance} is outside 0 % to "
                          f"{MAX_TOLERANCE * 100:g} %; give a percentage in that range")
    return BandSpec(name, fraction)


def parse_metric(text: str, setting: str = "metric") -> MetricSpec:
    """Parse NAME=COLUMN or NAME=COLUMN:UNIT (the unit is free text, such as people or USD)."""
    name, separator, rest = text.partition("=")
    column, _, unit = rest.partition(":")
    name, column, unit = name.strip(), column.strip(), unit.strip()
    if not separator or not name or not column:
        raise ConfigError(f"{setting} {text!r} is not NAME=COLUMN[:UNIT]; write for example population=TOTPOP:people")
    _check_metric_name(name, setting, text)
    return MetricSpec(name, column, unit)


def parse_unit_pair(text: str, setting: str) -> tuple[str, str]:
    """Parse UNIT_A:UNIT_B, the two units of a connector or barrier."""
    first, separator, second = text.partition(":")
    first, second = first.strip(), second.strip()
    if not separator or not first or not second:
        raise ConfigError(f"{setting} {text!r} is not UNIT_A:UNIT_B; write the ids of the two units, such as "
                          "19001:19003")
    return first, second


def parse_lock(text: str, setting: str = "lock") -> tuple[str, str]:
    """Parse UNIT=REP: the unit must stay in that rep's territory (a territory id without reps)."""
    unit_id, separator, territory_id = text.partition("=")
    unit_id, territory_id = unit_id.strip(), territory_id.strip()
    if not separator or not unit_id or not territory_id:
        raise ConfigError(f"{setting} {text!r} is not UNIT=REP; write the unit id and the rep id (or territory id), "
                          "such as 19001=AE-01")
    return unit_id, territory_id


def parse_locks(texts: list[str], setting: str = "lock") -> dict[str, str]:
    """Parse every UNIT=REP, and raise ConfigError for a unit locked to two different territories."""
    locks: dict[str, str] = {}
    for text in texts:
        unit_id, territory_id = parse_lock(text, setting)
        if locks.get(unit_id, territory_id) != territory_id:
            raise ConfigError(f"{setting}: unit {unit_id} is locked to both {locks[unit_id]} and {territory_id}; "
                              "keep one of the two locks")
        locks[unit_id] = territory_id
    return locks


def _check_metric_name(name: str, setting: str, text: str) -> None:
    if name in RESERVED_NAMES:
        raise ConfigError(f"{setting} {text!r}: {name} is a column of units.csv, so no metric may take that name; "
                          "choose another name")
