"""Domain exceptions of the territory optimizer.

Every error the library raises on purpose derives from ``TerritoryError``, so the CLI and the API can
turn it into one readable message (CLI) or a 4xx response (API) in one place::

    TerritoryError
    ├── InputError        input files or columns are invalid; ``issues`` lists every bad row
    ├── ConfigError       a scenario setting is invalid (unknown key, value out of range)
    ├── InfeasibleError   the rules cannot all hold; ``causes`` explains why with numbers
    └── SolverError       the solver ended without a plan (time limit, model invalid)
"""

from __future__ import annotations

from dataclasses import dataclass


# An InputError's message lists this many issues; all of them stay in ``issues``.
MAX_ISSUES_SHOWN = 50


class TerritoryError(Exception):
    """Base class of every error the optimizer raises on purpose."""


@dataclass(frozen=True)
class RowIssue:
    """One problem in one cell of an input file; ``row`` is None for a problem with a whole column."""

    file: str
    row: int | None
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file} row {self.row}" if self.row is not None else self.file
        if self.column:
            where += f", column {self.column}"
        value = f" {self.value!r}" if self.value != "" else ""
        return f"{where}:{value} {self.message}"


class InputError(TerritoryError):
    """Input files that cannot be used as they are. ``issues`` lists every problem found."""

    def __init__(self, issues: list[RowIssue], summary: str | None = None, *, skippable: bool = True):
        self.issues = list(issues)
        head = summary or f"{len(self.issues)} problem(s) in the input; nothing was written"
        lines = [head + ":"] + [f"  - {issue}" for issue in self.issues[:MAX_ISSUES_SHOWN]]
        if len(self.issues) > MAX_ISSUES_SHOWN:
            # --skip-bad-rows drops account rows only, so it cannot get past a problem of the reps file.
            hint = ("fix these first, or use --skip-bad-rows to plan without the bad account rows" if skippable
                    else "fix the reps file first: account rows that name its reps may be fine once it is")
            lines.append(f"  ... and {len(self.issues) - MAX_ISSUES_SHOWN} more; {hint}")
        super().__init__("\n".join(lines))


class ConfigError(TerritoryError):
    """A scenario setting that is missing, unknown or out of range."""


class InfeasibleError(TerritoryError):
    """The planning rules cannot all hold at once.

    ``causes`` are sentences that name the rule and the numbers; ``relaxations`` are the smallest
    changes found that would make the request feasible (may be empty).
    """

    def __init__(self, causes: list[str], relaxations: list[str] | None = None):
        self.causes = list(causes)
        self.relaxations = list(relaxations or [])
        lines = ["The request is infeasible:"] + [f"  - {cause}" for cause in self.causes]
        if self.relaxations:
            lines.append("Smallest changes found that remove a cause:")
            lines += [f"  - {relaxation}" for relaxation in self.relaxations]
        super().__init__("\n".join(lines))


class SolverError(TerritoryError):
    """The solver stopped without a plan, for a reason other than a proven infeasibility."""
