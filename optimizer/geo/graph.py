"""The unit adjacency graph as plain arrays, the only part of the geometry the districting model uses."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

EDGE_BORDER = "border"        # the units share a boundary of positive length
EDGE_CORNER = "corner"        # the units touch at points only (kept in queen mode)
EDGE_CONNECTOR = "connector"  # added by the user: a bridge or ferry between units that do not touch


@dataclass
class UnitGraph:
    """Units with a representative point each and undirected edges between neighbouring units.

    ``edges`` contains index pairs (i < j, each pair once). ``shared_km`` is the geodesic length of
    the boundary the pair shares (0 for corner and connector edges).
    """

    unit_ids: list[str]
    lat: np.ndarray
    lon: np.ndarray
    edges: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    shared_km: np.ndarray = field(default_factory=lambda: np.zeros(0))
    edge_kind: list[str] = field(default_factory=list)
    area_km2: np.ndarray | None = None
    unit_names: list[str] | None = None   # for messages, e.g. county names; None means ids only

    def __post_init__(self) -> None:
        self.lat = np.asarray(self.lat, dtype=float)
        self.lon = np.asarray(self.lon, dtype=float)
        edges = np.asarray(self.edges, dtype=np.int64).reshape(-1, 2)
        self.edges = np.sort(edges, axis=1)
        self.shared_km = np.asarray(self.shared_km, dtype=float)
        if len(self.shared_km) == 0 and len(edges):
            self.shared_km = np.zeros(len(edges))
        if not self.edge_kind:
            self.edge_kind = [EDGE_BORDER] * len(edges)
        if len(self.shared_km) != len(self.edges) or len(self.edge_kind) != len(self.edges):
            raise ValueError("edges, shared_km and edge_kind must have one entry per edge")
        if len(self.edges) and (self.edges.min() < 0 or self.edges.max() >= self.unit_count):
            raise ValueError("an edge refers to a unit index outside the graph")
        if np.any(self.edges[:, 0] == self.edges[:, 1]):
            raise ValueError("an edge joins a unit to itself")

    @property
    def unit_count(self) -> int:
        return len(self.unit_ids)

    def label(self, unit: int) -> str:
        """Return the unit's id, with its name in brackets when the graph has names."""
        name = self.unit_names[unit] if self.unit_names is not None else None
        return f"{self.unit_ids[unit]} ({name})" if name else self.unit_ids[unit]

    def neighbours(self) -> list[np.ndarray]:
        """Return, per unit, the sorted indices of its neighbours."""
        adjacency = [[] for _ in range(self.unit_count)]
        for i, j in self.edges:
            adjacency[i].append(j)
            adjacency[j].append(i)
        return [np.array(sorted(set(row)), dtype=np.int64) for row in adjacency]

    def components(self, members: np.ndarray | None = None) -> tuple[int, np.ndarray]:
        """Return the number of connected components and a label per unit, over ``members`` if given.

        With ``members`` (a bool mask), only edges between two members count and non-members get -1.
        """
        n = self.unit_count
        mask = np.ones(n, dtype=bool) if members is None else np.asarray(members, dtype=bool)
        keep = mask[self.edges[:, 0]] & mask[self.edges[:, 1]] if len(self.edges) else np.zeros(0, dtype=bool)
        rows, cols = self.edges[keep, 0], self.edges[keep, 1]
        matrix = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
        _, labels = connected_components(matrix, directed=False)
        labels = np.where(mask, labels, -1)
        distinct = np.unique(labels[mask])
        relabel = {old: new for new, old in enumerate(distinct)}
        return len(distinct), np.array([relabel[v] if v >= 0 else -1 for v in labels], dtype=np.int64)

    def islands(self) -> list[int]:
        """Return the units without any neighbour."""
        degree = np.bincount(self.edges.ravel(), minlength=self.unit_count) if len(self.edges) else \
            np.zeros(self.unit_count, dtype=np.int64)
        return [int(i) for i in np.flatnonzero(degree == 0)]
