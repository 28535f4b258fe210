"""The options of `territory districts` and its report. optimizer.cli parses the options, runs the job and prints."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from optimizer.geo.request import GeoRequest, parse_band, parse_locks, parse_metric, parse_unit_pair
from optimizer.scenario import Scenario, load_scenario

if TYPE_CHECKING:  # the pipeline imports the solver and geopandas, which `territory --help` need not load
    from optimizer.geo.pipeline import GeoPlanResult

DEFAULT_NAME = "geographic plan"


def add_districts_options(parser: argparse.ArgumentParser) -> None:
    units = parser.add_argument_group("units")
    units.add_argument("--units", type=Path, metavar="FILE",
                       help="boundary layer of units (GeoJSON, GeoPackage, Shapefile .shp or .zip, TopoJSON); "
                            "without it, the accounts' US postal codes become ZIP units (Voronoi cells of the ZIP "
                            "centroids, clipped to the US outline)")
    units.add_argument("--layer", metavar="NAME", help="layer of --units that contains the units, for files with several")
    units.add_argument("--unit-id", metavar="COLUMN",
                       help="column of unit ids in --units (default: unit_id or id, else the first column with a "
                            "unique value per unit); also the key column of --unit-values and --current")
    units.add_argument("--unit-values", type=Path, metavar="FILE",
                       help="table of values per unit (CSV, Excel, Parquet) keyed by unit_id or the --unit-id "
                            "column; its columns become metrics")
    units.add_argument("--metric", action="append", default=[], metavar="NAME=COLUMN[:UNIT]",
                       help="name a numeric column of --unit-values or --units as a metric with its unit, such as "
                            "population=TOTPOP:people (repeatable)")

    roster = parser.add_argument_group("accounts and reps")
    roster.add_argument("--accounts", type=Path, metavar="FILE",
                        help="accounts (.csv, .xlsx, .parquet, .geojson), scored and tiered as by `territory plan`; "
                             "they give each unit the metrics potential (USD), accounts, workload_hours and tier_1")
    roster.add_argument("--reps", type=Path, metavar="FILE",
                        help="rep roster: one territory per rep around the unit containing the rep's home base; band "
                             "targets follow each rep's share of capacity_hours")
    roster.add_argument("--territories", type=int, metavar="K",
                        help="number of territories without reps (ids T1..TK, as T01..T12 from 10 on; equal targets); "
                             "give this or --reps")
    roster.add_argument("--config", type=Path, metavar="FILE",
                        help="scenario YAML whose scoring and tiers score the accounts, and whose name titles the map")
    roster.add_argument("--account-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the accounts schema from HEADER (repeatable)")
    roster.add_argument("--rep-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the reps schema from HEADER (repeatable)")
    roster.add_argument("--skip-bad-rows", action="store_true",
                        help="drop invalid account rows instead of stopping; metrics.json lists them")

    rules = parser.add_argument_group("planning rules")
    rules.add_argument("--band", action="append", default=[], metavar="NAME=TOLERANCE%|NAME=soft",
                       help="balance band on a metric: population=1%% keeps every territory within +-1 %% of its "
                            "target; population=soft balances it as well as contiguity allows (repeatable)")
    rules.add_argument("--priority", choices=["compactness", "balance"], default="compactness",
                       help="inside the hard bands, minimise compactness first (default) or the deviation from the "
                            "targets first")
    rules.add_argument("--weight", default="units", metavar="METRIC",
                       help="metric that weights each unit's distance in the compactness objective, such as "
                            "workload_hours (hour-km) or population; default units (each unit counts once, unit-km)")
    rules.add_argument("--queen", action="store_true",
                       help="units touching only at a corner are neighbours too (default: rook, a shared border "
                            "of positive length)")
    rules.add_argument("--snap-km", type=float, default=0.0, metavar="KM",
                       help="units closer than this many km count as neighbours, for layers with slivers between "
                            "units (default 0)")
    rules.add_argument("--connector", action="append", default=[], metavar="UNIT_A:UNIT_B",
                       help="make two units neighbours, such as across a bridge or ferry (repeatable)")
    rules.add_argument("--barrier", action="append", default=[], metavar="UNIT_A:UNIT_B",
                       help="two bordering units that are not neighbours, such as across a river (repeatable)")
    rules.add_argument("--lock", action="append", default=[], metavar="UNIT=REP",
                       help="keep a unit in a rep's territory (a territory id T1..TK with --territories); "
                            "repeatable. Accounts' locked_owner locks their units too")
    rules.add_argument("--current", type=Path, metavar="FILE",
                       help="current plan: a table of unit_id (or the --unit-id column) and territory_id or rep_id, "
                            "such as an earlier units.csv (default with --reps: the accounts' current_owner)")
    rules.add_argument("--move-penalty", type=float, default=0.0, metavar="CHARGE",
                       help="objective charge per unit that leaves its current territory, in the objective's unit "
                            "(unit-km by default; default 0)")

    run = parser.add_argument_group("run")
    run.add_argument("--time-limit", type=float, metavar="SECONDS",
                     help="seconds for the whole run, reading and writing included (default: the scenario's, 60)")
    run.add_argument("--seed", type=int, help="solver random seed (default 0)")
    run.add_argument("--workers", type=int, help="solver threads (default 2)")
    run.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="folder for units.csv, assignments.csv (with --accounts), territories.geojson, "
                          "metrics.json, map.html and map.png")


def request_from_args(args: argparse.Namespace, account_columns: dict[str, str] | None,
                      rep_columns: dict[str, str] | None) -> GeoRequest:
    """Turn the parsed options into a checked GeoRequest, or raise ConfigError naming the option at fault."""
    scenario = load_scenario(args.config) if args.config else Scenario()
    solver = scenario.solver
    request = GeoRequest(
        units=args.units, layer=args.layer, unit_id=args.unit_id, unit_values=args.unit_values,
        metrics=[parse_metric(text, "--metric") for text in args.metric],
        accounts=args.accounts, reps=args.reps, territories=args.territories,
        bands=[parse_band(text, "--band") for text in args.band],
        priority=args.priority, weight=args.weight, adjacency="queen" if args.queen else "rook",
        snap_km=args.snap_km,
        connectors=[parse_unit_pair(text, "--connector") for text in args.connector],
        barriers=[parse_unit_pair(text, "--barrier") for text in args.barrier],
        locks=parse_locks(args.lock, "--lock"), current=args.current, move_penalty=args.move_penalty,
        time_limit_s=args.time_limit if args.time_limit is not None else solver.time_limit_s,
        seed=args.seed if args.seed is not None else solver.seed,
        workers=args.workers if args.workers is not None else solver.workers,
        scenario=scenario, account_columns=account_columns, rep_columns=rep_columns,
        skip_bad_rows=args.skip_bad_rows,
        name=scenario.name if args.config else DEFAULT_NAME,
    )
    request.check()
    return request


def format_districts_report(result: GeoPlanResult) -> str:
    """Return the per-territory table and the solver's outcome as plain text."""
    metrics = result.metrics
    columns = [band.metric for band in result.instance.request.bands]
    columns += [metric.name for metric in result.instance.metrics if metric.name not in columns][:max(0, 3 - len(columns))]
    with_capacity = bool(metrics["territories"]) and "utilisation" in metrics["territories"][0]
    header = f"{'territory':<12} {'units':>6} {'parts':>5} " + "".join(f"{name[:16]:>18} {'dev %':>7} " for name in columns) \
        + f"{'area km2':>10} {'Polsby-Popper':>13}" + (f" {'util':>6}" if with_capacity else "")
    lines = [header, "-" * len(header)]
    for row in metrics["territories"]:
        cells = f"{row['territory_id']:<12} {row['unit_count']:>6} {row['parts']:>5} "
        for name in columns:
            deviation = row[f"{name}_deviation_pct"]
            cells += f"{row[name]:>18,.0f} {'' if deviation is None else f'{deviation:+.2f}':>7} "
        polsby = row["polsby_popper"]
        cells += f"{row['area_km2']:>10,.0f} {'' if polsby is None else f'{polsby:.2f}':>13}"
        if with_capacity:
            utilisation = row["utilisation"]
            cells += f" {'' if utilisation is None else f'{utilisation:.0%}':>6}"
        lines.append(cells)

    solver, summary = metrics["solver"], metrics["summary"]
    gap = f"{solver['gap']:.2%}" if solver["gap"] is not None else "unknown (no bound)"
    bound = f"{solver['lower_bound']:,.1f}" if solver["lower_bound"] is not None else "none"
    deviations = ", ".join(f"{name} {value:.3%}" for name, value in solver["max_deviation"].items()) or "no bands"
    several = summary["territories_in_several_parts"]
    lines += [
        "",
        f"units: {summary['units']:,} in {summary['territories']} connected territories "
        f"({summary['compactness']} compactness, {result.instance.adjacency.mode} adjacency); "
        + (f"in several polygon parts: {', '.join(several)}" if several else "every territory is one polygon"),
        f"largest deviation from target: {deviations} (bands {', '.join(summary['bands']) or 'none'})",
        f"solver: {solver['status']}, objective {solver['objective']:,.1f} {solver['objective_unit']}, "
        f"lower bound {bound}, gap {gap}, solver {solver['time_s']:.1f} s of a {solver['run_time_limit_s']:g} s run "
        f"limit, seed {solver['seed']}, {solver['workers']} workers, OR-Tools {solver['version']}",
    ]
    if "accounts" in summary:
        lines.append(f"accounts: {summary['accounts']:,} ({summary['assigned']:,} assigned, "
                     f"{summary['accounts_outside_units']:,} outside every unit, {summary['accounts_not_located']:,} "
                     "not located)")
    disruption = metrics["disruption"]
    if disruption["current_plan"]:
        lines.append(f"disruption: {disruption['units_moved']:,} of {disruption['units_with_territory']:,} units "
                     f"change territory against {disruption['current_plan']}")
    lines.append(f"unit layer: {result.instance.layer.report.summary()}")
    lines.append(f"adjacency: {result.instance.adjacency.summary()}")
    lines += [f"note: {note}" for note in solver["notes"]]
    return "\n".join(lines)
