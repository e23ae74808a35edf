"""The transparency log's own tables: tree nodes, the tree head, checkpoints, cosignatures and
the sequencer's lease. Entries themselves are `audit_events` rows with a `log_index`.

`log_nodes` holds the hash of every complete subtree, named (level, index). Such a node never
changes once written, so a proof at any tree size reads O(log n) rows by primary key and the
table is append-only like the log it describes. (Tiles of 256 hashes would cut the row count
256-fold; kept as a later optimisation, the proofs only need `read_nodes`.)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow

TREE_ROW_ID = 1


class LogNode(Base):
    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogTree(Base):
    """One row: the integrated tree's size and root. Locked by whoever extends the tree or signs
    a checkpoint, which serialises sequencers even if two ever run at once."""

    __tablename__ = "log_tree"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogCheckpoint(Base):
    """A signed checkpoint: the note as signed by the log (witness lines are kept apart)."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogCosignature(Base):
    """A witness's cosignature on one checkpoint; the newest per witness and checkpoint wins."""

    __tablename__ = "log_cosignatures"

    checkpoint_size: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("log_checkpoints.size"), primary_key=True
    )
    key_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)  # hex
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)  # "— <name> <base64>\n", served as is
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogLease(Base):
    """Who runs the sequencer: held while renewed, taken over once `expires_at` has passed."""

    __tablename__ = "log_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime]
