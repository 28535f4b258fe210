"""Reading and validating the accounts and reps files.

``load_inputs`` is the entry point: it reads both files (CSV, Excel, Parquet or GeoJSON), checks every
cell, locates each row and returns canonical frames, or raises InputError listing every problem.
``load_accounts`` and ``load_reps`` do the same for one of the two files alone.
"""

from optimizer.inputs.postal import normalize_postal_code
from optimizer.inputs.read import read_table
from optimizer.inputs.validate import Inputs, check_column_maps, load_accounts, load_inputs, load_reps

__all__ = ["Inputs", "check_column_maps", "load_accounts", "load_inputs", "load_reps", "normalize_postal_code", "read_table"]
