"""readings: one machine reading per submission

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("tps_code", sa.String(length=13), nullable=False),
        sa.Column("contest", sa.String(length=16), nullable=False),
        sa.Column("page", sa.SmallInteger(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("failing", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("model_sha256", sa.String(length=64), nullable=False),
        sa.Column("reader_version", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", shared.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_readings_submission_id_submissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readings")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_readings_submission_id")),
    )
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_readings_tps_code"), ["tps_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("readings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_readings_tps_code"))
    op.drop_table("readings")
