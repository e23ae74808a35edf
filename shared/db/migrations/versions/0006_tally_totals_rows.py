"""tally: one running-totals row per (scope, contest, shard), every key's sum in it

An accepted PPWP page 1 changes 25 keys; with a row per key, accepting it upserted 25 rows in
each of its 5 scopes (its village's and kecamatan's rows are rarely shared within a batch), and
those upserts were half of PostgreSQL's work per accepted page. Now the page moves one row per
scope: `vals` holds {key: sum}, and the delta is added key by key inside that row
(`tally_add`, PostgreSQL; SQLite adds in Python under its write lock). The existing sums are
carried over unchanged.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")

# The delta's keys added into the row's object: O(keys in the delta), one new object.
TALLY_ADD = """
CREATE OR REPLACE FUNCTION tally_add(sums jsonb, delta jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sums || COALESCE(
    jsonb_object_agg(d.key, COALESCE((sums ->> d.key)::bigint, 0) + d.value::bigint),
    '{}'::jsonb)
  FROM jsonb_each_text(delta) AS d
$$
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(TALLY_ADD)
    op.create_table(
        "tally_totals_rows",
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("contest", sa.String(length=16), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("vals", Json, nullable=False),
        sa.PrimaryKeyConstraint("scope", "contest", "shard", name=op.f("pk_tally_totals_rows")),
    )
    agg = "jsonb_object_agg(key, value)" if postgres else "json_group_object(key, value)"
    op.execute(
        f"INSERT INTO tally_totals_rows (scope, contest, shard, vals) "
        f"SELECT scope, contest, shard, {agg} FROM tally_totals GROUP BY scope, contest, shard"
    )
    op.drop_table("tally_totals")
    op.rename_table("tally_totals_rows", "tally_totals")
    if postgres:
        # Renaming the constraint renames its index too.
        op.execute(
            "ALTER TABLE tally_totals RENAME CONSTRAINT pk_tally_totals_rows TO pk_tally_totals"
        )
        op.execute("ALTER TABLE tally_totals SET (fillfactor = 80)")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "tally_totals_keys",
        sa.Column("scope", sa.String(length=24), nullable=False),
        sa.Column("contest", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "contest", "key", "shard", name="pk_tally_totals_keys"),
    )
    expand = "jsonb_each_text(t.vals) e" if postgres else "json_each(t.vals) e"
    op.execute(
        "INSERT INTO tally_totals_keys (scope, contest, key, shard, value) "
        f"SELECT t.scope, t.contest, e.key, t.shard, CAST(e.value AS BIGINT) "
        f"FROM tally_totals t, {expand}"
    )
    op.drop_table("tally_totals")
    op.rename_table("tally_totals_keys", "tally_totals")
    if postgres:
        op.execute(
            "ALTER TABLE tally_totals RENAME CONSTRAINT pk_tally_totals_keys TO pk_tally_totals"
        )
        op.execute("ALTER TABLE tally_totals SET (fillfactor = 80)")
        op.execute("DROP FUNCTION IF EXISTS tally_add(jsonb, jsonb)")
