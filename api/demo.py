"""First-start set-up for local use: the embedded demo data set, a demo scenario and a sales_ops key."""

from __future__ import annotations

import importlib.resources
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.auth import NewKey, active_key_count, create_key
from api.models import Dataset, Role, Scenario, utc_now
from api.routers.scenarios import validate_rules
from api.settings import Settings
from api.uploads import Upload, validate_and_store

logger = logging.getLogger(__name__)

DEMO_NAME = "demo"
DEMO_TIME_LIMIT_S = 30


def load_demo(session: Session, settings: Settings) -> Scenario | None:
    """Store the demo dataset and a scenario over it when the database has no dataset yet."""
    if session.scalar(select(func.count()).select_from(Dataset)):
        return None
    folder = importlib.resources.files("data") / "demo"
    upload = Upload(name=DEMO_NAME, accounts_filename="accounts.csv", accounts=(folder / "accounts.csv").read_bytes(),
                    reps_filename="reps.csv", reps=(folder / "reps.csv").read_bytes())
    dataset = validate_and_store(session, upload, settings.max_rows)
    rules = validate_rules({"solver": {"time_limit_s": min(DEMO_TIME_LIMIT_S, settings.max_time_limit_s)}},
                           DEMO_NAME, settings)
    scenario = Scenario(name=DEMO_NAME, dataset_id=dataset.id, rules=rules, created_at=utc_now())
    session.add(scenario)
    session.flush()
    logger.info("loaded the demo: dataset %d, scenario %d", dataset.id, scenario.id)
    return scenario


def ensure_local_key(session: Session) -> NewKey | None:
    """Create a sales_ops key when no key is active, so a new user can call the API at once."""
    if active_key_count(session):
        return None
    return create_key(session, Role.sales_ops, "local key created at first start")
