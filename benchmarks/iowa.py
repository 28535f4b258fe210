"""Iowa's 99 counties into 4 connected territories of near-equal population (congressional districting).

    python -m benchmarks.iowa --band 0.001 --time-limit 8

Iowa draws its congressional districts from whole counties. The enacted 2010 plan (column CD of the
MGGG shapefile) is at most 41 people from the ideal (0.0054 %), and its populations span 76 people. Population is a hard band here and the
plan minimises the deviation from the ideal first, then dispersion around each territory's centre.
The time limit covers reading the shapefile, building the adjacency graph and solving.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from optimizer.geo.adjacency import build_graph
from optimizer.geo.districts import solve_districts
from optimizer.geo.problem import DistrictProblem, make_band
from optimizer.geo.units import read_units
from optimizer.geo.validate import district_plan_problems

SHAPEFILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "redistricting-iowa-counties" / "IA_counties.zip"
FINISH_SECONDS = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.iowa", description=__doc__.split("\n\n")[0])
    parser.add_argument("--band", type=float, default=0.001, help="population band, a fraction (0.001 = +-0.1 %%)")
    parser.add_argument("--territories", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=8.0, help="seconds for reading and solving")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shapefile", type=Path, default=SHAPEFILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    started = time.monotonic()
    layer = read_units(args.shapefile, id_column="GEOID10")
    population = layer.frame["TOTPOP"].to_numpy(float)
    graph, _ = build_graph(layer)
    graph.unit_names = [str(name) for name in layer.frame["NAME10"]]
    k = args.territories
    ideal = population.sum() / k
    problem = DistrictProblem(graph, [f"D{i + 1}" for i in range(k)],
                              [make_band("population", population, args.band, k, "people")],
                              compactness="centre", priority="balance", weight=population / 1000.0,
                              weight_unit="thousand-person-km")
    budget = args.time_limit - (time.monotonic() - started) - FINISH_SECONDS
    plan = solve_districts(problem, max(0.5, budget), seed=args.seed, workers=args.workers)
    elapsed = time.monotonic() - started

    totals = np.bincount(plan.assignment, weights=population, minlength=k)
    problems = district_plan_problems(problem, plan.assignment, bands_required=plan.status not in ("bands_not_met", "bands_infeasible"))
    enacted = layer.frame["CD"].astype(int).to_numpy() - 1
    enacted_totals = np.bincount(enacted, weights=population, minlength=k)
    print(f"{len(population)} counties, {len(graph.edges)} rook edges; ideal {ideal:,.2f} people per territory")
    print(f"status {plan.status} in {elapsed:.2f} s (solver {plan.time_s:.2f} s, {plan.steps} steps)")
    print("populations: " + ", ".join(f"{v:,.0f}" for v in sorted(totals)))
    print(f"largest deviation {np.abs(totals - ideal).max():,.0f} people "
          f"({plan.max_deviation['population'] * 100:.4f} %, band +-{args.band * 100:g} %)")
    print(f"enacted 2010 plan: largest deviation {np.abs(enacted_totals - ideal).max():,.0f} people "
          f"({np.abs(enacted_totals - ideal).max() / ideal * 100:.4f} %)")
    print(f"validator: {'ok' if not problems else problems}")
    return 0 if not problems and elapsed <= args.time_limit else 1


if __name__ == "__main__":
    sys.exit(main())
