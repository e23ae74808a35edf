"""audit log: Merkle tree nodes, tree head, checkpoints, cosignatures, sequencer lease

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 23:30:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

import shared.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EMPTY_ROOT = hashlib.sha256(b"").digest()


def upgrade() -> None:
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_nodes")),
    )
    tree = op.create_table(
        "log_tree",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_at", shared.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_tree")),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", shared.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_log_checkpoints")),
    )
    op.create_table(
        "log_cosignatures",
        sa.Column("checkpoint_size", sa.BigInteger(), nullable=False),
        sa.Column("key_name", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", shared.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_size"],
            ["log_checkpoints.size"],
            name=op.f("fk_log_cosignatures_checkpoint_size_log_checkpoints"),
        ),
        sa.PrimaryKeyConstraint(
            "checkpoint_size", "key_name", "key_id", name=op.f("pk_log_cosignatures")
        ),
    )
    op.create_table(
        "log_leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("expires_at", shared.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_log_leases")),
    )
    # The empty tree, so the sequencer always finds a row to lock.
    op.bulk_insert(
        tree,
        [{"id": 1, "size": 0, "root": EMPTY_ROOT, "updated_at": shared.db.base.utcnow()}],
    )


def downgrade() -> None:
    op.drop_table("log_leases")
    op.drop_table("log_cosignatures")
    op.drop_table("log_checkpoints")
    op.drop_table("log_tree")
    op.drop_table("log_nodes")
