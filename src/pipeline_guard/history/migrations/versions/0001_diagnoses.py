"""The diagnoses table: one row per diagnosed job.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "diagnoses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("workflow", sa.String(255)),
        sa.Column("run_id", sa.BigInteger),
        sa.Column("run_url", sa.Text),
        sa.Column("job", sa.String(255), nullable=False),
        sa.Column("job_url", sa.Text),
        sa.Column("commit", sa.String(64)),
        sa.Column("branch", sa.String(255)),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(255)),
        sa.Column("signature", sa.String(32)),
        sa.Column("tests", sa.Text, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("broken_trunk", sa.Boolean, nullable=False),
        sa.Column("flaky", sa.Boolean, nullable=False),
        sa.Column("duration", sa.Float),
    )
    op.create_index(
        "ix_diagnoses_repository_recorded_at", "diagnoses", ["repository", "recorded_at"]
    )
    op.create_index("ix_diagnoses_signature", "diagnoses", ["repository", "job", "signature"])


def downgrade() -> None:
    op.drop_index("ix_diagnoses_signature", "diagnoses")
    op.drop_index("ix_diagnoses_repository_recorded_at", "diagnoses")
    op.drop_table("diagnoses")
