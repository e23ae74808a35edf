"""tally: room on each page for HOT updates of the running totals and event heads

Every acceptance rewrites ~20 `tally_totals` rows (and its TPS's `event_heads` row) with
`value = value + delta`. With full pages (the recount's bulk insert packs them) each update
moves the row to another page and adds an index entry; with a fifth of every page free the
new version stays on its page (a HOT update) and the primary key is not touched. PostgreSQL
only; the setting applies to pages written from now on (`recompute --repair` rewrites them).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 02:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("tally_totals", "event_heads")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
