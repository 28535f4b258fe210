"""Proposals: a requested change to a plan, evaluated at once.

An account executive requests accounts ("give me these three, take those two"). The change is applied
to the plan as it is and checked by the solver-independent validator against every rule of the
scenario: balance bands, capacity, max_accounts, locks, industries, concentration and max_moves. The
result shows each affected territory before and after, the rules the changed plan would break, and the
change of the objective, so sales ops can approve or reject it. Nothing is solved again.
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.errors import ConfigError, InputError, RowIssue
from optimizer.geodesy import geodesic_km
from optimizer.inputs import Inputs
from optimizer.instance import NO_REP, Instance
from optimizer.pipeline import PlanResult, input_warnings, plan_tables
from optimizer.scenario import Scenario
from optimizer.validator import check_plan


@dataclass
class TerritoryFigures:
    """One rep's territory figures: accounts, potential, workload and distances."""

    accounts: int
    potential: float
    potential_pct_of_target: float | None   # potential against the potential band's target, when there is one
    workload_hours: float
    utilisation: float | None               # workload over capacity
    mean_distance_km: float | None

    def as_dict(self) -> dict:
        return {"accounts": self.accounts, "potential": self.potential,
                "potential_pct_of_target": self.potential_pct_of_target, "workload_hours": self.workload_hours,
                "utilisation": self.utilisation, "mean_distance_km": self.mean_distance_km}


@dataclass
class ProposalResult:
    """The evaluated change: the moves, each affected rep before and after, and the rules it breaks."""

    moves: list[tuple[str, str, str]]             # (account id, rep before, rep after)
    territories: dict[str, tuple[TerritoryFigures, TerritoryFigures]]
    violations: list[str]                         # rules the changed plan breaks that the plan kept
    objective_before: float
    objective_after: float
    objective_unit: str
    notes: list[str] = field(default_factory=list)
    already_broken: list[str] = field(default_factory=list)   # rules the plan broke and the changed plan still breaks
    rep_of: np.ndarray | None = None                          # the changed plan: rep index per account

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "moves": [{"account_id": account, "from": before, "to": after} for account, before, after in self.moves],
            "territories": {rep_id: {"before": before.as_dict(), "after": after.as_dict()}
                            for rep_id, (before, after) in self.territories.items()},
            "violations": list(self.violations), "already_broken": list(self.already_broken),
            "objective_before": self.objective_before, "objective_after": self.objective_after,
            "objective_unit": self.objective_unit, "notes": list(self.notes),
        }


def plan_from_assignments(instance: Instance, path: str | Path) -> np.ndarray:
    """Return the rep index per account of `instance` from a plan's assignments.csv.

    Raises InputError when the file cannot be read, lacks the account_id and rep_id columns, misses an
    account of the instance, or names a rep that the roster does not have.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError([RowIssue(str(path), None, "", "", f"cannot be read as a plan's assignments.csv: {error}")],
                         summary="cannot read the plan") from None
    missing = [column for column in ("account_id", "rep_id") if column not in table.columns]
    if missing:
        raise InputError([RowIssue(path.name, None, column, "", "is missing; give the assignments.csv that "
                                                                "territory plan wrote") for column in missing],
                         summary="cannot read the plan")
    repeated = table["account_id"][table["account_id"].duplicated()].unique().tolist()
    if repeated:
        raise InputError([RowIssue(path.name, None, "account_id", account_id, "appears more than once; a plan "
                                                                              "assigns each account once")
                          for account_id in repeated[:20]], summary="cannot read the plan")
    return plan_from_owners(instance, dict(zip(table["account_id"], table["rep_id"], strict=True)), path.name)


class MovesFromFile(dict):
    """{account id: rep id} read from a moves file, with ``where[account id]`` naming the file and row of each move."""

    def __init__(self, moves: Mapping[str, str], where: Mapping[str, str]):
        super().__init__(moves)
        self.where = dict(where)


def move_source(moves: Mapping[str, str], account_id: str) -> str:
    """Return " (FILE row N)" for a move of `account_id` read by ``read_moves_file``, else ""."""
    where = getattr(moves, "where", {})
    return f" ({where[account_id]})" if account_id in where else ""


def read_moves_file(path: str | Path) -> MovesFromFile:
    """Return {account id: rep id} from a CSV or Excel file with the columns account_id and rep_id.

    Rows with both ids empty (blank lines) are skipped. Raises InputError for a file that is empty or
    cannot be read, a missing column or no moves, and, naming the row, for an empty id or an account
    named twice.
    """
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError([RowIssue(path.name, None, "", "", "is empty; a moves file has a header row with account_id "
                                                            "and rep_id, then one row per move")],
                         summary="cannot read the moves")
    save_as = "save it as CSV (UTF-8) or .xlsx with the columns account_id and rep_id"
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            table = pd.read_excel(path, dtype=str).fillna("")
        else:
            # utf-8-sig drops the byte-order mark that spreadsheet programs write at the start of a CSV.
            # Blank lines are kept, so that row numbers match the file's lines, and skipped below.
            with path.open(encoding="utf-8-sig", newline="") as text:
                separator = csv.Sniffer().sniff(text.read(65536), delimiters=",;\t|").delimiter
            table = pd.read_csv(path, dtype=str, keep_default_na=False, sep=separator, encoding="utf-8-sig",
                                skip_blank_lines=False).fillna("")
    except FileNotFoundError:
        raise InputError([RowIssue(path.name, None, "", "", f"not found ({path}); give the path of the moves "
                                                            "file")], summary="cannot read the moves") from None
    except UnicodeDecodeError:
        raise InputError([RowIssue(path.name, None, "", "", f"is not UTF-8 text; {save_as}")],
                         summary="cannot read the moves") from None
    except csv.Error:
        raise InputError([RowIssue(path.name, None, "", "", f"cannot be split into columns; {save_as}, one row per "
                                                            "move")], summary="cannot read the moves") from None
    except (OSError, ValueError, pd.errors.ParserError) as error:
        kind = "an Excel workbook" if path.suffix.lower() in (".xlsx", ".xlsm") else "a CSV file"
        raise InputError([RowIssue(path.name, None, "", "", f"cannot be read as {kind} ({error}); {save_as}")],
                         summary="cannot read the moves") from None
    table.columns = [str(column).strip() for column in table.columns]
    missing = [column for column in ("account_id", "rep_id") if column not in table.columns]
    if missing:
        raise InputError([RowIssue(path.name, None, column, "", "is missing; a moves file has the columns account_id "
                                                                "and rep_id, one row per move") for column in missing],
                         summary="cannot read the moves")
    issues, moves, where = [], {}, {}
    # Row numbers count the header as row 1, as a spreadsheet shows them.
    for row, (account_id, rep_id) in enumerate(zip(table["account_id"].str.strip(), table["rep_id"].str.strip(),
                                                   strict=True), start=2):
        if not account_id and not rep_id:
            continue
        if not account_id or not rep_id:
            issues.append(RowIssue(path.name, row, "account_id" if not account_id else "rep_id", "", "is empty"))
        elif account_id in moves:
            issues.append(RowIssue(path.name, row, "account_id", account_id, "is moved twice; give each account once"))
        else:
            moves[account_id] = rep_id
            where[account_id] = f"{path.name} row {row}"
    if issues:
        raise InputError(issues[:20], summary=f"{len(issues)} problem(s) with the moves file")
    if not moves:
        raise InputError([RowIssue(path.name, None, "", "", "has no moves; give one row per account to move")],
                         summary="cannot read the moves")
    return MovesFromFile(moves, where)


def plan_from_owners(instance: Instance, owner: Mapping[str, str | None], source: str) -> np.ndarray:
    """Return the rep index per account of `instance` from {account id: rep id}; `source` names it in errors."""
    rep_index = {rep_id: r for r, rep_id in enumerate(instance.rep_ids)}
    issues = []
    rep_of = np.full(instance.account_count, NO_REP, dtype=np.int64)
    for a, account_id in enumerate(instance.account_ids):
        rep_id = owner.get(account_id)
        if not rep_id:
            issues.append(RowIssue(source, None, "account_id", account_id, "is an account of the inputs that the "
                                                                              "plan does not assign; give the plan "
                                                                              "made from these inputs"))
        elif rep_id not in rep_index:
            issues.append(RowIssue(source, None, "rep_id", rep_id, f"assigns account {account_id} to a rep that "
                                                                      "the roster does not have"))
        else:
            rep_of[a] = rep_index[rep_id]
    known = set(instance.account_ids)
    for account_id, rep_id in owner.items():
        if rep_id and account_id not in known:
            issues.append(RowIssue(source, None, "account_id", account_id, "is assigned by the plan but is not a "
                                                                           "located account of the inputs; give the "
                                                                           "inputs the plan was made from"))
    if issues:
        raise InputError(issues[:20], summary=f"{len(issues)} problem(s) with the plan {source}")
    return rep_of


def evaluate_proposal(instance: Instance, rep_of: np.ndarray, moves: Mapping[str, str],
                      not_located: Mapping[str, str] | None = None,
                      hint_accounts: Collection[str] | None = None) -> ProposalResult:
    """Apply `moves` ({account id: new rep id}) to the plan `rep_of` and evaluate the changed plan.

    Ids are compared without surrounding spaces. `not_located` ({account id: reason}) names the accounts
    of the inputs that could not be located and so have no rep. Raises ConfigError for an unknown account
    or rep id (with the closest one), an account not located, or an account that already belongs to the
    rep it should move to. The closest account id is sought among `hint_accounts` when given, so that a
    caller who may see only some accounts is not shown another's. A rejected move read by
    ``read_moves_file`` is named with its file and row.
    """
    file_moves = moves
    stripped = [str(account).strip() for account in moves]
    twice = next((account for account in stripped if stripped.count(account) > 1), None)
    if twice is not None:
        raise ConfigError(f"invalid proposal: account {twice} is named twice (ids are compared without surrounding "
                          "spaces); give each account once")
    moves = {str(account).strip(): str(rep).strip() for account, rep in moves.items()}
    not_located = not_located or {}
    if not moves:
        raise ConfigError("the proposal moves no account; give at least one ACCOUNT=REP")
    account_index = {account_id: a for a, account_id in enumerate(instance.account_ids)}
    rep_index = {rep_id: r for r, rep_id in enumerate(instance.rep_ids)}
    problems, applied = [], []
    after = np.asarray(rep_of, dtype=np.int64).copy()
    for account_id, rep_id in moves.items():
        row = move_source(file_moves, account_id)
        if account_id in not_located:
            reason = not_located[account_id] or "no location"
            problems.append(f"account {account_id}{row} could not be located ({reason}), so it has no rep in the "
                            "plan; give it a location and plan again")
            continue
        if account_id not in account_index:
            hints = account_index if hint_accounts is None else hint_accounts
            problems.append(f"account {account_id!r}{row} is not an account of the plan{_closest(account_id, hints)}")
            continue
        if rep_id not in rep_index:
            problems.append(f"rep {rep_id!r}{row} is not in the roster{_closest(rep_id, rep_index)}")
            continue
        a, r = account_index[account_id], rep_index[rep_id]
        if after[a] == r:
            problems.append(f"account {account_id}{row} already belongs to {rep_id}")
            continue
        applied.append((account_id, instance.rep_ids[after[a]], rep_id))
        after[a] = r
    if problems:
        raise ConfigError("invalid proposal:\n  - " + "\n  - ".join(problems))

    before_check, after_check = check_plan(instance, rep_of), check_plan(instance, after)
    affected = sorted({rep for _, old, new in applied for rep in (old, new)}, key=instance.rep_ids.index)
    territories = {rep_id: (_figures(instance, rep_of, rep_index[rep_id]), _figures(instance, after, rep_index[rep_id]))
                   for rep_id in affected}
    # A rule that the plan already breaks counts as broken before, not as a new breach, unless the change
    # takes it further past its limit.
    broken_before = dict(before_check.breaches)
    violations, already = [], []
    for violation, (rule, excess) in zip(after_check.violations, after_check.breaches, strict=True):
        if rule in broken_before and excess <= broken_before[rule] + 1e-9 * max(1.0, abs(broken_before[rule])):
            already.append(violation)
        else:
            violations.append(violation)
    notes = []
    if already:
        notes.append(f"the plan itself already breaks {len(before_check.violations)} rule(s) under these rules (its "
                     "scenario changed since it was made, or an earlier change was approved although it broke "
                     "them), and the changed plan still breaks these:")
    return ProposalResult(applied, territories, violations, before_check.objective, after_check.objective,
                          instance.objective_unit, notes, already_broken=already, rep_of=after)


BROKEN_STATUS = "breaks rules"
# Notes that close the solver section of a plan changed by hand, each written once, after the changes.
SOLVE_FIGURES_NOTE = ("the solve time, time limit, seed, workers and LP figures shown are those of the original solve, "
                      "not of the changes made by hand")
BOUND_NOTE = "the lower bound is the solved plan's, which holds for every plan that keeps the scenario's rules"
BROKEN_NOTE = "the plan breaks"
CLOSING_NOTES = (SOLVE_FIGURES_NOTE, BOUND_NOTE)


def applied_solver_section(solved: dict, result: ProposalResult, label: str) -> dict:
    """Return the solver section of metrics.json for the plan that `result` changed by hand.

    `solved` is the solver section of the plan the change applies to, and `label` names the change in
    the note (such as "proposal 4"). The lower bound stays: it holds for every plan of the scenario, so
    the gap is measured against it again. Nothing is solved, so the status is "feasible" unless the
    changed plan still meets the bound. A changed plan that breaks rules gets the status "breaks rules"
    and no gap.
    """
    # A plan changed before carries the closing notes of that change; they are written again at the end.
    notes = [note for note in solved.get("notes", []) if note not in CLOSING_NOTES and not note.startswith(BROKEN_NOTE)]
    section = {**solved, "notes": notes}
    objective, bound = round(result.objective_after, 3), solved.get("lower_bound")
    section["objective"] = objective
    count = len(result.moves)
    section["notes"].append(f"{label} moved {count} account{'' if count == 1 else 's'} by hand, without solving again: "
                            f"objective {result.objective_before:,.3f} -> {objective:,.3f} {result.objective_unit}")
    section["notes"].append(SOLVE_FIGURES_NOTE)
    broken = len(result.violations) + len(result.already_broken)
    if broken:
        # The bound holds for the plans that keep every rule; one that breaks a rule may even cost less.
        section["status"], section["gap"] = BROKEN_STATUS, None
        section["notes"].append(f"{BROKEN_NOTE} {broken} rule(s) of its scenario (see its warnings), so no gap is "
                                "stated: the lower bound holds only for plans that keep every rule")
        return section
    if bound is not None:
        section["gap"] = 0.0 if objective <= 0 else max(0.0, (objective - bound) / objective)
    section["status"] = "optimal" if solved.get("status") == "optimal" and bound is not None and objective <= bound \
        else "feasible"
    section["notes"].append(BOUND_NOTE)
    return section


def _closest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _figures(instance: Instance, rep_of: np.ndarray, r: int) -> TerritoryFigures:
    mine = np.flatnonzero(rep_of == r)
    potential = float(instance.potential[mine].sum())
    band = instance.bands.get("potential")
    target = float(band.target[r]) if band is not None else 0.0
    hours = float(instance.pair_load(mine, np.full(mine.size, r)).sum())
    capacity = float(instance.capacity[r])
    distance = geodesic_km(instance.account_lat[mine], instance.account_lon[mine], instance.rep_lat[r],
                           instance.rep_lon[r]) if mine.size else np.zeros(0)
    return TerritoryFigures(
        accounts=int(mine.size), potential=potential,
        potential_pct_of_target=100.0 * potential / target if target > 0 else None,
        workload_hours=hours, utilisation=hours / capacity if capacity > 0 else None,
        mean_distance_km=float(distance.mean()) if mine.size else None,
    )


def applied_plan(inputs: Inputs, scenario: Scenario, accounts: pd.DataFrame, instance: Instance,
                 result: ProposalResult, solved: dict, label: str) -> PlanResult:
    """Return the PlanResult of the plan that `result` changed, ready for the plan's outputs.

    `accounts` are the scored accounts the instance was built from, `solved` the solver section of the
    plan that the change applies to, and `label` names the change in notes and warnings. Rules that the
    change breaks are listed among the plan's warnings.
    """
    warnings = input_warnings(accounts, inputs.reps)
    warnings += [f"approved in {label} although it breaks this rule: {violation}" for violation in result.violations]
    warnings += [f"breaks this rule, already broken before {label}: {violation}" for violation in result.already_broken]
    assignments, metrics = plan_tables(inputs, scenario, accounts, instance, result.rep_of,
                                       applied_solver_section(solved, result, label), warnings)
    return PlanResult(scenario, inputs, instance, assignments, metrics, None)
