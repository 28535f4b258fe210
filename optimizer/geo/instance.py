"""Build a geographic plan's problem from files: the last step where geometry is seen.

read the accounts and reps (scored and tiered as in account mode) -> read the unit layer, or build ZIP
units from the accounts' postal codes -> adjacency graph -> accounts and rep homes into units -> metric
values per unit -> balance bands, locks, current plan -> DistrictProblem (plain arrays).

Rules that are a choice rather than a format:

* With reps, territory ids are rep ids, a rep's home unit is the unit containing its home base, each
  band's target is the rep's share of the total capacity_hours, and compactness is measured from each
  rep's home base. Without reps, territories are T1..Tk with equal targets, and compactness is measured
  from each territory's weighted centre.
* In ZIP mode each account joins the unit of its postal code, and an account without one joins the
  unit that covers its point.
* An account's locked_owner locks its unit to that rep. The current plan, unless a file gives it,
  comes from the accounts' current_owner: each unit goes to the owner holding the most potential in
  it, ties to the smaller rep_id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from optimizer import locate
from optimizer.errors import ConfigError, InputError, RowIssue
from optimizer.geo.adjacency import AdjacencyReport, build_graph
from optimizer.geo.graph import UnitGraph
from optimizer.geo.join import join_accounts
from optimizer.geo.problem import NO_TERRITORY, DistrictProblem, MetricBand, make_band
from optimizer.geo.request import GeoRequest
from optimizer.geo.unit_values import (ACCOUNT_METRICS, BUILT_IN_METRICS, MetricSource, UnitMetric, account_totals,
                                       read_unit_values)
from optimizer.geo.units import UNIT_ID, UnitLayer, read_units, voronoi_units
from optimizer.inputs import load_accounts, load_inputs, load_reps, read_table
from optimizer.inputs.postal import US_ZIP_COUNTRIES
from optimizer.outliers import location_warnings
from optimizer.pipeline import prepare_accounts
from optimizer.regions import (CLIP_BUFFER_KM, WGS84, load_us_outline, local_equal_area_crs, project_geometry,
                               project_points)

logger = logging.getLogger(__name__)

# The objective unit of a weight metric: its unit in the singular, then "-km".
WEIGHT_UNITS = {"units": "unit", "hours": "hour", "accounts": "account"}


@dataclass
class GeoInstance:
    """A geographic plan's problem with everything the outputs need to describe it."""

    request: GeoRequest
    layer: UnitLayer
    graph: UnitGraph
    adjacency: AdjacencyReport
    problem: DistrictProblem
    reps: pd.DataFrame | None            # the roster, with home_unit_id; None without reps
    accounts: pd.DataFrame | None        # scored accounts with unit_id (None outside every unit)
    accounts_outside: list[str]
    accounts_not_located: list[str]
    skipped: list[RowIssue]              # account rows dropped with skip_bad_rows
    metrics: list[UnitMetric]            # the metrics written per unit and per territory, in output order
    current_source: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def territory_ids(self) -> list[str]:
        return self.problem.territory_ids

    def band(self, name: str) -> MetricBand | None:
        return next((band for band in self.problem.bands if band.name == name), None)


def build_geo_instance(request: GeoRequest) -> GeoInstance:
    """Read and check every input of ``request`` and build its DistrictProblem.

    Raises ConfigError for settings that cannot apply, such as a band on an unknown metric. Raises
    InputError for files with problems: a missing id column, a connector or lock naming an unknown unit,
    or a rep whose home base lies in no unit.
    """
    request.check()
    accounts, reps, skipped = _read_accounts_and_reps(request)
    layer = _unit_layer(request, accounts, reps)
    graph, adjacency = build_graph(layer, request.adjacency, request.snap_km, request.connectors, request.barriers)
    notes: list[str] = []

    territory_ids = [str(rep_id) for rep_id in reps["rep_id"]] if reps is not None else _numbered(request.territories)
    outside, not_located = [], []
    if accounts is not None:
        accounts, outside, not_located = _join(accounts, layer, zip_mode=request.units is None)
    if reps is not None:
        reps = _with_home_units(reps, layer)
    if accounts is not None and reps is not None:
        notes += location_warnings(accounts["account_id"].to_numpy(), accounts["lat"].to_numpy(),
                                   accounts["lon"].to_numpy(), reps["rep_id"].to_numpy(), reps["lat"].to_numpy(),
                                   reps["lon"].to_numpy())

    totals = account_totals(accounts, accounts["unit_index"].to_numpy(), len(layer.unit_ids)) \
        if accounts is not None else None
    values = read_unit_values(request.unit_values, layer.unit_ids, request.unit_id) if request.unit_values else None
    if values is not None and values.ignored_ids:
        notes.append(f"{values.file}: {len(values.ignored_ids)} row(s) name no unit of the layer and were ignored "
                     f"({_shown(values.ignored_ids)})")
    source = MetricSource(layer.unit_ids, layer.frame, graph.area_km2, totals, values)
    metrics = _metrics(request, source)

    shares = None
    if reps is not None:
        capacity = reps["capacity_hours"].to_numpy(float)
        shares = capacity / capacity.sum()
    bands = [make_band(spec.metric, metrics[spec.metric].values, spec.tolerance or 0.0, len(territory_ids),
                     metrics[spec.metric].unit, shares, hard=spec.hard) for spec in request.bands]
    capacity = reps["capacity_hours"].to_numpy(float) if reps is not None else None
    workload = metrics["workload_hours"].values if accounts is not None else None
    if capacity is not None and workload is not None:
        _cap_workload_band(bands, capacity, notes)
    weight = metrics[request.weight]

    index_of = {territory_id: position for position, territory_id in enumerate(territory_ids)}
    locked = _locks(request, layer, accounts, index_of, notes)
    current, current_source = _current(request, layer, accounts, index_of)
    if request.move_penalty > 0 and current_source is None:
        notes.append("move_penalty has no effect: there is no current plan (give one, or accounts with current_owner)")

    problem = DistrictProblem(
        graph, territory_ids, bands,
        compactness="home" if reps is not None else "centre",
        priority=request.priority,
        weight=weight.values,
        weight_unit=f"{WEIGHT_UNITS.get(weight.unit, weight.unit or weight.name)}-km",
        home_unit=_home_positions(reps, layer) if reps is not None else None,
        home_lat=reps["lat"].to_numpy(float) if reps is not None else None,
        home_lon=reps["lon"].to_numpy(float) if reps is not None else None,
        current=current, locked=locked, move_penalty=request.move_penalty, capacity=capacity, workload=workload,
        notes=list(notes),
    )
    logger.info("geographic problem: %d units, %d edges, %d territories, %d band(s), weight %s, %s compactness",
                problem.unit_count, len(graph.edges), problem.territory_count, len(bands), weight.name,
                problem.compactness)
    reported = _reported_metrics(request, metrics, accounts is not None)
    return GeoInstance(request, layer, graph, adjacency, problem, reps, accounts, outside, not_located, skipped,
                       reported, current_source, notes)


def _cap_workload_band(bands: list[MetricBand], capacity: np.ndarray, notes: list[str]) -> None:
    """Lower a hard workload_hours band's upper limits to each rep's capacity_hours where they exceed it.

    The band's target is the rep's share of the total workload, so its upper limit passes the rep's
    capacity only when the total workload plus the tolerance exceeds the total capacity.
    """
    for band in bands:
        if band.name != "workload_hours" or not band.hard:
            continue
        above = band.upper > capacity
        if above.any():
            band.upper = np.minimum(band.upper, capacity)
            notes.append(f"the workload_hours band's upper limit is the rep's capacity_hours for {int(above.sum())} "
                         f"of {len(capacity)} territories, where target +{band.tolerance * 100:g} % would exceed it")


def _numbered(count: int | None) -> list[str]:
    width = len(str(count))
    return [f"T{number:0{width}d}" for number in range(1, (count or 0) + 1)]


# --- accounts and reps ---------------------------------------------------------------------------------


def _read_accounts_and_reps(request: GeoRequest) -> tuple[pd.DataFrame | None, pd.DataFrame | None, list[RowIssue]]:
    """Return the scored accounts (or None), the reps (or None) and the account rows skipped."""
    if request.accounts is None:
        reps = load_reps(request.reps, rep_columns=request.rep_columns) if request.reps is not None else None
        _check_reps(reps)
        return None, reps, []

    if request.reps is not None:
        inputs = load_inputs(request.accounts, request.reps, account_columns=request.account_columns,
                             rep_columns=request.rep_columns, skip_bad_rows=request.skip_bad_rows)
    else:
        inputs = load_accounts(request.accounts, account_columns=request.account_columns,
                               skip_bad_rows=request.skip_bad_rows)
    reps = inputs.reps if request.reps is not None else None
    _check_reps(reps)
    name = request.accounts.name
    if len(inputs.accounts) == 0:
        why = "every row was skipped as invalid" if inputs.skipped else "the file has no data rows"
        raise InputError([RowIssue(name, None, "", "", f"has no accounts ({why}); give accounts or leave the "
                                                       "accounts file out")])
    if inputs.accounts["lat"].isna().all():
        raise InputError([RowIssue(name, None, "", "", f"none of the {len(inputs.accounts):,} accounts could be "
                                                       "located; give lat and lon, US postal codes, or city and state")])
    return prepare_accounts(inputs, request.scenario), reps, list(inputs.skipped)


def _check_reps(reps: pd.DataFrame | None) -> None:
    if reps is not None and len(reps) == 0:
        raise InputError([RowIssue("reps", None, "", "", "has no rep rows; give at least one rep")])


def _join(accounts: pd.DataFrame, layer: UnitLayer, *, zip_mode: bool) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Put each account into a unit, and return the accounts with the ids of those outside and not located."""
    joined = join_accounts(accounts, layer).accounts
    if zip_mode:
        # A postal code names its unit directly, wherever the account's own coordinates fall.
        position = {unit_id: index for index, unit_id in enumerate(layer.unit_ids)}
        codes = accounts["postal_code"].where(accounts["postal_code"].notna(), None)
        by_code = np.array([position.get(code, -1) if code is not None else -1 for code in codes], dtype=np.int64)
        has_unit = by_code >= 0
        joined.loc[has_unit, "unit_index"] = by_code[has_unit]
        joined.loc[has_unit, UNIT_ID] = [layer.unit_ids[index] for index in by_code[has_unit]]

    located = joined["lat"].notna() & joined["lon"].notna()
    outside = joined.loc[located & (joined["unit_index"] < 0), "account_id"].astype(str).tolist()
    not_located = joined.loc[~located & (joined["unit_index"] < 0), "account_id"].astype(str).tolist()
    return joined, outside, not_located


def _with_home_units(reps: pd.DataFrame, layer: UnitLayer) -> pd.DataFrame:
    """Return the reps with home_unit_id, the unit containing each home base, or raise InputError for a rep outside."""
    homes = join_accounts(reps.assign(account_id=reps["rep_id"])[["account_id", "lat", "lon"]], layer, kind="rep")
    if homes.outside:
        issues = [RowIssue("reps", int(row), "lat, lon", f"{lat:.6f}, {lon:.6f}",
                           f"rep {rep_id}'s home base lies in no unit of the layer; move the home base into a unit "
                           "or add the unit that contains it")
                  for rep_id, row, lat, lon in zip(reps["rep_id"], reps["row"], reps["lat"], reps["lon"])
                  if rep_id in set(homes.outside)]
        raise InputError(issues, f"{len(issues)} rep home base(s) outside the units")
    return reps.assign(home_unit_id=homes.accounts[UNIT_ID].to_numpy())


def _home_positions(reps: pd.DataFrame, layer: UnitLayer) -> np.ndarray:
    position = {unit_id: index for index, unit_id in enumerate(layer.unit_ids)}
    return np.array([position[unit_id] for unit_id in reps["home_unit_id"]], dtype=np.int64)


# --- units ---------------------------------------------------------------------------------------------


def _unit_layer(request: GeoRequest, accounts: pd.DataFrame | None, reps: pd.DataFrame | None) -> UnitLayer:
    if request.units is not None:
        return read_units(request.units, id_column=request.unit_id, layer=request.layer)
    return _zip_units(accounts, reps)


def _zip_units(accounts: pd.DataFrame, reps: pd.DataFrame | None) -> UnitLayer:
    """Build one unit per US postal code of the accounts: its ZIP centroid's Voronoi cell, clipped to the US
    and to the area around the data (see ``_data_region``)."""
    gazetteer = locate.default_gazetteer()
    codes = accounts.loc[accounts["postal_code"].notna() & accounts["country"].isin(US_ZIP_COUNTRIES),
                         ["postal_code", "country"]].drop_duplicates("postal_code")
    points = [(code, gazetteer.by_postal_code(code, country)) for code, country in codes.itertuples(index=False)]
    known = [(code, point) for code, point in sorted(points) if point is not None]
    unknown = len(points) - len(known)
    if unknown:
        logger.info("%d postal code(s) of the accounts are not in the ZIP table and make no unit", unknown)
    if not known:
        raise InputError([RowIssue("accounts", None, "postal_code", "", "has no US postal code that the ZIP table "
                                                                       "knows, so no ZIP units can be built; give a "
                                                                       "boundary layer of units")])
    lat = np.array([point[0] for _, point in known] + ([] if reps is None else reps["lat"].tolist()), dtype=float)
    lon = np.array([point[1] for _, point in known] + ([] if reps is None else reps["lon"].tolist()), dtype=float)
    outline = load_us_outline()
    region = _data_region(lat, lon)
    if region is not None:
        outline = outline.intersection(region)
    return voronoi_units([code for code, _ in known], [point[0] for _, point in known],
                         [point[1] for _, point in known], outline)


def _data_region(lat: np.ndarray, lon: np.ndarray) -> shapely.Geometry | None:
    """Return the convex hull of the points widened by CLIP_BUFFER_KM (EPSG:4326), or None across the antimeridian.

    The Voronoi cells of a few ZIP codes would otherwise tile the whole US, so a metro-area plan would
    paint the country and report territories of millions of km2. The hull is convex, and so is every
    cell, so each cell keeps one piece and the cells still tile one connected region.
    """
    lat, lon = lat[np.isfinite(lat) & np.isfinite(lon)], lon[np.isfinite(lat) & np.isfinite(lon)]
    crs = local_equal_area_crs(lon, lat)
    projected = shapely.points(np.column_stack(project_points(lon, lat, WGS84, crs)))
    hull = shapely.convex_hull(shapely.multipoints(projected)).buffer(CLIP_BUFFER_KM * 1000.0)
    region = project_geometry(hull, crs, WGS84)
    west, _, east, _ = region.bounds
    if east - west > 180.0:
        # NOTE: points on both sides of the antimeridian (the western Aleutians) keep the whole US outline.
        return None
    return region


# --- metrics -------------------------------------------------------------------------------------------


def _metrics(request: GeoRequest, source: MetricSource) -> dict[str, UnitMetric]:
    """Return every metric the request uses or defines, by name, or raise ConfigError for an unknown one."""
    reserved = set(BUILT_IN_METRICS) | (set(ACCOUNT_METRICS) if source.accounts is not None else set())
    metrics: dict[str, UnitMetric] = {}
    for spec in request.metrics:
        if spec.name in reserved:
            origin = "a total over the accounts" if spec.name in ACCOUNT_METRICS else "built in"
            raise ConfigError(f"metric {spec.name}={spec.column}: {spec.name} is {origin} already; give the column "
                              "another name")
        metrics[spec.name] = source.column_metric(spec)
    if source.accounts is not None:
        for name in ACCOUNT_METRICS:
            metrics[name] = source.metric(name)
    for name in [band.metric for band in request.bands] + [request.weight]:
        if name not in metrics:
            metrics[name] = source.metric(name)
    return metrics


def _reported_metrics(request: GeoRequest, metrics: dict[str, UnitMetric], has_accounts: bool) -> list[UnitMetric]:
    """Return the metrics of units.csv and the territories: account totals, defined metrics, bands, weight."""
    order = list(ACCOUNT_METRICS) if has_accounts else []
    order += [spec.name for spec in request.metrics] + [band.metric for band in request.bands] + [request.weight]
    banded = {band.metric for band in request.bands}
    # Every territory reports its unit count anyway, so "units" is listed only when a band balances it.
    return [metrics[name] for name in dict.fromkeys(order) if name != "units" or name in banded]


# --- locks and the current plan ------------------------------------------------------------------------


def _locks(request: GeoRequest, layer: UnitLayer, accounts: pd.DataFrame | None, index_of: dict[str, int],
           notes: list[str]) -> np.ndarray:
    """Return the territory each unit is locked to (NO_TERRITORY for none), from the settings and the accounts."""
    position = {unit_id: index for index, unit_id in enumerate(layer.unit_ids)}
    locked = np.full(len(layer.unit_ids), NO_TERRITORY, dtype=np.int64)
    issues = []
    kind = "rep id of the roster" if request.reps is not None else "territory id"
    for unit_id, territory_id in request.locks.items():
        lock = f"lock {unit_id}={territory_id}"
        if unit_id not in position:
            issues.append(RowIssue(lock, None, "", unit_id, f"is not a unit id of the layer"
                                                            f"{_dropped_hint(layer, unit_id)}; check the id or the "
                                                            "layer's id column"))
        if territory_id not in index_of:
            issues.append(RowIssue(lock, None, "", territory_id, f"is not a {kind}; give one of "
                                                                 f"{_shown(list(index_of))}"))
        if unit_id in position and territory_id in index_of:
            locked[position[unit_id]] = index_of[territory_id]

    if accounts is not None and "locked_owner" in accounts and request.reps is not None:
        issues += _account_locks(accounts, locked, index_of, notes)
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) with the locks")
    return locked


def _account_locks(accounts: pd.DataFrame, locked: np.ndarray, index_of: dict[str, int],
                   notes: list[str]) -> list[RowIssue]:
    """Lock the unit of every account with a locked_owner, and return the conflicts as issues."""
    territory_ids = list(index_of)
    issues = []
    owners = accounts[accounts["locked_owner"].notna()]
    for account in owners.itertuples():
        unit = int(account.unit_index)
        if unit < 0:
            notes.append(f"account {account.account_id} is locked to {account.locked_owner} but lies in no unit, so "
                         "its lock cannot apply")
            continue
        owner = index_of[account.locked_owner]
        if locked[unit] not in (NO_TERRITORY, owner):
            issues.append(RowIssue("accounts", int(account.row), "locked_owner", account.locked_owner,
                                   f"locks unit {account.unit_id} to {account.locked_owner}, but it is locked to "
                                   f"{territory_ids[locked[unit]]} already; a unit belongs to one territory, so "
                                   "remove one of the locks"))
            continue
        locked[unit] = owner
    return issues


def _current(request: GeoRequest, layer: UnitLayer, accounts: pd.DataFrame | None,
             index_of: dict[str, int]) -> tuple[np.ndarray | None, str | None]:
    """Return each unit's territory in the current plan and where it came from, or (None, None)."""
    if request.current is not None:
        return _current_from_file(request, layer, index_of), f"the file {request.current.name}"
    if accounts is None or request.reps is None or not accounts["current_owner"].notna().any():
        return None, None

    owned = accounts[accounts["current_owner"].notna() & (accounts["unit_index"] >= 0)]
    potential = owned.groupby(["unit_index", "current_owner"])["potential"].sum().reset_index()
    # The largest potential first, then the smaller rep_id, so the first row per unit is its owner.
    potential = potential.sort_values(["unit_index", "potential", "current_owner"], ascending=[True, False, True])
    first = potential.drop_duplicates("unit_index")
    current = np.full(len(layer.unit_ids), NO_TERRITORY, dtype=np.int64)
    current[first["unit_index"].to_numpy(np.int64)] = [index_of[owner] for owner in first["current_owner"]]
    return current, "the accounts' current_owner (the owner of the most potential in each unit)"


def _current_from_file(request: GeoRequest, layer: UnitLayer, index_of: dict[str, int]) -> np.ndarray:
    """Read unit_id (or the layer's id column) and territory_id (or rep_id) from the current plan's file."""
    table = read_table(request.current)
    name = request.current.name
    key = next((column for column in (UNIT_ID, request.unit_id) if column and column in table.columns), None)
    owner = next((column for column in ("territory_id", "rep_id") if column in table.columns), None)
    found = ", ".join(column for column in table.columns if column != "row")
    issues = []
    if key is None:
        issues.append(RowIssue(name, None, UNIT_ID, "", f"is missing; the current plan needs a column of unit ids "
                                                        f"(columns found: {found})"))
    if owner is None:
        issues.append(RowIssue(name, None, "territory_id", "", f"is missing; give each unit's territory in a column "
                                                               f"territory_id or rep_id (columns found: {found})"))
    if issues:
        raise InputError(issues, f"cannot read the current plan {name}")

    position = {unit_id: index for index, unit_id in enumerate(layer.unit_ids)}
    dropped = {unit.unit_id for unit in layer.report.dropped}
    current = np.full(len(layer.unit_ids), NO_TERRITORY, dtype=np.int64)
    for unit_id, territory_id, row in zip(table[key].str.strip(), table[owner].str.strip(), table["row"]):
        if unit_id in dropped or territory_id == "":
            continue
        if unit_id not in position:
            issues.append(RowIssue(name, int(row), key, unit_id, "is not a unit id of the layer; check the id or the "
                                                                 "layer's id column"))
        elif territory_id not in index_of:
            issues.append(RowIssue(name, int(row), owner, territory_id, f"is not a territory of this plan; give one "
                                                                        f"of {_shown(list(index_of))} or leave it "
                                                                        "blank"))
        else:
            current[position[unit_id]] = index_of[territory_id]
    if issues:
        raise InputError(issues, f"{len(issues)} problem(s) in the current plan {name}")
    return current


def _dropped_hint(layer: UnitLayer, unit_id: str) -> str:
    reason = next((unit.reason for unit in layer.report.dropped if unit.unit_id == unit_id), None)
    return f" (it was dropped on reading: {reason})" if reason else ""


def _shown(ids: list[str], count: int = 5) -> str:
    return ", ".join(ids[:count]) + (f" and {len(ids) - count} more" if len(ids) > count else "")
