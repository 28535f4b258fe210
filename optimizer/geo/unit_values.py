"""Metric values per unit: built-in measures, account totals, a table keyed by unit id, the layer's columns.

A metric name is looked up in this order, and the first source that has it wins:

1. built in: ``units`` (1 per unit) and ``area_km2`` (geodesic area on the WGS84 ellipsoid);
2. account totals, when accounts are given: ``potential`` (USD), ``accounts``, ``workload_hours``
   (hours a year) and ``tier_1`` (Tier-1 accounts), summed over the accounts each unit contains;
3. a column of the unit values table;
4. a numeric column of the unit layer.

A metric defined as NAME=COLUMN[:UNIT] takes COLUMN from the values table or, failing that, the layer.
Every value of a metric in use must be a finite number of at least 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import ConfigError, InputError, RowIssue
from optimizer.geo.request import MetricSpec
from optimizer.geo.units import UNIT_ID
from optimizer.inputs import read_table

logger = logging.getLogger(__name__)

BUILT_IN_METRICS = {"units": "units", "area_km2": "km2"}
ACCOUNT_METRICS = {"potential": "USD", "accounts": "accounts", "workload_hours": "hours", "tier_1": "accounts"}
# A message names at most this many units with a bad value.
UNITS_NAMED = 5


@dataclass(frozen=True)
class UnitMetric:
    """One value per unit (layer order), its unit of measure and where it came from."""

    name: str
    unit: str
    values: np.ndarray
    source: str


@dataclass
class UnitValues:
    """A table of text cells keyed by unit id, one row per unit, with each row's number in the file in ``row``."""

    file: str
    table: pd.DataFrame
    ignored_ids: list[str]   # keys that name no unit of the layer, such as counties of other states


def read_unit_values(path: str | Path, unit_ids: list[str], id_column: str | None) -> UnitValues:
    """Read a table (CSV, Excel, Parquet) whose key column is unit_id or the layer's id column.

    Rows whose key is not a unit of the layer are ignored and listed in ``ignored_ids``, so one national
    table serves layers of single states. Raises InputError for a missing key column, or a blank or
    repeated key.
    """
    path = Path(path)
    table = read_table(path)
    keys = [name for name in (UNIT_ID, id_column) if name and name in table.columns]
    if not keys:
        expected = UNIT_ID + (f" or {id_column}" if id_column and id_column != UNIT_ID else "")
        found = ", ".join(column for column in table.columns if column != "row")
        raise InputError([RowIssue(path.name, None, expected, "", f"is missing; the unit values need a column of "
                                                                  f"unit ids (columns found: {found})")])
    key = keys[0]
    known = set(unit_ids)
    issues = []
    seen: dict[str, int] = {}
    keep = []
    for unit_id, row in zip(table[key].str.strip(), table["row"]):
        if unit_id == "":
            issues.append(RowIssue(path.name, int(row), key, "", "is blank; give every row a unit id"))
        elif unit_id in seen:
            issues.append(RowIssue(path.name, int(row), key, unit_id, f"repeats row {seen[unit_id]}; give each unit "
                                                                     "one row"))
        seen.setdefault(unit_id, int(row))
        keep.append(unit_id in known)
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) in the unit values {path.name}")

    known_rows = table[keep].copy()
    known_rows.index = known_rows[key].str.strip()
    ignored = sorted(set(table[key].str.strip()) - known - {""})
    if ignored:
        logger.info("%s: %d row(s) name no unit of the layer and are ignored: %s", path.name, len(ignored),
                    _names(ignored))
    return UnitValues(path.name, known_rows.drop(columns=[key]), ignored)


def account_totals(accounts: pd.DataFrame, unit_index: np.ndarray, unit_count: int) -> dict[str, np.ndarray]:
    """Return potential, accounts, workload_hours and tier_1 summed per unit over the accounts inside it.

    ``unit_index`` gives each account's unit (-1 for an account in no unit, which counts nowhere).
    """
    inside = unit_index >= 0
    units = unit_index[inside]

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(units, weights=values[inside], minlength=unit_count)

    return {
        "potential": total(accounts["potential"].to_numpy(float)),
        "accounts": total(np.ones(len(accounts))),
        "workload_hours": total(accounts["workload_hours"].to_numpy(float)),
        "tier_1": total((accounts["tier"].to_numpy() == 1).astype(float)),
    }


class MetricSource:
    """Find a metric's values by name, in the order of the module docstring."""

    def __init__(self, unit_ids: list[str], layer_frame: pd.DataFrame, area_km2: np.ndarray,
                 accounts: dict[str, np.ndarray] | None = None, values: UnitValues | None = None):
        self.unit_ids = unit_ids
        self.layer_frame = layer_frame
        self.area_km2 = area_km2
        self.accounts = accounts
        self.values = values

    def available(self) -> list[str]:
        """Return every metric name that can be used, built-in ones first."""
        names = list(BUILT_IN_METRICS)
        if self.accounts is not None:
            names += list(ACCOUNT_METRICS)
        if self.values is not None:
            names += [column for column in self.values.table.columns if column != "row"]
        names += [str(column) for column in self.layer_frame.columns
                  if column not in (UNIT_ID, "geometry") and pd.api.types.is_numeric_dtype(self.layer_frame[column])]
        return list(dict.fromkeys(names))

    def metric(self, name: str) -> UnitMetric:
        """Return the metric called ``name``, or raise ConfigError when no source has it."""
        if name == "units":
            return UnitMetric(name, "units", np.ones(len(self.unit_ids)), "built in")
        if name == "area_km2":
            return UnitMetric(name, "km2", np.asarray(self.area_km2, dtype=float), "built in (geodesic)")
        if self.accounts is not None and name in ACCOUNT_METRICS:
            return UnitMetric(name, ACCOUNT_METRICS[name], self.accounts[name], "accounts")
        found = self._column(name, name, "")
        if found is None:
            raise ConfigError(self._unknown(name))
        return found

    def column_metric(self, spec: MetricSpec) -> UnitMetric:
        """Return a metric defined as NAME=COLUMN[:UNIT], or raise ConfigError when no source has the column."""
        found = self._column(spec.name, spec.column, spec.unit)
        if found is None:
            columns = [name for name in self.available() if name not in BUILT_IN_METRICS and
                       (self.accounts is None or name not in ACCOUNT_METRICS)]
            raise ConfigError(f"metric {spec.name}: {spec.column!r} is not a column of the unit values or a numeric "
                              f"column of the unit layer; columns found: {', '.join(columns) or 'none'}")
        return found

    def _column(self, name: str, column: str, unit: str) -> UnitMetric | None:
        if self.values is not None and column in self.values.table.columns and column != "row":
            values = _parse_column(self.values, column, self.unit_ids)
            return UnitMetric(name, unit, values, f"{self.values.file} column {column}")
        frame = self.layer_frame
        if column in frame.columns and column not in (UNIT_ID, "geometry"):
            if not pd.api.types.is_numeric_dtype(frame[column]):
                raise ConfigError(f"metric {name}: the unit layer's column {column} contains text, not numbers; give a "
                                  "numeric column, or the values in a unit values table")
            values = frame[column].to_numpy(dtype=float)
            _check_values(name, values, self.unit_ids, "the unit layer", column)
            return UnitMetric(name, unit, values, f"unit layer column {column}")
        return None

    def _unknown(self, name: str) -> str:
        available = self.available()
        shown = ", ".join(available[:30]) + (f" and {len(available) - 30} more" if len(available) > 30 else "")
        hint = "" if self.accounts is not None or name not in ACCOUNT_METRICS else \
            f"; {name} is a total over accounts, so give the accounts file"
        return f"metric {name!r} is unknown{hint}; the metrics available are {shown}"


def _parse_column(values: UnitValues, column: str, unit_ids: list[str]) -> np.ndarray:
    """Return the column as numbers in layer order, or raise InputError for missing units and non-numbers."""
    table = values.table
    issues = []
    missing = [unit_id for unit_id in unit_ids if unit_id not in table.index]
    if missing:
        issues.append(RowIssue(values.file, None, column, "", f"has no row for {len(missing)} unit(s) of the layer "
                                                              f"({_names(missing)}); give every unit a value"))
    cells = table[column].reindex(unit_ids).fillna("").str.strip()
    parsed = pd.to_numeric(cells, errors="coerce")
    for unit_id in cells.index[(cells != "") & parsed.isna()][:UNITS_NAMED]:
        issues.append(RowIssue(values.file, int(table.at[unit_id, "row"]), column, cells[unit_id],
                               "is not a number; give a number of at least 0"))
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) in the column {column} of {values.file}")
    result = parsed.to_numpy(dtype=float)
    _check_values(column, result, unit_ids, values.file, column)
    return result


def _check_values(name: str, values: np.ndarray, unit_ids: list[str], file: str, column: str) -> None:
    """Raise InputError when a value is missing, infinite or negative."""
    issues = []
    for problem, bad in (("have no value", np.isnan(values)), ("have an infinite value", np.isinf(values)),
                         ("have a negative value", values < 0)):
        positions = np.flatnonzero(bad)
        if positions.size:
            ids = [unit_ids[position] for position in positions]
            issues.append(RowIssue(file, None, column, "", f"{len(ids)} unit(s) {problem} ({_names(ids)}); metric "
                                                          f"{name} needs a number of at least 0 for every unit"))
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) with the values of metric {name}")


def _names(unit_ids: list[str]) -> str:
    shown = ", ".join(unit_ids[:UNITS_NAMED])
    return shown + (f" and {len(unit_ids) - UNITS_NAMED} more" if len(unit_ids) > UNITS_NAMED else "")
