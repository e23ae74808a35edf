"""Proofs from stored nodes against the RFC 9162 definitions computed the slow, obvious way."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audit.merkle import (
    CompactRange,
    EntryHasher,
    MemoryTree,
    ProofError,
    consistency_plan,
    decompose,
    inclusion_plan,
    leaf_hash,
    node_hash,
    root_of_entries,
    verify_consistency,
    verify_inclusion,
)


def naive_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(naive_mth(leaves[:k]), naive_mth(leaves[k:]))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [naive_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*naive_subproof(m, leaves[:k], b), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _tree(leaves: list[bytes]) -> MemoryTree:
    tree = MemoryTree()
    for leaf in leaves:
        tree.append_leaf(leaf)
    return tree


sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=200, deadline=None)  # machine load is not a failure
@given(size=sizes, data=st.data())
def test_inclusion_matches_rfc(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    tree = _tree(leaves)
    at = data.draw(st.integers(min_value=1, max_value=size), label="tree size")
    index = data.draw(st.integers(min_value=0, max_value=at - 1), label="index")
    proof = tree.inclusion_proof(index, at)
    assert proof == naive_path(index, leaves[:at])
    root = naive_mth(leaves[:at])
    assert tree.root(at) == root
    verify_inclusion(index, at, leaves[index], proof, root)


@settings(max_examples=200, deadline=None)  # machine load is not a failure
@given(size=sizes, data=st.data())
def test_consistency_matches_rfc(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    tree = _tree(leaves)
    size2 = data.draw(st.integers(min_value=1, max_value=size), label="size2")
    size1 = data.draw(st.integers(min_value=1, max_value=size2), label="size1")
    proof = tree.consistency_proof(size1, size2)
    expected = [] if size1 == size2 else naive_subproof(size1, leaves[:size2], True)
    assert proof == expected
    verify_consistency(size1, size2, proof, naive_mth(leaves[:size1]), naive_mth(leaves[:size2]))


@settings(max_examples=100, deadline=None)  # machine load is not a failure
@given(size=st.integers(min_value=2, max_value=200), data=st.data())
def test_tampered_inclusion_is_refused(size: int, data: st.DataObject) -> None:
    leaves = _leaves(size)
    tree = _tree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index, size)
    root = tree.root()
    other = data.draw(st.integers(min_value=0, max_value=size - 1).filter(lambda i: i != index))
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaves[other], proof, root)
    if proof:
        j = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bad = list(proof)
        bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[index], bad, root)


@settings(max_examples=100, deadline=None)  # machine load is not a failure
@given(size=st.integers(min_value=3, max_value=200), data=st.data())
def test_rewritten_history_is_refused(size: int, data: st.DataObject) -> None:
    """A log that changed one old entry cannot prove consistency with what it published."""
    leaves = _leaves(size)
    size1 = data.draw(st.integers(min_value=1, max_value=size - 1))
    changed = data.draw(st.integers(min_value=0, max_value=size1 - 1))
    forged = list(leaves)
    forged[changed] = leaf_hash(b"rewritten")
    proof = _tree(forged).consistency_proof(size1, size)
    with pytest.raises(ProofError):
        verify_consistency(size1, size, proof, naive_mth(leaves[:size1]), naive_mth(forged))


@given(size=st.integers(min_value=0, max_value=10_000))
def test_frontier_is_the_binary_expansion(size: int) -> None:
    ids = CompactRange.frontier_ids(size)
    assert sum(1 << level for level, _ in ids) == size
    assert len(ids) == size.bit_count()


@given(start=st.integers(min_value=0, max_value=5000), length=st.integers(0, 5000))
def test_decompose_covers_range_exactly(start: int, length: int) -> None:
    nodes = decompose(start, start + length)
    pos = start
    for level, index in nodes:
        assert index << level == pos
        pos += 1 << level
    assert pos == start + length


def test_proof_reads_are_logarithmic() -> None:
    size = 1_000_003
    for index in (0, 1, size // 2, size - 1):
        assert len(inclusion_plan(index, size).node_ids) <= 2 * size.bit_length()
    for size1 in (1, 7, size // 3, size - 1):
        assert len(consistency_plan(size1, size).node_ids) <= 2 * size.bit_length()


class SmallChunks(EntryHasher):
    CHUNK = 16  # small chunks, so the chunk-level frontier is exercised


@settings(max_examples=60, deadline=None)  # machine load is not a failure
@given(
    size=st.integers(min_value=0, max_value=700),
    cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=4),
)
def test_streaming_root_matches_rfc(size: int, cuts: list[int]) -> None:
    entries = [i.to_bytes(4, "big") for i in range(size)]
    hasher = SmallChunks()
    pos = 0
    for cut in sorted(c for c in cuts if c <= size):
        hasher.update(entries[pos:cut])
        pos = cut
        assert hasher.size == cut
        assert hasher.root() == naive_mth([leaf_hash(e) for e in entries[:cut]])
    hasher.update(entries[pos:])
    assert hasher.root() == naive_mth([leaf_hash(e) for e in entries])
    assert root_of_entries(entries) == hasher.root()
