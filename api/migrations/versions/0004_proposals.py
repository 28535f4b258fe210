"""Store proposals and the plans that approving them writes.

A proposal keeps its moves, its evaluation and the decision on it. Approving one writes a new version
of the plan without a run, so plans.run_id may be empty, and plans.based_on_plan_id names the plan it
changed; it is unique, so a plan has at most one successor.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite cannot alter a column in place; batch mode copies the table, on PostgreSQL it alters it.
    with op.batch_alter_table('plans') as batch:
        batch.alter_column('run_id', existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column('based_on_plan_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_plans_based_on_plan_id', 'plans', ['based_on_plan_id'], ['id'])
        batch.create_unique_constraint('uq_plans_based_on_plan_id', ['based_on_plan_id'])
    op.create_table(
        'proposals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('moves', sa.JSON(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('evaluation', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('result_plan_id', sa.Integer(), nullable=True),
        sa.Column('accepted_violations', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['plan_id'], ['plans.id']),
        sa.ForeignKeyConstraint(['created_by'], ['api_keys.id']),
        sa.ForeignKeyConstraint(['decided_by'], ['api_keys.id']),
        sa.ForeignKeyConstraint(['result_plan_id'], ['plans.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_proposals_plan_id', 'proposals', ['plan_id'])
    op.create_index('ix_proposals_status', 'proposals', ['status'])


def downgrade() -> None:
    op.drop_index('ix_proposals_status', table_name='proposals')
    op.drop_index('ix_proposals_plan_id', table_name='proposals')
    op.drop_table('proposals')
    with op.batch_alter_table('plans') as batch:
        batch.drop_constraint('uq_plans_based_on_plan_id', type_='unique')
        batch.drop_constraint('fk_plans_based_on_plan_id', type_='foreignkey')
        batch.drop_column('based_on_plan_id')
        batch.alter_column('run_id', existing_type=sa.Integer(), nullable=False)
