"""Tables of the service, as SQLAlchemy 2 typed models.

A dataset keeps the uploaded files as they came, so that every run reads them through the library's
own validation, and so does a geographic scenario in geo_files. A plan keeps one row per account in
plan_assignments, and its territories, metrics and map as JSON and HTML documents; a geographic plan
keeps its units.csv and assignments.csv as text. Ids of accounts and reps are compared
case-sensitively: SQLite's default BINARY collation and PostgreSQL's default collations both do so.
"""

from __future__ import annotations

import datetime
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class UtcDateTime(TypeDecorator[datetime.datetime]):
    """A UTC time stamp. SQLite stores no time zone, so values read back from it get UTC attached."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime.datetime | None, dialect: object) -> datetime.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Role(str, enum.Enum):
    """Role of an API key: sales_ops may do everything, leadership reads and plans, ae reads plans (see api.auth)."""

    sales_ops = "sales_ops"
    leadership = "leadership"
    ae = "ae"


class RunStatus(str, enum.Enum):
    """Life of a run: queued -> running -> succeeded | failed | infeasible | cancelled."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    infeasible = "infeasible"
    cancelled = "cancelled"


ACTIVE_RUN_STATUSES = (RunStatus.queued.value, RunStatus.running.value)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    rep_id: Mapped[str | None] = mapped_column(String)  # set for the ae role only
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the whole key
    key_prefix: Mapped[str] = mapped_column(String(12))  # first characters, to recognise a key in lists
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)
    accounts_filename: Mapped[str] = mapped_column(String)
    reps_filename: Mapped[str] = mapped_column(String)
    accounts_file: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    reps_file: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    account_columns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rep_columns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    skip_bad_rows: Mapped[bool] = mapped_column(Boolean, default=False)
    account_count: Mapped[int] = mapped_column(Integer)
    rep_count: Mapped[int] = mapped_column(Integer)
    skipped_issues: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rep_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)


class Scenario(Base):
    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)  # optimizer.scenario.Scenario.model_dump()
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)


class GeoScenario(Base):
    """A geographic scenario: uploaded files (unit layer, accounts, reps, ...) and the planning settings."""

    __tablename__ = "geo_scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)  # the form fields as sent, parsed again by each run
    report: Mapped[dict[str, Any]] = mapped_column(JSON)    # what validation found: units, territories, summaries


class GeoFile(Base):
    __tablename__ = "geo_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    geo_scenario_id: Mapped[int] = mapped_column(ForeignKey("geo_scenarios.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # units, accounts, reps, unit_values or current
    filename: Mapped[str] = mapped_column(String)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class Run(Base):
    """A solve of a scenario (scenario_id) or of a geographic scenario (geo_scenario_id); exactly one is set."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"), index=True)
    geo_scenario_id: Mapped[int | None] = mapped_column(ForeignKey("geo_scenarios.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.queued.value, index=True)
    time_limit_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)
    started_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
    phase: Mapped[str | None] = mapped_column(String(40))
    elapsed_s: Mapped[float | None] = mapped_column(Float)
    objective: Mapped[float | None] = mapped_column(Float)
    lower_bound: Mapped[float | None] = mapped_column(Float)
    gap: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    causes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    relaxations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    worker_pid: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))


class ProposalStatus(str, enum.Enum):
    """Life of a proposal: pending -> approved | rejected | withdrawn."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class Plan(Base):
    """A solved plan (run_id set), or a solved plan changed by an approved proposal (based_on_plan_id set)."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), unique=True)
    # Unique: a plan has at most one successor, so that two approvals cannot fork its line of versions.
    based_on_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), unique=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per scenario, in the order plans were written
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    territories: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    map_html: Mapped[str] = mapped_column(Text, deferred=True)


class PlanAssignment(Base):
    __tablename__ = "plan_assignments"
    __table_args__ = (Index("ix_plan_assignments_plan_rep", "plan_id", "rep_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # row order of the accounts file
    account_id: Mapped[str] = mapped_column(String)
    rep_id: Mapped[str | None] = mapped_column(String)  # None for an account that could not be located
    previous_owner: Mapped[str | None] = mapped_column(String)
    moved: Mapped[bool] = mapped_column(Boolean)
    tier: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    potential: Mapped[float] = mapped_column(Float)
    workload_hours: Mapped[float] = mapped_column(Float)
    distance_km: Mapped[float | None] = mapped_column(Float)
    located_by: Mapped[str] = mapped_column(String)
    name: Mapped[str | None] = mapped_column(String)
    industry: Mapped[str | None] = mapped_column(String)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class Proposal(Base):
    """A requested change to a plan: moves of accounts to reps, their evaluation and the decision on them."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=ProposalStatus.pending.value, index=True)
    moves: Mapped[dict[str, Any]] = mapped_column(JSON)        # account id -> rep id, as requested
    note: Mapped[str | None] = mapped_column(Text)               # the requester's reason
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)   # optimizer.proposals.ProposalResult.as_dict()
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    decided_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    result_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))  # the plan an approval wrote
    accepted_violations: Mapped[list[Any] | None] = mapped_column(JSON)  # rules the approval broke by consent


class GeoPlan(Base):
    """The plan of a geographic run: its files as documents (GeoJSON, metrics, CSV text, HTML map)."""

    __tablename__ = "geo_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), unique=True)
    geo_scenario_id: Mapped[int] = mapped_column(ForeignKey("geo_scenarios.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per geographic scenario
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime, default=utc_now)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    territories: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    units_csv: Mapped[str] = mapped_column(Text, deferred=True)
    assignments_csv: Mapped[str | None] = mapped_column(Text, deferred=True)  # None without accounts
    map_html: Mapped[str] = mapped_column(Text, deferred=True)
