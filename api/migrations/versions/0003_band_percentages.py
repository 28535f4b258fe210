"""Store balance bands of 100 % or more as percentage text.

Scenario rules now reject a bare band tolerance of 1 or more ("potential: 5" would mean +-500 %, and is
usually meant as +-5 %), and a dumped scenario writes such tolerances as text ("150%"). Rules stored by
earlier versions may hold bare numbers of 1 or more, which meant exactly that many times the target; this
revision rewrites them as the equal percentage, so those scenarios still run with the same bands.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

BAND_KEYS = ("potential", "accounts", "tier_1", "workload")


def upgrade() -> None:
    connection = op.get_bind()
    scenarios = sa.table("scenarios", sa.column("id", sa.Integer), sa.column("rules", sa.JSON))
    for scenario_id, rules in connection.execute(sa.select(scenarios.c.id, scenarios.c.rules)).all():
        rules = json.loads(rules) if isinstance(rules, str) else rules
        balance = rules.get("balance") if isinstance(rules, dict) else None
        if not isinstance(balance, dict):
            continue
        changed = {key: f"{value * 100:.12g}%" for key, value in balance.items()
                   if key in BAND_KEYS and isinstance(value, int | float) and not isinstance(value, bool)
                   and value >= 1}
        if changed:
            rules = {**rules, "balance": {**balance, **changed}}
            connection.execute(scenarios.update().where(scenarios.c.id == scenario_id).values(rules=rules))


def downgrade() -> None:
    # The percentage text stays. Earlier versions reject it, so a downgrade needs those rules edited by hand.
    pass
