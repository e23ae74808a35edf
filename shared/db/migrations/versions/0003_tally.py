"""tally: acceptances, per-TPS counted values, running totals, KPPS disputes, officials

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = shared.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "acceptances",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tps_code", sa.String(length=13), nullable=False),
        sa.Column("contest", sa.String(length=16), nullable=False),
        sa.Column("page", sa.SmallInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("submission_version", sa.SmallInteger(), nullable=False),
        sa.Column("reading_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("values", Json, nullable=False),
        sa.Column("supersedes", sa.BigInteger(), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acceptances")),
        sa.UniqueConstraint(
            "tps_code",
            "contest",
            "page",
            "revision",
            name=op.f("uq_acceptances_tps_code_contest_page_revision"),
        ),
    )
    with op.batch_alter_table("acceptances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_acceptances_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "tally_tps",
        sa.Column("tps_code", sa.String(length=13), nullable=False),
        sa.Column("contest", sa.String(length=16), nullable=False),
        sa.Column("pages", Json, nullable=False),
        sa.Column("values", Json, nullable=False),
        sa.Column("anomalies", Json, nullable=False),
        sa.Column("anomaly_count", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("tps_code", "contest", name=op.f("pk_tally_tps")),
    )
    with op.batch_alter_table("tally_tps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tally_tps_contest_anomalies", ["contest", "anomaly_count"], unique=False
        )

    op.create_table(
        "tally_totals",
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("contest", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "contest", "key", "shard", name=op.f("pk_tally_totals")),
    )

    op.create_table(
        "disputes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tps_code", sa.String(length=13), nullable=False),
        sa.Column("contest", sa.String(length=16), nullable=False),
        sa.Column("page", sa.SmallInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("fields", Json, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint(
            "tps_code",
            "contest",
            "page",
            "revision",
            "device_id",
            name=op.f("uq_disputes_tps_code_contest_page_revision_device_id"),
        ),
    )

    op.create_table(
        "officials",
        sa.Column("username", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=13), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("disabled_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_officials")),
    )


def downgrade() -> None:
    op.drop_table("officials")
    op.drop_table("disputes")
    op.drop_table("tally_totals")
    with op.batch_alter_table("tally_tps", schema=None) as batch_op:
        batch_op.drop_index("ix_tally_tps_contest_anomalies")
    op.drop_table("tally_tps")
    with op.batch_alter_table("acceptances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acceptances_submission_id"))
    op.drop_table("acceptances")
