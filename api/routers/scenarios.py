"""Scenarios: planning rules over a dataset."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from sqlalchemy import func, select

from api.deps import Planner, SalesOps, SessionDep, SettingsDep
from api.errors import ApiError, get_or_404
from api.models import Dataset, Run, Scenario, utc_now
from api.schemas import DATABASE_MAX_ID, ErrorPublic, ScenarioCreate, ScenarioPublic
from api.settings import Settings
from optimizer.scenario import scenario_from_dict

router = APIRouter(prefix="/scenarios", tags=["scenarios"])

ScenarioId = Annotated[int, Path(ge=1, le=DATABASE_MAX_ID, description="scenario id")]


def validate_rules(rules: dict[str, Any], name: str, settings: Settings) -> dict[str, Any]:
    """Return the complete rules with defaults filled in; raise ConfigError or ApiError(422) when invalid."""
    if _contains_nul(rules):
        raise ApiError(422, "rules contain a NUL character; remove it")
    scenario = scenario_from_dict({**rules, "name": name}, source="rules")
    if scenario.solver.time_limit_s > settings.max_time_limit_s:
        raise ApiError(422, f"rules: solver.time_limit_s is {scenario.solver.time_limit_s:g} s; this server allows "
                            f"at most {settings.max_time_limit_s:g} s (setting TERRITORY_MAX_TIME_LIMIT_S)")
    return scenario.model_dump(mode="json")


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


@router.post("", status_code=201, response_model=ScenarioPublic, summary="Create a scenario",
             responses={422: {"model": ErrorPublic, "description": "invalid rules or unknown dataset"}})
def create_scenario(body: ScenarioCreate, caller: Planner, session: SessionDep, settings: SettingsDep,
                    response: Response) -> Scenario:
    """Check the rules with the library's scenario model and store them with every default filled in."""
    if session.get(Dataset, body.dataset_id) is None:
        raise ApiError(422, f"dataset_id {body.dataset_id} does not exist; upload a dataset first (POST /datasets)")
    scenario = Scenario(name=body.name, dataset_id=body.dataset_id, rules=validate_rules(body.rules, body.name, settings),
                        created_at=utc_now())
    session.add(scenario)
    session.commit()
    response.headers["Location"] = f"/scenarios/{scenario.id}"
    return scenario


@router.get("", response_model=list[ScenarioPublic], summary="List scenarios")
def list_scenarios(caller: Planner, session: SessionDep) -> list[Scenario]:
    return list(session.scalars(select(Scenario).order_by(Scenario.id)))


@router.get("/{scenario_id}", response_model=ScenarioPublic, summary="Get a scenario",
            responses={404: {"model": ErrorPublic}})
def get_scenario(scenario_id: ScenarioId, caller: Planner, session: SessionDep) -> Scenario:
    scenario = get_or_404(session, Scenario, scenario_id, "scenario")
    return scenario


@router.delete("/{scenario_id}", status_code=204, summary="Delete a scenario that has no runs",
               responses={404: {"model": ErrorPublic}, 409: {"model": ErrorPublic}})
def delete_scenario(scenario_id: ScenarioId, caller: SalesOps, session: SessionDep) -> None:
    scenario = get_or_404(session, Scenario, scenario_id, "scenario")
    runs = session.scalar(select(func.count()).select_from(Run).where(Run.scenario_id == scenario_id))
    if runs:
        raise ApiError(409, f"scenario {scenario_id} has {runs} run(s); its plans depend on it, so it is kept")
    session.delete(scenario)
    session.commit()
