"""All contiguous-US counties into connected territories balanced on population and account potential.

    python -m benchmarks.us_counties --territories 30 --time-limit 120 --map docs/us-counties-30.png
    python -m benchmarks.us_counties --territories 50        # the pre-check explains why not

Counties come from the us-atlas TopoJSON (Census 2017 cartographic boundaries), population from the
Census 2019 county estimates, and accounts from the Inc. 5000 (2014) scenario, located by city and
state and joined to their county. Population must stay within the band (hard); the accounts'
potential is balanced as well as contiguity allows (soft), and the deviation reached is printed.
Island counties get a ferry connector to their nearest county, and the benchmark prints each one.
The time limit covers the whole run from reading the files to the plan, not the map.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import InfeasibleError
from optimizer.geo.adjacency import build_graph
from optimizer.geo.districts import solve_districts
from optimizer.geo.join import join_accounts
from optimizer.geo.problem import DistrictProblem, make_band
from optimizer.geo.units import read_units
from optimizer.geo.validate import district_plan_problems
from optimizer.geodesy import spherical_km

logger = logging.getLogger(__name__)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
# Alaska, Hawaii and the territories: not part of the contiguous US.
NOT_CONTIGUOUS = {"02", "15", "60", "66", "69", "72", "78"}
FINISH_SECONDS = 2.0


def load_counties(shared: Path):
    layer = read_units(shared / "us-atlas" / "counties-10m.json", layer="counties")
    frame = layer.frame
    keep = ~frame["unit_id"].str[:2].isin(NOT_CONTIGUOUS)
    layer.frame = frame[keep].reset_index(drop=True)
    return layer


def county_population(shared: Path, unit_ids: list[str]) -> np.ndarray:
    with gzip.open(shared / "us-county-population" / "co-est2019-alldata.csv.gz", "rt", encoding="latin-1") as handle:
        table = pd.read_csv(handle, dtype={"STATE": str, "COUNTY": str})
    # The file is Latin-1 text that starts with a UTF-8 byte order mark.
    table.columns = [column.removeprefix("\u00ef\u00bb\u00bf") for column in table.columns]
    counties = table[table["SUMLEV"] == 50]
    fips = counties["STATE"].str.zfill(2) + counties["COUNTY"].str.zfill(3)
    population = dict(zip(fips, counties["POPESTIMATE2019"]))
    missing = [unit for unit in unit_ids if unit not in population]
    if missing:
        raise SystemExit(f"no 2019 population estimate for counties {', '.join(missing[:10])}")
    return np.array([population[unit] for unit in unit_ids], dtype=float)


def account_potential(shared: Path, layer) -> tuple[np.ndarray, dict]:
    from optimizer.inputs import load_inputs

    scenario = shared / "scenarios" / "inc5000-2014"
    inputs = load_inputs(scenario / "accounts.csv", scenario / "reps.csv")
    accounts = inputs.accounts[inputs.accounts["lat"].notna()]
    joined = join_accounts(accounts[["account_id", "lat", "lon"]].reset_index(drop=True), layer)
    index = joined.unit_index
    inside = index >= 0
    potential = np.bincount(index[inside], weights=accounts["potential"].to_numpy(float)[inside],
                            minlength=len(layer.unit_ids))
    facts = {"accounts": len(inputs.accounts), "located": len(accounts), "joined": int(inside.sum()),
             "outside": joined.outside_count}
    return potential, facts


def ferry_connectors(graph) -> list[tuple[str, str]]:
    """Link each island county to its nearest county (great-circle distance between unit points)."""
    pairs = []
    for island in graph.islands():
        km = spherical_km(graph.lat[island], graph.lon[island], graph.lat, graph.lon)
        km[island] = np.inf
        nearest = int(np.argmin(km))
        pairs.append((graph.unit_ids[island], graph.unit_ids[nearest]))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.us_counties", description=__doc__.split("\n\n")[0])
    parser.add_argument("--territories", type=int, default=30)
    parser.add_argument("--population-band", type=float, default=0.05, help="hard band, a fraction (0.05 = +-5 %%)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds for reading and solving")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--map", type=Path, help="write a PNG map of the plan here")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    started = time.monotonic()
    layer = load_counties(args.shared)
    unit_ids = layer.unit_ids
    population = county_population(args.shared, unit_ids)
    potential, facts = account_potential(args.shared, layer)
    graph, report = build_graph(layer)
    connectors = ferry_connectors(graph)
    if connectors:
        graph, report = build_graph(layer, connectors=connectors)
    graph.unit_names = [str(name) for name in layer.frame["name"]]
    loaded = time.monotonic() - started
    print(f"{len(unit_ids):,} counties, {len(graph.edges):,} rook edges, {len(report.components)} component(s); "
          f"ferry connectors: {', '.join(f'{a}-{b}' for a, b in connectors) or 'none'}")
    print(f"Inc. 5000 accounts: {facts['accounts']:,}, located {facts['located']:,}, in a county {facts['joined']:,}")
    print(f"read in {loaded:.1f} s")

    k = args.territories
    bands = [make_band("population", population, args.population_band, k, "people"),
             make_band("potential", potential, args.population_band, k, "USD", hard=False)]
    problem = DistrictProblem(graph, [f"T{i + 1:02d}" for i in range(k)], bands, compactness="centre",
                              weight=population / 1000.0, weight_unit="thousand-person-km")
    budget = args.time_limit - (time.monotonic() - started) - FINISH_SECONDS
    try:
        plan = solve_districts(problem, max(1.0, budget), seed=args.seed, workers=args.workers)
    except InfeasibleError as error:
        print(error)
        return 3
    elapsed = time.monotonic() - started
    problems = district_plan_problems(problem, plan.assignment)
    totals = np.bincount(plan.assignment, weights=population, minlength=k)
    worth = np.bincount(plan.assignment, weights=potential, minlength=k)
    print(f"status {plan.status}; total time {elapsed:.1f} s (solver {plan.time_s:.1f} s, {plan.steps} steps)")
    print(f"population per territory {totals.min():,.0f} to {totals.max():,.0f} people, "
          f"max deviation {plan.max_deviation['population'] * 100:.2f} % (band +-{args.population_band * 100:g} %)")
    print(f"potential per territory {worth.min():,.0f} to {worth.max():,.0f} USD, "
          f"max deviation {plan.max_deviation['potential'] * 100:.2f} % (soft)")
    print(f"compactness {plan.objective:,.0f} {plan.objective_unit}; validator: {'ok' if not problems else problems}")
    if args.map:
        write_map(layer, plan.assignment, problem.territory_ids, args.map,
                  f"{len(unit_ids):,} counties into {k} connected territories, population +-"
                  f"{args.population_band * 100:g} % (max {plan.max_deviation['population'] * 100:.2f} %)")
        print(f"map written to {args.map}")
    return 0 if not problems else 1


def write_map(layer, assignment: np.ndarray, territory_ids: list[str], path: Path, title: str) -> None:
    from matplotlib.figure import Figure

    from optimizer.geo.dissolve import dissolve_territories
    from optimizer.outputs.mapview import _palette

    mapping = {unit: territory_ids[t] for unit, t in zip(layer.unit_ids, assignment)}
    territories = dissolve_territories(layer, mapping, territory_ids)
    projected = territories.to_crs("EPSG:5070")  # NAD83 Conus Albers, equal-area
    colours = _palette(len(territory_ids))
    figure = Figure(figsize=(12, 7.5), layout="constrained")
    axes = figure.add_subplot()
    projected.plot(ax=axes, color=[colours[i % len(colours)] for i in range(len(projected))], edgecolor="#222222",
                   linewidth=0.6)
    for row in projected.itertuples():
        point = row.geometry.representative_point()
        axes.annotate(row.territory_id, (point.x, point.y), ha="center", va="center", fontsize=7)
    axes.set_axis_off()
    axes.set_title(title, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
