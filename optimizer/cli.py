"""The `territory` command line.

    territory plan --accounts FILE --reps FILE [--config scenario.yaml] [--time-limit SECONDS] --out DIR
    territory bases --accounts FILE (--reps K --capacity-hours H | --capacity-from reps.csv) --out DIR
    territory districts [--units FILE] (--reps FILE | --territories K) [--band NAME=TOLERANCE%] ... --out DIR
    territory propose --accounts FILE --reps FILE --plan DIR --move ACCOUNT=REP ... [--config scenario.yaml]
    territory compare PLAN_DIR PLAN_DIR ... [--name NAME ...] [--out DIR]
    territory demo [--out DIR]
    territory serve [--host HOST] [--port PORT] [--no-demo]
    territory keys create --role ROLE [--rep-id REP] [--name NAME] | keys revoke ID | keys list

Exit codes: 0 plan (or bases) written or proposal within the rules, 2 bad input or settings, 3 infeasible request
or a proposal that breaks a rule, 4 no plan found in time, 1 unexpected failure. Errors print one readable message on stderr, never a traceback (unless --debug).
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import logging
import math
import sys
import time
from pathlib import Path

from optimizer import IMPORTED_AT
from optimizer.errors import ConfigError, InfeasibleError, InputError, RowIssue, SolverError, TerritoryError
from optimizer.geo.command import add_districts_options
from optimizer.interrupt import watch_interrupts
from optimizer.scenario import Scenario, load_scenario

EXIT_CODES = {InputError: 2, ConfigError: 2, InfeasibleError: 3, SolverError: 4}


def _column_map(values: list[str] | None, option: str) -> dict[str, str] | None:
    if not values:
        return None
    mapping = {}
    for value in values:
        name, sep, header = value.partition("=")
        if not sep or not name.strip() or not header.strip():
            raise ConfigError(f"{option} {value!r} is not NAME=HEADER; write for example {option} "
                              "account_id='Customer ID'")
        mapping[name.strip()] = header.strip()
    return mapping


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="log details and show tracebacks of unexpected errors")
    parser = argparse.ArgumentParser(prog="territory", description="Balanced sales territory plans with OR-Tools.",
                                     parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", parents=[common],
                               help="plan territories from an account list and a rep roster")
    plan.add_argument("--accounts", required=True, type=Path, help="accounts file (.csv, .xlsx, .parquet, .geojson)")
    plan.add_argument("--reps", required=True, type=Path, help="reps file (.csv, .xlsx, .parquet, .geojson)")
    _add_plan_options(plan)

    bases = commands.add_parser("bases", parents=[common],
                                help="suggest home bases for reps from an account list; writes reps.csv for "
                                     "`territory plan` and bases.json")
    _add_bases_options(bases)

    districts = commands.add_parser("districts", parents=[common],
                                    help="plan territories of whole units (counties, ZIP areas, custom polygons), "
                                         "each one connected region")
    add_districts_options(districts)

    propose = commands.add_parser("propose", parents=[common],
                                  help="evaluate a proposed change to a plan (accounts moved to other reps) against "
                                       "every rule, without solving again")
    _add_propose_options(propose)

    compare = commands.add_parser("compare", parents=[common],
                                  help="compare plans side by side: cost and gap, balance, workload, travel, "
                                       "disruption")
    compare.add_argument("plans", nargs="+", type=Path, metavar="PLAN_DIR",
                         help="folders that territory plan (or territory propose --out) wrote")
    compare.add_argument("--name", action="append", metavar="NAME",
                         help="name of each plan in the order given (repeatable; default: the folder names)")
    compare.add_argument("--out", type=Path, metavar="DIR",
                         help="also write comparison.csv and comparison.png (maps and balance side by side) into DIR")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")

    demo = commands.add_parser("demo", parents=[common], help="plan the embedded demo data set (10 reps, 900 accounts)")
    _add_plan_options(demo, default_out=Path("out/demo"), default_time_limit=30.0)

    serve = commands.add_parser("serve", parents=[common],
                                help="run the HTTP API; the database comes from DATABASE_URL (default: ./territory.db)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default 8000)")
    serve.add_argument("--no-demo", action="store_true",
                       help="do not load the demo data set into an empty database")

    keys = commands.add_parser("keys", parents=[common], help="create, list and revoke API keys of the service")
    key_commands = keys.add_subparsers(dest="key_command", required=True)
    create = key_commands.add_parser("create", parents=[common], help="create a key and print it (shown only once)")
    create.add_argument("--role", required=True, choices=["sales_ops", "leadership", "ae"],
                        help="sales_ops: everything, and the only role that approves or rejects proposals; "
                             "leadership: read, create scenarios, runs and proposals; ae: read plans and one rep's "
                             "detail, propose changes to that rep's territory")
    create.add_argument("--rep-id", help="rep an ae key may see (required for --role ae)")
    create.add_argument("--name", default="", help="name of the key's owner, shown by `territory keys list`")
    revoke = key_commands.add_parser("revoke", parents=[common], help="revoke a key by its id")
    revoke.add_argument("key_id", type=int, help="id shown by `territory keys list`")
    key_commands.add_parser("list", parents=[common], help="list keys (ids, prefixes, roles; never the keys)")
    return parser


def _add_plan_options(parser: argparse.ArgumentParser, default_out: Path | None = None,
                      default_time_limit: float | None = None) -> None:
    parser.add_argument("--config", type=Path, help="scenario YAML with planning rules (defaults when absent)")
    parser.add_argument("--time-limit", type=float, default=default_time_limit,
                        help=f"seconds for the whole run, reading and writing included (default "
                        f"{default_time_limit or 60:g})")
    parser.add_argument("--seed", type=int, help="solver random seed (default 0)")
    parser.add_argument("--workers", type=int, help="solver threads (default 2)")
    parser.add_argument("--repeatable", action="store_true", default=None,
                        help="same input, seed and workers give the same plan (usually a little worse)")
    parser.add_argument("--out", type=Path, required=default_out is None, default=default_out,
                        help="folder for assignments.csv, territories.geojson, metrics.json, map.html, map.png")
    parser.add_argument("--account-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the accounts schema from HEADER (repeatable)")
    parser.add_argument("--rep-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the reps schema from HEADER (repeatable)")
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="drop invalid account rows instead of stopping; metrics.json lists them")
    parser.add_argument("--boundaries", type=Path,
                        help="boundary layer (GeoJSON, GeoPackage, Shapefile) to draw territories from ZIP or "
                             "county polygons instead of Voronoi cells")


def _add_propose_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", required=True, type=Path, help="the accounts file the plan was made from")
    parser.add_argument("--reps", required=True, type=Path, help="the reps file the plan was made from")
    parser.add_argument("--plan", required=True, type=Path,
                        help="the plan's folder (its assignments.csv) or the assignments.csv itself")
    parser.add_argument("--config", type=Path, help="the scenario YAML the plan was made with (defaults when absent)")
    parser.add_argument("--move", action="append", metavar="ACCOUNT=REP",
                        help="give account ACCOUNT to rep REP (repeatable)")
    parser.add_argument("--moves-file", type=Path, metavar="FILE",
                        help="a CSV or Excel file of moves, one row each, with the columns account_id and rep_id "
                             "(the rep the account goes to); with --move, both apply")
    parser.add_argument("--account-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the accounts schema from HEADER (repeatable)")
    parser.add_argument("--rep-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the reps schema from HEADER (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write the changed plan's files into DIR (as territory plan does) when the change keeps "
                             "every rule; needs the plan's metrics.json beside its assignments.csv")
    parser.add_argument("--accept-violations", action="store_true",
                        help="with --out, write the changed plan even though it breaks rules; its warnings list them")


def _add_bases_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", required=True, type=Path, help="accounts file (.csv, .xlsx, .parquet, .geojson)")
    parser.add_argument("--reps", type=int, metavar="K",
                        help="number of reps to place, one home base each (default with --capacity-from: its reps)")
    parser.add_argument("--capacity-hours", type=float, metavar="H",
                        help="workload hours a year each base can carry (default with --capacity-from: the "
                             "roster's mean capacity_hours)")
    parser.add_argument("--capacity-from", type=Path, metavar="REPS_FILE",
                        help="rep roster in the reps schema: its reps keep their ids, names and capacities and "
                             "are moved to the bases")
    parser.add_argument("--sites", choices=["accounts", "zip"], default="accounts",
                        help="candidate home bases: the accounts' locations (default) or ZIP centroids near them")
    parser.add_argument("--max-sites", type=int, default=2000,
                        help="candidate sites kept, those carrying the most workload hours first (default 2000)")
    parser.add_argument("--config", type=Path, help="scenario YAML whose scoring and tiers give the workload hours")
    parser.add_argument("--time-limit", type=float, default=None, help="solver time limit in seconds (default 60)")
    parser.add_argument("--seed", type=int, help="solver random seed (default 0)")
    parser.add_argument("--workers", type=int, help="solver threads (default 2)")
    parser.add_argument("--out", type=Path, required=True, help="folder for reps.csv and bases.json")
    parser.add_argument("--account-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the accounts schema from HEADER (repeatable)")
    parser.add_argument("--rep-column", action="append", metavar="NAME=HEADER",
                        help="read column NAME of the reps schema of --capacity-from from HEADER (repeatable)")
    parser.add_argument("--skip-bad-rows", action="store_true", help="drop invalid account rows instead of stopping")


class ProgressLine:
    """Show the solve advancing on stderr.

    A terminal gets one rewritten line. Elsewhere (a log file, CI) a line is printed at most every 10 s,
    the first after 10 s, so a quick run or an early error prints none.
    """

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.interactive = stream.isatty()
        self.last_line = time.monotonic()
        self.written = False

    def __call__(self, event: dict) -> None:
        now = time.monotonic()
        if not self.interactive and now - self.last_line < 10:
            return
        self.last_line = now
        self.written = True
        objective, bound = event.get("objective"), event.get("bound")
        parts = [f"{event.get('elapsed_s', 0):6.1f} s", event.get("phase", "")]
        if objective is not None:
            parts.append(f"best plan {objective:,.0f}")
        if bound is not None:
            parts.append(f"lower bound {bound:,.0f}")
        if objective and bound is not None and objective > 0:
            parts.append(f"gap {max(0.0, objective - bound) / objective:.2%}")
        line = "  ".join(parts)
        if self.interactive:
            self.stream.write("\r" + line.ljust(78))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive and self.written:
            self.stream.write("\n")


def _scenario(args: argparse.Namespace) -> Scenario:
    scenario = load_scenario(args.config) if args.config else Scenario()
    if args.time_limit is not None and args.time_limit <= 0:
        raise ConfigError(f"--time-limit must be a positive number of seconds, got {args.time_limit:g}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    return scenario.with_solver(time_limit_s=args.time_limit, seed=args.seed, workers=args.workers,
                                repeatable=getattr(args, "repeatable", None))


def _run_plan(args: argparse.Namespace, accounts: Path, reps: Path) -> int:
    from optimizer.pipeline import plan_files

    scenario = _scenario(args)
    progress = ProgressLine()
    try:
        result = plan_files(accounts, reps, scenario, args.out,
                            account_columns=_column_map(args.account_column, "--account-column"),
                            rep_columns=_column_map(args.rep_column, "--rep-column"),
                            skip_bad_rows=args.skip_bad_rows, boundaries=args.boundaries, progress=progress,
                            started=IMPORTED_AT)
    finally:
        progress.close()
    print(format_report(result.metrics))
    print(f"\nFiles written to {args.out}/: assignments.csv, territories.geojson, metrics.json, map.html, map.png")
    return 0


def _run_districts(args: argparse.Namespace) -> int:
    from optimizer.geo.command import format_districts_report, request_from_args
    from optimizer.geo.pipeline import geo_plan_files

    request = request_from_args(args, _column_map(args.account_column, "--account-column"),
                                _column_map(args.rep_column, "--rep-column"))
    result = geo_plan_files(request, args.out, started=IMPORTED_AT)
    print(format_districts_report(result))
    print(f"\nFiles written to {args.out}/: {', '.join(result.files)}")
    return 0


def _run_bases(args: argparse.Namespace) -> int:
    from optimizer.bases.product import BaseRequest, bases_files, format_bases_report

    scenario = _scenario(args)
    if args.capacity_from is None and (args.reps is None or args.capacity_hours is None):
        raise ConfigError("give --reps K and --capacity-hours H, or a rep roster with --capacity-from reps.csv")
    request = BaseRequest(count=args.reps, capacity_hours=args.capacity_hours, roster=args.capacity_from,
                          sites=args.sites, max_sites=args.max_sites)
    progress = ProgressLine()
    try:
        result = bases_files(args.accounts, request, scenario, args.out,
                             account_columns=_column_map(args.account_column, "--account-column"),
                             rep_columns=_column_map(args.rep_column, "--rep-column"),
                             skip_bad_rows=args.skip_bad_rows, progress=progress)
    finally:
        progress.close()
    print(format_bases_report(result.summary))
    for note in result.notes:
        print(f"note: {note}")
    print(f"\nFiles written to {args.out}/: reps.csv, bases.json. Next: territory plan --accounts {args.accounts} "
          f"--reps {args.out / 'reps.csv'} --out PLAN_DIR")
    return 0


def _run_propose(args: argparse.Namespace) -> int:
    """Evaluate the proposal; exit 0 when the changed plan keeps every rule, 3 when it breaks one."""
    from optimizer.inputs import load_inputs
    from optimizer.instance import build_instance
    from optimizer.pipeline import check_out_dir, not_located_reasons, prepare_accounts, write_outputs
    from optimizer.proposals import applied_plan, evaluate_proposal, plan_from_assignments, read_moves_file
    from optimizer.regions import build_territories

    scenario = load_scenario(args.config) if args.config else Scenario()
    if not args.move and args.moves_file is None:
        raise ConfigError("give the moves with --move ACCOUNT=REP (repeatable) or --moves-file FILE")
    moves = read_moves_file(args.moves_file) if args.moves_file is not None else {}
    for value in args.move or []:
        account_id, separator, rep_id = value.partition("=")
        if not separator or not account_id.strip() or not rep_id.strip() or "=" in rep_id:
            raise ConfigError(f"--move {value!r} is not ACCOUNT=REP; write for example --move ACC-017=AE-02")
        if account_id.strip() in moves:
            raise ConfigError(f"--move names account {account_id.strip()} twice, or one that --moves-file names; "
                              "give each account once")
        moves[account_id.strip()] = rep_id.strip()
    if not args.plan.exists():
        raise InputError([RowIssue(str(args.plan), None, "", "", "does not exist; give the folder that territory plan "
                                                                 "wrote, or its assignments.csv")],
                         summary="cannot read the plan")
    plan = args.plan / "assignments.csv" if args.plan.is_dir() else args.plan
    solved = None
    if args.out is not None:
        check_out_dir(args.out, "the changed plan's files")
        if args.out.resolve() == plan.parent.resolve():
            raise ConfigError(f"--out {args.out} is the folder of the plan the change applies to, and writing there "
                              "would replace that plan; give a new folder, such as --out approved/")
        solved = _solver_section(plan.parent / "metrics.json")
    elif args.accept_violations:
        raise ConfigError("--accept-violations applies to the plan that --out writes; add --out DIR")
    inputs = load_inputs(args.accounts, args.reps, account_columns=_column_map(args.account_column, "--account-column"),
                         rep_columns=_column_map(args.rep_column, "--rep-column"))
    accounts = prepare_accounts(inputs, scenario)
    instance = build_instance(accounts, inputs.reps, scenario)
    result = evaluate_proposal(instance, plan_from_assignments(instance, plan), moves,
                               not_located=not_located_reasons(inputs.accounts))
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(format_proposal(result))
    if args.out is None:
        return 0 if result.ok else 3
    if not result.ok and not args.accept_violations:
        print(f"not written: the change breaks {len(result.violations)} rule(s); add --accept-violations to write "
              f"{args.out} anyway", file=sys.stderr)
        return 3
    changed = applied_plan(inputs, scenario, accounts, instance, result, solved,
                           f"the change to the plan in {plan.parent.resolve()}")
    changed.territories = build_territories(changed.assignments, inputs.reps)
    write_outputs(changed, args.out)
    print(f"wrote the changed plan to {args.out}", file=sys.stderr)
    return 0


def _solver_section(path: Path) -> dict:
    """Return the solver section of the plan's metrics.json at `path`, or raise InputError naming the problem."""
    try:
        section = json.loads(path.read_text(encoding="utf-8"))["solver"]
    except FileNotFoundError:
        reason = "is missing; --out needs the folder that territory plan wrote, with its metrics.json"
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        reason = f"has no solver section that can be read ({type(error).__name__}: {error}); give the plan's own " \
                 "metrics.json"
    else:
        numbers = isinstance(section, dict) and all(
            isinstance(section.get(key), int | float) and not isinstance(section.get(key), bool)
            and math.isfinite(section.get(key))
            for key in ("objective", "lower_bound") if key == "objective" or section.get(key) is not None)
        if numbers and "lower_bound" in section:
            return section
        reason = "has no solver section with a numeric objective and lower_bound; give the plan's own metrics.json"
    raise InputError([RowIssue(str(path), None, "", "", reason)], summary="cannot read the plan's metrics")


def _run_compare(args: argparse.Namespace) -> int:
    """Print the plans' figures side by side; with --out also write comparison.csv and comparison.png."""
    import geopandas

    from optimizer.compare import (MAX_COMPARED, MIN_COMPARED, compare_metrics, comparison_rows, format_comparison,
                                   read_plan_metrics, write_comparison_png)
    from optimizer.pipeline import check_out_dir, write_staged

    if not MIN_COMPARED <= len(args.plans) <= MAX_COMPARED:
        raise ConfigError(f"compare takes {MIN_COMPARED} to {MAX_COMPARED} plan folders, not {len(args.plans)}")
    if args.name and len(args.name) != len(args.plans):
        raise ConfigError(f"--name is given {len(args.name)} time(s) for {len(args.plans)} plan(s); give one name per "
                          "plan, in the same order, or none")
    if args.name and len(set(args.name)) < len(args.name):
        raise ConfigError(f"--name {next(name for name in args.name if args.name.count(name) > 1)!r} is given twice; "
                          "give each plan a name of its own")
    folders = [(folder if folder.is_dir() else folder.parent).resolve() for folder in args.plans]
    if len(set(folders)) < len(folders):
        twice = next(folder for folder in folders if folders.count(folder) > 1)
        raise ConfigError(f"the plan in {twice} is given twice; give each plan once")
    names = args.name or [folder.name or str(folder) for folder in args.plans]
    if len(set(names)) < len(names):
        # Folders of the same name in different places: their paths tell them apart.
        names = [str(folder) for folder in args.plans]
    if args.out is not None:
        check_out_dir(args.out, "the comparison files")
        if args.out.resolve() in folders:
            raise ConfigError(f"--out {args.out} is one of the plans compared, and writing there would remove its "
                              "files; give a new folder, such as --out compared/")
    metrics = [read_plan_metrics(folder) for folder in args.plans]
    table = compare_metrics(list(zip(names, metrics, strict=True)))
    if args.json:
        print(json.dumps({"plans": names, "measures": comparison_rows(table)}, indent=2))
    else:
        print(format_comparison(table))
    if args.out is None:
        return 0
    panels = []
    for name, folder, plan_metrics in zip(names, args.plans, metrics, strict=True):
        geojson = folder / "territories.geojson" if folder.is_dir() else folder.parent / "territories.geojson"
        territories = geopandas.read_file(geojson) if geojson.is_file() else None
        panels.append((name, plan_metrics, territories))

    def write_files(staging: Path) -> None:
        table.to_csv(staging / "comparison.csv")
        write_comparison_png(panels, staging / "comparison.png")

    write_staged(args.out, write_files, "comparison files")
    print(f"\nFiles written to {args.out}/: comparison.csv, comparison.png", file=sys.stderr)
    return 0


def format_proposal(result) -> str:
    """Return the evaluated proposal as plain text: the moves, each affected territory, the verdict."""
    lines = [f"proposal: {len(result.moves)} account(s) change rep"]
    lines += [f"  {account}: {before} -> {after}" for account, before, after in result.moves]
    lines.append("")
    header = f"{'rep':<10} {'accounts':>11} {'potential USD':>27} {'% target':>17} {'util':>13} {'mean km':>13}"
    lines += [header, "-" * len(header)]
    for rep_id, (before, after) in result.territories.items():
        pct = (f"{before.potential_pct_of_target:.2f} -> {after.potential_pct_of_target:.2f}"
               if before.potential_pct_of_target is not None else "-")
        util = (f"{before.utilisation:.0%} -> {after.utilisation:.0%}" if before.utilisation is not None else "-")
        km = " -> ".join(f"{figures.mean_distance_km:.0f}" if figures.mean_distance_km is not None else "-"
                         for figures in (before, after))
        lines.append(f"{rep_id:<10} {f'{before.accounts} -> {after.accounts}':>11} "
                     f"{f'{before.potential:,.0f} -> {after.potential:,.0f}':>27} {pct:>17} {util:>13} {km:>13}")
    change = result.objective_after - result.objective_before
    lines += ["", f"objective: {result.objective_before:,.0f} -> {result.objective_after:,.0f} "
                  f"{result.objective_unit} ({change:+,.0f})"]
    if result.ok and not result.already_broken:
        lines.append("verdict: the changed plan keeps every rule")
    elif result.ok:
        lines.append("verdict: the change breaks no rule that the plan keeps")
    else:
        lines.append(f"verdict: the change breaks {len(result.violations)} rule(s) that the plan keeps:")
        lines += [f"  - {violation}" for violation in result.violations]
    lines += [f"note: {note}" for note in result.notes]
    lines += [f"  - {violation}" for violation in result.already_broken]
    return "\n".join(lines)


def format_report(metrics: dict) -> str:
    """Return the per-rep table and the summary as plain text."""
    header = (f"{'rep':<10} {'accounts':>8} {'potential USD':>15} {'% target':>8} {'hours':>8} {'util':>6} "
              f"{'T1/T2/T3':>12} {'mean km':>8} {'max km':>8} {'in':>4} {'out':>4}")
    lines = [header, "-" * len(header)]
    for row in metrics["reps"]:
        pct = f"{row['potential_pct_of_target']:.1f}" if row["potential_pct_of_target"] is not None else "-"
        util = f"{row['utilisation']:.0%}" if row["utilisation"] is not None else "-"
        mean_km = f"{row['mean_distance_km']:.0f}" if row["mean_distance_km"] is not None else "-"
        max_km = f"{row['max_distance_km']:.0f}" if row["max_distance_km"] is not None else "-"
        tiers = f"{row['tier_1']}/{row['tier_2']}/{row['tier_3']}"
        lines.append(f"{row['rep_id']:<10} {row['accounts']:>8} {row['potential']:>15,.0f} {pct:>8} "
                     f"{row['workload_hours']:>8,.0f} {util:>6} {tiers:>12} {mean_km:>8} {max_km:>8} "
                     f"{row['moved_in']:>4} {row['moved_out']:>4}")

    summary, solver = metrics["summary"], metrics["solver"]
    potential, disruption = metrics["balance"]["potential"], metrics["disruption"]
    gap = f"{solver['gap']:.3%}" if solver["gap"] is not None else "unknown (no bound)"
    bound = f"{solver['lower_bound']:,.0f}" if solver["lower_bound"] is not None else "none"
    lines += [
        "",
        f"accounts: {summary['accounts']:,} ({summary['assigned']:,} assigned, {summary['not_located']:,} not located)",
        f"potential: {summary['potential_assigned']:,.0f} USD assigned, "
        f"{summary['potential_not_located']:,.0f} USD in accounts not located",
        f"potential balance: max deviation {_fraction(potential['max_deviation_from_target'])} from target "
        f"(band {_band(potential['band'])}), CV {_decimal(potential['cv'])}, Gini {_decimal(potential['gini'])}",
        f"disruption: {disruption['accounts_moved']:,} of {disruption['accounts_with_owner']:,} owned accounts move, "
        f"{disruption['potential_moved']:,.0f} USD of potential",
        f"solver: {solver['status']}, objective {solver['objective']:,.0f} {solver['objective_unit']}, "
        f"lower bound {bound}, gap {gap}, solver {solver['time_s']:.1f} s of a {solver['run_time_limit_s']:g} s run "
        f"limit, seed {solver['seed']}, "
        f"{solver['workers']} workers, OR-Tools {solver['version']}",
    ]
    if metrics["empty_territories"]:
        lines.append("empty territories (no accounts): " + ", ".join(metrics["empty_territories"]))
    if summary["skipped_rows"]:
        lines.append(f"skipped rows: {len(summary['skipped_rows'])} (listed in metrics.json)")
    lines += [f"note: {note}" for note in solver.get("notes", [])]
    lines += [f"warning: {warning}" for warning in metrics.get("warnings", [])]
    return "\n".join(lines)


def _band(value) -> str:
    return f"+-{value:.1%}" if value is not None else "none"


def _fraction(value, digits: int = 2) -> str:
    return f"{value:.{digits}%}" if value is not None else "n/a"


def _decimal(value) -> str:
    return f"{value:.3f}" if value is not None else "n/a"


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.db import make_engine, make_session_factory
    from api.demo import ensure_local_key, load_demo
    from api.settings import Settings

    # A server's log is its record: time stamps and INFO lines (starts, stops, runs) belong in it.
    logging.basicConfig(force=True, level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    engine = make_engine(settings.database_url)
    _upgrade_or_explain(engine)
    with make_session_factory(engine).begin() as session:
        demo = load_demo(session, settings) if settings.load_demo and not args.no_demo else None
        key = ensure_local_key(session)
    engine.dispose()

    base = f"http://{args.host}:{args.port}"
    if demo is not None:
        print(f"Loaded the demo data set as dataset {demo.dataset_id} and scenario {demo.id}.")
    if key is not None:
        print(f"API key for local use (role sales_ops; shown only this once, stored as a hash):\n  {key.token}\n"
              f"Try: curl -H 'X-API-Key: {key.token}' {base}/datasets")
    else:
        print("API keys exist already; create another with: territory keys create --role sales_ops")
    print(f"API documentation: {base}/docs")
    sys.stdout.flush()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="debug" if args.debug else "info")
    return 0


def _upgrade_or_explain(engine) -> None:  # noqa: ANN001 - a SQLAlchemy Engine, imported lazily
    """Bring the database schema up to date, turning a failed connection into a ConfigError."""
    from sqlalchemy.exc import OperationalError

    from api.db import upgrade_database

    try:
        upgrade_database(engine)
    except OperationalError as error:
        url = engine.url.render_as_string(hide_password=True)
        raise ConfigError(f"cannot connect to the database {url}: {error.orig}; check DATABASE_URL") from None


def _keys(args: argparse.Namespace) -> int:
    from api.auth import create_key, describe_key, revoke_key
    from api.db import make_engine, make_session_factory
    from api.models import ApiKey, Role
    from api.settings import Settings
    from sqlalchemy import select

    engine = make_engine(Settings().database_url)
    _upgrade_or_explain(engine)
    try:
        with make_session_factory(engine).begin() as session:
            if args.key_command == "create":
                try:
                    key = create_key(session, Role(args.role), args.name or f"{args.role} key", args.rep_id)
                except ValueError as error:
                    raise ConfigError(f"{error} (option --rep-id)") from None
                print(f"created key {key.id} (role {key.role.value}{', rep ' + key.rep_id if key.rep_id else ''}); "
                      f"it is shown only this once:\n{key.token}")
            elif args.key_command == "revoke":
                row = revoke_key(session, args.key_id)
                if row is None:
                    raise ConfigError(f"no API key has id {args.key_id}; `territory keys list` shows the ids")
                print(f"revoked key {row.id} ({row.key_prefix}..., role {row.role})")
            else:
                rows = session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
                print("\n".join(describe_key(row) for row in rows) if rows else "no API keys")
    finally:
        engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Ctrl-C stops a running solver at once instead of after its time limit (see optimizer.interrupt).
    watch_interrupts()
    args.debug = getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s" if args.debug else "%(levelname)s: %(message)s")
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "keys":
            return _keys(args)
        if args.command == "bases":
            return _run_bases(args)
        if args.command == "districts":
            return _run_districts(args)
        if args.command == "compare":
            return _run_compare(args)
        if args.command == "propose":
            return _run_propose(args)
        if args.command == "demo":
            demo = importlib.resources.files("data") / "demo"
            return _run_plan(args, Path(str(demo / "accounts.csv")), Path(str(demo / "reps.csv")))
        return _run_plan(args, args.accounts, args.reps)
    except TerritoryError as error:
        print(f"error: {error}", file=sys.stderr)
        return next((code for kind, code in EXIT_CODES.items() if isinstance(error, kind)), 1)
    except KeyboardInterrupt:
        print("interrupted; no files were written", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (`territory propose ... | head`), so nothing is printed. The
        # exit code is the shell's for a process ended by SIGPIPE, 128 + 13.
        sys.stdout = None
        return 141
    except Exception as error:  # noqa: BLE001 - the last line of defence of a command-line tool
        if args.debug:
            raise
        print(f"error: unexpected failure ({type(error).__name__}: {error}); no files were written. "
              "Run again with --debug for details and report it.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
