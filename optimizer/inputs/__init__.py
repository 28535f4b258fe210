"""Reading and validating the accounts and reps files.

``load_inputs`` is the entry point: it reads both files (CSV, Excel, Parquet or GeoJSON), checks every
cell, locates each row and returns canonical frames, or raises InputError listing every problem.
"""

from optimizer.inputs.postal import normalize_postal_code
from optimizer.inputs.read import read_table
from optimizer.inputs.validate import Inputs, load_inputs

__all__ = ["Inputs", "load_inputs", "normalize_postal_code", "read_table"]
