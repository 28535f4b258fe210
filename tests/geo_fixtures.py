"""A small unit layer for geographic-mode tests: a 4 x 4 grid of squares in Kansas, with accounts and reps.

Columns A-D run west to east and rows 1-4 south to north, so unit "A1" is the south-west corner. Each
square is 0.1 degree on a side (about 8.5 km east-west by 11.1 km north-south). Every unit holds one
account of potential 100 USD and 10 workload hours. Tier 1 is the top 10 % of the 18 accounts by
score, round(1.8) = 2 accounts: those in A1 and D4, whose intent is 90 while every other account's is
10. Columns A-B are currently R1's and C-D R2's. Two more accounts lie in no unit: FAR (located in
Tennessee) and LOST (a postal code the ZIP table does not know).

    row 4   A4 B4 C4 D4   <- R2's home base in D4
    row 3   A3 B3 C3 D3
    row 2   A2 B2 C2 D2
    row 1   A1 B1 C1 D1
            ^ R1's home base in A1
"""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas
import numpy as np
from shapely.geometry import box

from optimizer.geo.graph import UnitGraph

COLUMNS = "ABCD"
WEST, SOUTH, SIDE = -100.0, 40.0, 0.1
GRID_UNITS = [f"{column}{row}" for row in range(1, 5) for column in COLUMNS]


def unit_box(unit_id: str):
    column, row = COLUMNS.index(unit_id[0]), int(unit_id[1]) - 1
    return box(WEST + column * SIDE, SOUTH + row * SIDE, WEST + (column + 1) * SIDE, SOUTH + (row + 1) * SIDE)


def unit_centre(unit_id: str) -> tuple[float, float]:
    """Return (lat, lon) of a unit's centre."""
    centre = unit_box(unit_id).centroid
    return round(centre.y, 6), round(centre.x, 6)


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as source:
        return list(csv.DictReader(source))


def write_grid(folder: Path, population: dict[str, int] | None = None) -> Path:
    """Write the grid as GeoJSON with a population column (1,000 per unit unless given) and return its path."""
    population = population or {}
    frame = geopandas.GeoDataFrame({"unit_id": GRID_UNITS,
                                    "population": [population.get(unit_id, 1000) for unit_id in GRID_UNITS]},
                                   geometry=[unit_box(unit_id) for unit_id in GRID_UNITS], crs="EPSG:4326")
    path = folder / "grid.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path


def write_accounts(folder: Path, rep_ids: tuple[str, str] = ("R1", "R2")) -> Path:
    rows = []
    for unit_id in GRID_UNITS:
        lat, lon = unit_centre(unit_id)
        rows.append({"account_id": f"ACC-{unit_id}", "name": f"Account in {unit_id}", "lat": lat, "lon": lon,
                     "postal_code": "", "city": "", "state": "", "potential": 100, "intent": 90 if unit_id in ("A1", "D4") else 10,
                     "workload_hours": 10, "current_owner": rep_ids[0] if unit_id[0] in "AB" else rep_ids[1],
                     "locked_owner": ""})
    rows.append({"account_id": "FAR", "name": "Memphis", "lat": 35.15, "lon": -90.05, "postal_code": "", "city": "",
                 "state": "",
                 "potential": 100, "intent": 10, "workload_hours": 10, "current_owner": "", "locked_owner": ""})
    # A postal code the ZIP table does not know; a city would do too, but matching one builds the city index.
    rows.append({"account_id": "LOST", "name": "Nowhere", "lat": "", "lon": "", "postal_code": "99999", "city": "",
                 "state": "", "potential": 100, "intent": 10, "workload_hours": 10, "current_owner": "",
                 "locked_owner": ""})
    return write_csv(folder / "accounts.csv", rows)


def write_reps(folder: Path, homes: tuple[str, str] = ("A1", "D4"), rep_ids: tuple[str, str] = ("R1", "R2")) -> Path:
    rows = []
    for rep_id, name, unit_id in ((rep_ids[0], "West", homes[0]), (rep_ids[1], "East", homes[1])):
        lat, lon = unit_centre(unit_id)
        rows.append({"rep_id": rep_id, "name": name, "lat": lat, "lon": lon, "capacity_hours": 1600})
    return write_csv(folder / "reps.csv", rows)


def strip_graph(count: int) -> UnitGraph:
    """Return units 1..count in a row along the equator, 0.1 degree apart, each touching the next."""
    edges = [(i, i + 1) for i in range(count - 1)]
    return UnitGraph([str(i + 1) for i in range(count)], np.zeros(count), np.arange(count) * 0.1, edges=edges)


def grid_graph(rows: int, cols: int) -> UnitGraph:
    """Return units 1..rows*cols in a rows x cols grid 0.1 degree apart, row by row, with rook edges."""
    edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    return UnitGraph([str(i + 1) for i in range(rows * cols)], np.repeat(np.arange(rows) * 0.1, cols),
                     np.tile(np.arange(cols) * 0.1, rows), edges=edges)
