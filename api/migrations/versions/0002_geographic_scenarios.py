"""Add geographic mode: geo_scenarios with their files, geo_plans, and runs of either kind of scenario.

A run now solves either a scenario (scenario_id) or a geographic scenario (geo_scenario_id), so
runs.scenario_id becomes nullable. SQLite cannot alter a column, so Alembic's batch mode rebuilds the
runs table there; api.db.upgrade_database turns foreign key enforcement off meanwhile, because plans
refer to runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('geo_scenarios',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['api_keys.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('geo_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('geo_scenario_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('filename', sa.String(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['geo_scenario_id'], ['geo_scenarios.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('geo_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_geo_files_geo_scenario_id'), ['geo_scenario_id'], unique=False)

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.alter_column('scenario_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('geo_scenario_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_runs_geo_scenario_id'), ['geo_scenario_id'], unique=False)
        batch_op.create_foreign_key('fk_runs_geo_scenario_id', 'geo_scenarios', ['geo_scenario_id'], ['id'])

    op.create_table('geo_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('geo_scenario_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('territories', sa.JSON(), nullable=False),
    sa.Column('units_csv', sa.Text(), nullable=False),
    sa.Column('assignments_csv', sa.Text(), nullable=True),
    sa.Column('map_html', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['geo_scenario_id'], ['geo_scenarios.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id')
    )
    with op.batch_alter_table('geo_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_geo_plans_geo_scenario_id'), ['geo_scenario_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('geo_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_geo_plans_geo_scenario_id'))
    op.drop_table('geo_plans')

    op.execute("DELETE FROM runs WHERE geo_scenario_id IS NOT NULL")
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_runs_geo_scenario_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_runs_geo_scenario_id'))
        batch_op.drop_column('geo_scenario_id')
        batch_op.alter_column('scenario_id', existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table('geo_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_geo_files_geo_scenario_id'))
    op.drop_table('geo_files')
    op.drop_table('geo_scenarios')
