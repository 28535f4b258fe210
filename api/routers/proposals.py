"""Proposals: an account executive's requested change to a plan, its evaluation, and the decision on it.

A proposal moves accounts to other reps. Making one evaluates it at once against every rule of the
plan's scenario (nothing is solved) and stores it as pending; ``/preview`` evaluates without storing.
The moves come as JSON or, at ``/file`` and ``/preview/file``, as a CSV or Excel moves file.
Sales ops approve or reject pending proposals; the requester may withdraw one. Approving writes the
changed plan as the next version of the scenario's plans, based on the plan it changed. When an
earlier approval has already changed that plan, the moves apply to the latest version, provided that
none of the accounts changed owner in between.

An ae key may propose only moves into or out of its own territory. It can read the proposals it made
and those that move an account into or out of its territory, each with its own territory's figures
and rules only.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth import Caller
from api.deps import AnyCaller, SalesOps, SessionDep, SettingsDep
from api.errors import ApiError, get_or_404
from api.models import Dataset, Plan, PlanAssignment, Proposal, ProposalStatus, Role, Scenario, utc_now

from api.schemas import (DATABASE_MAX_ID, MAX_ID_LENGTH, MAX_MOVES, NO_NUL_PATTERN, ErrorPublic, ProposalCreate,
                         ProposalDecision, ProposalPublic, ProposalRecordPublic)
from api.settings import Settings
from api.uploads import read_limited, safe_filename
from api.worker import add_plan, load_dataset, plan_documents
from optimizer.inputs import Inputs
from optimizer.instance import Instance, build_instance
from optimizer.outputs.geojson import json_safe
from optimizer.pipeline import not_located_reasons, prepare_accounts, visible_to_rep
from optimizer.proposals import (ProposalResult, applied_plan, evaluate_proposal, move_source, plan_from_owners,
                                 read_moves_file)
from optimizer.scenario import Scenario as Rules
from optimizer.scenario import scenario_from_dict

logger = logging.getLogger(__name__)

router = APIRouter(tags=["proposals"])

PlanId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="plan id")]
ProposalId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="proposal id")]
StatusFilter = Annotated[ProposalStatus | None, Query(description="only proposals with this status")]
NOT_FOUND = {404: {"model": ErrorPublic}}
FORBIDDEN_MOVE = {403: {"model": ErrorPublic, "description": "an ae key moved another rep's account"}}
INVALID_MOVES = {422: {"model": ErrorPublic, "description": "unknown account or rep, or an account moved to the rep "
                                                            "it already has"}}
CONFLICT = {409: {"model": ErrorPublic, "description": "the proposal is no longer pending, an account changed owner "
                                                       "since it was made, or it breaks rules and "
                                                       "accept_violations is false"}}


@dataclass
class _Evaluated:
    """A proposal evaluated on a plan, with the inputs the evaluation read."""

    result: ProposalResult
    inputs: Inputs
    rules: Rules
    accounts: pd.DataFrame
    instance: Instance


def _owners(session: Session, plan_id: int) -> dict[str, str]:
    return {row.account_id: row.rep_id for row in session.scalars(
        select(PlanAssignment).where(PlanAssignment.plan_id == plan_id))}


def _check_ae_moves(caller: Caller, owners: dict[str, str], moves: dict[str, str]) -> None:
    """Refuse an ae key's move of an account that neither leaves nor joins its own territory."""
    if caller.role is not Role.ae:
        return
    # Unknown accounts are left to the evaluation, which names them (422).
    foreign = [account for account, rep in moves.items()
               if account in owners and caller.rep_id not in (rep, owners[account])]
    if foreign:
        raise HTTPException(403, f"an ae key may move only accounts into or out of its own territory "
                                 f"({caller.rep_id}); {foreign[0]}{move_source(moves, foreign[0])} is neither")


def _evaluate(session: Session, plan: Plan, moves: dict[str, str], owners: dict[str, str],
              caller: Caller | None = None) -> _Evaluated:
    """Apply `moves` to `plan` (whose owners are `owners`) and check the result against its scenario's rules.

    For an ae `caller`, an unknown account id is matched only against its own accounts, whose ids it
    may read, so the hint never names another rep's account.
    """
    scenario_row = session.get_one(Scenario, plan.scenario_id)
    dataset = session.get_one(Dataset, scenario_row.dataset_id)
    rules = scenario_from_dict(scenario_row.rules, source=f"scenario {scenario_row.id}")
    inputs = load_dataset(dataset)
    accounts = prepare_accounts(inputs, rules)
    instance = build_instance(accounts, inputs.reps, rules)
    hint_accounts = None
    if caller is not None and caller.role is Role.ae:
        hint_accounts = [account for account, rep in owners.items() if rep == caller.rep_id]
    result = evaluate_proposal(instance, plan_from_owners(instance, owners, f"plan {plan.id}"), moves,
                               not_located=not_located_reasons(inputs.accounts), hint_accounts=hint_accounts)
    return _Evaluated(result, inputs, rules, accounts, instance)


def _note_newer_version(session: Session, result: ProposalResult, plan_id: int) -> None:
    """Add a note to `result` when approvals have already changed plan `plan_id`."""
    latest = _latest_version(session, plan_id)
    if latest.id != plan_id:
        result.notes.append(f"plan {plan_id} has a newer version, plan {latest.id}, written by approving proposals; "
                            f"an approval applies these moves to plan {latest.id}, so propose on it to see its "
                            "figures")


def _ae_view(answer: dict, rep_id: str, rep_ids: list[str]) -> dict:
    """Return an evaluation as an ae key may see it: the moves, rules and figures of its own territory only.

    Moves between other reps and rules that name another rep are counted, not shown.
    """
    moves = [move for move in answer["moves"] if rep_id in (move["from"], move["to"])]
    violations = [violation for violation in answer["violations"] if visible_to_rep(violation, rep_id, rep_ids)]
    already = [violation for violation in answer["already_broken"] if visible_to_rep(violation, rep_id, rep_ids)]
    notes = [note for note in answer["notes"] if "already breaks" not in note or already]
    if len(moves) < len(answer["moves"]):
        notes.append(f"the proposal also moves {len(answer['moves']) - len(moves)} account(s) between other reps; "
                     "sales ops see them")
    if len(violations) < len(answer["violations"]):
        notes.append(f"the change also breaks {len(answer['violations']) - len(violations)} rule(s) of other "
                     "territories; sales ops see the details")
    # The owner of another rep's account stays hidden, as in the assignments an ae key may read.
    moves = [{**move, "from": move["from"] if move["from"] == rep_id else None} for move in moves]
    return {**answer, "moves": moves, "violations": violations, "already_broken": already, "notes": notes,
            "territories": {rep: figures for rep, figures in answer["territories"].items() if rep == rep_id}}


def _view(session: Session, evaluation: dict, plan_id: int, caller: Caller) -> dict:
    if caller.role is not Role.ae:
        return evaluation
    return _ae_view(evaluation, caller.rep_id, _rep_ids(session, plan_id))


def _rep_ids(session: Session, plan_id: int) -> list[str]:
    """Return the rep ids of the roster that plan `plan_id` was made from."""
    return [row["rep_id"] for row in session.get_one(Plan, plan_id).metrics["reps"]]


def _record(session: Session, row: Proposal, caller: Caller) -> dict[str, Any]:
    return {**_view(session, row.evaluation, row.plan_id, caller), "id": row.id, "url": f"/proposals/{row.id}",
            "plan_id": row.plan_id, "status": row.status, "note": row.note, "created_at": row.created_at,
            "created_by": row.created_by, "decided_at": row.decided_at, "decided_by": row.decided_by,
            "decision_note": row.decision_note, "result_plan_id": row.result_plan_id,
            "accepted_violations": [violation for violation in row.accepted_violations or []
                                    if caller.role is not Role.ae
                                    or visible_to_rep(violation, caller.rep_id, _rep_ids(session, row.plan_id))]}


def _visible(row: Proposal, caller: Caller) -> bool:
    """Return whether `caller` may read `row`: an ae key reads only its own proposals and those about its territory."""
    if caller.role is not Role.ae:
        return True
    return row.created_by == caller.key_id or any(caller.rep_id in (move["from"], move["to"])
                                                  for move in row.evaluation["moves"])


def _get_proposal(session: Session, proposal_id: int, caller: Caller) -> Proposal:
    row = get_or_404(session, Proposal, proposal_id, "proposal")
    if not _visible(row, caller):
        # The same 404 as for a proposal that does not exist, so ids reveal nothing.
        raise ApiError(404, f"proposal {proposal_id} not found")
    return row


MovesFile = Annotated[UploadFile, File(description="moves file: .csv or .xlsx with the columns account_id and "
                                                   "rep_id, one row per account to move")]
MovesNote = Annotated[str | None, Form(max_length=2000, pattern=NO_NUL_PATTERN,
                                       description="why the change is requested; stored with the proposal")]
INVALID_FILE = {413: {"model": ErrorPublic, "description": "the moves file is larger than the upload limit"}}


async def _moves_from_file(file: UploadFile, settings: Settings, note: str | None) -> ProposalCreate:
    """Read an uploaded moves file as the library's ``read_moves_file`` does, within a proposal's limits."""
    content = await read_limited(file, "moves", settings.max_upload_bytes)
    name = safe_filename(file.filename, "moves.csv")
    with tempfile.TemporaryDirectory(prefix="territory-moves-") as folder:
        path = FilePath(folder) / name
        path.write_bytes(content)
        moves = read_moves_file(path)
    if len(moves) > MAX_MOVES:
        raise ApiError(422, f"the moves file {name} has {len(moves):,} moves; a proposal takes at most {MAX_MOVES:,}, "
                            "so split the file")
    for account, rep in moves.items():
        for column, value in (("account_id", account), ("rep_id", rep)):
            if len(value) > MAX_ID_LENGTH:
                raise ApiError(422, f"invalid {column} {value[:40]!r}... in the moves file {name}: it has "
                                    f"{len(value):,} characters, and an id may have at most {MAX_ID_LENGTH}")
            if "\x00" in value:
                raise ApiError(422, f"invalid {column} {value[:40]!r} in the moves file {name}: it contains a NUL "
                                    "character; remove it")
    return ProposalCreate.model_construct(moves=moves, note=note)


@router.post("/plans/{plan_id}/proposals/preview", response_model=ProposalPublic,
             summary="Evaluate a proposed change to a plan without storing it",
             responses={**NOT_FOUND, **FORBIDDEN_MOVE, **INVALID_MOVES})
def preview_proposal(plan_id: PlanId, body: ProposalCreate, caller: AnyCaller, session: SessionDep) -> dict:
    """Apply the moves to the plan and check the result against every rule of its scenario, without solving.

    Nothing is stored. The response is 200 whether or not the change keeps the rules: ``ok`` and
    ``violations`` show which.
    """
    plan = get_or_404(session, Plan, plan_id, "plan")
    owners = _owners(session, plan_id)
    _check_ae_moves(caller, owners, body.moves)
    result = _evaluate(session, plan, body.moves, owners, caller).result
    _note_newer_version(session, result, plan_id)
    return _view(session, result.as_dict(), plan_id, caller)


@router.post("/plans/{plan_id}/proposals/preview/file", response_model=ProposalPublic,
             summary="Evaluate a moves file as a proposed change, without storing it",
             responses={**NOT_FOUND, **FORBIDDEN_MOVE, **INVALID_MOVES, **INVALID_FILE})
async def preview_proposal_file(plan_id: PlanId, caller: AnyCaller, session: SessionDep, settings: SettingsDep,
                                moves: MovesFile) -> dict:
    """Evaluate the moves of a CSV or Excel file (columns account_id and rep_id) as ``/preview`` does.

    A file that cannot be read, lacks a column, leaves an id empty or names an account twice gets 422
    with the problems by row (the first 20; the summary counts them all), as ``territory propose
    --moves-file`` reports them.
    """
    body = await _moves_from_file(moves, settings, None)
    return await run_in_threadpool(preview_proposal, plan_id, body, caller, session)


@router.post("/plans/{plan_id}/proposals/file", status_code=201, response_model=ProposalRecordPublic,
             summary="Propose a change to a plan from a moves file",
             responses={**NOT_FOUND, **FORBIDDEN_MOVE, **INVALID_MOVES, **INVALID_FILE})
async def create_proposal_file(plan_id: PlanId, caller: AnyCaller, session: SessionDep, settings: SettingsDep,
                               response: Response, moves: MovesFile, note: MovesNote = None) -> dict:
    """Store the moves of a CSV or Excel file as a pending proposal, as ``POST /plans/{id}/proposals`` does."""
    body = await _moves_from_file(moves, settings, note)
    return await run_in_threadpool(create_proposal, plan_id, body, caller, session, response)


@router.post("/plans/{plan_id}/proposals", status_code=201, response_model=ProposalRecordPublic,
             summary="Propose a change to a plan", responses={**NOT_FOUND, **FORBIDDEN_MOVE, **INVALID_MOVES})
def create_proposal(plan_id: PlanId, body: ProposalCreate, caller: AnyCaller, session: SessionDep,
                    response: Response) -> dict:
    """Evaluate the moves as ``/preview`` does and store them as a pending proposal for sales ops to decide.

    A change that breaks rules is stored too, and ``ok`` and ``violations`` show it to sales ops.
    """
    plan = get_or_404(session, Plan, plan_id, "plan")
    owners = _owners(session, plan_id)
    _check_ae_moves(caller, owners, body.moves)
    result = _evaluate(session, plan, body.moves, owners, caller).result
    _note_newer_version(session, result, plan_id)
    moves = {account: after for account, _, after in result.moves}
    row = Proposal(plan_id=plan_id, status=ProposalStatus.pending.value, moves=moves, note=body.note,
                   evaluation=json_safe(result.as_dict()), created_at=utc_now(), created_by=caller.key_id)
    session.add(row)
    session.commit()
    logger.info("plan %d: proposal %d of %d move(s) by key %d, %s", plan_id, row.id, len(moves), caller.key_id,
                "keeps every rule" if result.ok else f"breaks {len(result.violations)} rule(s)")
    response.headers["Location"] = f"/proposals/{row.id}"
    return _record(session, row, caller)


@router.get("/plans/{plan_id}/proposals", response_model=list[ProposalRecordPublic],
            summary="List the proposals for a plan", responses=NOT_FOUND)
def list_plan_proposals(plan_id: PlanId, caller: AnyCaller, session: SessionDep,
                        status: StatusFilter = None) -> list[dict]:
    get_or_404(session, Plan, plan_id, "plan")
    return _list(session, caller, status, plan_id)


@router.get("/proposals", response_model=list[ProposalRecordPublic], summary="List proposals")
def list_proposals(caller: AnyCaller, session: SessionDep, status: StatusFilter = None,
                   plan_id: Annotated[int | None, Query(ge=1, le=DATABASE_MAX_ID,
                                                        description="only proposals for this plan")] = None
                   ) -> list[dict]:
    return _list(session, caller, status, plan_id)


def _list(session: Session, caller: Caller, status: ProposalStatus | None, plan_id: int | None) -> list[dict]:
    query = select(Proposal).order_by(Proposal.id)
    if status is not None:
        query = query.where(Proposal.status == status.value)
    if plan_id is not None:
        query = query.where(Proposal.plan_id == plan_id)
    return [_record(session, row, caller) for row in session.scalars(query) if _visible(row, caller)]


@router.get("/proposals/{proposal_id}", response_model=ProposalRecordPublic, summary="Get a proposal",
            responses=NOT_FOUND)
def get_proposal(proposal_id: ProposalId, caller: AnyCaller, session: SessionDep) -> dict:
    return _record(session, _get_proposal(session, proposal_id, caller), caller)


def _require_pending(row: Proposal) -> None:
    if row.status != ProposalStatus.pending.value:
        logger.info("proposal %d not decided (409): it is already %s", row.id, row.status)
        raise ApiError(409, f"proposal {row.id} is already {row.status}; only a pending proposal can be decided")


def _latest_version(session: Session, plan_id: int) -> Plan:
    """Return the newest plan in the line of plans that approvals derived from plan `plan_id`."""
    current = plan_id
    while (successor := session.scalar(select(Plan.id).where(Plan.based_on_plan_id == current))) is not None:
        current = successor
    return session.get_one(Plan, current)


def _decided_meanwhile(proposal_id: int, status: str | None) -> str:
    return (f"proposal {proposal_id} was {status} by another request at the same moment; only a pending proposal "
            "can be decided")


def _decide(session: Session, row: Proposal, caller: Caller, status: ProposalStatus, note: str | None,
            result_plan_id: int | None = None, accepted_violations: list[str] | None = None) -> None:
    """Record the decision on `row` in the session's transaction, or raise 409 if it is no longer pending.

    The update applies only while the stored status is pending. So of two requests that decide the same
    proposal at once, the one whose update comes second changes nothing and gets 409, even though both
    read it as pending.
    """
    values = {"status": status.value, "decided_at": utc_now(), "decided_by": caller.key_id, "decision_note": note,
              "result_plan_id": result_plan_id, "accepted_violations": accepted_violations}
    done = session.execute(update(Proposal).where(Proposal.id == row.id,
                                                  Proposal.status == ProposalStatus.pending.value).values(**values))
    if done.rowcount != 1:
        session.rollback()
        now = session.scalar(select(Proposal.status).where(Proposal.id == row.id))
        logger.info("proposal %d not %s (409): another request made it %s first", row.id, status.value, now)
        raise ApiError(409, _decided_meanwhile(row.id, now))
    session.commit()
    session.refresh(row)


@router.post("/proposals/{proposal_id}/approve", response_model=ProposalRecordPublic,
             summary="Approve a proposal: write the changed plan as a new version",
             responses={**NOT_FOUND, **CONFLICT, 403: {"model": ErrorPublic, "description": "not a sales_ops key"}})
def approve_proposal(proposal_id: ProposalId, caller: SalesOps, session: SessionDep,
                     body: ProposalDecision | None = None) -> dict:
    """Apply the moves to the latest version of the plan, check every rule again and store the result.

    The new plan keeps the solved plan's lower bound, which holds for every plan of the scenario, and
    states the gap against it. A change that breaks rules is approved only with ``accept_violations``;
    the new plan then lists the broken rules among its warnings.
    """
    body = body or ProposalDecision()
    row = _get_proposal(session, proposal_id, caller)
    _require_pending(row)
    base = _latest_version(session, row.plan_id)
    owners = _owners(session, base.id)
    if base.id != row.plan_id:
        moved_since = [(move["account_id"], move["from"], owners.get(move["account_id"]))
                       for move in row.evaluation["moves"] if owners.get(move["account_id"]) != move["from"]]
        if moved_since:
            account, before, now = moved_since[0]
            logger.info("proposal %d not approved (409): account %s changed owner in plan %d", row.id, account, base.id)
            raise ApiError(409, f"account {account} belonged to {before} when proposal {row.id} was made, but plan "
                                f"{base.id}, the latest version of plan {row.plan_id}, gives it to {now}; reject this "
                                f"proposal and propose again on plan {base.id}")
    evaluated = _evaluate(session, base, row.moves, owners)
    result = evaluated.result
    if result.violations and not body.accept_violations:
        logger.info("proposal %d not approved (409): it breaks %d rule(s) on plan %d", row.id, len(result.violations),
                    base.id)
        raise ApiError(409, f"the change breaks {len(result.violations)} rule(s) of the scenario on plan {base.id}: "
                            + "; ".join(result.violations[:5])
                            + "; approve with accept_violations true to keep it anyway, or reject it",
                       violations=result.violations)

    changed = applied_plan(evaluated.inputs, evaluated.rules, evaluated.accounts, evaluated.instance, result,
                           base.metrics["solver"], f"proposal {row.id}")
    territories, map_html = plan_documents(changed)
    try:
        plan = add_plan(session, base.scenario_id, changed.assignments, json_safe(changed.metrics), territories,
                        map_html, based_on_plan_id=base.id)
        # The stored evaluation stays the one the proposal was made with, which sales ops decided on.
        _decide(session, row, caller, ProposalStatus.approved, body.note, result_plan_id=plan.id,
                accepted_violations=result.violations)
    except IntegrityError:
        session.rollback()
        now = session.scalar(select(Proposal.status).where(Proposal.id == row.id))
        if now != ProposalStatus.pending.value:
            logger.info("proposal %d not approved (409): another request made it %s first", row.id, now)
            raise ApiError(409, _decided_meanwhile(row.id, now)) from None
        logger.info("proposal %d not approved (409): another approval changed plan %d first", row.id, base.id)
        raise ApiError(409, f"plan {base.id} was changed by another approval at the same moment; approve proposal "
                            f"{row.id} again to apply it to the newer version") from None
    logger.info("proposal %d approved by key %d: plan %d (version %d) from plan %d, %d move(s)%s", row.id,
                caller.key_id, plan.id, plan.version, base.id, len(result.moves),
                f", {len(result.violations)} rule(s) broken by consent" if result.violations else "")
    return _record(session, row, caller)


@router.post("/proposals/{proposal_id}/reject", response_model=ProposalRecordPublic, summary="Reject a proposal",
             responses={**NOT_FOUND, **CONFLICT, 403: {"model": ErrorPublic, "description": "not a sales_ops key"}})
def reject_proposal(proposal_id: ProposalId, caller: SalesOps, session: SessionDep,
                    body: ProposalDecision | None = None) -> dict:
    body = body or ProposalDecision()
    row = _get_proposal(session, proposal_id, caller)
    _require_pending(row)
    _decide(session, row, caller, ProposalStatus.rejected, body.note)
    logger.info("proposal %d rejected by key %d", row.id, caller.key_id)
    return _record(session, row, caller)


@router.post("/proposals/{proposal_id}/withdraw", response_model=ProposalRecordPublic,
             summary="Withdraw a proposal you made",
             responses={**NOT_FOUND, **CONFLICT, 403: {"model": ErrorPublic, "description": "another key made it"}})
def withdraw_proposal(proposal_id: ProposalId, caller: AnyCaller, session: SessionDep,
                      body: ProposalDecision | None = None) -> dict:
    body = body or ProposalDecision()
    row = _get_proposal(session, proposal_id, caller)
    if row.created_by != caller.key_id:
        logger.info("proposal %d not withdrawn (403): key %d did not make it", row.id, caller.key_id)
        raise HTTPException(403, f"only the key that made proposal {row.id} may withdraw it; sales ops reject "
                                 "proposals instead")
    _require_pending(row)
    _decide(session, row, caller, ProposalStatus.withdrawn, body.note)
    logger.info("proposal %d withdrawn by key %d", row.id, caller.key_id)
    return _record(session, row, caller)
