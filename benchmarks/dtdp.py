"""Delivery territory design (DTDP) instances through the districting engine.

    python -m benchmarks.dtdp INSTANCE.graphml.gz --time-limit 60 --json
    python -m benchmarks.dtdp --all DIR --best-known best_known_group1.csv --time-limit 60

An instance is a planar graph of basic units with three activities (workload, demand, customers)
and edge lengths. A plan splits the units into p = 10 connected territories, each with every
activity within +-5 % of the mean (total / p). The objective, as in the VNS of Aly et al. (Computers
& Operations Research 2024) and the LNS of Vila and Pereira, is the dispersion: the largest
shortest-path distance (over edge lengths in the whole graph) between two units of one territory.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import logging
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from optimizer.errors import InfeasibleError
from optimizer.geo.districts import solve_districts
from optimizer.geo.graph import UnitGraph
from optimizer.geo.problem import DistrictProblem, diameters, disconnected_territories, make_band

logger = logging.getLogger(__name__)

ACTIVITIES = ("workload", "demand", "n_customers")
TERRITORIES = 10
TOLERANCE = 0.05
GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"
FINISH_SECONDS = 1.5


class DtdpInputError(ValueError):
    """An instance file that is missing, unreadable or not a DTDP GraphML graph."""


@dataclass
class DtdpInstance:
    node_ids: list[str]
    x: np.ndarray
    y: np.ndarray
    activities: dict[str, np.ndarray]
    edges: np.ndarray
    length: np.ndarray


def read_graphml(path: Path) -> DtdpInstance:
    """Read a DTDP GraphML file (plain or gzip) with node x, y, activities and edge ``distance``.

    Raise DtdpInputError when the file is missing, unreadable or lacks what a DTDP instance needs.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            root = ElementTree.parse(handle).getroot()
    except FileNotFoundError:
        raise DtdpInputError(f"{path}: file not found") from None
    except (OSError, EOFError, ElementTree.ParseError) as error:
        raise DtdpInputError(f"{path}: not a readable GraphML file ({error})") from None
    keys = {key.get("id"): key.get("attr.name") for key in root.iter(GRAPHML + "key")}
    graph = root.find(GRAPHML + "graph")
    if graph is None:
        raise DtdpInputError(f"{path}: no <graph> element in the GraphML namespace; expected a DTDP instance")
    node_ids, attributes = [], []
    for node in graph.iter(GRAPHML + "node"):
        node_ids.append(node.get("id"))
        attributes.append({keys[data.get("key")]: data.text for data in node.iter(GRAPHML + "data")})
    if len(node_ids) < TERRITORIES:
        raise DtdpInputError(f"{path}: {len(node_ids)} nodes; a DTDP instance needs at least {TERRITORIES}")
    index = {node_id: i for i, node_id in enumerate(node_ids)}
    edges, length = [], []
    try:
        for edge in graph.iter(GRAPHML + "edge"):
            values = {keys.get(data.get("key")): data.text for data in edge.iter(GRAPHML + "data")}
            ends = (edge.get("source"), edge.get("target"))
            unknown = [end for end in ends if end not in index]
            if unknown:
                raise DtdpInputError(f"{path}: edge {ends[0]}-{ends[1]} refers to node {unknown[0]}, which the file "
                                     "does not define")
            if "distance" not in values:
                raise DtdpInputError(f"{path}: edge {ends[0]}-{ends[1]} has no distance")
            edges.append((index[ends[0]], index[ends[1]]))
            length.append(float(values["distance"]))
        for number, attribute in enumerate(attributes):
            missing = [name for name in (*ACTIVITIES, "x", "y") if name not in attribute]
            if missing:
                raise DtdpInputError(f"{path}: node {node_ids[number]} has no attribute {', '.join(missing)}")
        return DtdpInstance(
            node_ids=node_ids,
            x=np.array([float(a["x"]) for a in attributes]),
            y=np.array([float(a["y"]) for a in attributes]),
            activities={name: np.array([float(a[name]) for a in attributes]) for name in ACTIVITIES},
            edges=np.array(edges, dtype=np.int64).reshape(-1, 2),
            length=np.array(length),
        )
    except (TypeError, ValueError) as error:
        raise DtdpInputError(f"{path}: a node or edge value is not a number ({error})") from None


def build_problem(instance: DtdpInstance) -> DistrictProblem:
    n = len(instance.node_ids)
    rows, cols = instance.edges[:, 0], instance.edges[:, 1]
    matrix = coo_matrix((instance.length, (rows, cols)), shape=(n, n)).tocsr()
    distance = dijkstra(matrix, directed=False)
    # The coordinates are planar integers, not degrees; the graph keeps them only for reference, because
    # every distance the solver uses comes from the shortest-path matrix.
    graph = UnitGraph(instance.node_ids, instance.y, instance.x, edges=instance.edges)
    bands = [make_band(name, values, TOLERANCE, TERRITORIES, name) for name, values in instance.activities.items()]
    return DistrictProblem(graph, [f"T{i}" for i in range(TERRITORIES)], bands, compactness="diameter",
                           distance_matrix=distance, distance_unit="edge length")


def solve_instance(path: Path, time_limit_s: float, seed: int, workers: int) -> dict:
    started = time.monotonic()
    instance = read_graphml(path)
    problem = build_problem(instance)
    # The last CP-SAT call and the final checks can run past the solver's limit by up to about a second.
    budget = time_limit_s - (time.monotonic() - started) - FINISH_SECONDS
    plan = solve_districts(problem, max(1.0, budget), seed=seed, workers=workers)
    dispersion = float(diameters(problem, plan.assignment).max())
    return {
        "instance": path.name.removesuffix(".gz").removesuffix(".graphml"),
        "dispersion": dispersion,
        "feasible": plan.band_violation == 0 and not disconnected_territories(problem, plan.assignment),
        "max_deviation": plan.max_deviation,
        "time_s": round(time.monotonic() - started, 2),
        "territory": {unit: int(t) for unit, t in zip(instance.node_ids, plan.assignment)},
    }


def _best_known(path: Path) -> dict[str, float]:
    with open(path, newline="") as handle:
        return {row["instance"]: float(row["best_known_ub"]) for row in csv.DictReader(handle)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dtdp", description=__doc__.split("\n\n")[0])
    parser.add_argument("instance", nargs="?", type=Path, help="a .graphml or .graphml.gz file")
    parser.add_argument("--all", type=Path, help="solve every .graphml(.gz) file in this folder")
    parser.add_argument("--best-known", type=Path, help="CSV with columns instance, best_known_ub")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance, reading included")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if (args.instance is None) == (args.all is None):
        parser.error("give one INSTANCE or --all DIR")

    if args.instance is not None:
        try:
            result = solve_instance(args.instance, args.time_limit, args.seed, args.workers)
        except (DtdpInputError, InfeasibleError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps({"dispersion": result["dispersion"], "territory": result["territory"],
                              "feasible": result["feasible"], "time_s": result["time_s"]}))
        else:
            print(f"{result['instance']}: dispersion {result['dispersion']:.3f}, feasible {result['feasible']}, "
                  f"{result['time_s']} s")
        return 0

    try:
        best = _best_known(args.best_known) if args.best_known else {}
    except (OSError, KeyError, ValueError) as error:
        print(f"error: cannot read the best-known table {args.best_known}: {error}; expected a CSV with columns "
              "instance and best_known_ub", file=sys.stderr)
        return 2
    files = sorted(list(args.all.glob("*.graphml.gz")) + list(args.all.glob("*.graphml")))
    if not files:
        print(f"error: no .graphml or .graphml.gz file in {args.all}", file=sys.stderr)
        return 2
    ratios = []
    print("| instance | dispersion | best known | gap to best known | feasible | time (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for path in files:
        try:
            result = solve_instance(path, args.time_limit, args.seed, args.workers)
        except (DtdpInputError, InfeasibleError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        known = best.get(result["instance"])
        gap = (result["dispersion"] - known) / known if known else None
        if gap is not None:
            ratios.append(gap)
        print(f"| {result['instance']} | {result['dispersion']:.3f} | {known if known else '-'} | "
              f"{'-' if gap is None else f'{gap * 100:.2f} %'} | {result['feasible']} | {result['time_s']} |", flush=True)
    if ratios:
        print(f"\nmean gap to best known: {np.mean(ratios) * 100:.2f} % over {len(ratios)} instances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
