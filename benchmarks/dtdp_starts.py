"""The tabu search of compactness "diameter" alone, from several starts, on DTDP instances.

    python -m benchmarks.dtdp_starts DIR/planar500_G0.graphml.gz DIR/planar500_G2.graphml.gz \
        --starts 8 --seconds 3 --best-known best_known_group1.csv [--tenure 15,40] [--level-step 0.01]

Start s (s = 0 .. starts - 1) seeds a random generator with s, builds the narrowest nearest-seed
cells of 30 seed sets, and runs the tabu search (optimizer/geo/descent.py) on them for the given
seconds. Per instance the runner prints the best and the mean dispersion over the starts (and their
gaps to the best known), then the mean over instances of the best gap. It is the tool behind the
tuning table of docs/benchmarks.md; the full solver, with its split of the time, is benchmarks.dtdp.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.dtdp import DtdpInputError, _best_known, build_problem, read_graphml
from optimizer.geo import descent
from optimizer.geo.districts import _nearest_seed_cells
from optimizer.geo.growth import choose_seeds


def start_widths(path: Path, starts: int, seconds: float) -> list[float]:
    """Return the narrowest width inside the bands that each start reached (inf when it met no band)."""
    problem = build_problem(read_graphml(path))
    widths = []
    for seed in range(starts):
        rng = np.random.default_rng(seed)
        first = _nearest_seed_cells(problem, choose_seeds(problem, rng), rng)
        search = descent.WidthDescent(problem, first, rng)
        search.run(time.monotonic() + seconds)
        widths.append(search.best_width)
    return widths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dtdp_starts", description=__doc__.split("\n\n")[0])
    parser.add_argument("instances", nargs="+", type=Path, help=".graphml or .graphml.gz files")
    parser.add_argument("--starts", type=int, default=8, help="starts per instance (seeds 0 .. starts - 1)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of tabu search per start")
    parser.add_argument("--best-known", type=Path, help="CSV with columns instance, best_known_ub")
    parser.add_argument("--tenure", help="tabu tenure range in iterations, such as 15,40 (default: the solver's)")
    parser.add_argument("--level-step", type=float, help="share below the best width the level sits, such as 0.01")
    args = parser.parse_args(argv)

    if args.starts < 1 or args.seconds <= 0:
        parser.error("--starts must be at least 1 and --seconds above 0")

    tenure, level_step = descent.TENURE_RANGE, descent.LEVEL_STEP
    if args.tenure:
        try:
            low, high = (int(part) for part in args.tenure.split(","))
        except ValueError:
            parser.error(f"--tenure {args.tenure!r}: expected two whole numbers such as 15,40")
        if not 0 < low < high:
            parser.error(f"--tenure {args.tenure!r}: expected 0 < first < second")
        tenure = (low, high)
    if args.level_step is not None:
        if not 0 < args.level_step < 1:
            parser.error(f"--level-step {args.level_step}: expected a share between 0 and 1, such as 0.01")
        level_step = args.level_step

    # The search reads these module settings; they are restored when the run ends.
    saved = descent.TENURE_RANGE, descent.LEVEL_STEP
    descent.TENURE_RANGE, descent.LEVEL_STEP = tenure, level_step
    try:
        return _run(args)
    finally:
        descent.TENURE_RANGE, descent.LEVEL_STEP = saved


def _run(args: argparse.Namespace) -> int:
    try:
        best = _best_known(args.best_known) if args.best_known else {}
    except (OSError, KeyError, ValueError) as error:
        print(f"error: cannot read the best-known table {args.best_known}: {error}", file=sys.stderr)
        return 2

    best_gaps = []
    noun = "start" if args.starts == 1 else "starts"
    print(f"tenure {descent.TENURE_RANGE}, level step {descent.LEVEL_STEP}, {args.starts} {noun} of {args.seconds} s")
    for path in args.instances:
        try:
            widths = np.array(start_widths(path, args.starts, args.seconds))
        except DtdpInputError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        name = path.name.removesuffix(".gz").removesuffix(".graphml")
        line = f"{name}: best {widths.min():.3f}, mean {widths.mean():.3f}"
        known = best.get(name)
        if known:
            gaps = (widths / known - 1) * 100
            best_gaps.append(gaps.min())
            line += f" (gaps to best known {known}: best {gaps.min():.2f} %, mean {gaps.mean():.2f} %)"
        print(line, flush=True)
    if best_gaps:
        print(f"mean of the best gap: {np.mean(best_gaps):.2f} % over {len(best_gaps)} instances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
