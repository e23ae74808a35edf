"""tally_tps: HOT updates, and an anomaly index of the anomalous rows only

Every acceptance rewrites its TPS's `tally_tps` row (~1.5 kB). On full pages the new version
lands on another page and both indexes get an entry, two random index pages dirtied per TPS;
with 30% of each page free it usually stays on its page (a HOT update: no index touched).
The anomaly index held every row, (contest, anomaly_count), although the anomaly list only
asks for rows with anomalies; it now holds just those, by (contest, tps_code) as the list is
read, so an ordinary acceptance never writes to it. The fill factor is PostgreSQL's and applies
to pages written from now on.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ANOMALOUS = sa.text("anomaly_count > 0")


def upgrade() -> None:
    with op.batch_alter_table("tally_tps", schema=None) as batch_op:
        batch_op.drop_index("ix_tally_tps_contest_anomalies")
        batch_op.create_index(
            "ix_tally_tps_anomalous",
            ["contest", "tps_code"],
            unique=False,
            postgresql_where=ANOMALOUS,
            sqlite_where=ANOMALOUS,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tally_tps SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE tally_tps RESET (fillfactor)")
    with op.batch_alter_table("tally_tps", schema=None) as batch_op:
        batch_op.drop_index("ix_tally_tps_anomalous")
        batch_op.create_index(
            "ix_tally_tps_contest_anomalies", ["contest", "anomaly_count"], unique=False
        )
