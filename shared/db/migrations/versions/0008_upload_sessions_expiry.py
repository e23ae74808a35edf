"""upload_sessions: an index on expires_at, for the sweeper

The sweeper (`services/ingest/sweeper.py`) removes upload sessions an hour past their expiry,
every 15 minutes. Without an index each pass read the whole table, which keeps a row for every
resumable upload of the past week: tens of millions on a national election day.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 09:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("upload_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_upload_sessions_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("upload_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_upload_sessions_expires_at")
