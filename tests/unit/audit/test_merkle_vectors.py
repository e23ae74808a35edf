"""The transparency-dev/merkle known answers: every inclusion and consistency vector, and the
roots of tree.json. A vector with wantErr must be refused, every other one accepted."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shared.audit.merkle import (
    MemoryTree,
    ProofError,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.unit.audit.vectors import TESTVECTORS

MERKLE = TESTVECTORS / "merkle"
INCLUSION = sorted((MERKLE / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((MERKLE / "consistency").rglob("*.json"))
TREE = json.loads((MERKLE / "tree.json").read_text())


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in vector["proof"] or []]


def _id(path: Path) -> str:
    return str(path.relative_to(MERKLE))


def test_all_vectors_are_found() -> None:
    # 196 proof vectors + 9 roots in tree.json = the 205 the project must agree with.
    assert len(INCLUSION) + len(CONSISTENCY) + len(TREE["root_hex_by_size"]) == 205


@pytest.mark.parametrize("path", INCLUSION, ids=_id)
def test_inclusion_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), _proof(v), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_id)
def test_consistency_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    args = (v["size1"], v["size2"], _proof(v), _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


@pytest.mark.parametrize("size", range(len(TREE["root_hex_by_size"])))
def test_tree_roots(size: int) -> None:
    tree = MemoryTree()
    for entry in TREE["leaf_inputs_hex"][:size]:
        tree.append_entry(bytes.fromhex(entry))
    assert tree.root().hex() == TREE["root_hex_by_size"][size]


def test_generated_proofs_match_vectors() -> None:
    """Our proof generation reproduces the happy-path proofs byte for byte."""
    tree = MemoryTree()
    for entry in TREE["leaf_inputs_hex"]:
        tree.append_entry(bytes.fromhex(entry))
    checked = 0
    for path in INCLUSION:
        v = json.loads(path.read_text())
        if v["desc"] == "happy path" and v["treeSize"] <= tree.size and v["treeSize"] > 0:
            assert tree.inclusion_proof(v["leafIdx"], v["treeSize"]) == _proof(v)
            assert leaf_hash(bytes.fromhex(TREE["leaf_inputs_hex"][v["leafIdx"]])) == _b64(
                v["leafHash"]
            )
            checked += 1
    for path in CONSISTENCY:
        v = json.loads(path.read_text())
        if v["desc"] == "happy path" and v["size1"] > 0 and v["size2"] <= tree.size:
            assert tree.consistency_proof(v["size1"], v["size2"]) == _proof(v)
            checked += 1
    assert checked >= 8
